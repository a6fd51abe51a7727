//! Cutover and migration from the guest's point of view, on in-memory ports with a fake
//! clock (no privileges): a guest that cached another MAC for its gateway (the kernel
//! setup's tap MAC, the previous node's) keeps its traffic flowing, and the router's
//! gratuitous ARP toward the guest moves its cache.

mod support;

use std::time::Duration;

use hvrouter_core::drop::DropReason;
use support::*;
use wire::{ArpOperation, EthernetAddress};

/// A random tap MAC, as upstream Ganeti leaves it on routed taps.
const OLD_TAP_MAC: EthernetAddress = EthernetAddress([0x7a, 0x31, 0x0c, 0x55, 0x9e, 0x02]);
/// gnt-networking's fixed routed-tap MAC.
const GNT_NETWORKING_MAC: EthernetAddress = EthernetAddress([0xcc, 0x47, 0x52, 0x4e, 0x45, 0x54]);

#[test]
fn guest_frames_to_a_stale_gateway_mac_are_forwarded() {
    let mut lab = Lab::new();
    for stale in [OLD_TAP_MAC, GNT_NETWORKING_MAC, GUEST_SIDE_MAC] {
        lab.inject(
            TAP1,
            &udp_frame(MAC1, stale, GUEST1, VLAN_HOST, 64, 18, false),
        );
    }
    lab.run();
    // The VLAN host is not resolved yet: the first frame asks, all three wait, then leave.
    lab.inject(
        UPLINK,
        &is_at(VLAN_HOST_MAC, VLAN_HOST, UPLINK_MAC, ROUTER_SRC),
    );
    lab.run();
    let sent: Vec<_> = lab
        .sent(UPLINK)
        .into_iter()
        .filter(|f| f[12..14] == [0x08, 0x00])
        .collect();
    assert_eq!(
        sent.len(),
        3,
        "every frame forwarded whatever its destination MAC"
    );
    for f in &sent {
        let ip = parse_ip(f);
        assert_eq!(ip.eth.src_addr, UPLINK_MAC);
        assert_eq!(ip.eth.dst_addr, VLAN_HOST_MAC);
        assert_eq!(ip.ttl, 63);
    }
    assert_eq!(lab.drops(TAP1, DropReason::NotForUs), 0);
}

#[test]
fn guest_unicast_ip_to_a_multicast_mac_is_still_discarded() {
    let mut lab = Lab::new();
    let mcast = EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
    lab.inject(
        TAP1,
        &udp_frame(MAC1, mcast, GUEST1, VLAN_HOST, 64, 18, false),
    );
    lab.inject(
        TAP1,
        &udp_frame(
            MAC1,
            EthernetAddress::BROADCAST,
            GUEST1,
            VLAN_HOST,
            64,
            18,
            false,
        ),
    );
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::MartianDestination), 2);
}

#[test]
fn guest_arp_refresh_sent_to_the_old_mac_is_answered_with_ours() {
    let mut lab = Lab::new();
    // Linux refreshes a STALE entry with a unicast request to the MAC it cached.
    let mut req = who_has(MAC1, GUEST1, GATEWAY);
    req[0..6].copy_from_slice(&OLD_TAP_MAC.0);
    lab.inject(TAP1, &req);
    lab.run();
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 1);
    let (eth, arp) = parse_arp(&sent[0]);
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.source_protocol_addr, GATEWAY);
    assert_eq!(arp.source_hardware_addr, GUEST_SIDE_MAC);
    assert_eq!(eth.dst_addr, MAC1);
}

/// The gratuitous ARP frames sent toward `port`: (operation, sender MAC, sender IP,
/// target IP, destination MAC).
fn garps(
    frames: &[Vec<u8>],
) -> Vec<(
    ArpOperation,
    EthernetAddress,
    wire::Ipv4Addr,
    wire::Ipv4Addr,
    EthernetAddress,
)> {
    frames
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06])
        .map(|f| {
            let (eth, arp) = parse_arp(f);
            (
                arp.operation,
                arp.source_hardware_addr,
                arp.source_protocol_addr,
                arp.target_protocol_addr,
                eth.dst_addr,
            )
        })
        .collect()
}

#[test]
fn an_announced_guest_hears_its_gateway_at_our_mac_and_the_vlan_hears_the_guest() {
    let mut lab = Lab::new();
    let now = lab.now;
    assert!(lab.pipe.router_mut().announce_guest("tap1", now));
    lab.run();
    let to_guest = garps(&lab.sent(TAP1));
    assert_eq!(to_guest.len(), 2, "request and reply forms, first round");
    for (op, sha, spa, tpa, dst) in &to_guest {
        assert_eq!(*sha, GUEST_SIDE_MAC);
        assert_eq!(*spa, GATEWAY);
        assert_eq!(
            *tpa, GATEWAY,
            "gratuitous: sender and target are the gateway"
        );
        assert_eq!(*dst, EthernetAddress::BROADCAST);
        assert!(matches!(op, ArpOperation::Request | ArpOperation::Reply));
    }
    let on_vlan = garps(&lab.sent(UPLINK));
    assert_eq!(on_vlan.len(), 2);
    assert!(on_vlan
        .iter()
        .all(|(_, sha, spa, _, _)| *sha == UPLINK_MAC && *spa == GUEST1));
    // Nothing toward the other guests.
    assert!(lab.sent(TAP2).is_empty() && lab.sent(TAP3).is_empty());
    // Later rounds repeat it; after the last one, silence.
    let mut rounds = 1;
    for _ in 0..5 {
        lab.advance(Duration::from_secs(1));
        if !garps(&lab.sent(TAP1)).is_empty() {
            rounds += 1;
        }
    }
    assert_eq!(rounds, 3, "three rounds by default");
}

#[test]
fn a_guest_with_several_addresses_hears_its_gateway_once_per_round() {
    let mut lab = Lab::new();
    let net = lab.net;
    let mut spec = guest_spec(net, "tap2", TAP2, MAC2, GUEST2);
    spec.ips.push(wire::Ipv4Addr::new(192, 0, 2, 21));
    // Replace tap2 with a two-address guest on the same port.
    lab.pipe.router_mut().remove_guest("tap2").unwrap();
    lab.pipe.router_mut().add_guest(spec).unwrap();
    let now = lab.now;
    lab.pipe.router_mut().announce_guest("tap2", now);
    lab.run();
    assert_eq!(garps(&lab.sent(TAP2)).len(), 2);
    assert_eq!(
        garps(&lab.sent(UPLINK)).len(),
        4,
        "both addresses on the VLAN"
    );
}

#[test]
fn a_guest_removed_before_its_rounds_end_is_not_announced_any_more() {
    let mut lab = Lab::new();
    let now = lab.now;
    lab.pipe.router_mut().announce_guest("tap1", now);
    lab.run();
    lab.sent_all();
    lab.pipe.router_mut().remove_guest("tap1").unwrap();
    lab.advance(Duration::from_secs(1));
    lab.advance(Duration::from_secs(1));
    assert!(lab.sent_all().is_empty());
}
