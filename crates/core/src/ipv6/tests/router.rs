//! The IPv6 side inside [`Router`]: frames through `process` and `poll` on a fake clock,
//! as the dataplane drives them (ports are port ids, transmission is the outbox).

use super::*;
use crate::router::{Action, Router, RouterConfig};
use wire::{Icmpv6Repr, TcpPacket};

pub(super) const TAP1: PortId = PortId(1);
pub(super) const TAP2: PortId = PortId(2);

pub(super) fn router() -> Router {
    let now = Instant::ZERO;
    let mut r = Router::new(RouterConfig::default(), now);
    r.add_network(
        NetworkSpec {
            name: "public_90".into(),
            subnet: "192.0.2.0/24".parse::<Ipv4Net>().unwrap(),
            gateway: "192.0.2.1".parse().unwrap(),
            uplink: UPLINK,
            mtu: 1500,
            uplink_mac: UPLINK_MAC,
            guest_mac: GUEST_MAC,
            arp_source: None,
        },
        now,
    )
    .unwrap();
    for (port, ip) in [(1u16, "192.0.2.10"), (2, "192.0.2.20")] {
        r.add_guest(GuestSpec {
            name: format!("tap{port}"),
            port: PortId(port),
            mac: mac(port),
            ips: vec![ip.parse().unwrap()],
            network: NET,
            extra_prefixes: vec![],
        })
        .unwrap();
    }
    let (t, v6) = r.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: gw6(),
        ra: RaSettings::default(),
        source6: None,
    };
    v6.set_network6(t, NET, spec, now).unwrap();
    for name in ["tap1", "tap2"] {
        let id = t.guest(name).unwrap().id;
        let spec = Guest6Spec {
            eui64: true,
            ..Default::default()
        };
        v6.set_guest6(t, id, spec, now).unwrap();
    }
    r
}

pub(super) fn tap2_addr() -> Ipv6Addr {
    eui64_address(a6("2001:db8:90::"), mac(2))
}

/// Ethernet + IPv6 + `next_header` payload.
pub(super) fn ip6_frame(
    dst_mac: EthernetAddress,
    src_mac: EthernetAddress,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    next_header: NextHeader,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + payload.len()];
    f[0..6].copy_from_slice(&dst_mac.0);
    f[6..12].copy_from_slice(&src_mac.0);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header,
        payload_len: payload.len() as u16,
        hop_limit,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]));
    f[54..].copy_from_slice(payload);
    f
}

pub(super) fn echo(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let repr = Icmpv6Repr::EchoRequest {
        ident: 7,
        seq_no: 1,
        data: b"ping6",
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut b[..]));
    b
}

pub(super) fn with_macs(mut f: Vec<u8>, dst: EthernetAddress, src: EthernetAddress) -> Vec<u8> {
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f
}

#[test]
fn guest_pings_the_gateway_and_the_gateway_pings_back() {
    let mut r = router();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let me = tap1_addr();
    // Guest -> gateway: the gateway is unresolved, the frame waits, an NS goes out.
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        gw6(),
        64,
        NextHeader::Icmpv6,
        &echo(me, gw6()),
    );
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    assert_eq!(out.len(), 1);
    assert_eq!(out.frames()[0].port, UPLINK);
    let ns = out.frames()[0].data.clone();
    assert_eq!(&ns[0..6], &[0x33, 0x33, 0xff, 0, 0, 1]);
    // The gateway answers (solicited NA to our link-local address): the echo leaves.
    let mut opt = [0u8; 8];
    NdpOptionRepr::TargetLinkLayerAddr(GW_MAC).emit(&mut opt);
    let na = NdpRepr::NeighborAdvert {
        flags: nf::SOLICITED | nf::ROUTER,
        target: gw6(),
        options: &opt,
    };
    let ll = link_local_from_mac(UPLINK_MAC);
    let mut naf = with_macs(ndp_frame(gw6(), ll, 255, &na), UPLINK_MAC, GW_MAC);
    out.clear();
    assert_eq!(
        r.process(UPLINK, &mut naf, now, &mut out),
        Action::Drop(DropReason::NdpConsumed)
    );
    assert_eq!(out.len(), 1, "the queued echo is released");
    let e = &out.frames()[0];
    assert_eq!(e.port, UPLINK);
    assert_eq!(&e.data[0..6], &GW_MAC.0);
    assert_eq!(&e.data[6..12], &UPLINK_MAC.0);
    assert_eq!(e.data[14 + 7], 63, "hop limit decremented");
    // Next echo goes straight out.
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        gw6(),
        64,
        NextHeader::Icmpv6,
        &echo(me, gw6()),
    );
    out.clear();
    assert_eq!(
        r.process(TAP1, &mut f, now, &mut out),
        Action::Forward(UPLINK)
    );
    // Gateway -> guest.
    let mut f = ip6_frame(
        UPLINK_MAC,
        GW_MAC,
        gw6(),
        me,
        64,
        NextHeader::Icmpv6,
        &echo(gw6(), me),
    );
    assert_eq!(
        r.process(UPLINK, &mut f, now, &mut out),
        Action::Forward(TAP1)
    );
    assert_eq!(&f[0..6], &mac(1).0);
    assert_eq!(&f[6..12], &GUEST_MAC.0);
    // Guest -> guest.
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        tap2_addr(),
        64,
        NextHeader::Icmpv6,
        &echo(me, tap2_addr()),
    );
    assert_eq!(
        r.process(TAP1, &mut f, now, &mut out),
        Action::Forward(TAP2)
    );
    // The guest pings the router's link-local address: answered by the router.
    let rll = link_local_from_mac(GUEST_MAC);
    let gll = link_local_from_mac(mac(1));
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        gll,
        rll,
        64,
        NextHeader::Icmpv6,
        &echo(gll, rll),
    );
    out.clear();
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    assert_eq!(out.frames()[0].port, TAP1);
}

