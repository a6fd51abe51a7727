//! Unit tests of [`Tables`](super::Tables): they read its private state (`next_guest`).

use super::*;
use wire::EthernetAddress;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}
fn mac(last: u8) -> EthernetAddress {
    EthernetAddress([0x52, 0x54, 0, 0, 0, last])
}

const P90: NetworkId = NetworkId(0);
const P80: NetworkId = NetworkId(1);

fn net_spec(name: &str, subnet: &str, gw: &str, uplink: u16) -> NetworkSpec {
    NetworkSpec {
        name: name.into(),
        subnet: net(subnet),
        gateway: ip(gw),
        uplink: PortId(uplink),
        mtu: 1500,
        uplink_mac: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
        guest_mac: EthernetAddress([0x02, 0, 0, 0, 0, 2]),
        arp_source: None,
    }
}

/// public_90 = 192.0.2.0/24 gw .1 on port0 (arp_source .2),
/// public_80 = 198.51.100.0/24 gw .1 on port1.
fn tables() -> Tables {
    let mut t = Tables::new();
    let mut s = net_spec("public_90", "192.0.2.0/24", "192.0.2.1", 0);
    s.arp_source = Some(ip("192.0.2.2"));
    assert_eq!(t.add_network(s).unwrap(), P90);
    let s = net_spec("public_80", "198.51.100.0/24", "198.51.100.1", 1);
    assert_eq!(t.add_network(s).unwrap(), P80);
    t
}

fn gspec(name: &str, port: u16, ips: &[&str], extra: &[&str]) -> GuestSpec {
    GuestSpec {
        name: name.into(),
        port: PortId(port),
        mac: mac(port as u8),
        ips: ips.iter().map(|s| ip(s)).collect(),
        network: P90,
        extra_prefixes: extra.iter().map(|s| net(s)).collect(),
    }
}

/// Tables with tap3 (192.0.2.10, 192.0.2.11, extra 203.0.113.8/29) and tap4
/// (192.0.2.20).
fn populated() -> Tables {
    let mut t = tables();
    let a = gspec(
        "tap3",
        3,
        &["192.0.2.10", "192.0.2.11"],
        &["203.0.113.8/29"],
    );
    assert_eq!(t.add_guest(a).unwrap(), GuestId(0));
    assert_eq!(
        t.add_guest(gspec("tap4", 4, &["192.0.2.20"], &[])).unwrap(),
        GuestId(1)
    );
    t
}

/// A canonical description of everything observable.
fn snapshot(t: &Tables) -> String {
    let mut s = String::new();
    for n in t.networks() {
        s += &format!("{n:?}\n");
        for r in t.routes(n.id).unwrap().iter() {
            s += &format!("  {r:?}\n");
        }
    }
    for g in t.guests().iter() {
        s += &format!("{g:?}\n");
    }
    for p in 0..32 {
        s += &format!("{:?} ", t.port_role(PortId(p)));
    }
    for n in ["public_90", "public_80", "x"] {
        s += &format!("{:?} ", t.network_by_name(n).map(|n| n.id));
    }
    s + &format!("next={}", t.next_guest)
}

fn route(t: &Tables, dst: &str) -> Route {
    t.lookup_route(P90, ip(dst)).unwrap()
}

#[test]
fn network_gets_base_routes() {
    let t = tables();
    assert_eq!(t.network(P90).unwrap().name, "public_90");
    assert_eq!(t.network_by_name("public_80").unwrap().id, P80);
    assert!(t.network(NetworkId(2)).is_none());
    assert_eq!(t.routes(P90).unwrap().len(), 2);
    let r = route(&t, "198.51.100.7");
    assert_eq!(
        (r.next_hop, r.origin),
        (NextHop::Gateway(ip("192.0.2.1")), RouteOrigin::Default)
    );
    let r = route(&t, "192.0.2.77");
    assert_eq!(
        (r.prefix, r.next_hop),
        (net("192.0.2.0/24"), NextHop::Connected)
    );
    assert_eq!(r.origin, RouteOrigin::Connected);
    // public_80 has its own table.
    let r = t.lookup_route(P80, ip("198.51.100.7")).unwrap();
    assert_eq!(r.next_hop, NextHop::Connected);
    assert_eq!(t.lookup_route(NetworkId(9), ip("192.0.2.77")), None);
    assert_eq!(t.port_role(PortId(0)), Some(PortRole::Uplink(P90)));
    assert_eq!(t.port_role(PortId(1)), Some(PortRole::Uplink(P80)));
    assert_eq!(t.port_role(PortId(2)), None);
    assert_eq!(t.port_role(PortId(60000)), None);
    assert!(t.guest_by_port(PortId(0)).is_none());
}

