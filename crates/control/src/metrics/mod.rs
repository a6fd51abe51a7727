//! Prometheus metrics: a snapshot the dataplane publishes about once a second, rendered
//! in the text exposition format (version 0.0.4) by a tiny HTTP server ([`http`]).
//!
//! Every counter the CLI shows is here under a stable name; drops are one family with a
//! `reason` label (`hvrouter_drops_total{port="tap3",reason="spoofed_source_ip"}`), as
//! grout and the kernel's `nstat` name them.

pub mod http;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::protocol::{NeighborState, PortInfo, WorkerCounters};

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Per-network values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkMetrics {
    /// The network's name.
    pub name: String,
    /// Guests of this network.
    pub guests: u64,
    /// Neighbor (ARP cache) entries per state; missing states are zero.
    pub neighbors: BTreeMap<NeighborState, u64>,
}

/// Everything exported, as the dataplane saw it at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Ports with their counters (the same data as `show ports`).
    pub ports: Vec<PortInfo>,
    /// Networks.
    pub networks: Vec<NetworkMetrics>,
    /// The dataplane worker.
    pub worker: WorkerCounters,
    /// DHCP messages: (direction `received`/`sent`, message type, count).
    pub dhcp: Vec<(String, String, u64)>,
    /// What the IPv6 side sent on its own: (kind, count), e.g. (`ra`, 12).
    pub ipv6_sent: Vec<(String, u64)>,
}

/// A label value escaped for the exposition format: `\`, `"` and newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text escaped for the exposition format: `\` and newline.
pub fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Writes metric families: HELP and TYPE once, then samples.
struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// An unlabelled sample with a fractional value.
    fn sample_f64(&mut self, name: &str, value: f64) {
        let _ = writeln!(self.out, "{name} {value:.9}");
    }
}

/// A per-port counter family: name, help, value.
type PortCounter = (&'static str, &'static str, fn(&PortInfo) -> u64);

const PORT_COUNTERS: &[PortCounter] = &[
    ("hvrouter_rx_packets_total", "Frames received on the port.", |p| p.counters.rx_packets),
    ("hvrouter_rx_bytes_total", "Bytes received on the port (Ethernet header included).", |p| {
        p.counters.rx_bytes
    }),
    ("hvrouter_tx_packets_total", "Frames transmitted on the port.", |p| p.counters.tx_packets),
    ("hvrouter_tx_bytes_total", "Bytes transmitted on the port (Ethernet header included).", |p| {
        p.counters.tx_bytes
    }),
    ("hvrouter_arp_answered_total", "ARP requests received on the port that the router answered.", |p| {
        p.counters.arp_answered
    }),
    (
        "hvrouter_arp_ignored_total",
        "ARP received on the port that the router stayed silent on (sum of the arp_* drop reasons except arp_reply_consumed).",
        |p| p.counters.arp_ignored(),
    ),
    ("hvrouter_arp_sent_total", "ARP requests and gratuitous ARP the router sent on the port.", |p| {
        p.counters.arp_sent
    }),
    ("hvrouter_icmp_errors_sent_total", "ICMP errors sent out of the port.", |p| {
        p.counters.icmp_errors_sent
    }),
    (
        "hvrouter_icmp_errors_suppressed_total",
        "ICMP errors allowed but not sent (rate limit, or no source address).",
        |p| p.counters.icmp_errors_suppressed,
    ),
    (
        "hvrouter_fragmented_total",
        "Datagrams larger than the MTU (DF clear) that left the port as fragments.",
        |p| p.counters.fragmented,
    ),
    (
        "hvrouter_gso_sent_total",
        "TCP super-frames sent out of the port as one GSO send (segmented by the device).",
        |p| p.counters.gso_sent,
    ),
    (
        "hvrouter_gro_merged_total",
        "Segments sent out of the port inside coalesced GSO sends.",
        |p| p.counters.gro_merged,
    ),
    (
        "hvrouter_gso_fallback_total",
        "GSO sends that failed and left segment by segment instead.",
        |p| p.counters.gso_fallback,
    ),
    (
        "hvrouter_fast_path_rx_total",
        "Frames received on the port and forwarded by the in-kernel fast path.",
        |p| p.counters.fast_path_rx,
    ),
    (
        "hvrouter_fast_path_tx_total",
        "Frames the in-kernel fast path sent out of the port.",
        |p| p.counters.fast_path_tx,
    ),
    (
        "hvrouter_fast_path_redirect_failed_total",
        "Frames the in-kernel fast path could not redirect to the port (the router forwarded them).",
        |p| p.counters.fast_path_redirect_failed,
    ),
];

