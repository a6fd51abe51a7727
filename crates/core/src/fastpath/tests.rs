//! The fast path's state follows the router: guests, routes, confirmed neighbors.

use std::time::Duration;

use wire::{EthernetAddress, Ipv4Addr, Ipv4Packet};

use super::*;
use crate::guests::GuestSpec;
use crate::network::NetworkSpec;
use crate::outbox::Outbox;
use crate::router::{Action, RouterConfig};

const UPLINK: PortId = PortId(0);
const TAP1: PortId = PortId(1);
const TAP2: PortId = PortId(2);
const UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
const GUEST_SIDE_MAC: EthernetAddress = EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
const MAC1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 1, 0x01]);
const MAC2: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 2, 0x02]);
const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xfe]);
const GW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ARP_SOURCE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
const GUEST1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const GUEST2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn router() -> Router {
    let now = Instant::ZERO;
    let mut r = Router::new(RouterConfig::default(), now);
    let net = r
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().unwrap(),
                gateway: GW,
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: UPLINK_MAC,
                guest_mac: GUEST_SIDE_MAC,
                arp_source: Some(ARP_SOURCE),
            },
            now,
        )
        .unwrap();
    for (name, port, mac, ip, extra) in [
        (
            "tap1",
            TAP1,
            MAC1,
            GUEST1,
            vec!["203.0.113.0/28".parse().unwrap()],
        ),
        ("tap2", TAP2, MAC2, GUEST2, vec![]),
    ] {
        r.add_guest(GuestSpec {
            name: name.into(),
            port,
            mac,
            ips: vec![ip],
            network: net,
            extra_prefixes: extra,
        })
        .unwrap();
        r.set_port_up(port, true);
    }
    r
}

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn route(st: &FastState, prefix: &str) -> Option<FastRoute> {
    // The last entry for a prefix wins, as in the map.
    st.routes
        .iter()
        .rev()
        .find(|r| r.prefix == net(prefix))
        .copied()
}

/// Guest 1 sends to a remote host (the gateway is asked for), the gateway answers.
fn resolve_gateway(r: &mut Router, now: Instant) {
    let mut out = Outbox::new();
    let mut f = vec![0u8; 14 + 28];
    f[..6].copy_from_slice(&GUEST_SIDE_MAC.0);
    f[6..12].copy_from_slice(&MAC1.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
    ip.set_version(4);
    ip.set_header_len(20);
    ip.set_total_len(28);
    ip.set_ttl(64);
    ip.set_protocol(wire::Protocol::Icmp);
    ip.set_src_addr(GUEST1);
    ip.set_dst_addr(REMOTE);
    ip.fill_checksum();
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    let mut reply = vec![0u8; 60];
    reply[..6].copy_from_slice(&UPLINK_MAC.0);
    reply[6..12].copy_from_slice(&GW_MAC.0);
    reply[12..14].copy_from_slice(&[0x08, 0x06]);
    reply[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    reply[22..28].copy_from_slice(&GW_MAC.0);
    reply[28..32].copy_from_slice(&GW.octets());
    reply[32..38].copy_from_slice(&UPLINK_MAC.0);
    reply[38..42].copy_from_slice(&ARP_SOURCE.octets());
    r.process(UPLINK, &mut reply, now, &mut out);
}

#[test]
fn guests_and_their_sources_are_listed() {
    let r = router();
    let st = r.fast_path_state(Instant::ZERO);
    assert_eq!(st.ports.len(), 3);
    assert!(st.ports.contains(&FastPort {
        port: UPLINK,
        network: NetworkId(0),
        role: FastRole::Uplink,
        mac: UPLINK_MAC
    }));
    assert!(st.ports.contains(&FastPort {
        port: TAP1,
        network: NetworkId(0),
        role: FastRole::Guest,
        mac: MAC1
    }));
    let hop = route(&st, "192.0.2.10/32")
        .and_then(|r| r.hop)
        .expect("guest hop");
    assert_eq!(
        hop,
        FastHop {
            port: TAP1,
            dst_mac: MAC1,
            src_mac: GUEST_SIDE_MAC,
            mtu: 1500,
            to_guest: true
        }
    );
    assert_eq!(route(&st, "203.0.113.0/28").and_then(|r| r.hop), Some(hop));
    let sources: Vec<_> = st.sources.iter().filter(|s| s.port == TAP1).collect();
    assert_eq!(sources.len(), 2);
    // Nothing resolved yet: the default and connected routes are listed, without hop.
    assert_eq!(route(&st, "0.0.0.0/0").map(|r| r.hop), Some(None));
    assert_eq!(route(&st, "192.0.2.0/24").map(|r| r.hop), Some(None));
    // The router's own address and the subnet broadcast never take a hop.
    assert_eq!(route(&st, "192.0.2.254/32").map(|r| r.hop), Some(None));
    assert_eq!(route(&st, "192.0.2.255/32").map(|r| r.hop), Some(None));
    assert_eq!(st.valid_until, None);
}

#[test]
fn a_confirmed_gateway_gives_the_default_route_a_hop_until_it_ages() {
    let mut r = router();
    let now = Instant::ZERO + Duration::from_secs(1);
    let learned = r.neighbor_changes();
    resolve_gateway(&mut r, now);
    assert!(
        r.neighbor_changes() > learned,
        "learning moves the neighbor count"
    );
    let st = r.fast_path_state(now);
    let hop = route(&st, "0.0.0.0/0")
        .and_then(|r| r.hop)
        .expect("gateway hop");
    assert_eq!(
        hop,
        FastHop {
            port: UPLINK,
            dst_mac: GW_MAC,
            src_mac: UPLINK_MAC,
            mtu: 1500,
            to_guest: false
        }
    );
    let until = st.valid_until.expect("a deadline");
    assert!(until > now);
    // Past its confirmation the entry is the router's again (it verifies it first).
    let st = r.fast_path_state(until);
    assert_eq!(route(&st, "0.0.0.0/0").map(|r| r.hop), Some(None));
}

#[test]
fn a_removed_or_down_guest_is_gone_at_once() {
    let mut r = router();
    let g0 = r.generation();
    r.set_port_up(TAP2, false);
    assert_ne!(r.generation(), g0);
    let st = r.fast_path_state(Instant::ZERO);
    assert_eq!(route(&st, "192.0.2.20/32").map(|r| r.hop), Some(None));
    assert!(!st.ports.iter().any(|p| p.port == TAP2));
    assert!(!st.sources.iter().any(|s| s.port == TAP2));
    let g1 = r.generation();
    r.remove_guest("tap1").unwrap();
    assert_ne!(r.generation(), g1);
    let st = r.fast_path_state(Instant::ZERO);
    assert_eq!(route(&st, "192.0.2.10/32"), None);
    assert_eq!(route(&st, "203.0.113.0/28"), None);
    assert!(!st.ports.iter().any(|p| p.port == TAP1));
}
