//! `show dhcp` and `explain dhcp TAP` as text.

use std::fmt::Write as _;

use super::table::Table;
use crate::protocol::{DhcpExplanation, DhcpGuestInfo, DhcpReport};

/// `show dhcp`: one row per guest, then the totals.
pub(super) fn report(r: &DhcpReport) -> String {
    let mut out = String::new();
    if r.guests.is_empty() {
        out.push_str("no guests\n");
    } else {
        let mut t = Table::new(&[
            "TAP", "NETWORK", "DHCP", "ADDRESS", "HOSTNAME", "LEASE", "LAST", "AGO", "OUTCOME",
        ])
        .right(&[5, 7]);
        for g in &r.guests {
            let (last, ago, outcome) = match &g.last {
                Some(l) => (
                    l.message.clone(),
                    format!("{:.1}s", l.ago_ms as f64 / 1000.0),
                    l.outcome.clone(),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            t.row(vec![
                g.tap.clone(),
                g.network.clone(),
                on_off(g.enabled).into(),
                g.address.to_string(),
                g.hostname.clone().unwrap_or_else(|| "-".into()),
                lease(g),
                last,
                ago,
                outcome,
            ]);
        }
        out.push_str(&t.render());
    }
    let m: Vec<String> = r
        .totals
        .messages
        .iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(dir, kind, n)| format!("{dir} {kind} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "messages: {}",
        if m.is_empty() {
            "none".into()
        } else {
            m.join(", ")
        }
    );
    let d: Vec<String> = r
        .totals
        .drops
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "dropped: {}",
        if d.is_empty() {
            "none".into()
        } else {
            d.join(", ")
        }
    );
    out
}

/// `explain dhcp TAP`.
pub(super) fn explanation(e: &DhcpExplanation) -> String {
    let g = &e.guest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "guest {} on network {}: DHCP {}",
        g.tap,
        g.network,
        on_off(g.enabled)
    );
    let _ = writeln!(out, "  a DHCPDISCOVER from it gets:");
    for line in &e.reply {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "  lease: {}", lease(g));
    match &g.last {
        Some(l) => {
            let _ = writeln!(
                out,
                "  last message: {} xid {:#010x}, {:.1}s ago: {}",
                l.message,
                l.xid,
                l.ago_ms as f64 / 1000.0,
                l.outcome
            );
        }
        None => {
            let _ = writeln!(out, "  last message: none received");
        }
    }
    if g.declines > 0 {
        let _ = writeln!(
            out,
            "  declined {} times: its address is in use by another host (check the VLAN)",
            g.declines
        );
    }
    let _ = writeln!(
        out,
        "  rate limit: {} more requests may come at once",
        e.tokens
    );
    out
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn lease(g: &DhcpGuestInfo) -> String {
    match g.lease_left_s {
        Some(s) => format!("{s}s left"),
        None => "-".into(),
    }
}
