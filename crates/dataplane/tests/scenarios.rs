//! Whole-router scenarios on in-memory ports with a fake clock: no privileges needed.
//! Each test is one operator-visible behaviour from the foundation issue.

mod support;

use std::time::Duration;

use hvrouter_core::drop::DropReason;
use hvrouter_core::neighbor::NeighborState;
use support::*;
use wire::icmpv4::Message;
use wire::{ArpOperation, EthernetAddress, Ipv4Addr, Protocol};

// --- proxy ARP on the uplink -------------------------------------------------------

#[test]
fn gateway_who_has_guest_is_answered_with_uplink_mac() {
    let mut lab = Lab::new();
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1, "exactly one reply on the uplink");
    let (eth, arp) = parse_arp(&sent[0]);
    assert_eq!(eth.dst_addr, GW_MAC);
    assert_eq!(eth.src_addr, UPLINK_MAC);
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.source_hardware_addr, UPLINK_MAC);
    assert_eq!(arp.source_protocol_addr, GUEST1);
    assert_eq!(arp.target_hardware_addr, GW_MAC);
    assert_eq!(arp.target_protocol_addr, GATEWAY);
    assert!(lab.sent_all().is_empty(), "nothing reaches any guest");
    assert_eq!(lab.pipe.router().port_counters(UPLINK).arp_answered, 1);
}

#[test]
fn gateway_who_has_non_guest_gets_silence() {
    let mut lab = Lab::new();
    lab.inject(
        UPLINK,
        &who_has(GW_MAC, GATEWAY, Ipv4Addr::new(192, 0, 2, 50)),
    );
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, ROUTER_SRC));
    lab.inject(
        UPLINK,
        &who_has(GW_MAC, GATEWAY, Ipv4Addr::new(203, 0, 113, 77)),
    );
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::ArpNotHostedGuest), 2);
    assert_eq!(lab.drops(UPLINK, DropReason::ArpOutsideSubnet), 1);
}

#[test]
fn gratuitous_arp_from_vlan_is_not_answered() {
    let mut lab = Lab::new();
    // A VLAN host announcing a guest's address: never answered, never learned.
    lab.inject(UPLINK, &who_has(VLAN_HOST_MAC, GUEST1, GUEST1));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::ArpGratuitous), 1);
    // And it does not divert the guest's traffic.
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.run();
    assert_eq!(lab.sent(TAP1).len(), 1);
}

// --- proxy ARP toward guests -----------------------------------------------------------

#[test]
fn guest_who_has_gateway_is_answered_with_guest_side_mac() {
    let mut lab = Lab::new();
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GATEWAY));
    lab.run();
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 1);
    let (eth, arp) = parse_arp(&sent[0]);
    assert_eq!(eth.dst_addr, MAC1);
    assert_eq!(eth.src_addr, GUEST_SIDE_MAC);
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.source_hardware_addr, GUEST_SIDE_MAC);
    assert_eq!(arp.source_protocol_addr, GATEWAY);
    assert_eq!(arp.target_protocol_addr, GUEST1);
    assert!(
        lab.sent_all().is_empty(),
        "nothing reaches the VLAN or other guests"
    );
}

#[test]
fn guest_who_has_other_subnet_addresses_is_answered() {
    let mut lab = Lab::new();
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GUEST2));
    lab.inject(TAP1, &who_has(MAC1, GUEST1, VLAN_HOST));
    lab.run();
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 2);
    for f in &sent {
        assert_eq!(parse_arp(f).1.source_hardware_addr, GUEST_SIDE_MAC);
    }
    assert!(lab.sent_all().is_empty());
}

#[test]
fn guest_own_address_and_probe_get_silence() {
    let mut lab = Lab::new();
    // Asking for its own address.
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GUEST1));
    // RFC 5227 probe: sender 0.0.0.0, for its own address and for the gateway.
    lab.inject(TAP1, &who_has(MAC1, Ipv4Addr::UNSPECIFIED, GUEST1));
    lab.inject(TAP1, &who_has(MAC1, Ipv4Addr::UNSPECIFIED, GATEWAY));
    // Outside the subnet, and the subnet's broadcast address.
    lab.inject(TAP1, &who_has(MAC1, GUEST1, Ipv4Addr::new(198, 51, 100, 1)));
    lab.inject(TAP1, &who_has(MAC1, GUEST1, Ipv4Addr::new(192, 0, 2, 255)));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::ArpGratuitous), 1);
    assert_eq!(lab.drops(TAP1, DropReason::ArpProbe), 2);
    assert_eq!(lab.drops(TAP1, DropReason::ArpOutsideSubnet), 1);
    assert_eq!(lab.drops(TAP1, DropReason::ArpReservedTarget), 1);
}

