//! RFC 1812 checks and ICMP errors, and the incident (routes deleted: only guests are
//! answered), on in-memory ports with a fake clock (no privileges).

mod support;

use hvrouter_core::drop::DropReason;
use std::time::Duration;
use support::*;

use wire::icmpv4::Message;
use wire::Ipv4Addr;

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
    lab.run();
    assert!(lab.sent(TAP2).is_empty());
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 1);
    let (ty, code, mtu, _) = parse_icmp(&sent[0]);
    assert_eq!((ty, code, mtu), (Message::DstUnreachable, 4, 1500));
    assert_eq!(lab.drops(TAP1, DropReason::FragmentationNeeded), 1);

    // Same without DF: fragmented (RFC 1812 5.2.6), no error back.
    let frame = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 64, 1572, false);
    lab.inject(TAP1, &frame);
    lab.run();
    assert!(lab.sent(TAP1).is_empty(), "no ICMP error");
    let sent = lab.sent(TAP2);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|f| f.len() <= 1514));
    // 1580 bytes of data: 1480 (offset 0, MF) then 100 (offset 185 units, no MF).
    let (a, b) = (parse_ip(&sent[0]), parse_ip(&sent[1]));
    assert_eq!(
        (a.frag_offset, a.more_frags, a.payload.len()),
        (0, true, 1480)
    );
    assert_eq!(
        (b.frag_offset, b.more_frags, b.payload.len()),
        (1480, false, 100)
    );
    for ip in [&a, &b] {
        assert_eq!((ip.eth.src_addr, ip.eth.dst_addr), (GUEST_SIDE_MAC, MAC2));
        assert_eq!(
            (ip.src, ip.dst, ip.ttl, ip.ident),
            (GUEST1, GUEST2, 63, 0x1234)
        );
    }
    let (_, data) = reassemble(&sent);
    assert_eq!(&data[..], &frame[34..], "the whole payload");
    assert_eq!(lab.drops(TAP1, DropReason::TooBig), 0);
    assert_eq!(lab.pipe.router().port_counters(TAP2).fragmented, 1);
}

#[test]
fn vlan_to_guest_larger_than_the_mtu_is_fragmented() {
    let mut lab = Lab::new();
    // 3000 bytes of IP from the VLAN (a jumbo-capable sender), DF clear.
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 2972, false);
    lab.inject(UPLINK, &frame);
    lab.run();
    let sent = lab.sent(TAP1);
    assert_eq!(sent.len(), 3);
    let offsets: Vec<u16> = sent.iter().map(|f| parse_ip(f).frag_offset / 8).collect();
    assert_eq!(offsets, vec![0, 185, 370]);
    for f in &sent {
        assert!(f.len() <= 1514);
        let ip = parse_ip(f);
        assert_eq!((ip.eth.src_addr, ip.eth.dst_addr), (GUEST_SIDE_MAC, MAC1));
        assert_eq!(ip.ttl, 63);
    }
    let (_, data) = reassemble(&sent);
    assert_eq!(&data[..], &frame[34..]);
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.pipe.router().port_counters(TAP1).fragmented, 1);
    assert_eq!(lab.pipe.router().port_counters(UPLINK).total_drops(), 0);
}

#[test]
fn guest_to_vlan_larger_than_the_mtu_waits_for_arp_then_leaves_fragmented() {
    let mut lab = Lab::new();
    // Queued while the gateway is resolved, fragmented when released.
    let first = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 4000, false);
    lab.inject(TAP1, &first);
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1, "the ARP request only");
    assert_eq!(parse_arp(&sent[0]).1.target_protocol_addr, GATEWAY);
    lab.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 3, "4008 bytes of data: 1480 + 1480 + 1048");
    for f in &sent {
        assert!(f.len() <= 1514);
        let ip = parse_ip(f);
        assert_eq!((ip.eth.src_addr, ip.eth.dst_addr), (UPLINK_MAC, GW_MAC));
        assert_eq!((ip.src, ip.dst, ip.ttl), (GUEST1, REMOTE, 63));
    }
    let (_, data) = reassemble(&sent);
    assert_eq!(&data[..], &first[34..]);
    // Resolved now: the next one is fragmented at once.
    let second = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 2000, false);
    lab.inject(TAP1, &second);
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 2);
    assert_eq!(&reassemble(&sent).1[..], &second[34..]);
    assert_eq!(lab.pipe.router().port_counters(UPLINK).fragmented, 2);
    assert_eq!(lab.drops(TAP1, DropReason::TooBig), 0);
    assert_eq!(lab.drops(UPLINK, DropReason::TooBig), 0);
}

#[test]
fn a_fragment_larger_than_the_mtu_is_fragmented_again_keeping_mf() {
    let mut lab = Lab::new();
    // A first fragment (MF set) of 2000 bytes from the VLAN.
    let mut frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 1972, false);
    let mut p = wire::Ipv4Packet::new_unchecked(&mut frame[14..]);
    p.set_more_frags(true);
    p.fill_checksum();
    lab.inject(UPLINK, &frame);
    lab.run();
    let sent = lab.sent(TAP2);
    assert_eq!(sent.len(), 2);
    let ips: Vec<_> = sent.iter().map(|f| parse_ip(f)).collect();
    assert_eq!(
        ips.iter()
            .map(|ip| (ip.frag_offset, ip.more_frags))
            .collect::<Vec<_>>(),
        vec![(0, true), (1480, true)],
        "MF kept on the last piece"
    );
    let data: Vec<u8> = ips.iter().flat_map(|ip| ip.payload.clone()).collect();
    assert_eq!(&data[..], &frame[34..]);
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
}
