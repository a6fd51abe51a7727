//! Follower mode ([`Router::set_follower`]) and the home's half of [`Action::Resolve`]
//! ([`Router::output_resolved`]) for IPv4: two replicas of one router, as two workers
//! run them, the home resolving next hops on the VLAN for both.

use wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Ipv4Addr, Ipv4Packet,
};

use super::tests::router;
use super::*;
use crate::testkit::{
    GUEST1, GUEST2, GUEST_SIDE_MAC, GW_MAC, MAC1, MAC2, REMOTE, TAP1, TAP2, UPLINK, UPLINK_MAC,
};

const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ARP_SOURCE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
const NET: NetworkId = NetworkId(0);

/// The gateway's ARP reply to the router's request.
fn gateway_reply() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr {
        src_addr: GW_MAC,
        dst_addr: UPLINK_MAC,
        ethertype: EtherType::Arp,
    }
    .emit(&mut eth);
    ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: GW_MAC,
        source_protocol_addr: GATEWAY,
        target_hardware_addr: UPLINK_MAC,
        target_protocol_addr: ARP_SOURCE,
    }
    .emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    f
}

/// A UDP datagram (8-byte header, no payload, no checksum) from `src` to `dst`.
fn ipv4(
    dst_mac: EthernetAddress,
    src_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
) -> Vec<u8> {
    let mut f = super::tests::ipv4(dst_mac, src_mac, src, dst, ttl);
    f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&8u16.to_be_bytes());
    f
}

fn ttl(frame: &[u8]) -> u8 {
    Ipv4Packet::new_unchecked(&frame[14..]).ttl()
}

fn checksum_ok(frame: &[u8]) -> bool {
    Ipv4Packet::new_checked(&frame[14..]).is_ok_and(|p| p.verify_checksum())
}

fn arp_requests(out: &Outbox) -> usize {
    out.frames()
        .iter()
        .filter(|f| f.port == UPLINK && f.data[12..14] == [0x08, 0x06])
        .count()
}

/// Home (guest 1's worker) and follower (guest 2's worker).
fn pair() -> (Router, Router) {
    let home = router();
    let mut follower = router();
    follower.set_follower(true);
    follower.set_port_remote(UPLINK, true);
    follower.set_port_remote(TAP1, true);
    (home, follower)
}

#[test]
fn the_home_resolves_once_for_both_workers_and_each_frame_is_decremented_once() {
    let (mut home, mut follower) = pair();
    let now = Instant::from_secs(1);
    let (mut out_h, mut out_f) = (Outbox::new(), Outbox::new());

    // Guest 1, on the home: unresolved gateway, queued, one request.
    let mut a = ipv4(GUEST_SIDE_MAC, MAC1, GUEST1, REMOTE, 64);
    assert_eq!(
        home.process(TAP1, &mut a, now, &mut out_h),
        Action::Consumed
    );
    assert_eq!(arp_requests(&out_h), 1);

    // Guest 2, on the follower: decided, checked, left to the home as received.
    let sent = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 64);
    let mut b = sent.clone();
    let action = follower.process(TAP2, &mut b, now, &mut out_f);
    assert_eq!(
        action,
        Action::Resolve {
            port: UPLINK,
            next_hop: NextHopAddr::V4(GATEWAY)
        }
    );
    assert_eq!(b, sent, "a follower leaves the IPv4 frame as received");
    assert!(out_f.is_empty(), "a follower sends no ARP request");
    assert!(follower.neighbors(NET).is_some_and(|c| c.is_empty()));

    // The home takes it: same next hop, already being resolved: queued, no second
    // request.
    let Action::Resolve { port, next_hop } = action else {
        unreachable!()
    };
    let r = home.output_resolved(TAP2, port, next_hop, &mut b, now, &mut out_h);
    assert_eq!(r, Action::Consumed);
    assert_eq!(
        arp_requests(&out_h),
        1,
        "one request for the frames of two workers"
    );
    assert_eq!(home.port_counters(UPLINK).arp_sent, 1);

    // The gateway answers the home: both frames leave, rewritten, TTL 63.
    out_h.clear();
    let mut reply = gateway_reply();
    home.process(UPLINK, &mut reply, now, &mut out_h);
    let released: Vec<&[u8]> = out_h
        .frames()
        .iter()
        .filter(|f| f.port == UPLINK && f.data[12..14] == [0x08, 0x00])
        .map(|f| f.data.as_slice())
        .collect();
    assert_eq!(released.len(), 2);
    for f in &released {
        assert_eq!(&f[..6], &GW_MAC.0);
        assert_eq!(&f[6..12], &UPLINK_MAC.0);
        assert_eq!(ttl(f), 63, "decremented exactly once");
        assert!(checksum_ok(f));
    }
    let sources: Vec<Ipv4Addr> = released
        .iter()
        .map(|f| Ipv4Packet::new_unchecked(&f[14..]).src_addr())
        .collect();
    assert!(sources.contains(&GUEST1) && sources.contains(&GUEST2));

    // Resolved now: the next frame from the follower leaves at once, rewritten once.
    out_h.clear();
    let mut c = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 64);
    let Action::Resolve { port, next_hop } = follower.process(TAP2, &mut c, now, &mut out_f) else {
        panic!("not left to the home");
    };
    assert_eq!(ttl(&c), 64);
    let r = home.output_resolved(TAP2, port, next_hop, &mut c, now, &mut out_h);
    assert_eq!(r, Action::Forward(UPLINK));
    assert_eq!(&c[..6], &GW_MAC.0);
    assert_eq!(ttl(&c), 63);
    assert!(checksum_ok(&c));
    assert!(out_h.is_empty());
    // The follower's caches stayed untouched through all of it.
    assert!(follower.neighbors(NET).is_some_and(|c| c.is_empty()));
}