/// The snapshot in the text exposition format.
pub fn render(snapshot: &MetricsSnapshot) -> String {
    let mut w = Writer { out: String::new() };
    let bool_value = |b: bool| u64::from(b);

    w.family(
        "hvrouter_port_up",
        "gauge",
        "Whether the port's link is up (1) or down (0).",
    );
    for p in &snapshot.ports {
        let network = p.network.as_deref().unwrap_or("");
        w.sample(
            "hvrouter_port_up",
            &[
                ("port", &p.name),
                ("role", p.role.name()),
                ("network", network),
            ],
            bool_value(p.up),
        );
    }
    w.family(
        "hvrouter_port_attached",
        "gauge",
        "Whether an AF_XDP socket is bound to the port (1) or not (0).",
    );
    for p in &snapshot.ports {
        w.sample(
            "hvrouter_port_attached",
            &[("port", &p.name)],
            bool_value(p.attached),
        );
    }
    w.family(
        "hvrouter_port_fill_frames",
        "gauge",
        "UMEM chunks on the port's fill ring (what it can receive into before the next poll).",
    );
    for p in snapshot.ports.iter().filter(|p| p.frames.is_some()) {
        let fill = p.frames.map_or(0, |f| u64::from(f.fill));
        w.sample("hvrouter_port_fill_frames", &[("port", &p.name)], fill);
    }
    w.family(
        "hvrouter_port_frames_starved",
        "gauge",
        "Whether the port cannot get its floor of UMEM chunks (1: traffic to it is lost; raise dataplane.frames).",
    );
    for p in snapshot.ports.iter().filter(|p| p.frames.is_some()) {
        let starved = p.frames.is_some_and(|f| f.starved);
        w.sample(
            "hvrouter_port_frames_starved",
            &[("port", &p.name)],
            bool_value(starved),
        );
    }
    w.family(
        "hvrouter_port_gso",
        "gauge",
        "Whether the port sends TCP super-frames whole (1) or segments them in software (0); state: on, off (configured) or unavailable (its packet socket could not be opened: see the log or show ports).",
    );
    for p in snapshot.ports.iter() {
        if let Some(state) = p.gso.as_deref() {
            w.sample(
                "hvrouter_port_gso",
                &[("port", &p.name), ("state", state)],
                bool_value(state == "on"),
            );
        }
    }
    for &(name, help, value) in PORT_COUNTERS {
        w.family(name, "counter", help);
        for p in &snapshot.ports {
            w.sample(name, &[("port", &p.name)], value(p));
        }
    }
    w.family(
        "hvrouter_drops_total",
        "counter",
        "Frames dropped, by port and reason.",
    );
    for p in &snapshot.ports {
        for (reason, &n) in &p.counters.drops {
            w.sample(
                "hvrouter_drops_total",
                &[("port", &p.name), ("reason", reason)],
                n,
            );
        }
    }
    w.family(
        "hvrouter_guests",
        "gauge",
        "Guest NICs hosted on this node, by network.",
    );
    for n in &snapshot.networks {
        w.sample("hvrouter_guests", &[("network", &n.name)], n.guests);
    }
    w.family(
        "hvrouter_neighbors",
        "gauge",
        "Neighbor (ARP cache) entries of the network's uplink, by state.",
    );
    for n in &snapshot.networks {
        for state in NeighborState::ALL {
            let count = n.neighbors.get(&state).copied().unwrap_or(0);
            w.sample(
                "hvrouter_neighbors",
                &[("network", &n.name), ("state", state.name())],
                count,
            );
        }
    }
    w.family(
        "hvrouter_dhcp_messages_total",
        "counter",
        "DHCP messages the router's server received from guests and sent to them, by type \
         (refused ones also count under hvrouter_drops_total, reasons dhcp_*).",
    );
    for (direction, kind, n) in &snapshot.dhcp {
        w.sample(
            "hvrouter_dhcp_messages_total",
            &[("direction", direction), ("type", kind)],
            *n,
        );
    }
    w.family(
        "hvrouter_ipv6_sent_total",
        "counter",
        "IPv6 messages the router originated, by kind: na_answered (proxy NDP answers), \
         na_unsolicited (guest added or migrated in), ns, ra, dhcp6_reply, icmp6_error, \
         icmp6_error_limited (held back by the rate limit), echo_reply, mld_report.",
    );
    for (kind, n) in &snapshot.ipv6_sent {
        w.sample("hvrouter_ipv6_sent_total", &[("kind", kind)], *n);
    }
    let wk = &snapshot.worker;
    for (name, help, ns) in [
        (
            "hvrouter_worker_busy_seconds_total",
            "Time the dataplane worker spent in passes that moved frames (busy polling \
             included). Nears 1 s/s under any steady stream; frames per busy pass tells \
             how close the worker is to saturation.",
            wk.busy_ns,
        ),
        (
            "hvrouter_worker_idle_seconds_total",
            "Time the dataplane worker spent in passes that moved nothing, and waiting.",
            wk.idle_ns,
        ),
    ] {
        w.family(name, "counter", help);
        w.sample_f64(name, ns as f64 / 1e9);
    }
    w.family(
        "hvrouter_worker_longest_housekeeping_seconds",
        "gauge",
        "The longest single housekeeping call of the dataplane worker (control jobs \
         between bursts, frame housekeeping): the longest it stopped polling.",
    );
    w.sample_f64(
        "hvrouter_worker_longest_housekeeping_seconds",
        wk.longest_housekeeping_ns as f64 / 1e9,
    );
    w.family(
        "hvrouter_worker_handoff_frames_total",
        "counter",
        "Frames handed between packet workers (docs/WORKERS.md), all workers together: \
         out (to another worker) and in (from another worker).",
    );
    for (direction, n) in [("out", wk.handed_out), ("in", wk.handed_in)] {
        w.sample(
            "hvrouter_worker_handoff_frames_total",
            &[("direction", direction)],
            n,
        );
    }
    w.family(
        "hvrouter_worker_passes_total",
        "counter",
        "Passes of the dataplane worker over its ports.",
    );
    w.sample("hvrouter_worker_passes_total", &[], wk.passes);
    w.family(
        "hvrouter_worker_busy_passes_total",
        "counter",
        "Passes that received frames; hvrouter_rx_packets_total summed over ports divided \
         by this is the mean burst (the configured burst when saturated).",
    );
    w.sample(
        "hvrouter_worker_busy_passes_total",
        &[],
        wk.passes.saturating_sub(wk.idle_passes),
    );
    w.out
}
