//! IPv6 in follower mode ([`Router::set_follower`]): the follower decides and
//! decrements, the home solicits once and sets the destination MAC
//! ([`Router::output_resolved`]); the follower's timers leave the uplink alone.

use super::router::{echo, ip6_frame, router, tap2_addr, with_macs, TAP1, TAP2};
use super::*;
use crate::router::{Action, NextHopAddr, Router};

const REMOTE6: &str = "2001:db8:ee::7";

fn hop_limit(f: &[u8]) -> u8 {
    f[14 + 7]
}

fn solicitations(out: &Outbox) -> usize {
    out.frames()
        .iter()
        .filter(|f| f.port == UPLINK && f.data[12..14] == [0x86, 0xdd] && f.data[14 + 40] == 135)
        .count()
}

fn from(guest: u16, src: Ipv6Addr, hop: u8) -> Vec<u8> {
    let dst = a6(REMOTE6);
    ip6_frame(
        GUEST_MAC,
        mac(guest),
        src,
        dst,
        hop,
        NextHeader::Icmpv6,
        &echo(src, dst),
    )
}

fn gateway_na() -> Vec<u8> {
    let mut opt = [0u8; 8];
    NdpOptionRepr::TargetLinkLayerAddr(GW_MAC).emit(&mut opt);
    let na = NdpRepr::NeighborAdvert {
        flags: nf::SOLICITED | nf::ROUTER,
        target: gw6(),
        options: &opt,
    };
    let ll = link_local_from_mac(UPLINK_MAC);
    with_macs(ndp_frame(gw6(), ll, 255, &na), UPLINK_MAC, GW_MAC)
}

fn pair() -> (Router, Router) {
    let home = router();
    let mut follower = router();
    follower.set_follower(true);
    follower.set_port_remote(UPLINK, true);
    follower.set_port_remote(TAP1, true);
    (home, follower)
}

#[test]
fn one_solicitation_for_two_workers_and_one_decrement() {
    let (mut home, mut follower) = pair();
    let now = Instant::from_secs(1);
    let (mut out_h, mut out_f) = (Outbox::new(), Outbox::new());
    let mut a = from(1, tap1_addr(), 64);
    assert_eq!(
        home.process(TAP1, &mut a, now, &mut out_h),
        Action::Consumed
    );
    assert_eq!(solicitations(&out_h), 1);

    let mut b = from(2, tap2_addr(), 64);
    let action = follower.process(TAP2, &mut b, now, &mut out_f);
    assert_eq!(
        action,
        Action::Resolve {
            port: UPLINK,
            next_hop: NextHopAddr::V6(gw6())
        }
    );
    assert_eq!(hop_limit(&b), 63, "the follower decrements");
    assert_eq!(&b[6..12], &UPLINK_MAC.0);
    assert!(out_f.is_empty());
    assert!(follower.ipv6().neighbors(NET).is_some_and(|c| c.is_empty()));

    let r = home.output_resolved(
        TAP2,
        UPLINK,
        NextHopAddr::V6(gw6()),
        &mut b,
        now,
        &mut out_h,
    );
    assert_eq!(r, Action::Consumed);
    assert_eq!(solicitations(&out_h), 1, "already being solicited");
    assert_eq!(home.ipv6().stats().ns_sent, 1);

    out_h.clear();
    let mut na = gateway_na();
    home.process(UPLINK, &mut na, now, &mut out_h);
    let released: Vec<&[u8]> = out_h
        .frames()
        .iter()
        .filter(|f| f.port == UPLINK && f.data[14 + 6] == 58 && f.data[14 + 40] == 128)
        .map(|f| f.data.as_slice())
        .collect();
    assert_eq!(released.len(), 2);
    for f in released {
        assert_eq!(&f[..6], &GW_MAC.0);
        assert_eq!(&f[6..12], &UPLINK_MAC.0);
        assert_eq!(hop_limit(f), 63, "decremented exactly once");
    }

    // Resolved: the next one leaves at once with the gateway's MAC, still 63.
    let mut c = from(2, tap2_addr(), 64);
    assert!(matches!(
        follower.process(TAP2, &mut c, now, &mut out_f),
        Action::Resolve { .. }
    ));
    let r = home.output_resolved(
        TAP2,
        UPLINK,
        NextHopAddr::V6(gw6()),
        &mut c,
        now,
        &mut out_h,
    );
    assert_eq!(r, Action::Forward(UPLINK));
    assert_eq!(&c[..6], &GW_MAC.0);
    assert_eq!(hop_limit(&c), 63);
    assert!(follower.ipv6().neighbors(NET).is_some_and(|c| c.is_empty()));
}