#[test]
fn add_network_rejections_change_nothing() {
    let mut t = populated();
    let before = snapshot(&t);
    let cases: Vec<(NetworkSpec, &str)> = vec![
        (
            net_spec("public_90", "203.0.113.0/24", "203.0.113.1", 9),
            "network public_90: a network with this name already exists (net0)",
        ),
        (
            net_spec("public_70", "203.0.113.0/24", "203.0.113.1", 0),
            "network public_70: uplink port0 is already the uplink of network public_90",
        ),
        (
            net_spec("public_70", "203.0.113.0/24", "203.0.113.1", 3),
            "network public_70: uplink port3 is already used by guest tap3",
        ),
        (
            net_spec("public_70", "203.0.113.0/24", "198.51.100.1", 9),
            "network public_70: gateway 198.51.100.1 is not inside subnet 203.0.113.0/24",
        ),
    ];
    for (spec, msg) in cases {
        let e = t.add_network(spec).unwrap_err();
        assert_eq!(e.to_string(), msg);
        assert!(matches!(e, TablesError::AddNetwork { .. }));
        assert_eq!(snapshot(&t), before);
    }
}

#[test]
fn overlapping_subnets_of_different_networks_are_separate() {
    let mut t = tables();
    let id = t
        .add_network(net_spec("public_91", "192.0.2.0/24", "192.0.2.1", 5))
        .unwrap();
    let mut a = gspec("tap3", 3, &["192.0.2.10"], &[]);
    t.add_guest(a.clone()).unwrap();
    a.name = "tap6".into();
    a.port = PortId(6);
    a.network = id;
    let g6 = t.add_guest(a).unwrap();
    assert_eq!(t.is_hosted_guest_ip(id, ip("192.0.2.10")).unwrap().id, g6);
    assert_eq!(
        t.is_hosted_guest_ip(P90, ip("192.0.2.10")).unwrap().name,
        "tap3"
    );
    assert_eq!(
        t.lookup_route(id, ip("192.0.2.10")).unwrap().next_hop,
        NextHop::Guest(g6)
    );
}

#[test]
fn add_guest_installs_routes_and_maps() {
    let t = populated();
    let g = t.guest("tap3").unwrap();
    assert_eq!(g.id, GuestId(0));
    assert!(g.up, "guests start up");
    assert_eq!(t.guest(GuestId(0)).unwrap().name, "tap3");
    assert_eq!(t.guest_by_port(PortId(3)).unwrap().name, "tap3");
    assert_eq!(t.port_role(PortId(3)), Some(PortRole::Guest(GuestId(0))));
    assert_eq!(t.guests().len(), 2);
    assert_eq!(t.routes(P90).unwrap().len(), 2 + 3 + 1);
    let r = route(&t, "192.0.2.11");
    assert_eq!(r.prefix, net("192.0.2.11/32"));
    assert_eq!(
        (r.next_hop, r.origin),
        (NextHop::Guest(GuestId(0)), RouteOrigin::Guest)
    );
    let r = route(&t, "192.0.2.20");
    assert_eq!(r.next_hop, NextHop::Guest(GuestId(1)));
    let r = route(&t, "203.0.113.14");
    assert_eq!(r.prefix, net("203.0.113.8/29"));
    assert_eq!(
        (r.next_hop, r.origin),
        (NextHop::Guest(GuestId(0)), RouteOrigin::GuestPrefix)
    );
    assert_eq!(route(&t, "203.0.113.16").origin, RouteOrigin::Default);
    assert_eq!(route(&t, "192.0.2.12").origin, RouteOrigin::Connected);
    assert_eq!(
        t.is_hosted_guest_ip(P90, ip("192.0.2.10")).unwrap().name,
        "tap3"
    );
    // Extra prefixes are routed, not hosted: proxy ARP must not answer for them.
    assert!(t.is_hosted_guest_ip(P90, ip("203.0.113.9")).is_none());
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.12")).is_none());
    assert!(t.is_hosted_guest_ip(P80, ip("192.0.2.10")).is_none());
}

