//! Forwarding both ways and guest to guest, guests removed or down, anti-spoofing,
//! guest offloads: in-memory ports with a fake clock (no privileges).

mod support;

use hvrouter_core::drop::DropReason;
use hvrouter_core::neighbor::NeighborState;
use support::*;
use wire::icmpv4::Message;
use wire::{ArpOperation, EthernetAddress, Ipv4Addr};

// --- forwarding ---------------------------------------------------------------------------

#[test]
fn vlan_to_guest_is_forwarded_with_ttl_checksum_and_macs() {
    let mut lab = Lab::new();
    let frame = vlan_udp(REMOTE, GUEST1);
    let sent = lab.through(UPLINK, &frame, TAP1);
    assert_eq!(sent.len(), 1);
    let ip = parse_ip(&sent[0]);
    assert_eq!(ip.eth.src_addr, GUEST_SIDE_MAC);
    assert_eq!(ip.eth.dst_addr, MAC1);
    assert_eq!(ip.ttl, 63);
    assert_eq!((ip.src, ip.dst), (REMOTE, GUEST1));
    assert_eq!(&ip.payload[..], &frame[34..], "payload untouched");
    assert!(lab.sent_all().is_empty());
}

#[test]
fn vlan_to_extra_prefix_goes_to_its_guest() {
    let mut lab = Lab::new();
    let dst = Ipv4Addr::new(203, 0, 113, 5);
    let sent = lab.through(UPLINK, &vlan_udp(REMOTE, dst), TAP3);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).eth.dst_addr, MAC3);
}

#[test]
fn guest_to_vlan_resolves_gateway_then_releases_queued_packet() {
    let mut lab = Lab::new();
    let frame = guest_udp(MAC1, GUEST1, REMOTE);
    lab.inject(TAP1, &frame);
    lab.run();
    // First an ARP request for the gateway on the uplink, from our source address.
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1, "only the ARP request, the datagram waits");
    let (eth, arp) = parse_arp(&sent[0]);
    assert!(eth.dst_addr.is_broadcast());
    assert_eq!(arp.operation, ArpOperation::Request);
    assert_eq!(arp.source_hardware_addr, UPLINK_MAC);
    assert_eq!(arp.source_protocol_addr, ROUTER_SRC);
    assert_eq!(arp.target_protocol_addr, GATEWAY);
    // The gateway answers: the queued datagram leaves, rewritten.
    let sent = lab.through(
        UPLINK,
        &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC),
        UPLINK,
    );
    assert_eq!(sent.len(), 1);
    let ip = parse_ip(&sent[0]);
    assert_eq!(ip.eth.src_addr, UPLINK_MAC);
    assert_eq!(ip.eth.dst_addr, GW_MAC);
    assert_eq!(ip.ttl, 63);
    assert_eq!((ip.src, ip.dst), (GUEST1, REMOTE));
    assert_eq!(&ip.payload[..], &frame[34..]);
    let info = lab
        .pipe
        .router()
        .neighbors(lab.net)
        .unwrap()
        .get(GATEWAY, lab.now)
        .unwrap();
    assert_eq!(
        info.state,
        NeighborState::Reachable,
        "a unicast reply confirms"
    );
    assert_eq!(info.mac, Some(GW_MAC));
    // The next datagram goes straight through.
    let sent = lab.through(TAP1, &frame, UPLINK);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).eth.dst_addr, GW_MAC);
    assert!(lab.sent_all().is_empty());
}

#[test]
fn guest_to_on_link_vlan_host_resolves_that_host() {
    let mut lab = Lab::with_source(None);
    let sent = lab.through(TAP2, &guest_udp(MAC2, GUEST2, VLAN_HOST), UPLINK);
    assert_eq!(sent.len(), 1);
    let (_, arp) = parse_arp(&sent[0]);
    assert_eq!(arp.target_protocol_addr, VLAN_HOST);
    // Without a configured source, requests take the RFC 5227 probe form.
    assert_eq!(arp.source_protocol_addr, Ipv4Addr::UNSPECIFIED);
    lab.inject(
        UPLINK,
        &is_at(VLAN_HOST_MAC, VLAN_HOST, UPLINK_MAC, Ipv4Addr::UNSPECIFIED),
    );
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).eth.dst_addr, VLAN_HOST_MAC);
}

