//! The IPv6 keys: `subnet6`, `gateway6`, `router_advertisements`, `dns_servers6` of
//! `[networks.NAME]` (Ganeti's `NETWORK_SUBNET6` / `NETWORK_GATEWAY6`), and `ip6`,
//! `eui64`, `routed_prefixes6` of `[guests.TAP]`. The rules are the core's
//! ([`Network6Spec::validate`], [`Guest6::resolve`], [`Tables6`] for addresses two guests
//! claim); errors are reported at the value they are about.

use std::net::Ipv6Addr;

use hvrouter_core::ids::GuestId;
use hvrouter_core::ipv6::{
    Guest6Error, Guest6Spec, Network6, Network6Error, Network6Spec, RaSettings, Tables6,
    Tables6Error,
};
use hvrouter_core::network::Network;
use hvrouter_core::tables::Tables;
use ipnet::Ipv6Net;

use crate::check::Checker;
use crate::networks::unique_list;
use crate::raw::{RawGuest, RawNetwork, S};

fn addr6(c: &mut Checker<'_>, v: &S<String>, key: &str) -> Option<Ipv6Addr> {
    match v.get_ref().trim().parse::<Ipv6Addr>() {
        Ok(a) => Some(a),
        Err(_) => {
            let hint = if v.get_ref().contains('/') {
                " (write the address without a prefix length)"
            } else {
                ""
            };
            c.report(
                v.span(),
                key,
                format!("{:?} is not an IPv6 address{hint}", v.get_ref()),
            );
            None
        }
    }
}

fn prefix6(c: &mut Checker<'_>, v: &S<String>, key: &str) -> Option<Ipv6Net> {
    match v.get_ref().trim().parse::<Ipv6Net>() {
        Ok(p) => Some(p),
        Err(_) => {
            c.report(
                v.span(),
                key,
                format!(
                    "{:?} is not an IPv6 prefix: expected ADDRESS/LENGTH, e.g. 2001:db8:90::/64",
                    v.get_ref()
                ),
            );
            None
        }
    }
}

/// The network's IPv6 side: `Some(None)` when it has none (no `subnet6`), `Some(Some)`
/// when valid for `network`, `None` after reporting a problem.
pub(crate) fn network6(
    c: &mut Checker<'_>,
    raw: &RawNetwork,
    key: &str,
    network: &Network,
) -> Option<Option<Network6Spec>> {
    let k = |field: &str| format!("{key}.{field}");
    let (subnet6_raw, gateway6_raw) = match (&raw.subnet6, &raw.gateway6) {
        (None, None) => {
            // The other IPv6 keys mean nothing without a subnet6.
            let stray = [
                raw.router_advertisements
                    .as_ref()
                    .map(|v| (v.span(), "router_advertisements")),
                raw.dns_servers6
                    .as_ref()
                    .map(|v| (v.span(), "dns_servers6")),
                raw.source6.as_ref().map(|v| (v.span(), "source6")),
            ];
            let mut ok = true;
            for (span, field) in stray.into_iter().flatten() {
                c.report(
                    span,
                    &k(field),
                    "needs subnet6 and gateway6 in the same network",
                );
                ok = false;
            }
            return ok.then_some(None);
        }
        (Some(s), None) => {
            c.report(
                s.span(),
                &k("gateway6"),
                "subnet6 needs gateway6 (Ganeti's NETWORK_GATEWAY6)",
            );
            return None;
        }
        (None, Some(g)) => {
            c.report(
                g.span(),
                &k("subnet6"),
                "gateway6 needs subnet6 (Ganeti's NETWORK_SUBNET6)",
            );
            return None;
        }
        (Some(s), Some(g)) => (s, g),
    };
    let subnet = prefix6(c, subnet6_raw, &k("subnet6"));
    let gateway = addr6(c, gateway6_raw, &k("gateway6"));
    let empty = Vec::new();
    let dns_raw = raw.dns_servers6.as_ref().map_or(&empty, |v| v.get_ref());
    let dns = unique_list(c, dns_raw, &k("dns_servers6"), addr6);
    let source6 = match &raw.source6 {
        Some(v) => Some(addr6(c, v, &k("source6"))?),
        None => None,
    };
    let (Some(subnet6), Some(gateway6), Some(dns)) = (subnet, gateway, dns) else {
        return None;
    };
    let spec = Network6Spec {
        subnet6,
        gateway6,
        ra: RaSettings {
            enabled: raw
                .router_advertisements
                .as_ref()
                .is_none_or(|v| *v.get_ref()),
            dns_servers: dns.iter().map(|(a, _)| *a).collect(),
            ..RaSettings::default()
        },
        source6,
    };
    match spec.validate(network) {
        Ok(()) => Some(Some(spec)),
        Err(e) => {
            let (span, field) = match &e {
                Network6Error::SubnetHostBits { .. }
                | Network6Error::SubnetTooSmall(_)
                | Network6Error::SubnetNotGlobal(_) => (subnet6_raw.span(), "subnet6"),
                Network6Error::BadDnsServer(a) => (
                    dns.iter()
                        .find(|(d, _)| d == a)
                        .map_or(subnet6_raw.span(), |(_, s)| s.clone()),
                    "dns_servers6",
                ),
                Network6Error::BadSource { .. } => (
                    raw.source6
                        .as_ref()
                        .map_or(gateway6_raw.span(), |v| v.span()),
                    "source6",
                ),
                _ => (gateway6_raw.span(), "gateway6"),
            };
            c.report(span, &k(field), e.to_string());
            None
        }
    }
}

