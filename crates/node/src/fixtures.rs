//! Router tables for unit tests, built without privileges: two networks, and guests
//! added to them the way `guest add` adds them (the IPv6 side asked for recorded by
//! name first, then the guest).

#![allow(clippy::unwrap_used)]

use hvrouter_control::protocol::{GuestIpv6, GuestSpec};
use hvrouter_core::guests::GuestSpec as CoreSpec;
use hvrouter_core::ipv6::{Network6Spec, RaSettings};
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{GuestId, Instant, NetworkId, PortId};
use wire::EthernetAddress;

/// `public_90`: 192.0.2.0/24 behind uplink port 0, with IPv6 (subnet6
/// 2001:db8:90::/64, the router's source6 2001:db8:90::fe). `public_80`:
/// 198.51.100.0/24 behind uplink port 1, IPv4 only. No guests.
pub fn router() -> (Router, NetworkId, NetworkId) {
    let now = Instant::ZERO;
    let mut r = Router::new(RouterConfig::default(), now);
    let mut net = |name: &str, subnet: &str, gateway: &str, uplink: u16| {
        r.add_network(
            NetworkSpec {
                name: name.into(),
                subnet: subnet.parse().unwrap(),
                gateway: gateway.parse().unwrap(),
                uplink: PortId(uplink),
                mtu: 1500,
                uplink_mac: EthernetAddress([2, 0, 0, 0, 0, uplink as u8]),
                guest_mac: EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]),
                arp_source: None,
            },
            now,
        )
        .unwrap()
    };
    let n90 = net("public_90", "192.0.2.0/24", "192.0.2.1", 0);
    let n80 = net("public_80", "198.51.100.0/24", "198.51.100.1", 1);
    let (t, r6) = r.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: "2001:db8:90::1".parse().unwrap(),
        ra: RaSettings::default(),
        source6: Some("2001:db8:90::fe".parse().unwrap()),
    };
    r6.set_network6(t, n90, spec, now).unwrap();
    (r, n90, n80)
}

/// An IPv6 side as the control protocol asks for it.
pub fn v6(addrs: &[&str], eui64: bool, prefixes: &[&str]) -> GuestIpv6 {
    GuestIpv6 {
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        eui64,
        routed_prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
    }
}

/// A guest on `tap` in `network` with addresses `ips`, MAC 02:00:00:00:00:`mac`.
pub fn spec(tap: &str, network: &str, mac: u8, ips: &[&str]) -> GuestSpec {
    GuestSpec {
        tap: tap.into(),
        mac: EthernetAddress([2, 0, 0, 0, 0, mac]),
        ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
        network: network.into(),
        routed_prefixes: vec![],
        hostname: None,
        ipv6: None,
    }
}

/// Add guest `spec` to the tables on port `port`, as `guest add` does.
pub fn add(router: &mut Router, spec: &GuestSpec, port: u16) -> GuestId {
    let net = router.tables().network_by_name(&spec.network).unwrap().id;
    let (_, v6) = router.ipv6_mut();
    v6.set_guest6_override(&spec.tap, spec.ipv6.as_ref().map(crate::guests6::wanted));
    let id = router
        .add_guest(CoreSpec {
            name: spec.tap.clone(),
            port: PortId(port),
            mac: spec.mac,
            ips: spec.ips.clone(),
            network: net,
            extra_prefixes: spec.routed_prefixes.clone(),
        })
        .unwrap();
    router
        .set_guest_hostname(&spec.tap, spec.hostname.as_deref())
        .unwrap();
    id
}