#[test]
fn add_guest_is_idempotent() {
    let mut t = populated();
    let before = snapshot(&t);
    // Same data, different order and duplicates: same id, nothing changes.
    let same = gspec(
        "tap3",
        3,
        &["192.0.2.11", "192.0.2.10", "192.0.2.11"],
        &["203.0.113.8/29"],
    );
    assert_eq!(t.add_guest(same.clone()).unwrap(), GuestId(0));
    assert_eq!(snapshot(&t), before);
    // The up/down state is the dataplane's: a re-add does not reset it.
    assert!(t.set_port_up(PortId(3), false));
    assert_eq!(t.add_guest(same).unwrap(), GuestId(0));
    assert!(!t.guest("tap3").unwrap().up);
    assert!(t.set_port_up(PortId(3), true));
    // Different data under an existing name: error, nothing changes.
    let mut diff = gspec("tap3", 5, &["192.0.2.12"], &["203.0.113.8/29"]);
    let e = t.add_guest(diff.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "guest tap3: a guest with this name already exists with a different port, mac, ips; \
         remove or replace it first"
    );
    assert_eq!(snapshot(&t), before);
    diff.port = PortId(3);
    diff.mac = mac(3);
    diff.ips = vec![ip("192.0.2.10"), ip("192.0.2.11")];
    diff.extra_prefixes.clear();
    assert!(matches!(
        t.add_guest(diff).unwrap_err(),
        TablesError::AddGuest { reason: GuestConflict::Exists { ref differs }, .. } if differs == "extra_prefixes"
    ));
    assert_eq!(snapshot(&t), before);
}

#[test]
fn readd_reinstalls_deleted_guest_routes() {
    let mut t = populated();
    let before = snapshot(&t);
    let routes = t.routes_mut(P90).unwrap();
    routes.remove(net("192.0.2.10/32")).unwrap();
    routes.remove(net("203.0.113.8/29")).unwrap();
    assert_eq!(route(&t, "192.0.2.10").origin, RouteOrigin::Connected);
    let spec = gspec(
        "tap3",
        3,
        &["192.0.2.10", "192.0.2.11"],
        &["203.0.113.8/29"],
    );
    assert_eq!(t.add_guest(spec).unwrap(), GuestId(0));
    assert_eq!(snapshot(&t), before);
}

