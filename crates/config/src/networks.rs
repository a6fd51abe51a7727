//! `[networks.NAME]` and `[guests.TAP]`.
//!
//! Values are parsed here; the routing rules (subnet, gateway, MTU, addresses, prefixes,
//! overlaps) are the core's own ([`NetworkSpec::validate`] and [`Tables::add_guest`]),
//! applied to a scratch [`Tables`] built from the file, so they are written once. Their
//! errors are mapped back to the key and line of the value they are about.

use core::ops::Range;
use std::collections::HashMap;

use hvrouter_core::ipv6::Tables6;
use hvrouter_core::network::{NetworkError, MAX_MTU, MIN_MTU};
use hvrouter_core::tables::{GuestConflict, NetworkConflict, Tables, TablesError};
use hvrouter_core::{NetworkId, PortId};
use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

use crate::check::Checker;
use crate::locate::join_path;
use crate::model::{GuestConfig, NetworkConfig, DEFAULT_GUEST_MAC, DEFAULT_MTU};
use crate::raw::{in_file_order, Named, RawGuest, RawNetwork, S};

/// Stand-in for the uplink device's MAC while validating: the real one is only known at
/// run time (a unicast, locally administered address, so it passes the core's checks).
const PLACEHOLDER_UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);

/// The validated networks and guests, in file order.
pub(crate) struct Checked {
    pub(crate) networks: Vec<NetworkConfig>,
    pub(crate) guests: Vec<GuestConfig>,
}

/// Check all networks, then all guests, in file order.
pub(crate) fn check(
    c: &mut Checker<'_>,
    networks: &Named<RawNetwork>,
    guests: &Named<RawGuest>,
) -> Checked {
    let mut tables = Tables::new();
    let mut tables6 = Tables6::new();
    let mut ports = PortAlloc::default();
    // Network name -> (id in `tables`, config). Networks that failed are recorded with
    // `None` so that their guests are skipped without a second, misleading error.
    let mut ids: HashMap<String, Option<NetworkId>> = HashMap::new();
    let mut uplinks: HashMap<String, String> = HashMap::new();
    let mut out = Checked {
        networks: Vec::new(),
        guests: Vec::new(),
    };
    for (name, raw) in in_file_order(networks) {
        let id = network(
            c,
            &mut tables,
            &mut tables6,
            &mut ports,
            &mut uplinks,
            name,
            raw.get_ref(),
        )
        .map(|(id, cfg)| {
            out.networks.push(cfg);
            id
        });
        ids.insert(name.get_ref().clone(), id);
    }
    for (tap, raw) in in_file_order(guests) {
        let key = join_path(["guests", tap.get_ref().as_str()]);
        let raw = raw.get_ref();
        let tap_ok = c.ifname(tap.get_ref(), tap.span(), &key);
        if let Some(net) = uplinks.get(tap.get_ref()) {
            c.report(
                tap.span(),
                &key,
                format!(
                    "interface {} is already the uplink of network {net}",
                    tap.get_ref()
                ),
            );
            continue;
        }
        let net_name = raw.network.get_ref();
        let net_id = match ids.get(net_name) {
            Some(Some(id)) => *id,
            Some(None) => continue,
            None => {
                let mut known: Vec<&str> = ids.keys().map(String::as_str).collect();
                known.sort_unstable();
                let known = if known.is_empty() {
                    "none are defined".to_string()
                } else {
                    format!("defined networks: {}", known.join(", "))
                };
                c.report(
                    raw.network.span(),
                    &format!("{key}.network"),
                    format!("network {net_name:?} is not defined ({known})"),
                );
                continue;
            }
        };
        let six = &mut tables6;
        if let Some(g) = guest(c, &mut tables, six, &mut ports, tap, tap_ok, net_id, raw) {
            out.guests.push(g);
        }
    }
    out
}

/// An optional key after parsing: `Some(None)` when absent, `Some(Some(v))` when valid,
/// `None` when given but invalid.
fn optional<T>(parsed: Option<Option<T>>) -> Option<Option<T>> {
    match parsed {
        None => Some(None),
        Some(v) => v.map(Some),
    }
}