#[test]
fn guest_arp_never_changes_router_state() {
    let mut lab = Lab::new();
    // A guest replying "gateway is-at me" and announcing the gateway: both spoofed.
    lab.inject(TAP1, &is_at(MAC1, GATEWAY, GUEST_SIDE_MAC, GUEST1));
    lab.inject(TAP1, &who_has(MAC1, GATEWAY, GATEWAY));
    // A legitimate reply from the guest is ignored too.
    lab.inject(TAP1, &is_at(MAC1, GUEST1, GUEST_SIDE_MAC, GATEWAY));
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedArpSender), 2);
    assert_eq!(lab.drops(TAP1, DropReason::ArpReplyIgnored), 1);
    let router = lab.pipe.router();
    assert!(router.neighbors(lab.net).unwrap().is_empty());
}

// --- forwarding ---------------------------------------------------------------------------

#[test]
fn vlan_to_guest_is_forwarded_with_ttl_checksum_and_macs() {
    let mut lab = Lab::new();
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false);
    lab.inject(UPLINK, &frame);
    lab.run();
    let sent = lab.sent(TAP1);
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
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, dst, 64, 18, false),
    );
    lab.run();
    let sent = lab.sent(TAP3);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).eth.dst_addr, MAC3);
}

#[test]
fn guest_to_vlan_resolves_gateway_then_releases_queued_packet() {
    let mut lab = Lab::new();
    let frame = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false);
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
    lab.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    lab.run();
    let sent = lab.sent(UPLINK);
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
    lab.inject(TAP1, &frame);
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).eth.dst_addr, GW_MAC);
    assert!(lab.sent_all().is_empty());
}

#[test]
fn guest_to_on_link_vlan_host_resolves_that_host() {
    let mut lab = Lab::with_source(None);
    lab.inject(
        TAP2,
        &udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, VLAN_HOST, 64, 18, false),
    );
    lab.run();
    let sent = lab.sent(UPLINK);
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
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 64, 18, false),
    );
    lab.run();
    let sent = lab.sent(TAP2);
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
    lab.inject(
        TAP3,
        &udp_frame(MAC3, GUEST_SIDE_MAC, src, GUEST1, 64, 18, false),
    );
    lab.run();
    assert_eq!(lab.sent(TAP1).len(), 1);
}

// --- guest removed or down ---------------------------------------------------------------

#[test]
fn removed_guest_is_no_longer_answered_and_its_traffic_is_dropped() {
    let mut lab = Lab::new();
    lab.pipe.router_mut().remove_guest("tap1").unwrap();
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
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
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    lab.inject(
        TAP2,
        &udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, GUEST1, 64, 18, false),
    );
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
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.run();
    assert_eq!(lab.sent(UPLINK).len(), 1);
}

// --- anti-spoofing -------------------------------------------------------------------------

#[test]
fn spoofed_source_mac_or_ip_from_guest_is_dropped_and_counted() {
    let mut lab = Lab::new();
    let other_mac = EthernetAddress([0x02, 0, 0, 0, 9, 9]);
    lab.inject(
        TAP1,
        &udp_frame(other_mac, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST2, REMOTE, 64, 18, false),
    );
    lab.inject(
        TAP1,
        &udp_frame(
            MAC1,
            GUEST_SIDE_MAC,
            Ipv4Addr::new(192, 0, 2, 77),
            GUEST2,
            64,
            18,
            false,
        ),
    );
    lab.inject(
        TAP1,
        &udp_frame(
            MAC1,
            GUEST_SIDE_MAC,
            Ipv4Addr::new(203, 0, 113, 9),
            REMOTE,
            64,
            18,
            false,
        ),
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
    let mut v6 = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false);
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

// --- RFC 1812 errors --------------------------------------------------------------------

#[test]
fn ttl_expiry_sends_time_exceeded_to_guest_and_drops() {
    let mut lab = Lab::new();
    let frame = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 1, 18, false);
    lab.inject(TAP1, &frame);
    lab.run();
    assert!(lab.sent(TAP2).is_empty());
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 1);
    let ip = parse_ip(&sent[0]);
    assert_eq!((ip.src, ip.dst), (GATEWAY, GUEST1));
    assert_eq!(ip.eth.dst_addr, MAC1);
    let (ty, code, _, quoted) = parse_icmp(&sent[0]);
    assert_eq!((ty, code), (Message::TimeExceeded, 0));
    assert_eq!(
        &quoted[..],
        &frame[14..],
        "the whole small datagram is quoted"
    );
    assert_eq!(lab.drops(TAP1, DropReason::TtlExceeded), 1);
}

