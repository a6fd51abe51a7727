//! What the CLI prints: human tables for every response, and JSON (`--json`) of the
//! response's payload for scripts.

mod dhcp;
mod ipv6;
mod table;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

pub use table::{Align, Table};

use crate::protocol::{
    ArpExplanation, CaptureBatch, CaptureInfo, CountersReport, Decision, GuestInfo, NeighborInfo,
    NetworkInfo, Payload, PongInfo, PortInfo, ReloadSummary, Response, RouteInfo, TraceRecord,
};

/// The response as text for a terminal. An error reads `error: MESSAGE`; the binary
/// prints it to stderr and exits non-zero ([`Response::is_ok`]).
pub fn human(response: &Response) -> String {
    match response {
        Response::Error { message } => format!("error: {message}\n"),
        Response::Ok(payload) => match payload {
            Payload::Pong(p) => pong(p),
            Payload::GuestChanged(c) => format!("guest {}: {}\n", c.tap, c.change),
            Payload::Guests(g) => guests(g),
            Payload::Networks(n) => networks(n),
            Payload::Routes(r) => routes(r),
            Payload::Neighbors(n) => neighbors(n),
            Payload::Ports(p) => ports(p),
            Payload::Counters(c) => counters(c),
            Payload::ArpExplanations(e) => explanations(e),
            Payload::NdpExplanations(e) => ipv6::explanations(e),
            Payload::Ipv6(r) => ipv6::report(r),
            Payload::Dhcp(r) => dhcp::report(r),
            Payload::DhcpExplanation(e) => dhcp::explanation(e),
            Payload::Trace(t) => trace(t),
            Payload::Reloaded(r) => reloaded(r),
            Payload::CaptureStarted(c) => capture_started(c),
            Payload::Captured(b) => captured(b),
        },
    }
}

/// The response's payload as pretty JSON (`--json`): the list or object itself, without
/// the protocol envelope, e.g. `[{"tap":"tap3",...}]` for `guest list`. An error is
/// `{"error": MESSAGE}`.
pub fn json(response: &Response) -> String {
    let value = match response {
        Response::Error { message } => serde_json::json!({ "error": message }),
        Response::Ok(payload) => match serde_json::to_value(payload) {
            // An externally tagged enum: {"guests": [...]} -> [...].
            Ok(Value::Object(map)) if map.len() == 1 => map
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or(Value::Null),
            Ok(other) => other,
            Err(e) => serde_json::json!({ "error": format!("cannot encode the answer: {e}") }),
        },
    };
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("\"{e}\""));
    s.push('\n');
    s
}

fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!("{}d{}h", s / 86_400, s % 86_400 / 3600)
    } else if s >= 3600 {
        format!("{}h{}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, d.subsec_millis() / 100)
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".to_string();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn up(up: bool) -> String {
    if up { "up" } else { "down" }.to_string()
}

fn pong(p: &PongInfo) -> String {
    format!(
        "hvrouter {} is running: pid {}, up {}, protocol {}\n",
        p.version,
        p.pid,
        duration(Duration::from_secs(p.uptime_secs)),
        p.protocol
    )
}

fn guests(list: &[GuestInfo]) -> String {
    if list.is_empty() {
        return "no guests\n".to_string();
    }
    let mut t = Table::new(&[
        "TAP",
        "MAC",
        "NETWORK",
        "STATE",
        "ORIGIN",
        "ADDRESSES",
        "ROUTED",
        "IPV6",
    ]);
    for g in list {
        t.row(vec![
            g.tap.clone(),
            g.mac.to_string(),
            g.network.clone(),
            up(g.up),
            g.origin.name().to_string(),
            join(&g.ips),
            join(&g.routed_prefixes),
            ipv6_asked(g.ipv6.as_ref()),
        ]);
    }
    t.render()
}

/// A guest's IPv6 side as asked for: `default` (its network's default), else its
/// explicit addresses, `eui64`, and `+PREFIX` for routed prefixes.
fn ipv6_asked(v6: Option<&crate::protocol::GuestIpv6>) -> String {
    let Some(v6) = v6 else {
        return "default".into();
    };
    let mut parts: Vec<String> = v6.addrs.iter().map(ToString::to_string).collect();
    if v6.eui64 {
        parts.push("eui64".into());
    }
    parts.extend(v6.routed_prefixes.iter().map(|p| format!("+{p}")));
    parts.join(",")
}

fn networks(list: &[NetworkInfo]) -> String {
    if list.is_empty() {
        return "no networks\n".to_string();
    }
    let mut t = Table::new(&[
        "NAME",
        "UPLINK",
        "LINK",
        "SUBNET",
        "GATEWAY",
        "MTU",
        "GUESTS",
        "UPLINK-MAC",
        "GUEST-MAC",
        "ARP-SOURCE",
    ])
    .right(&[5, 6]);
    for n in list {
        t.row(vec![
            n.name.clone(),
            n.uplink.clone(),
            up(n.uplink_up),
            n.subnet.to_string(),
            n.gateway.to_string(),
            n.mtu.to_string(),
            n.guests.to_string(),
            n.uplink_mac.to_string(),
            n.guest_mac.to_string(),
            n.arp_source
                .map_or_else(|| "0.0.0.0 (probe form)".to_string(), |ip| ip.to_string()),
        ]);
    }
    t.render()
}

fn routes(list: &[RouteInfo]) -> String {
    if list.is_empty() {
        return "no routes\n".to_string();
    }
    let mut t = Table::new(&["NETWORK", "PREFIX", "NEXT-HOP", "ORIGIN"]);
    for r in list {
        t.row(vec![
            r.network.clone(),
            r.prefix.to_string(),
            r.next_hop.to_string(),
            r.origin.to_string(),
        ]);
    }
    t.render()
}

fn neighbors(list: &[NeighborInfo]) -> String {
    if list.is_empty() {
        return "no neighbors\n".to_string();
    }
    let mut t = Table::new(&[
        "NETWORK", "ADDRESS", "LLADDR", "STATE", "QUEUED", "PROBES", "AGE", "IDLE",
    ])
    .right(&[4, 5, 6, 7]);
    for n in list {
        t.row(vec![
            n.network.clone(),
            n.ip.to_string(),
            n.mac.map_or_else(|| "-".to_string(), |m| m.to_string()),
            n.state.to_string(),
            n.queued.to_string(),
            n.probes.to_string(),
            duration(Duration::from_millis(n.age_ms)),
            duration(Duration::from_millis(n.idle_ms)),
        ]);
    }
    t.render()
}

fn ports(list: &[PortInfo]) -> String {
    if list.is_empty() {
        return "no ports\n".to_string();
    }
    let mut t = Table::new(&[
        "NAME", "ROLE", "NETWORK", "LINK", "XDP", "GSO", "FILL", "RX-PKTS", "RX-BYTES", "TX-PKTS",
        "TX-BYTES", "DROPS",
    ])
    .right(&[6, 7, 8, 9, 10, 11]);
    let mut errors = String::new();
    for p in list {
        let fill = match p.frames {
            Some(f) if f.starved => {
                let _ = writeln!(
                    errors,
                    "error: {} has no frames to receive into ({} of its floor of {} UMEM \
                     chunks): traffic to it is lost; raise dataplane.frames and restart \
                     (docs/FRAMES.md)",
                    p.name, f.fill, f.floor
                );
                format!("{}/{} NO-FRAMES", f.fill, f.target)
            }
            Some(f) => format!("{}/{}", f.fill, f.target),
            None => "-".to_string(),
        };
        if p.gso.as_deref() == Some("unavailable") {
            let _ = writeln!(
                errors,
                "warning: {} segments TCP super-frames in software (GSO unavailable: {})",
                p.name,
                p.gso_reason.as_deref().unwrap_or("reason unknown")
            );
        }
        let c = &p.counters;
        t.row(vec![
            p.name.clone(),
            p.role.name().to_string(),
            p.network.clone().unwrap_or_else(|| "-".to_string()),
            up(p.up),
            match (&p.xdp_mode, p.attached) {
                (_, false) => "detached".to_string(),
                (Some(mode), true) => mode.clone(),
                (None, true) => "attached".to_string(),
            },
            p.gso.clone().unwrap_or_else(|| "-".to_string()),
            fill,
            c.rx_packets.to_string(),
            c.rx_bytes.to_string(),
            c.tx_packets.to_string(),
            c.tx_bytes.to_string(),
            c.total_drops().to_string(),
        ]);
    }
    t.render() + &errors
}

fn counters(report: &CountersReport) -> String {
    let mut t = Table::new(&["PORT", "COUNTER", "VALUE"]).right(&[2]);
    for p in &report.ports {
        let c = &p.counters;
        let named = [
            ("rx_packets", c.rx_packets),
            ("rx_bytes", c.rx_bytes),
            ("tx_packets", c.tx_packets),
            ("tx_bytes", c.tx_bytes),
            ("arp_answered", c.arp_answered),
            ("arp_sent", c.arp_sent),
            ("icmp_errors_sent", c.icmp_errors_sent),
            ("icmp_errors_suppressed", c.icmp_errors_suppressed),
            ("fragmented", c.fragmented),
            ("gso_sent", c.gso_sent),
            ("gro_merged", c.gro_merged),
            ("gso_fallback", c.gso_fallback),
            ("fast_path_rx", c.fast_path_rx),
            ("fast_path_tx", c.fast_path_tx),
            ("fast_path_redirect_failed", c.fast_path_redirect_failed),
        ];
        let drops = c.drops.iter().map(|(r, &n)| (format!("drop {r}"), n));
        for (name, n) in named
            .iter()
            .map(|&(k, v)| (k.to_string(), v))
            .chain(drops)
            .filter(|&(_, n)| n != 0)
        {
            t.row(vec![p.name.clone(), name, n.to_string()]);
        }
    }
    let mut n = Table::new(&["NETWORK", "COUNTER", "VALUE"]).right(&[2]);
    for net in &report.networks {
        for (name, &v) in net.counters.iter().filter(|(_, &v)| v != 0) {
            n.row(vec![net.network.clone(), name.clone(), v.to_string()]);
        }
    }
    let w = &report.worker;
    let mut out = String::new();
    if t.is_empty() && n.is_empty() && w.passes == 0 {
        return "all counters are zero\n".to_string();
    }
    for table in [&t, &n] {
        if !table.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&table.render());
        }
    }
    if w.passes != 0 {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "worker: {} of {} passes moved frames, {:.1} frames each on average; \
             {:.1} % of the time in them; {} waits; longest housekeeping {:.2} ms ({:.2} ms not preempted)\n",
            w.passes - w.idle_passes,
            w.passes,
            w.frames_per_busy_pass(),
            100.0 * w.busy_share(),
            w.sleeps,
            w.longest_housekeeping_ns as f64 / 1e6,
            w.longest_unpreempted_housekeeping_ns as f64 / 1e6
        ));
        if w.workers > 1 {
            out.push_str(&format!(
                "workers: {}, the figures above summed (the longest: of any); frames handed \
                 between them: {} out, {} in\n",
                w.workers, w.handed_out, w.handed_in
            ));
        }
    }
    out.push_str("(counters that are zero are not shown)\n");
    out
}