/// Hands out a distinct scratch port per interface.
#[derive(Default)]
struct PortAlloc(u16);

impl PortAlloc {
    fn next(&mut self) -> Option<PortId> {
        let p = PortId(self.0);
        self.0 = self.0.checked_add(1)?;
        Some(p)
    }
}

fn network(
    c: &mut Checker<'_>,
    tables: &mut Tables,
    tables6: &mut Tables6,
    ports: &mut PortAlloc,
    uplinks: &mut HashMap<String, String>,
    name: &S<String>,
    raw: &RawNetwork,
) -> Option<(NetworkId, NetworkConfig)> {
    let key = join_path(["networks", name.get_ref().as_str()]);
    let k = |field: &str| format!("{key}.{field}");
    let mut ok = true;

    let uplink = raw.uplink.get_ref();
    ok &= c.ifname(uplink, raw.uplink.span(), &k("uplink"));
    if let Some(other) = uplinks.get(uplink) {
        c.report(
            raw.uplink.span(),
            &k("uplink"),
            format!("interface {uplink} is already the uplink of network {other}"),
        );
        ok = false;
    } else {
        uplinks.insert(uplink.clone(), name.get_ref().clone());
    }
    let subnet = c.prefix(&raw.subnet, &k("subnet"));
    let gateway = c.ipv4(&raw.gateway, &k("gateway"));
    let arp_source = raw.arp_source.as_ref().map(|v| c.ipv4(v, &k("arp_source")));
    let uplink_mac = raw.uplink_mac.as_ref().map(|v| c.mac(v, &k("uplink_mac")));
    let guest_mac = raw.guest_mac.as_ref().map(|v| c.mac(v, &k("guest_mac")));
    let mtu = match &raw.mtu {
        Some(v) => match u16::try_from(*v.get_ref()) {
            Ok(m) => Some(m),
            Err(_) => {
                // Too large for the core's u16: the core's rule, in the core's words.
                c.report(
                    v.span(),
                    &k("mtu"),
                    format!(
                        "mtu {} is out of range: it must be between {MIN_MTU} (RFC 791) \
                         and {MAX_MTU}",
                        v.get_ref()
                    ),
                );
                None
            }
        },
        None => Some(DEFAULT_MTU),
    };
    let dhcp = crate::dhcp::settings(c, raw, &key);
    let (Some(subnet), Some(gateway), Some(mtu), Some(dhcp)) = (subnet, gateway, mtu, dhcp) else {
        return None;
    };
    let (Some(arp_source), Some(uplink_mac), Some(guest_mac)) = (
        optional(arp_source),
        optional(uplink_mac),
        guest_mac.unwrap_or(Some(DEFAULT_GUEST_MAC)),
    ) else {
        return None;
    };
    if !ok {
        return None;
    }
    let cfg = NetworkConfig {
        name: name.get_ref().clone(),
        uplink: uplink.clone(),
        subnet,
        gateway,
        mtu,
        arp_source,
        uplink_mac,
        guest_mac,
        dhcp,
        ipv6: None,
    };
    let Some(port) = ports.next() else {
        c.report(name.span(), &key, "too many networks and guests");
        return None;
    };
    match tables.add_network(cfg.network_spec(port, PLACEHOLDER_UPLINK_MAC)) {
        Ok(id) => {
            let ipv6 = crate::ipv6::network6(c, raw, &key, tables.network(id)?)?;
            if let Some(spec) = &ipv6 {
                if let Err(e) = tables6.set_network6(tables, id, spec.clone()) {
                    c.report(name.span(), &key, e.to_string());
                    return None;
                }
            }
            Some((id, NetworkConfig { ipv6, ..cfg }))
        }
        Err(e) => {
            let (span, field) = match &e {
                TablesError::AddNetwork {
                    reason: NetworkConflict::Invalid(n),
                    ..
                } => network_error_site(n, raw),
                _ => (None, None),
            };
            let span = span.unwrap_or_else(|| name.span());
            let key = field.map_or(key.clone(), k);
            c.report(span, &key, conflict_message(&e));
            None
        }
    }
}

