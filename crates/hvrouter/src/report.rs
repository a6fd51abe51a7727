//! Human-readable counter tables.

use std::fmt::Write;

use hvrouter_core::router::Router;

use crate::ports::Ports;

/// Per-port traffic, ARP and drop counters, one block per port.
pub fn counters(router: &Router, ports: &Ports) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>12} {:>10} {:>12} {:>8} {:>8} {:>10}",
        "port", "rx_pkts", "rx_bytes", "tx_pkts", "tx_bytes", "arp_ans", "icmp_err", "drops"
    );
    for e in ports
        .entries
        .iter()
        .filter(|e| e.kind != crate::ports::Kind::Unused)
    {
        let c = router.port_counters(e.id);
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>12} {:>10} {:>12} {:>8} {:>8} {:>10}",
            e.ifname,
            c.rx_packets,
            c.rx_bytes,
            c.tx_packets,
            c.tx_bytes,
            c.arp_answered,
            c.icmp_errors_sent,
            c.total_drops()
        );
        for (reason, n) in c.nonzero_drops() {
            let _ = writeln!(out, "{:<12}   drop {:<28} {:>10}", "", reason.name(), n);
        }
    }
    out
}
