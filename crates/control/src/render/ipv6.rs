//! `show ipv6` and `explain ndp` as text.

use std::fmt::Write as _;

use crate::protocol::{Decision, Ipv6Report, NdpExplanation};

fn decision(d: &Decision) -> String {
    if d.answer {
        match d.mac {
            Some(m) => format!("answered with {m}"),
            None => "answered".into(),
        }
    } else {
        format!("silent: {}", d.reason)
    }
}

/// `explain ndp`.
pub(super) fn explanations(list: &[NdpExplanation]) -> String {
    let mut s = String::new();
    for e in list {
        let _ = writeln!(s, "{} in {}:", e.addr, e.network);
        let owner = e.owner.as_deref().unwrap_or("no guest here");
        let inside = if e.in_subnet6 { "inside" } else { "outside" };
        let _ = writeln!(s, "  owner: {owner} ({inside} subnet6)");
        let _ = writeln!(s, "  NS from the VLAN: {}", decision(&e.uplink));
        let _ = writeln!(s, "  DAD probe from the VLAN: {}", decision(&e.uplink_dad));
        if let Some(d) = &e.toward_guests {
            let _ = writeln!(s, "  NS from another guest: {}", decision(d));
        }
        if let Some(d) = &e.from_owner {
            let _ = writeln!(s, "  NS from the owner: {}", decision(d));
        }
    }
    s
}

/// `show ipv6`.
pub(super) fn report(r: &Ipv6Report) -> String {
    let mut s = String::new();
    if r.networks.is_empty() {
        s.push_str("no network has IPv6 (subnet6)\n");
    }
    for n in &r.networks {
        let ra = if n.router_advertisements { "on" } else { "off" };
        let _ = writeln!(
            s,
            "{}: subnet6 {} gateway6 {} router {} (toward guests) {} (VLAN), RAs {ra}",
            n.network, n.subnet6, n.gateway6, n.guest_ll, n.uplink_ll
        );
        if let Some(a) = n.source6 {
            let _ = writeln!(s, "  source6 {a} (the router's own, for ICMPv6 errors)");
        }
        for g in &n.guests {
            let addrs: Vec<String> = g.addrs.iter().map(ToString::to_string).collect();
            let _ = write!(s, "  {}: {}", g.tap, addrs.join(", "));
            if !g.prefixes.is_empty() {
                let _ = write!(s, " routed {}", g.prefixes.join(", "));
            }
            if let Some(why) = &g.refused {
                let _ = write!(s, " (IPv6 refused: {why})");
            }
            s.push('\n');
        }
        for nb in &n.neighbors {
            let mac = nb.mac.as_deref().unwrap_or("-");
            let _ = writeln!(
                s,
                "  neighbor {} {} {mac} queued {}",
                nb.addr, nb.state, nb.queued
            );
        }
    }
    let t = &r.sent;
    let _ = writeln!(
        s,
        "sent: {} NA answers, {} unsolicited NA, {} NS, {} RA, {} ICMPv6 errors ({} rate limited), {} echo replies, {} DHCPv6 replies",
        t.na_answered,
        t.na_unsolicited,
        t.ns_sent,
        t.ra_sent,
        t.errors_sent,
        t.errors_limited,
        t.echo_replies,
        t.dhcp6_replies
    );
    s
}