#[test]
fn df_and_too_big_sends_fragmentation_needed_with_mtu() {
    let mut lab = Lab::new();
    // 1600-byte datagram toward guest 2 (MTU 1500), DF set.
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 64, 1572, true),
    );
    // Same without DF: fragmentation is not implemented, counted drop, no error.
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 64, 1572, false),
    );
    lab.run();
    assert!(lab.sent(TAP2).is_empty());
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 1);
    let (ty, code, mtu, _) = parse_icmp(&sent[0]);
    assert_eq!((ty, code, mtu), (Message::DstUnreachable, 4, 1500));
    assert_eq!(lab.drops(TAP1, DropReason::FragmentationNeeded), 1);
    assert_eq!(lab.drops(TAP1, DropReason::TooBig), 1);
}

#[test]
fn icmp_errors_are_rate_limited_and_never_about_icmp_errors() {
    let mut lab = Lab::new();
    for _ in 0..200 {
        lab.inject(
            TAP1,
            &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 1, 18, false),
        );
    }
    lab.run();
    let errors = lab.sent(TAP1).len() as u64;
    let c = lab.pipe.router().port_counters(TAP1);
    assert_eq!(c.drop_count(DropReason::TtlExceeded), 200);
    assert_eq!(errors, c.icmp_errors_sent);
    assert!((1..200).contains(&errors), "burst-limited, got {errors}");
    assert_eq!(c.icmp_errors_suppressed, 200 - errors);

    // An ICMP error with TTL 1 does not produce an error about itself.
    let mut lab = Lab::new();
    let mut err = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 1, 18, false);
    err[23] = 1; // protocol ICMP
    err[34] = 3; // destination unreachable
    fix_ip_checksum(&mut err);
    lab.inject(TAP1, &err);
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::TtlExceeded), 1);
}

#[test]
fn ttl_exceeded_from_vlan_without_source_address_is_suppressed() {
    let mut lab = Lab::with_source(None);
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 1, 18, false),
    );
    lab.run();
    assert!(
        lab.sent_all().is_empty(),
        "no source address on the VLAN: no error"
    );
    let c = lab.pipe.router().port_counters(UPLINK);
    assert_eq!(c.icmp_errors_suppressed, 1);
    let mut lab = Lab::new();
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 1, 18, false),
    );
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1);
    let ip = parse_ip(&sent[0]);
    assert_eq!(
        (ip.src, ip.dst, ip.eth.dst_addr),
        (ROUTER_SRC, REMOTE, GW_MAC)
    );
}

#[test]
fn bad_ip_headers_are_dropped_and_counted() {
    let mut lab = Lab::new();
    let good = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false);
    let mut bad_sum = good.clone();
    bad_sum[24] ^= 0xff;
    let mut bad_ver = good.clone();
    bad_ver[14] = 0x65;
    fix_ip_checksum(&mut bad_ver);
    let mut bad_len = good.clone();
    bad_len[16] = 0x10; // total length 4096 > frame
    fix_ip_checksum(&mut bad_len);
    let mut martian = udp_frame(
        GW_MAC,
        UPLINK_MAC,
        Ipv4Addr::new(127, 0, 0, 1),
        GUEST1,
        64,
        18,
        false,
    );
    fix_ip_checksum(&mut martian);
    for f in [&bad_sum, &bad_ver, &bad_len, &martian, &good[..30].to_vec()] {
        lab.inject(UPLINK, f);
    }
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(UPLINK, DropReason::Ipv4BadChecksum), 1);
    assert_eq!(lab.drops(UPLINK, DropReason::Ipv4Malformed), 3);
    assert_eq!(lab.drops(UPLINK, DropReason::MartianSource), 1);
}

fn fix_ip_checksum(frame: &mut [u8]) {
    let mut p = wire::Ipv4Packet::new_unchecked(&mut frame[14..]);
    p.fill_checksum();
}

// --- the incident ------------------------------------------------------------------------

fn assert_only_guests_answered(lab: &mut Lab) {
    let guests = [GUEST1, GUEST2, GUEST3];
    for last in 1..=254u8 {
        let target = Ipv4Addr::new(192, 0, 2, last);
        lab.inject(UPLINK, &who_has(VLAN_HOST_MAC, VLAN_HOST, target));
        lab.run();
        let sent = lab.sent(UPLINK);
        if guests.contains(&target) {
            assert_eq!(sent.len(), 1, "guest {target} must be answered");
            assert_eq!(parse_arp(&sent[0]).1.source_protocol_addr, target);
        } else {
            assert!(
                sent.is_empty(),
                "{target} is not a guest: must get no answer"
            );
        }
    }
    assert!(lab.sent_all().is_empty());
}

#[test]
fn incident_connected_and_default_routes_deleted_only_guests_answered() {
    let mut lab = Lab::new();
    lab.delete_route("0.0.0.0/0");
    lab.delete_route(SUBNET);
    assert_only_guests_answered(&mut lab);
    // Guest traffic toward the VLAN now has no route: a counted drop, never a
    // fall-through to another table.
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    lab.run();
    assert_eq!(lab.drops(TAP1, DropReason::NoRoute), 1);
    assert!(lab.sent(UPLINK).is_empty());
}

