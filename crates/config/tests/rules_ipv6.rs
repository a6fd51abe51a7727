//! The IPv6 keys: defaults (EUI-64 on a /64), every rule with its exact line, key and
//! message.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::Ipv6Addr;
use support::{edit, problems, rejects, valid};

const GW90: &str = "gateway = \"192.0.2.1\"";
const V6: &str = "subnet6 = \"2001:db8:90::/64\"\ngateway6 = \"2001:db8:90::1\"";
const TAP3_NET: &str = "ips = [\"192.0.2.30\", \"192.0.2.31\"]\nnetwork = \"public_90\"";

/// `public_90` with `lines` added after its gateway.
fn public_90(lines: &str) -> String {
    edit(GW90, &format!("{GW90}\n{lines}"))
}

/// `public_90` with IPv6, and `lines` added to tap3.
fn tap3(lines: &str) -> String {
    public_90(V6).replace(TAP3_NET, &format!("{TAP3_NET}\n{lines}"))
}

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn no_subnet6_means_no_ipv6() {
    let c = valid(&public_90(""));
    assert!(c.network("public_90").unwrap().ipv6.is_none());
    assert!(c.guest("tap1").unwrap().ipv6.is_none());
}

#[test]
fn network_keys_and_the_eui64_default() {
    let c = valid(&public_90(&format!(
        "{V6}\nrouter_advertisements = false\ndns_servers6 = [\"2001:db8::53\"]"
    )));
    let n = c.network("public_90").unwrap().ipv6.clone().unwrap();
    assert_eq!(n.subnet6, "2001:db8:90::/64".parse().unwrap());
    assert_eq!(n.gateway6, a6("2001:db8:90::1"));
    assert!(!n.ra.enabled);
    assert_eq!(n.ra.dns_servers, vec![a6("2001:db8::53")]);
    let g = c.guest("tap1").unwrap().ipv6.clone().unwrap();
    assert!(g.eui64 && g.addrs.is_empty() && g.prefixes.is_empty());
    assert!(c.network("public_80").unwrap().ipv6.is_none());
    // Explicit guest keys.
    let c = valid(&tap3(
        "ip6 = [\"2001:db8:90::30\"]\neui64 = false\nrouted_prefixes6 = [\"2001:db8:ff::/48\"]",
    ));
    let g = c.guest("tap3").unwrap().ipv6.clone().unwrap();
    assert_eq!(g.addrs, vec![a6("2001:db8:90::30")]);
    assert!(!g.eui64);
    assert_eq!(g.prefixes, vec!["2001:db8:ff::/48".parse().unwrap()]);
}

#[test]
fn network_rules() {
    rejects(
        GW90,
        &format!("{GW90}\nsubnet6 = \"2001:db8:90::/64\""),
        "subnet6",
        "networks.public_90.gateway6",
        "subnet6 needs gateway6 (Ganeti's NETWORK_GATEWAY6)",
    );
    rejects(
        GW90,
        &format!("{GW90}\ndns_servers6 = [\"2001:db8::53\"]"),
        "dns_servers6",
        "networks.public_90.dns_servers6",
        "needs subnet6 and gateway6 in the same network",
    );
    rejects(
        GW90,
        &format!("{GW90}\nsubnet6 = \"2001:db8:90::5/64\"\ngateway6 = \"2001:db8:90::1\""),
        "subnet6",
        "networks.public_90.subnet6",
        "subnet6 2001:db8:90::5/64 has host bits set (did you mean 2001:db8:90::/64?)",
    );
    rejects(
        GW90,
        &format!("{GW90}\nsubnet6 = \"2001:db8:90::/64\"\ngateway6 = \"2001:db8:91::1\""),
        "gateway6",
        "networks.public_90.gateway6",
        "gateway6 2001:db8:91::1 must be a link-local address or a host address inside subnet6 \
         2001:db8:90::/64",
    );
    rejects(
        GW90,
        &format!("{GW90}\nsubnet6 = \"2001:db8:90::/64\"\ngateway6 = \"2001:db8:90::1/64\""),
        "gateway6",
        "networks.public_90.gateway6",
        "\"2001:db8:90::1/64\" is not an IPv6 address (write the address without a prefix \
         length)",
    );
    rejects(
        GW90,
        &format!("{GW90}\n{V6}\ndns_servers6 = [\"ff02::1\"]"),
        "dns_servers6",
        "networks.public_90.dns_servers6",
        "dns server ff02::1 is not a unicast address",
    );
}

#[test]
fn source6_is_the_routers_own() {
    let c = valid(&public_90(&format!("{V6}\nsource6 = \"2001:db8:90::fe\"")));
    let n = c.network("public_90").unwrap().ipv6.clone().unwrap();
    assert_eq!(n.source6, Some(a6("2001:db8:90::fe")));
    rejects(
        GW90,
        &format!("{GW90}\n{V6}\nsource6 = \"2001:db8:91::fe\""),
        "source6",
        "networks.public_90.source6",
        "source6 2001:db8:91::fe must be an unused host address inside subnet6 \
         2001:db8:90::/64, other than gateway6",
    );
    let p = problems(
        &tap3("ip6 = [\"2001:db8:90::fe\"]")
            .replace(V6, &format!("{V6}\nsource6 = \"2001:db8:90::fe\"")),
    );
    assert_eq!(
        (p[0].key.as_str(), p[0].message.as_str()),
        (
            "guests.tap3.ip6",
            "2001:db8:90::fe is the router's own address on the network (source6)"
        )
    );
}

#[test]
fn guest_rules() {
    let p = problems(&tap3("ip6 = [\"2001:db8:91::30\"]"));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].key, "guests.tap3.ip6");
    assert_eq!(
        p[0].message,
        "IPv6 address 2001:db8:91::30 must be a host address inside subnet6 2001:db8:90::/64, \
         other than the gateway and the subnet-router anycast address"
    );
    let p = problems(&tap3("routed_prefixes6 = [\"2001:db8:90::/56\"]"));
    assert_eq!(p[0].key, "guests.tap3.routed_prefixes6");
    // tap1 takes its EUI-64 address; tap3 may not claim it.
    let p = problems(&tap3("ip6 = [\"2001:db8:90::5054:ff:fe00:1\"]"));
    assert_eq!(
        (p[0].key.as_str(), p[0].message.as_str()),
        (
            "guests.tap3.ip6",
            "2001:db8:90:0:5054:ff:fe00:1 is already used by guest tap1"
        )
    );
    // IPv6 keys on a network without IPv6.
    let p = problems(&edit(TAP3_NET, &format!("{TAP3_NET}\neui64 = true")));
    assert_eq!(
        (p[0].key.as_str(), p[0].message.as_str()),
        (
            "guests.tap3",
            "IPv6 keys need a network with subnet6 and gateway6"
        )
    );
}