#[test]
fn a_follower_still_sends_icmp_errors_and_drops_what_it_would_drop() {
    let (_, mut follower) = pair();
    let now = Instant::from_secs(1);
    let mut out = Outbox::new();
    // TTL 1: time exceeded, from the follower, back to the guest.
    let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 1);
    assert_eq!(
        follower.process(TAP2, &mut f, now, &mut out),
        Action::Drop(DropReason::TtlExceeded)
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out.frames()[0].port, TAP2);
    assert_eq!(follower.port_counters(TAP2).icmp_errors_sent, 1);
    // Spoofed source: dropped by the follower, nothing left to the home.
    out.clear();
    let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST1, REMOTE, 64);
    assert_eq!(
        follower.process(TAP2, &mut f, now, &mut out),
        Action::Drop(DropReason::SpoofedSourceIp)
    );
    // Guest to guest needs no resolution: forwarded by the follower itself.
    let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, GUEST1, 64);
    assert_eq!(
        follower.process(TAP2, &mut f, now, &mut out),
        Action::Forward(TAP1)
    );
    assert_eq!(ttl(&f), 63);
    assert!(follower.neighbors(NET).is_some_and(|c| c.is_empty()));
}

#[test]
fn the_home_answers_an_unresolvable_next_hop_toward_the_followers_guest() {
    let (mut home, mut follower) = pair();
    let mut out = Outbox::new();
    let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 64);
    let t0 = Instant::from_secs(1);
    let Action::Resolve { port, next_hop } = follower.process(TAP2, &mut f, t0, &mut out) else {
        panic!("not left to the home");
    };
    assert_eq!(
        home.output_resolved(TAP2, port, next_hop, &mut f.clone(), t0, &mut out),
        Action::Consumed
    );
    // Nobody answers: the queued frame is dropped when resolution gives up, counted on
    // the uplink; a new frame after that gets host unreachable, sent back out of the
    // follower's guest port (the home hands it over).
    let unresolved =
        |r: &Router, p: PortId| r.port_counters(p).drops[DropReason::NeighborUnresolved.index()];
    let mut later = t0;
    while unresolved(&home, UPLINK) == 0 && later < Instant::from_secs(20) {
        later = later + std::time::Duration::from_millis(100);
        home.poll(later, &mut out);
    }
    assert_eq!(unresolved(&home, UPLINK), 1, "the queued frame was dropped");
    out.clear();
    let action = home.output_resolved(TAP2, port, next_hop, &mut f, later, &mut out);
    assert_eq!(action, Action::Drop(DropReason::NeighborUnresolved));
    assert_eq!(out.len(), 1);
    assert_eq!(out.frames()[0].port, TAP2);
    assert_eq!(out.frames()[0].data[12..14], [0x08, 0x00]);
    assert_eq!(home.port_counters(TAP2).icmp_errors_sent, 1);
    assert_eq!(
        home.port_counters(TAP2).drops[DropReason::NeighborUnresolved.index()],
        1
    );
}