#[test]
fn incident_with_no_routes_at_all_only_guests_answered() {
    let mut lab = Lab::new();
    let net = lab.net;
    lab.pipe
        .router_mut()
        .tables_mut()
        .routes_mut(net)
        .unwrap()
        .clear();
    assert_only_guests_answered(&mut lab);
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.run();
    assert_eq!(lab.drops(UPLINK, DropReason::NoRoute), 1);
}

#[test]
fn empty_router_answers_nothing() {
    let mut lab = Lab::new();
    for name in ["tap1", "tap2", "tap3"] {
        lab.pipe.router_mut().remove_guest(name).unwrap();
    }
    for last in 1..=254u8 {
        lab.inject(
            UPLINK,
            &who_has(VLAN_HOST_MAC, VLAN_HOST, Ipv4Addr::new(192, 0, 2, last)),
        );
    }
    lab.run();
    lab.run();
    assert!(lab.sent_all().is_empty());
}

// --- neighbor resolution failure ------------------------------------------------------------

#[test]
fn unresolved_gateway_drops_queued_packets_and_counts() {
    let mut lab = Lab::new();
    for _ in 0..5 {
        lab.inject(
            TAP1,
            &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
        );
    }
    lab.run();
    let requests = lab.sent(UPLINK);
    assert_eq!(requests.len(), 1, "one request, not one per packet");
    for _ in 0..10 {
        lab.advance(Duration::from_secs(1));
    }
    let retries = lab.sent(UPLINK);
    assert!(
        !retries.is_empty() && retries.len() <= 3,
        "bounded retries: {}",
        retries.len()
    );
    for f in &retries {
        assert_eq!(parse_arp(f).1.target_protocol_addr, GATEWAY);
    }
    let c = lab.pipe.router().port_counters(TAP1);
    let lost = c.drop_count(DropReason::NeighborQueueFull)
        + lab.drops(UPLINK, DropReason::NeighborUnresolved);
    assert_eq!(lost, 5, "every waiting datagram is accounted for");
    let _ = Protocol::Udp;
}

// --- explain -----------------------------------------------------------------------------

#[test]
fn explain_arp_matches_what_the_router_does() {
    use hvrouter_core::proxy_arp::{explain, ArpDecision};
    let mut lab = Lab::new();
    let ex = |lab: &Lab, ip: Ipv4Addr| {
        let tables = lab.pipe.router().tables();
        explain(tables, tables.network(lab.net).unwrap(), ip)
    };
    let e = ex(&lab, GUEST1);
    assert_eq!(e.owner, Some(("tap1".to_string(), true)));
    assert_eq!(e.uplink, ArpDecision::Answer(UPLINK_MAC));
    assert_eq!(e.from_other_guest, ArpDecision::Answer(GUEST_SIDE_MAC));
    // Asking for its own (only) address is a gratuitous announcement: never answered.
    assert_eq!(
        e.from_owner,
        Some(ArpDecision::Ignore(DropReason::ArpGratuitous))
    );
    let e = ex(&lab, Ipv4Addr::new(192, 0, 2, 50));
    assert_eq!(e.owner, None);
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpNotHostedGuest));
    assert_eq!(e.from_other_guest, ArpDecision::Answer(GUEST_SIDE_MAC));
    let e = ex(&lab, GATEWAY);
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpNotHostedGuest));
    assert_eq!(e.from_other_guest, ArpDecision::Answer(GUEST_SIDE_MAC));
    let e = ex(&lab, Ipv4Addr::new(198, 51, 100, 7));
    assert!(!e.in_subnet);
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpOutsideSubnet));
    // Down guest, and the incident (routes gone): explanations follow, never a route.
    lab.pipe.router_mut().set_port_up(TAP1, false);
    lab.delete_route("0.0.0.0/0");
    lab.delete_route(SUBNET);
    let e = ex(&lab, GUEST1);
    assert_eq!(e.owner, Some(("tap1".to_string(), false)));
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpGuestDown));
    let e = ex(&lab, Ipv4Addr::new(192, 0, 2, 50));
    assert_eq!(e.uplink, ArpDecision::Ignore(DropReason::ArpNotHostedGuest));
    // What explain says is what the packet path does.
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST2));
    lab.run();
    assert_eq!(
        ex(&lab, GUEST2).uplink.is_answer(),
        lab.sent(UPLINK).len() == 1
    );
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
    lab.inject(TAP1, &big);
    lab.run();
    let sent = lab.sent(TAP2);
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
    lab.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    lab.run();
    let sent = lab.sent(UPLINK);
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