#[test]
fn proxy_ndp_through_the_router_fails_closed() {
    let mut r = router();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let mut f = with_macs(
        ns(gw6(), tap1_addr(), Some(GW_MAC)),
        EthernetAddress([0x33, 0x33, 0xff, 0, 0, 0]),
        GW_MAC,
    );
    assert_eq!(r.process(UPLINK, &mut f, now, &mut out), Action::Consumed);
    let na = &out.frames()[0];
    assert_eq!((na.port, &na.data[0..6]), (UPLINK, &GW_MAC.0[..]));
    let ip = Ipv6Packet::new_checked(&na.data[14..]).unwrap();
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    let repr = NdpRepr::parse(&ip.src_addr(), &ip.dst_addr(), &icmp).unwrap();
    assert_eq!(repr.target_lladdr(), Some(UPLINK_MAC));
    // A stranger: nothing sent, counted by name.
    out.clear();
    let mut f = with_macs(
        ns(gw6(), a6("2001:db8:90::4242"), Some(GW_MAC)),
        EthernetAddress([0x33, 0x33, 0xff, 0, 0x42, 0x42]),
        GW_MAC,
    );
    assert_eq!(
        r.process(UPLINK, &mut f, now, &mut out),
        Action::Drop(DropReason::NdpNotHostedGuest)
    );
    assert!(out.is_empty());
    assert_eq!(
        r.counters().port(UPLINK).drops[DropReason::NdpNotHostedGuest.index()],
        1
    );
    // After the guest is removed: nothing.
    r.remove_guest("tap1").unwrap();
    let mut f = with_macs(
        ns(gw6(), tap1_addr(), Some(GW_MAC)),
        EthernetAddress([0x33, 0x33, 0xff, 0, 0, 0]),
        GW_MAC,
    );
    assert_eq!(
        r.process(UPLINK, &mut f, now, &mut out),
        Action::Drop(DropReason::NdpNotHostedGuest)
    );
    assert!(out.is_empty());
}