/// Every rejection: the error, its message, and that nothing changed.
#[test]
fn add_guest_rejections_change_nothing() {
    let mut t = populated();
    t.routes_mut(P90).unwrap().add(Route {
        prefix: net("192.0.2.99/32"),
        next_hop: NextHop::Gateway(ip("192.0.2.254")),
        origin: RouteOrigin::Static,
    });
    let before = snapshot(&t);
    let g = |ips: &[&str], extra: &[&str]| gspec("tap5", 5, ips, extra);
    let mut cases: Vec<(GuestSpec, &str)> = vec![
        (g(&["203.0.113.9"], &[]), "203.0.113.9 is not inside network public_90 (192.0.2.0/24)"),
        (
            g(&["192.0.2.30", "192.0.2.11"], &[]),
            "192.0.2.11 is already used by guest tap3 in network public_90",
        ),
        // Inside another guest's extra prefix is still outside this guest's.
        (g(&["203.0.113.9"], &["203.0.113.32/29"]), "203.0.113.9 is not inside network public_90 (192.0.2.0/24)"),
        (g(&["192.0.2.1"], &[]), "192.0.2.1 is the gateway of network public_90"),
        (g(&["192.0.2.0"], &[]), "192.0.2.0 is the network address of 192.0.2.0/24"),
        (g(&["192.0.2.255"], &[]), "192.0.2.255 is the broadcast address of 192.0.2.0/24"),
        (g(&["192.0.2.2"], &[]), "192.0.2.2 is the ARP source address of network public_90"),
        (g(&["0.0.0.0"], &[]), "0.0.0.0 is not a unicast host address"),
        (g(&["255.255.255.255"], &[]), "255.255.255.255 is not a unicast host address"),
        (
            g(&["192.0.2.30"], &["203.0.113.12/30"]),
            "extra prefix 203.0.113.12/30 overlaps 203.0.113.8/29 of guest tap3",
        ),
        (
            g(&["192.0.2.30"], &["203.0.113.0/24"]),
            "extra prefix 203.0.113.0/24 overlaps 203.0.113.8/29 of guest tap3",
        ),
        (
            g(&["192.0.2.30"], &["192.0.0.0/16"]),
            "extra prefix 192.0.0.0/16 contains the gateway 192.0.2.1 of network public_90",
        ),
        (
            g(&["192.0.2.30"], &["192.0.2.128/28"]),
            "extra prefix 192.0.2.128/28 overlaps the on-link subnet 192.0.2.0/24 of network public_90",
        ),
        (
            g(&["192.0.2.30"], &["203.0.113.33/29"]),
            "extra prefix 203.0.113.33/29 has host bits set (did you mean 203.0.113.32/29?)",
        ),
        (
            g(&["192.0.2.30"], &["224.0.0.0/4"]),
            "extra prefix 224.0.0.0/4 overlaps non-unicast address space (0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3)",
        ),
        (
            g(&["192.0.2.99"], &[]),
            "a route already exists for 192.0.2.99/32: 192.0.2.99/32 via 192.0.2.254 (static); delete it first",
        ),
    ];
    let mut s = g(&["192.0.2.30"], &[]);
    s.port = PortId(4);
    cases.push((s, "port4 is already used by guest tap4"));
    let mut s = g(&["192.0.2.30"], &[]);
    s.port = PortId(1);
    cases.push((s, "port1 is already the uplink of network public_80"));
    let mut s = g(&["192.0.2.30"], &[]);
    s.mac = EthernetAddress([0x33, 0x33, 0, 0, 0, 1]);
    cases.push((s, "33:33:00:00:00:01 is not a unicast MAC address"));
    let mut s = g(&["192.0.2.30"], &[]);
    s.network = NetworkId(7);
    cases.push((s, "network net7 does not exist"));
    let mut s = g(&["192.0.2.30"], &[]);
    s.name = "tap 5".into();
    cases.push((
        s,
        "invalid guest name: it must be non-empty, without spaces or control characters",
    ));

    for (spec, reason) in cases {
        let name = spec.name.clone();
        let e = t.add_guest(spec).unwrap_err();
        assert!(matches!(e, TablesError::AddGuest { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("guest {name}: {reason}"));
        assert_eq!(snapshot(&t), before, "state changed after: {e}");
    }
    // The same guest with valid data goes in, with the next id.
    let ok = g(&["192.0.2.30", "203.0.113.33"], &["203.0.113.32/29"]);
    assert_eq!(t.add_guest(ok).unwrap(), GuestId(2));
    assert_eq!(route(&t, "203.0.113.33").origin, RouteOrigin::Guest);
    assert_eq!(route(&t, "203.0.113.34").origin, RouteOrigin::GuestPrefix);
    assert_eq!(
        t.is_hosted_guest_ip(P90, ip("203.0.113.33")).unwrap().name,
        "tap5"
    );
}

#[test]
fn remove_guest_restores_routes() {
    let mut t = populated();
    let g = t.remove_guest("tap3").unwrap();
    assert_eq!(g.id, GuestId(0));
    assert_eq!(route(&t, "192.0.2.10").origin, RouteOrigin::Connected);
    assert_eq!(route(&t, "192.0.2.11").origin, RouteOrigin::Connected);
    assert_eq!(route(&t, "203.0.113.9").origin, RouteOrigin::Default);
    assert_eq!(t.routes(P90).unwrap().len(), 3);
    assert!(t.guest("tap3").is_none());
    assert!(t.guest_by_port(PortId(3)).is_none());
    assert_eq!(t.port_role(PortId(3)), None);
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_none());
    assert!(!t.set_port_up(PortId(3), false));
    // By id, and unknown guests.
    assert_eq!(t.remove_guest(GuestId(1)).unwrap().name, "tap4");
    assert_eq!(t.routes(P90).unwrap().len(), 2);
    assert_eq!(
        t.remove_guest("tap3").unwrap_err().to_string(),
        "cannot remove guest tap3: no such guest"
    );
    assert_eq!(
        t.remove_guest(GuestId(0)).unwrap_err(),
        TablesError::RemoveGuest {
            guest: "guest0".into()
        }
    );
    // Everything is free again; ids are not reused.
    let again = gspec(
        "tap3",
        3,
        &["192.0.2.10", "192.0.2.11"],
        &["203.0.113.8/29"],
    );
    assert_eq!(t.add_guest(again).unwrap(), GuestId(2));
}

#[test]
fn remove_guest_leaves_routes_it_no_longer_owns() {
    let mut t = populated();
    let stat = Route {
        prefix: net("203.0.113.8/29"),
        next_hop: NextHop::Gateway(ip("192.0.2.254")),
        origin: RouteOrigin::Static,
    };
    t.routes_mut(P90).unwrap().add(stat);
    t.remove_guest("tap3").unwrap();
    assert_eq!(route(&t, "203.0.113.9"), stat);
}

#[test]
fn port_up_down() {
    let mut t = populated();
    assert!(t.set_port_up(PortId(3), false));
    assert!(!t.set_port_up(PortId(3), false));
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_none());
    // Still registered and routed; only proxy ARP stops.
    assert_eq!(
        t.guests().owner_of(P90, ip("192.0.2.10")).unwrap().name,
        "tap3"
    );
    assert_eq!(route(&t, "192.0.2.10").next_hop, NextHop::Guest(GuestId(0)));
    assert!(t.set_port_up(PortId(3), true));
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_some());
    assert!(
        !t.set_port_up(PortId(0), false),
        "uplinks are not guest ports"
    );
    assert!(!t.set_port_up(PortId(42), false));
}