/// The value a core network error is about: its span and field name.
fn network_error_site(
    e: &NetworkError,
    raw: &RawNetwork,
) -> (Option<Range<usize>>, Option<&'static str>) {
    let opt = |v: &Option<S<String>>| v.as_ref().map(|v| v.span());
    match e {
        NetworkError::InvalidName(_) => (None, None),
        NetworkError::SubnetHostBits { .. } | NetworkError::SubnetTooSmall(_) => {
            (Some(raw.subnet.span()), Some("subnet"))
        }
        NetworkError::GatewayOutsideSubnet { .. } | NetworkError::GatewayNotHost { .. } => {
            (Some(raw.gateway.span()), Some("gateway"))
        }
        NetworkError::MtuOutOfRange(_) => (raw.mtu.as_ref().map(|v| v.span()), Some("mtu")),
        NetworkError::MacNotUnicast { which, .. } => {
            if *which == "uplink_mac" {
                (opt(&raw.uplink_mac), Some("uplink_mac"))
            } else {
                (opt(&raw.guest_mac), Some("guest_mac"))
            }
        }
        NetworkError::BadArpSource { .. } => (opt(&raw.arp_source), Some("arp_source")),
    }
}

/// The reason of a core error, without the "network X:" / "guest X:" the key already says.
fn conflict_message(e: &TablesError) -> String {
    let reason = match e {
        TablesError::AddNetwork { reason, .. } => reason.to_string(),
        TablesError::AddGuest { reason, .. } | TablesError::ReplaceGuest { reason, .. } => {
            reason.to_string()
        }
        TablesError::RemoveGuest { .. } => e.to_string(),
    };
    // The file calls them routed prefixes; the core calls them extra prefixes.
    reason
        .strip_prefix("extra prefix ")
        .map_or(reason.clone(), str::to_string)
}

#[allow(clippy::too_many_arguments)]
fn guest(
    c: &mut Checker<'_>,
    tables: &mut Tables,
    tables6: &mut Tables6,
    ports: &mut PortAlloc,
    tap: &S<String>,
    tap_ok: bool,
    network: NetworkId,
    raw: &RawGuest,
) -> Option<GuestConfig> {
    let key = join_path(["guests", tap.get_ref().as_str()]);
    let k = |field: &str| format!("{key}.{field}");
    let mut ok = tap_ok;

    let mac = c.mac(&raw.mac, &k("mac"));
    if let (Some(mac), Some(net)) = (mac, tables.network(network)) {
        if mac == net.guest_mac {
            c.report(
                raw.mac.span(),
                &k("mac"),
                format!(
                    "{mac} is the guest_mac of network {}, the router's own MAC toward \
                     guests: the guest needs a different one",
                    net.name
                ),
            );
            ok = false;
        }
    }
    let ips = unique_list(c, raw.ips.get_ref(), &k("ips"), |c, v, key| c.ipv4(v, key));
    let empty = Vec::new();
    let raw_prefixes = raw.routed_prefixes.as_ref().map_or(&empty, |v| v.get_ref());
    let prefixes = unique_list(c, raw_prefixes, &k("routed_prefixes"), |c, v, key| {
        c.prefix(v, key)
    });
    let hostname = crate::dhcp::hostname(c, raw, &key);
    let (Some(mac), Some(ips), Some(prefixes), Some(hostname)) = (mac, ips, prefixes, hostname)
    else {
        return None;
    };
    if ips.is_empty() {
        c.report(raw.ips.span(), &k("ips"), GuestConflict::NoIps.to_string());
        return None;
    }
    let cfg = GuestConfig {
        tap: tap.get_ref().clone(),
        mac,
        ips: ips.iter().map(|(ip, _)| *ip).collect(),
        network: tables.network(network)?.name.clone(),
        routed_prefixes: prefixes.iter().map(|(p, _)| *p).collect(),
        hostname,
        ipv6: None,
    };
    if !ok {
        return None;
    }
    let Some(port) = ports.next() else {
        c.report(tap.span(), &key, "too many networks and guests");
        return None;
    };
    match tables.add_guest(cfg.guest_spec(network, port)) {
        Ok(id) => {
            let ipv6 = crate::ipv6::guest6(c, raw, &key, tables, tables6, id)?;
            Some(GuestConfig { ipv6, ..cfg })
        }
        Err(e) => {
            let reason = match &e {
                TablesError::AddGuest { reason, .. } => Some(reason),
                _ => None,
            };
            let (span, field) = match reason {
                Some(r) => guest_error_site(r, raw, &ips, &prefixes),
                None => (None, None),
            };
            let span = span.unwrap_or_else(|| tap.span());
            let key = field.map_or(key.clone(), k);
            c.report(span, &key, conflict_message(&e));
            None
        }
    }
}