#[test]
fn unsolicited_reply_from_vlan_is_ignored() {
    let mut lab = Lab::new();
    lab.inject(
        UPLINK,
        &is_at(VLAN_HOST_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC),
    );
    lab.run();
    assert!(lab.pipe.router().neighbors(lab.net).unwrap().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::ArpReplyIgnored), 1);
}

#[test]
fn guest_to_guest_is_routed_not_bridged() {
    let mut lab = Lab::new();
    let sent = lab.through(TAP1, &guest_udp(MAC1, GUEST1, GUEST2), TAP2);
    assert_eq!(sent.len(), 1);
    let ip = parse_ip(&sent[0]);
    assert_eq!(
        ip.eth.src_addr, GUEST_SIDE_MAC,
        "the router's MAC, never guest 1's"
    );
    assert_eq!(ip.eth.dst_addr, MAC2);
    assert_eq!(ip.ttl, 63);
    assert!(lab.sent_all().is_empty());
}

#[test]
fn guest_from_its_extra_prefix_is_allowed() {
    let mut lab = Lab::new();
    let src = Ipv4Addr::new(203, 0, 113, 9);
    assert_eq!(
        lab.through(TAP3, &guest_udp(MAC3, src, GUEST1), TAP1).len(),
        1
    );
}

// --- guest removed or down ---------------------------------------------------------------

#[test]
fn removed_guest_is_no_longer_answered_and_its_traffic_is_dropped() {
    let mut lab = Lab::new();
    lab.pipe.router_mut().remove_guest("tap1").unwrap();
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.inject(UPLINK, &vlan_udp(REMOTE, GUEST1));
    lab.inject(TAP1, &guest_udp(MAC1, GUEST1, REMOTE));
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GATEWAY));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::ArpNotHostedGuest), 1);
    // Its /32 is gone: the address is now just on-link VLAN space, never sent back out.
    assert_eq!(lab.drops(UPLINK, DropReason::Hairpin), 1);
    assert_eq!(lab.drops(TAP1, DropReason::UnknownPort), 2);
}

#[test]
fn guest_port_down_silences_arp_and_drops_traffic() {
    let mut lab = Lab::new();
    assert!(lab.pipe.router_mut().set_port_up(TAP1, false));
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.inject(UPLINK, &vlan_udp(REMOTE, GUEST1));
    lab.inject(TAP1, &guest_udp(MAC1, GUEST1, REMOTE));
    lab.inject(TAP2, &guest_udp(MAC2, GUEST2, GUEST1));
    lab.run();
    let all = lab.sent_all();
    // Only ICMP host-unreachable errors may come back; nothing reaches tap1 or the VLAN
    // as data, and no ARP answer is given.
    for (port, f) in &all {
        let (ty, code, _, _) = parse_icmp(f);
        assert_eq!((ty, code), (Message::DstUnreachable, 1), "on {port}");
    }
    assert_eq!(lab.drops(UPLINK, DropReason::ArpGuestDown), 1);
    assert_eq!(lab.drops(UPLINK, DropReason::DestinationGuestDown), 1);
    assert_eq!(lab.drops(TAP1, DropReason::GuestDown), 1);
    assert_eq!(lab.drops(TAP2, DropReason::DestinationGuestDown), 1);
    // Back up: answered again.
    assert!(lab.pipe.router_mut().set_port_up(TAP1, true));
    assert_eq!(
        lab.through(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1), UPLINK)
            .len(),
        1
    );
}

// --- anti-spoofing -------------------------------------------------------------------------

#[test]
fn spoofed_source_mac_or_ip_from_guest_is_dropped_and_counted() {
    let mut lab = Lab::new();
    let other_mac = EthernetAddress([0x02, 0, 0, 0, 9, 9]);
    lab.inject(TAP1, &guest_udp(other_mac, GUEST1, REMOTE));
    lab.inject(TAP1, &guest_udp(MAC1, GUEST2, REMOTE));
    lab.inject(TAP1, &guest_udp(MAC1, Ipv4Addr::new(192, 0, 2, 77), GUEST2));
    lab.inject(
        TAP1,
        &guest_udp(MAC1, Ipv4Addr::new(203, 0, 113, 9), REMOTE),
    );
    lab.inject(TAP1, &who_has(other_mac, GUEST1, GATEWAY));
    lab.inject(TAP1, &who_has(MAC1, GUEST2, GATEWAY));
    lab.run();
    assert!(
        lab.sent_all().is_empty(),
        "nothing leaves: no data, no ARP request, no answer"
    );
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedSourceMac), 2);
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedSourceIp), 3);
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedArpSender), 1);
}