#[test]
fn replace_guest() {
    let mut t = populated();
    t.set_port_up(PortId(3), false);
    let new = gspec("tap3", 7, &["192.0.2.12"], &["203.0.113.16/29"]);
    assert_eq!(t.replace_guest(new).unwrap(), GuestId(0));
    let g = t.guest("tap3").unwrap();
    assert_eq!((g.port, g.up), (PortId(7), true));
    assert_eq!(t.port_role(PortId(3)), None);
    assert_eq!(t.port_role(PortId(7)), Some(PortRole::Guest(GuestId(0))));
    assert_eq!(route(&t, "192.0.2.10").origin, RouteOrigin::Connected);
    assert_eq!(route(&t, "203.0.113.9").origin, RouteOrigin::Default);
    assert_eq!(route(&t, "192.0.2.12").next_hop, NextHop::Guest(GuestId(0)));
    assert_eq!(route(&t, "203.0.113.17").origin, RouteOrigin::GuestPrefix);
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.10")).is_none());
    // Keeping some of its own addresses and prefixes is not a conflict with itself.
    let overlap_self = gspec(
        "tap3",
        7,
        &["192.0.2.12", "192.0.2.13"],
        &["203.0.113.16/28"],
    );
    t.replace_guest(overlap_self).unwrap();
    let before = snapshot(&t);
    let conflict = gspec("tap3", 7, &["192.0.2.20"], &[]);
    assert_eq!(
        t.replace_guest(conflict).unwrap_err().to_string(),
        "replacing guest tap3: 192.0.2.20 is already used by guest tap4 in network public_90"
    );
    let unknown = gspec("tap9", 9, &["192.0.2.90"], &[]);
    assert_eq!(
        t.replace_guest(unknown).unwrap_err().to_string(),
        "replacing guest tap9: no such guest"
    );
    assert_eq!(snapshot(&t), before);
}

/// The incident: the default and connected routes vanish. Lookups miss (the caller
/// drops) instead of falling through, and proxy ARP's question still only answers
/// for hosted, up guests.
#[test]
fn base_routes_deleted_fails_closed() {
    let mut t = populated();
    let routes = t.routes_mut(P90).unwrap();
    assert_eq!(
        routes.remove(net("0.0.0.0/0")).unwrap().origin,
        RouteOrigin::Default
    );
    assert_eq!(
        routes.remove(net("192.0.2.0/24")).unwrap().origin,
        RouteOrigin::Connected
    );
    assert_eq!(t.lookup_route(P90, ip("198.51.100.7")), None);
    assert_eq!(t.lookup_route(P90, ip("192.0.2.77")), None);
    assert_eq!(route(&t, "192.0.2.10").next_hop, NextHop::Guest(GuestId(0)));
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.77")).is_none());
    assert!(t.is_hosted_guest_ip(P90, ip("192.0.2.1")).is_none());
    // public_80 is untouched.
    assert!(t.lookup_route(P80, ip("203.0.113.1")).is_some());
}

#[test]
fn uplink_mac_follows_the_device_and_must_be_unicast() {
    let mut t = tables();
    let net = P90;
    let new_mac = EthernetAddress([0x02, 0, 0, 0, 0x77, 0x01]);
    assert_eq!(t.set_uplink_mac(net, new_mac), Ok(true));
    assert_eq!(t.set_uplink_mac(net, new_mac), Ok(false));
    assert_eq!(t.network(net).unwrap().uplink_mac, new_mac);
    assert!(t.set_uplink_mac(net, EthernetAddress::BROADCAST).is_err());
    assert_eq!(
        t.set_uplink_mac(NetworkId(9), new_mac),
        Ok(false),
        "no such network"
    );
    assert_eq!(
        t.network(net).unwrap().uplink_mac,
        new_mac,
        "refused: unchanged"
    );
}