/// True if the guest's table sets any IPv6 key.
fn has_ipv6_keys(raw: &RawGuest) -> bool {
    raw.ip6.is_some() || raw.eui64.is_some() || raw.routed_prefixes6.is_some()
}

/// The guest's IPv6 side, checked against its network's and the other guests' (recorded
/// in `tables6`): `Some(None)` on a network without IPv6, `None` after a problem.
/// Default on a /64: the EUI-64 address of its MAC, as gnt-networking's `mac2eui64`.
pub(crate) fn guest6(
    c: &mut Checker<'_>,
    raw: &RawGuest,
    key: &str,
    tables: &Tables,
    tables6: &mut Tables6,
    guest: GuestId,
) -> Option<Option<Guest6Spec>> {
    let k = |field: &str| format!("{key}.{field}");
    let network = tables.guest(guest)?.network;
    let Some(net6) = tables6.network6(network).map(|s| s.net.clone()) else {
        if has_ipv6_keys(raw) {
            let span = raw
                .ip6
                .as_ref()
                .map(|v| v.span())
                .or_else(|| raw.eui64.as_ref().map(|v| v.span()))
                .or_else(|| raw.routed_prefixes6.as_ref().map(|v| v.span()))
                .unwrap_or(raw.network.span());
            c.report(
                span,
                key,
                "IPv6 keys need a network with subnet6 and gateway6",
            );
            return None;
        }
        return Some(None);
    };
    let empty = Vec::new();
    let ip6 = unique_list(
        c,
        raw.ip6.as_ref().map_or(&empty, |v| v.get_ref()),
        &k("ip6"),
        addr6,
    );
    let raw_prefixes = raw
        .routed_prefixes6
        .as_ref()
        .map_or(&empty, |v| v.get_ref());
    let prefixes = unique_list(c, raw_prefixes, &k("routed_prefixes6"), prefix6);
    let (Some(ip6), Some(prefixes)) = (ip6, prefixes) else {
        return None;
    };
    let spec = Guest6Spec {
        addrs: ip6.iter().map(|(a, _)| *a).collect(),
        eui64: raw
            .eui64
            .as_ref()
            .map_or(Network6::slaac(&net6), |v| *v.get_ref()),
        prefixes: prefixes.iter().map(|(p, _)| *p).collect(),
    };
    match tables6.set_guest6(tables, guest, spec.clone()) {
        Ok(_) => Some(Some(spec)),
        Err(e) => {
            let at = |list: &[(Ipv6Addr, std::ops::Range<usize>)], a: &Ipv6Addr| {
                list.iter().find(|(x, _)| x == a).map(|(_, s)| s.clone())
            };
            let at_p = |p: &Ipv6Net| {
                prefixes
                    .iter()
                    .find(|(x, _)| x == p)
                    .map(|(_, s)| s.clone())
            };
            let eui_span = raw.eui64.as_ref().map(|v| v.span());
            let (span, field) = match &e {
                Tables6Error::Guest(Guest6Error::BadAddress { addr, .. }) => {
                    (at(&ip6, addr), "ip6")
                }
                Tables6Error::Guest(Guest6Error::BadPrefix { prefix, .. }) => {
                    (at_p(prefix), "routed_prefixes6")
                }
                Tables6Error::Guest(Guest6Error::Eui64NeedsSlash64(_)) => (eui_span, "eui64"),
                Tables6Error::RouterAddress(a) => match at(&ip6, a) {
                    Some(s) => (Some(s), "ip6"),
                    None => (eui_span, "eui64"),
                },
                Tables6Error::InUse { what, .. } => {
                    let a = what.parse::<Ipv6Addr>().ok();
                    match a.and_then(|a| at(&ip6, &a)) {
                        Some(s) => (Some(s), "ip6"),
                        None => match what.parse::<Ipv6Net>().ok().and_then(|p| at_p(&p)) {
                            Some(s) => (Some(s), "routed_prefixes6"),
                            None => (eui_span, "eui64"),
                        },
                    }
                }
                _ => (None, "ip6"),
            };
            let span = span.unwrap_or(raw.mac.span());
            c.report(span, &k(field), e.to_string());
            None
        }
    }
}