#[test]
fn guest_broadcast_multicast_and_other_ethertypes_are_dropped() {
    let mut lab = Lab::new();
    // DHCP discover style: to 255.255.255.255, broadcast MAC.
    lab.inject(
        TAP1,
        &udp_frame(
            MAC1,
            EthernetAddress::BROADCAST,
            GUEST1,
            Ipv4Addr::BROADCAST,
            64,
            18,
            false,
        ),
    );
    let mut v6 = guest_udp(MAC1, GUEST1, REMOTE);
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    lab.inject(TAP1, &v6);
    let mut tagged = v6.clone();
    tagged[12..14].copy_from_slice(&[0x81, 0x00]);
    lab.inject(TAP1, &tagged);
    lab.inject(TAP1, &[0u8; 10]);
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::MartianDestination), 1);
    assert_eq!(lab.drops(TAP1, DropReason::UnsupportedEthertype), 1);
    assert_eq!(lab.drops(TAP1, DropReason::VlanTagged), 1);
    assert_eq!(lab.drops(TAP1, DropReason::Truncated), 1);
}

// --- guest offloads ----------------------------------------------------------------------

#[test]
fn partial_checksums_from_guests_are_completed() {
    let mut lab = Lab::new();
    lab.inject(
        TAP1,
        &udp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 100),
    );
    lab.inject(
        TAP1,
        &tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 100),
    );
    lab.run();
    let sent = lab.sent(TAP2);
    assert_eq!(sent.len(), 2);
    parse_ip(&sent[0]); // asserts the UDP checksum verifies
    let (seq, _, payload) = parse_tcp(&sent[1]);
    assert_eq!((seq, payload.len()), (1_000_000, 100));
}

#[test]
fn tcp_super_frames_from_guests_are_segmented_to_the_mtu() {
    let mut lab = Lab::new();
    // A 20,000-byte TSO super-frame from a tap guest, to another guest (MTU 1500).
    let big = tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 20_000);
    let sent = lab.through(TAP1, &big, TAP2);
    assert_eq!(sent.len(), 20_000usize.div_ceil(1460), "MSS 1460 segments");
    let mut data = Vec::new();
    let mut next_seq = 1_000_000u32;
    for f in &sent {
        assert!(f.len() <= 1514, "segment of {} bytes", f.len());
        let ip = parse_ip(f);
        assert_eq!(
            (ip.eth.src_addr, ip.eth.dst_addr, ip.ttl),
            (GUEST_SIDE_MAC, MAC2, 63)
        );
        let (seq, _, payload) = parse_tcp(f);
        assert_eq!(seq, next_seq, "contiguous sequence numbers");
        next_seq = next_seq.wrapping_add(payload.len() as u32);
        data.extend_from_slice(&payload);
    }
    assert_eq!(&data[..], &big[54..], "payload intact");
    assert_eq!(lab.drops(TAP1, DropReason::FragmentationNeeded), 0);
}

#[test]
fn tcp_super_frame_waits_for_the_gateway_then_leaves_segmented() {
    let mut lab = Lab::new();
    lab.inject(
        TAP1,
        &tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 5_000),
    );
    lab.run();
    assert_eq!(lab.sent(UPLINK).len(), 1, "the ARP request only");
    let sent = lab.through(
        UPLINK,
        &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC),
        UPLINK,
    );
    assert_eq!(sent.len(), 4, "5000 bytes in 1460-byte segments");
    for f in &sent {
        assert!(f.len() <= 1514);
        assert_eq!(parse_ip(f).eth.dst_addr, GW_MAC);
        parse_tcp(f);
    }
    // Resolved now: the next super-frame is segmented at once.
    lab.inject(
        TAP1,
        &tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 3_000),
    );
    lab.run();
    assert_eq!(lab.sent(UPLINK).len(), 3);
}

#[test]
fn oversized_udp_from_a_guest_is_not_segmented() {
    let mut lab = Lab::new();
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 64, 3000, true),
    );
    lab.run();
    assert!(lab.sent(TAP2).is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::FragmentationNeeded), 1);
}