#[test]
fn the_follower_sends_hop_limit_errors_itself() {
    let (_, mut follower) = pair();
    let mut out = Outbox::new();
    let mut f = from(2, tap2_addr(), 1);
    assert_eq!(
        follower.process(TAP2, &mut f, Instant::from_secs(1), &mut out),
        Action::Drop(DropReason::HopLimitExceeded)
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out.frames()[0].port, TAP2);
    assert_eq!(follower.ipv6().stats().errors_sent, 1);
}

#[test]
fn a_bad_packet_handed_to_the_home_is_dropped() {
    let (mut home, _) = pair();
    let mut out = Outbox::new();
    let mut f = from(2, tap2_addr(), 64);
    f.truncate(14 + 30);
    assert_eq!(
        home.output_resolved(
            TAP2,
            UPLINK,
            NextHopAddr::V6(gw6()),
            &mut f,
            Instant::from_secs(1),
            &mut out
        ),
        Action::Drop(DropReason::Ipv6Malformed)
    );
    assert!(out.is_empty());
    assert!(home.ipv6().neighbors(NET).is_some_and(|c| c.is_empty()));
}

#[test]
fn the_follower_leaves_uplink_timers_to_the_home() {
    let (mut home, mut follower) = pair();
    home.set_port_remote(TAP2, true);
    let (mut out_h, mut out_f) = (Outbox::new(), Outbox::new());
    for t in 0..5 {
        let now = Instant::from_secs(t);
        home.poll(now, &mut out_h);
        follower.poll(now, &mut out_f);
    }
    let on = |o: &Outbox, p: PortId| o.frames().iter().filter(|f| f.port == p).count();
    // MLD reports and unsolicited advertisements: from the home only.
    assert!(on(&out_h, UPLINK) > 0);
    assert_eq!(on(&out_f, UPLINK), 0);
    assert_eq!(follower.ipv6().stats().mld_reports, 0);
    assert_eq!(follower.ipv6().stats().na_unsolicited, 0);
    assert!(home.ipv6().stats().mld_reports > 0);
    assert!(home.ipv6().stats().na_unsolicited > 0);
    // Router Advertisements: each guest from its own worker.
    assert!(on(&out_h, TAP1) > 0);
    assert_eq!(on(&out_h, TAP2), 0);
    assert!(on(&out_f, TAP2) > 0);
    assert_eq!(on(&out_f, TAP1), 0);
    // Counted where sent: the workers' counts add up to what left.
    let ra_sent = home.ipv6().stats().ra_sent + follower.ipv6().stats().ra_sent;
    assert_eq!(ra_sent as usize, on(&out_h, TAP1) + on(&out_f, TAP2));
    // A final advertisement on stopping: once per guest, from its worker.
    out_h.clear();
    out_f.clear();
    for r in [&mut home, &mut follower] {
        r.cease_advertising();
    }
    home.poll(Instant::from_secs(6), &mut out_h);
    follower.poll(Instant::from_secs(6), &mut out_f);
    assert_eq!((on(&out_h, TAP1), on(&out_h, TAP2)), (1, 0));
    assert_eq!((on(&out_f, TAP1), on(&out_f, TAP2)), (0, 1));
    assert_eq!(
        home.ipv6().stats().ra_final + follower.ipv6().stats().ra_final,
        2
    );
}

#[test]
fn two_workers_share_the_icmpv6_error_rate() {
    let errors = |r: &mut Router, guest: u16, src: Ipv6Addr, port: PortId| {
        let mut out = Outbox::new();
        for _ in 0..200 {
            let mut f = from(guest, src, 1);
            r.process(port, &mut f, Instant::from_secs(1), &mut out);
        }
        r.ipv6().stats().errors_sent
    };
    let burst = crate::router::RouterConfig::default().icmp_burst as u64;
    assert_eq!(errors(&mut router(), 2, tap2_addr(), TAP2), burst);
    let (mut home, mut follower) = pair();
    home.share_rate_limits(2, Instant::ZERO);
    follower.share_rate_limits(2, Instant::ZERO);
    let both =
        errors(&mut home, 1, tap1_addr(), TAP1) + errors(&mut follower, 2, tap2_addr(), TAP2);
    assert_eq!(both, burst);
}