#[test]
fn timers_send_ras_and_unsolicited_nas() {
    let mut r = router();
    let mut out = Outbox::new();
    r.poll(Instant::ZERO, &mut out);
    let (mut ras, mut nas, mut mld) = (0, 0, 0);
    for f in out.frames() {
        let ip = Ipv6Packet::new_checked(&f.data[14..]).unwrap();
        if f.port == UPLINK && ip.next_header() == NextHeader::HopByHop {
            // An MLDv2 report for the guests' solicited-node groups.
            let p = ip.payload();
            assert_eq!(&p[..8], &[58, 0, 5, 2, 0, 0, 1, 0], "router alert");
            assert_eq!(
                (p[8], ip.hop_limit(), ip.dst_addr()),
                (143, 1, a6("ff02::16"))
            );
            let icmp = Icmpv6Packet::new_checked(&p[8..]).unwrap();
            assert!(icmp.verify_checksum(&ip.src_addr(), &ip.dst_addr()));
            let groups: Vec<Ipv6Addr> = (0..usize::from(u16::from_be_bytes([p[14], p[15]])))
                .map(|i| {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(&p[16 + 20 * i + 4..16 + 20 * i + 20]);
                    Ipv6Addr::from(o)
                })
                .collect();
            for a in [tap1_addr(), tap2_addr(), link_local_from_mac(UPLINK_MAC)] {
                assert!(
                    groups.contains(&solicited_node(&a)),
                    "{a}'s group in {groups:?}"
                );
            }
            mld += 1;
            continue;
        }
        match (f.port, ip.payload()[0]) {
            (TAP1 | TAP2, 134) => ras += 1,
            (UPLINK, 136) => nas += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(mld, 1, "one MLD report on the uplink");
    assert_eq!(
        (ras, nas),
        (2, 2),
        "an RA per guest, an NA per guest address"
    );
    // Announcements repeat (3 in all, a second apart), then stop.
    for s in 1..=4 {
        out.clear();
        r.poll(Instant::from_secs(s), &mut out);
        let n = out.frames().iter().filter(|f| f.port == UPLINK).count();
        assert_eq!(n, if s <= 2 { 2 } else { 0 }, "second {s}");
    }
    // A guest's RS brings an RA within MAX_RA_DELAY_TIME (after MIN_DELAY_BETWEEN_RAS).
    let gll = link_local_from_mac(mac(1));
    let mut rs = with_macs(
        ndp_frame(
            gll,
            a6("ff02::2"),
            255,
            &NdpRepr::RouterSolicit { options: &[] },
        ),
        EthernetAddress([0x33, 0x33, 0, 0, 0, 2]),
        mac(1),
    );
    let t = Instant::from_secs(100);
    assert_eq!(r.process(TAP1, &mut rs, t, &mut out), Action::Consumed);
    out.clear();
    r.poll(t + Duration::from_millis(500), &mut out);
    assert_eq!(out.frames().iter().filter(|f| f.port == TAP1).count(), 1);
}

#[test]
fn hostile_and_broken_guest_frames() {
    let mut r = router();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let me = tap1_addr();
    let cases = [
        (
            ip6_frame(
                GUEST_MAC,
                mac(1),
                tap2_addr(),
                gw6(),
                64,
                NextHeader::Icmpv6,
                &echo(tap2_addr(), gw6()),
            ),
            DropReason::SpoofedSourceIpv6,
        ),
        (
            ip6_frame(
                GUEST_MAC,
                mac(9),
                me,
                gw6(),
                64,
                NextHeader::Icmpv6,
                &echo(me, gw6()),
            ),
            DropReason::SpoofedSourceMac,
        ),
        (
            ip6_frame(
                GUEST_MAC,
                mac(1),
                me,
                tap2_addr(),
                1,
                NextHeader::Icmpv6,
                &echo(me, tap2_addr()),
            ),
            DropReason::HopLimitExceeded,
        ),
        (
            with_macs(
                ndp_frame(
                    link_local_from_mac(mac(1)),
                    ALL_NODES,
                    255,
                    &NdpRepr::RouterAdvert {
                        hop_limit: 64,
                        flags: 0,
                        router_lifetime: 1800,
                        reachable_time: 0,
                        retrans_time: 0,
                        options: &[],
                    },
                ),
                EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
                mac(1),
            ),
            DropReason::RogueRouterAdvert,
        ),
    ];
    for (mut f, want) in cases {
        out.clear();
        assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Drop(want));
        if want == DropReason::HopLimitExceeded {
            let e = &out.frames()[0];
            assert_eq!(e.port, TAP1);
            let ip = Ipv6Packet::new_checked(&e.data[14..]).unwrap();
            assert_eq!(
                (ip.dst_addr(), ip.payload()[0]),
                (me, 3),
                "time exceeded to the guest"
            );
        } else {
            assert!(out.is_empty(), "{want}: nothing leaks");
        }
    }
}

/// A TCP segment with the pseudo-header-only checksum a guest hands over.
fn partial_tcp(src: Ipv6Addr, dst: Ipv6Addr, payload_len: usize) -> Vec<u8> {
    let mut tcp = vec![0u8; 20 + payload_len];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x18; // PSH ACK
    for (i, b) in tcp[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let ph = wire::ipv6::pseudo_header(&src, &dst, NextHeader::Tcp, tcp.len() as u32);
    tcp[16..18].copy_from_slice(&ph.to_be_bytes());
    tcp
}

fn tcp_ok(f: &[u8]) -> bool {
    let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
    let ph = wire::ipv6::pseudo_header(
        &ip.src_addr(),
        &ip.dst_addr(),
        NextHeader::Tcp,
        ip.payload().len() as u32,
    );
    wire::checksum::combine(&[ph, wire::checksum::data(ip.payload())]) == 0xffff
}

#[test]
fn guest_tcp_offloads_are_completed_and_segmented() {
    let mut r = router();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let (me, peer) = (tap1_addr(), tap2_addr());
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        peer,
        64,
        NextHeader::Tcp,
        &partial_tcp(me, peer, 100),
    );
    assert!(!tcp_ok(&f));
    assert_eq!(
        r.process(TAP1, &mut f, now, &mut out),
        Action::Forward(TAP2)
    );
    assert!(tcp_ok(&f), "checksum completed");
    // A 4000-byte TSO6 super-frame leaves as three segments of at most 1500 bytes.
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        peer,
        64,
        NextHeader::Tcp,
        &partial_tcp(me, peer, 4000),
    );
    out.clear();
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    assert_eq!(out.len(), 3);
    let mut seq = 1000u32;
    for (i, s) in out.frames().iter().enumerate() {
        assert_eq!(s.port, TAP2);
        assert!(s.data.len() - 14 <= 1500);
        assert!(tcp_ok(&s.data), "segment {i} checksum");
        let tcp = TcpPacket::new_checked(&s.data[54..]).unwrap();
        assert_eq!(tcp.seq_number(), seq);
        seq += (s.data.len() - 54 - 20) as u32;
        assert_eq!(s.data[54 + 13] & 0x08 != 0, i == 2, "PSH only on the last");
    }
    assert_eq!(seq, 5000);
}