/// Parse every element of a list; report elements listed twice. `None` if any failed.
pub(crate) fn unique_list<T: PartialEq + Copy + core::fmt::Display>(
    c: &mut Checker<'_>,
    list: &[S<String>],
    key: &str,
    parse: impl Fn(&mut Checker<'_>, &S<String>, &str) -> Option<T>,
) -> Option<Vec<(T, Range<usize>)>> {
    let mut out: Vec<(T, Range<usize>)> = Vec::new();
    let mut ok = true;
    for v in list {
        match parse(c, v, key) {
            Some(x) if out.iter().any(|(y, _)| *y == x) => {
                c.report(v.span(), key, format!("{x} is listed twice"));
                ok = false;
            }
            Some(x) => out.push((x, v.span())),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The value a core guest error is about: its span and field name.
fn guest_error_site(
    e: &GuestConflict,
    raw: &RawGuest,
    ips: &[(Ipv4Addr, Range<usize>)],
    prefixes: &[(Ipv4Net, Range<usize>)],
) -> (Option<Range<usize>>, Option<&'static str>) {
    let ip_at = |ip: &Ipv4Addr| {
        let span = ips.iter().find(|(x, _)| x == ip).map(|(_, s)| s.clone());
        (span.or(Some(raw.ips.span())), Some("ips"))
    };
    let prefix_at = |p: &Ipv4Net| {
        let span = prefixes
            .iter()
            .find(|(x, _)| x == p)
            .map(|(_, s)| s.clone());
        let whole = raw.routed_prefixes.as_ref().map(|v| v.span());
        (span.or(whole), Some("routed_prefixes"))
    };
    match e {
        GuestConflict::NoIps => (Some(raw.ips.span()), Some("ips")),
        GuestConflict::MacNotUnicast(_) => (Some(raw.mac.span()), Some("mac")),
        GuestConflict::IpNotUnicast(ip)
        | GuestConflict::IpOwned { ip, .. }
        | GuestConflict::IpOutsideSubnet { ip, .. }
        | GuestConflict::IpIsGateway { ip, .. }
        | GuestConflict::IpIsNetworkAddr { ip, .. }
        | GuestConflict::IpIsBroadcast { ip, .. }
        | GuestConflict::IpIsArpSource { ip, .. } => ip_at(ip),
        GuestConflict::PrefixHostBits { given: p, .. }
        | GuestConflict::PrefixNotUnicast(p)
        | GuestConflict::PrefixContainsGateway { prefix: p, .. }
        | GuestConflict::PrefixOverlapsSubnet { prefix: p, .. }
        | GuestConflict::PrefixOverlapsGuest { prefix: p, .. } => prefix_at(p),
        GuestConflict::RouteExists { route } => {
            let host = (route.prefix.prefix_len() == 32).then(|| route.prefix.addr());
            match host.filter(|h| ips.iter().any(|(x, _)| x == h)) {
                Some(h) => ip_at(&h),
                None => prefix_at(&route.prefix),
            }
        }
        _ => (None, None),
    }
}