fn decision(d: &Decision) -> String {
    match (d.answer, d.mac) {
        (true, Some(mac)) => format!("answers with {mac}: {}", d.reason),
        (true, None) => format!("answers: {}", d.reason),
        (false, _) => format!("stays silent: {}", d.reason),
    }
}

fn explanations(list: &[ArpExplanation]) -> String {
    if list.is_empty() {
        return "no network to explain for\n".to_string();
    }
    let mut out = String::new();
    for e in list {
        let owner = match &e.owner {
            Some(tap) => format!("address of guest {tap}"),
            None => "not the address of a guest hosted here".to_string(),
        };
        let _ = writeln!(out, "{} on network {}: {owner}", e.ip, e.network);
        let _ = writeln!(
            out,
            "  who-has from the VLAN (uplink): {}",
            decision(&e.uplink)
        );
        let _ = writeln!(
            out,
            "  who-has from guests:            {}",
            decision(&e.toward_guests)
        );
    }
    out
}

fn trace(list: &[TraceRecord]) -> String {
    if list.is_empty() {
        return "no packets seen before the deadline\n".to_string();
    }
    let mut out = String::new();
    for (i, r) in list.iter().enumerate() {
        let _ = writeln!(out, "#{} {}: {}", i + 1, r.port, r.summary);
        for step in &r.steps {
            let _ = writeln!(out, "    {step}");
        }
        let _ = writeln!(out, "    => {}", r.decision);
    }
    out
}

fn reloaded(r: &ReloadSummary) -> String {
    let mut out = format!(
        "reloaded: {} added, {} removed, {} changed, {} unchanged\n",
        r.added.len(),
        r.removed.len(),
        r.changed.len(),
        r.unchanged
    );
    for (mark, items) in [("+", &r.added), ("-", &r.removed), ("~", &r.changed)] {
        for item in items {
            let _ = writeln!(out, "  {mark} {item}");
        }
    }
    for note in &r.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

fn capture_started(c: &CaptureInfo) -> String {
    let ports = if c.ports.is_empty() {
        "no port yet".to_string()
    } else {
        c.ports.join(", ")
    };
    format!(
        "capture {} started on {ports} (snaplen {}, buffer {} bytes; stops after {} ms without a read)\n",
        c.id, c.snaplen, c.max_bytes, c.idle_timeout_ms
    )
}

/// A batch as one line per frame (the CLI writes pcapng instead; this is for `socat`
/// users and tests).
fn captured(b: &CaptureBatch) -> String {
    let mut out = String::new();
    for f in &b.frames {
        let dir = match f.direction {
            crate::protocol::CaptureDirection::Rx => "rx",
            crate::protocol::CaptureDirection::Tx => "tx",
        };
        let _ = writeln!(
            out,
            "{} {} {dir} {} bytes: {}",
            f.time_ns, f.port, f.len, f.decision
        );
    }
    let _ = writeln!(
        out,
        "capture {}: {} frames here, {} captured, {} dropped (buffer full){}",
        b.id,
        b.frames.len(),
        b.captured,
        b.dropped,
        if b.running { "" } else { ", stopped" }
    );
    out
}