#[test]
fn an_unresolved_next_hop_never_parks_a_super_frame() {
    let mut r = router();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let me = tap1_addr();
    let remote = a6("2001:db8:1::7");
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        remote,
        64,
        NextHeader::Tcp,
        &partial_tcp(me, remote, 4000),
    );
    assert_eq!(
        r.process(TAP1, &mut f, now, &mut out),
        Action::Drop(DropReason::NeighborUnresolved)
    );
    assert_eq!(out.len(), 1, "only the solicitation for the gateway");
    assert_eq!(&out.frames()[0].data[0..3], &[0x33, 0x33, 0xff]);
    // The gateway answers: nothing was parked, nothing oversized leaves.
    let mut opt = [0u8; 8];
    NdpOptionRepr::TargetLinkLayerAddr(GW_MAC).emit(&mut opt);
    let na = NdpRepr::NeighborAdvert {
        flags: nf::SOLICITED,
        target: gw6(),
        options: &opt,
    };
    let mut naf = with_macs(
        ndp_frame(gw6(), link_local_from_mac(UPLINK_MAC), 255, &na),
        UPLINK_MAC,
        GW_MAC,
    );
    out.clear();
    r.process(UPLINK, &mut naf, now, &mut out);
    assert!(out.is_empty());
    // Sent again, it is segmented to the MTU.
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        me,
        remote,
        64,
        NextHeader::Tcp,
        &partial_tcp(me, remote, 4000),
    );
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    assert_eq!(out.len(), 3);
    assert!(out
        .frames()
        .iter()
        .all(|s| s.data.len() <= 14 + 1500 && s.port == UPLINK));
}

#[test]
fn ceasing_sends_a_final_ra_with_lifetime_zero_then_none() {
    let mut r = router();
    let mut out = Outbox::new();
    r.poll(Instant::ZERO, &mut out);
    // tap2 is down: it gets nothing.
    r.set_port_up(TAP2, false);
    r.cease_advertising();
    out.clear();
    r.poll(Instant::from_secs(1), &mut out);
    let ras: Vec<(PortId, u16)> = out
        .frames()
        .iter()
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f.data[14..]).ok()?;
            let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
            match NdpRepr::parse(&ip.src_addr(), &ip.dst_addr(), &icmp).ok()? {
                NdpRepr::RouterAdvert {
                    router_lifetime,
                    options,
                    ..
                } => {
                    // The prefix stays announced as before.
                    let has_prefix = NdpOptions::new(options)
                        .any(|o| matches!(o, Ok(NdpOptionRepr::PrefixInfo(_))));
                    assert!(has_prefix);
                    Some((f.port, router_lifetime))
                }
                _ => None,
            }
        })
        .collect();
    assert_eq!(ras, vec![(TAP1, 0)]);
    assert_eq!(r.ipv6().stats().ra_final, 1);
    // None after: neither periodic nor solicited.
    let gll = link_local_from_mac(mac(1));
    let mut rs = with_macs(
        ndp_frame(
            gll,
            a6("ff02::2"),
            255,
            &NdpRepr::RouterSolicit { options: &[] },
        ),
        EthernetAddress([0x33, 0x33, 0, 0, 0, 2]),
        mac(1),
    );
    let t = Instant::from_secs(10);
    assert_eq!(r.process(TAP1, &mut rs, t, &mut out), Action::Consumed);
    for s in [11, 100, 700, 2000] {
        out.clear();
        r.poll(Instant::from_secs(s), &mut out);
        let ra = out.frames().iter().any(|f| f.port != UPLINK);
        assert!(!ra, "an RA after ceasing, at {s} s");
    }
}