#[test]
fn a_frame_handed_to_the_home_is_validated_again() {
    let (mut home, _) = pair();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let hop = NextHopAddr::V4(GATEWAY);
    let mut bad = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 64);
    bad[14 + 10] ^= 0xff;
    assert_eq!(
        home.output_resolved(TAP2, UPLINK, hop, &mut bad, now, &mut out),
        Action::Drop(DropReason::Ipv4BadChecksum)
    );
    let mut short = vec![0u8; 20];
    assert_eq!(
        home.output_resolved(TAP2, UPLINK, hop, &mut short, now, &mut out),
        Action::Drop(DropReason::Ipv4Malformed)
    );
    // Not an uplink.
    let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 64);
    assert_eq!(
        home.output_resolved(TAP2, TAP1, hop, &mut f, now, &mut out),
        Action::Drop(DropReason::EgressPortMissing)
    );
    assert!(out.is_empty());
    assert!(home.neighbors(NET).is_some_and(|c| c.is_empty()));
}

#[test]
fn timer_frames_go_only_to_ports_this_worker_transmits_on() {
    let (mut home, mut follower) = pair();
    home.set_port_remote(TAP2, true);
    let now = Instant::from_secs(1);
    for r in [&mut home, &mut follower] {
        assert!(r.announce_guest("tap1", now));
        assert!(r.announce_guest("tap2", now));
    }
    let (mut out_h, mut out_f) = (Outbox::new(), Outbox::new());
    home.poll(now, &mut out_h);
    follower.poll(now, &mut out_f);
    let ports = |o: &Outbox| o.frames().iter().map(|f| f.port).collect::<Vec<_>>();
    let (ph, pf) = (ports(&out_h), ports(&out_f));
    // Gratuitous ARP on the VLAN from the home only, toward each guest from its worker.
    assert!(ph.iter().all(|&p| p == UPLINK || p == TAP1), "{ph:?}");
    assert!(pf.iter().all(|&p| p == TAP2), "{pf:?}");
    assert_eq!(ph.iter().filter(|&&p| p == UPLINK).count(), 4);
    assert_eq!(ph.iter().filter(|&&p| p == TAP1).count(), 2);
    assert_eq!(pf.len(), 2);
    // Counted where sent.
    assert_eq!(home.port_counters(UPLINK).arp_sent, 4);
    assert_eq!(home.port_counters(TAP2).arp_sent, 0);
    assert_eq!(follower.port_counters(UPLINK).arp_sent, 0);
    assert_eq!(follower.port_counters(TAP2).arp_sent, 2);
    assert_eq!(home.announced() + follower.announced(), 8);
}

#[test]
fn without_follower_mode_the_router_resolves_itself() {
    let mut r = router();
    assert!(!r.is_follower());
    let mut out = Outbox::new();
    let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 64);
    assert_eq!(
        r.process(TAP2, &mut f, Instant::from_secs(1), &mut out),
        Action::Consumed
    );
    assert_eq!(arp_requests(&out), 1);
}

#[test]
fn two_workers_share_the_icmp_error_rate() {
    // Alone, a router sends its whole burst of errors at once (50 by default)...
    let count_errors = |r: &mut Router| {
        let mut out = Outbox::new();
        let now = Instant::from_secs(1);
        for _ in 0..200 {
            let mut f = ipv4(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE, 1);
            r.process(TAP2, &mut f, now, &mut out);
        }
        out.len()
    };
    let (mut home, mut follower) = pair();
    let burst = RouterConfig::default().icmp_burst as usize;
    assert_eq!(count_errors(&mut router()), burst);
    // ...two replicas send half each: together the configured burst, not twice it.
    home.share_rate_limits(2, Instant::ZERO);
    follower.share_rate_limits(2, Instant::ZERO);
    let both = count_errors(&mut home) + count_errors(&mut follower);
    assert_eq!(both, burst);
    assert_eq!(
        follower.port_counters(TAP2).icmp_errors_suppressed,
        200 - burst as u64 / 2
    );
}
