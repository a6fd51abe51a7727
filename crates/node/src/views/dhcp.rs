//! `show dhcp` and `explain dhcp TAP` from the router's DHCP server.

use hvrouter_control::protocol::{
    DhcpExplanation, DhcpGuestInfo, DhcpLast, DhcpReport, DhcpTotals,
};
use hvrouter_core::dhcp::Outcome;
use hvrouter_core::drop::DropReason;
use hvrouter_core::guests::Guest;
use hvrouter_core::router::Router;
use hvrouter_core::Instant;

fn guest_info(router: &Router, g: &Guest, now: Instant) -> DhcpGuestInfo {
    let dhcp = router.dhcp();
    let state = dhcp.guest(g.id);
    DhcpGuestInfo {
        tap: g.name.clone(),
        network: super::network_name(router, g.network.0),
        enabled: dhcp.settings(g.network).enabled,
        address: g
            .ips
            .first()
            .copied()
            .unwrap_or(wire::Ipv4Addr::UNSPECIFIED),
        hostname: dhcp.hostname(&g.name).map(str::to_string),
        lease_left_s: state
            .and_then(|s| s.lease)
            .filter(|l| l.expires > now)
            .map(|l| l.expires.saturating_duration_since(now).as_secs()),
        declines: state.map_or(0, |s| s.declines),
        last: state.and_then(|s| s.last).map(|l| DhcpLast {
            message: l
                .message
                .map_or_else(|| "unparsed".to_string(), |m| m.to_string()),
            xid: l.xid,
            ago_ms: now.saturating_duration_since(l.at).as_millis() as u64,
            outcome: l.outcome.to_string(),
            answered: matches!(
                l.outcome,
                Outcome::Offered(_) | Outcome::Acked(..) | Outcome::Informed
            ),
        }),
    }
}

/// `show dhcp`.
pub fn dhcp_report(router: &Router, now: Instant) -> DhcpReport {
    let mut guests: Vec<DhcpGuestInfo> = router
        .tables()
        .guests()
        .iter()
        // IPv6-only guests have nothing to be offered (`explain dhcp` says so).
        .filter(|g| !g.ips.is_empty())
        .map(|g| guest_info(router, g, now))
        .collect();
    guests.sort_by(|a, b| a.tap.cmp(&b.tap));
    let messages = router
        .dhcp()
        .counters()
        .by_name()
        .iter()
        .map(|(d, t, n)| (d.to_string(), t.to_string(), *n))
        .collect();
    let drops = DropReason::ALL
        .iter()
        .filter(|r| r.name().starts_with("dhcp_"))
        .map(|r| (r.name().to_string(), router.counters().total_drop(*r)))
        .collect();
    DhcpReport {
        guests,
        totals: DhcpTotals { messages, drops },
    }
}

/// `explain dhcp TAP`; `None` if there is no such guest.
pub fn dhcp_explain(router: &Router, tap: &str, now: Instant) -> Option<DhcpExplanation> {
    let g = router.tables().guests().by_name(tap)?;
    let network = router.tables().network(g.network)?;
    let dhcp = router.dhcp();
    let s = dhcp.settings(g.network);
    let mut reply = Vec::new();
    if !s.enabled {
        reply.push(format!(
            "nothing: dhcp = false on network {}; its DHCP takes the forwarding path \
             (dropped as martian when broadcast)",
            network.name
        ));
    } else if !g.up {
        reply.push("nothing: its port is down".to_string());
    } else if let Some(first) = g.ips.first() {
        let t = s.lease_times();
        reply.push(format!(
            "DHCPOFFER of {}/{} (its own first address; a REQUEST for any other gets a NAK)",
            first,
            network.subnet.prefix_len()
        ));
        reply.push(format!("server identifier and router {}", network.gateway));
        reply.push(format!(
            "subnet mask {}, broadcast {}",
            network.subnet.netmask(),
            network.subnet.broadcast()
        ));
        reply.push(format!("interface MTU {}", network.mtu));
        reply.push(format!(
            "lease {} s, renewal (T1) {} s, rebinding (T2) {} s",
            t.lease, t.renewal, t.rebinding
        ));
        let dns: Vec<String> = s.dns_servers.iter().map(ToString::to_string).collect();
        reply.push(format!(
            "dns servers: {}",
            if dns.is_empty() {
                "none".into()
            } else {
                dns.join(", ")
            }
        ));
        reply.push(format!("domain: {}", s.domain.as_deref().unwrap_or("none")));
        reply.push(format!(
            "search: {}",
            if s.search.is_empty() {
                "none".into()
            } else {
                s.search.join(", ")
            }
        ));
        reply.push(format!(
            "hostname: {}",
            dhcp.hostname(&g.name).unwrap_or("none")
        ));
        reply.push(format!(
            "only frames from {} with chaddr {}; replies leave on {} only",
            g.mac, g.mac, g.name
        ));
    } else {
        reply.push("nothing: it has no IPv4 address (an IPv6-only NIC): dhcp_no_address".into());
    }
    Some(DhcpExplanation {
        guest: guest_info(router, g, now),
        reply,
        tokens: dhcp
            .guest(g.id)
            .map_or(hvrouter_core::dhcp::state::BURST, |s| s.tokens(now)),
    })
}
