//! MLD on the VLAN: queries parsed (RFC 2710, RFC 3810) and answered by the router's
//! reports within the query's Maximum Response Delay; queries about other groups, and
//! invalid ones, only counted.

use super::router::{router, tap2_addr};
use super::*;
use crate::ipv6::mld::{max_response, parse_query, response_delay, MldQuery};
use crate::router::Action;

const QUERIER_LL: &str = "fe80::99";

/// An MLD query frame from the VLAN's querier: MLDv2 (28 bytes) unless `v1` (24 bytes),
/// with a Hop-by-Hop Router Alert as RFC 3810 requires, `hop_limit` and `src`.
fn query(group: Ipv6Addr, code: u16, v1: bool, src: Ipv6Addr, hop_limit: u8) -> Vec<u8> {
    let dst = if group.is_unspecified() {
        ALL_NODES
    } else {
        group
    };
    let icmp_len = if v1 { 24 } else { 28 };
    let mut f = vec![0u8; 14 + 40 + 8 + icmp_len];
    f[0..6].copy_from_slice(&wire::ipv6_addr::multicast_mac(&dst).0);
    f[6..12].copy_from_slice(&GW_MAC.0);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: NextHeader::HopByHop,
        payload_len: (8 + icmp_len) as u16,
        hop_limit,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]));
    f[54..62].copy_from_slice(&[58, 0, 5, 2, 0, 0, 1, 0]);
    let icmp = &mut f[62..];
    icmp[0] = 130;
    icmp[4..6].copy_from_slice(&code.to_be_bytes());
    icmp[8..24].copy_from_slice(&group.octets());
    if !v1 {
        icmp[24] = 2; // QRV 2
        icmp[25] = 125; // QQIC 125 s
    }
    Icmpv6Packet::new_unchecked(&mut icmp[..]).fill_checksum(&src, &dst);
    f
}

fn reports(out: &Outbox) -> Vec<Vec<Ipv6Addr>> {
    out.frames()
        .iter()
        .filter(|f| f.port == UPLINK)
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f.data[14..]).ok()?;
            let p = ip.payload();
            (ip.next_header() == NextHeader::HopByHop && p.get(8) == Some(&143)).then(|| {
                (0..usize::from(u16::from_be_bytes([p[14], p[15]])))
                    .map(|i| {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(&p[16 + 20 * i + 4..16 + 20 * i + 20]);
                        Ipv6Addr::from(o)
                    })
                    .collect()
            })
        })
        .collect()
}

#[test]
fn queries_parse_by_version_and_rfc_3810_rules() {
    let ll = a6(QUERIER_LL);
    let parsed = |f: &[u8]| {
        let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
        let repr = Ipv6Repr::parse(&ip).unwrap();
        parse_query(&repr, &ip.payload()[8..])
    };
    // MLDv2 general query, 10 s.
    assert_eq!(
        parsed(&query(Ipv6Addr::UNSPECIFIED, 10_000, false, ll, 1)),
        Some(MldQuery {
            group: Ipv6Addr::UNSPECIFIED,
            max_delay: Duration::from_secs(10)
        })
    );
    // MLDv1 specific query: the code is milliseconds up to 65535.
    let g = solicited_node(&tap1_addr());
    assert_eq!(
        parsed(&query(g, 40_000, true, ll, 1)),
        Some(MldQuery {
            group: g,
            max_delay: Duration::from_millis(40_000)
        })
    );
    // RFC 3810 5.1.3: 0x8000 and above is (mant | 0x1000) << (exp + 3).
    assert_eq!(max_response(0x7fff), Duration::from_millis(32767));
    assert_eq!(max_response(0x8000), Duration::from_millis(0x1000 << 3));
    assert_eq!(
        max_response(0xf123),
        Duration::from_millis((0x1123u64) << 10)
    );
    // Not link-local, hop limit not 1, bad checksum, a unicast group: not queries.
    assert_eq!(parsed(&query(g, 1000, false, gw6(), 1)), None);
    assert_eq!(parsed(&query(g, 1000, false, ll, 2)), None);
    let mut bad = query(g, 1000, false, ll, 1);
    bad[62 + 2] ^= 0xff;
    assert_eq!(parsed(&bad), None);
    assert_eq!(parsed(&query(tap1_addr(), 1000, false, ll, 1)), None);
    // Delays stay inside the allowed window, capped at one second.
    for seed in 0..200 {
        assert!(response_delay(Duration::from_millis(300), seed) < Duration::from_millis(300));
        assert!(response_delay(Duration::from_secs(10), seed) < Duration::from_secs(1));
    }
    assert_eq!(response_delay(Duration::ZERO, 7), Duration::ZERO);
}

#[test]
fn the_router_answers_queries_for_its_groups_with_reports() {
    let mut r = router();
    let mut out = Outbox::new();
    // The reports at start, then quiet for the 60 s interval.
    r.poll(Instant::ZERO, &mut out);
    assert_eq!(reports(&out).len(), 1);
    let t = Instant::from_secs(10);
    out.clear();
    r.poll(t, &mut out);
    assert!(reports(&out).is_empty());

    // A general query: the reports come within the 1 s cap of its 10 s delay.
    let ll = a6(QUERIER_LL);
    let mut q = query(Ipv6Addr::UNSPECIFIED, 10_000, false, ll, 1);
    assert_eq!(r.process(UPLINK, &mut q, t, &mut out), Action::Consumed);
    out.clear();
    r.poll(t + Duration::from_secs(1), &mut out);
    let got = reports(&out);
    assert_eq!(got.len(), 1, "one report");
    for a in [tap1_addr(), tap2_addr(), link_local_from_mac(UPLINK_MAC)] {
        assert!(
            got[0].contains(&solicited_node(&a)),
            "{a}'s group in {got:?}"
        );
    }
    assert_eq!(r.ipv6().stats().mld_queries, 1);

    // A specific query for a guest's group: answered. One for another group, an MLDv1
    // general query from a global source, one with hop limit 64: counted, not answered.
    let t = Instant::from_secs(20);
    let g = solicited_node(&tap2_addr());
    let mut q = query(g, 1000, false, ll, 1);
    assert_eq!(r.process(UPLINK, &mut q, t, &mut out), Action::Consumed);
    out.clear();
    r.poll(t + Duration::from_secs(1), &mut out);
    assert_eq!(reports(&out).len(), 1);
    let t = Instant::from_secs(30);
    for mut f in [
        query(a6("ff02::1:ff12:3456"), 1000, false, ll, 1),
        query(Ipv6Addr::UNSPECIFIED, 1000, true, gw6(), 1),
        query(Ipv6Addr::UNSPECIFIED, 1000, false, ll, 64),
    ] {
        assert_eq!(
            r.process(UPLINK, &mut f, t, &mut out),
            Action::Drop(DropReason::MldConsumed)
        );
    }
    out.clear();
    r.poll(t + Duration::from_secs(2), &mut out);
    assert!(reports(&out).is_empty(), "answered a query not about us");
    assert_eq!(r.ipv6().stats().mld_queries, 2);
}

/// (record type, group) of every MLDv2 report record on the uplink.
fn records(out: &Outbox) -> Vec<(u8, Ipv6Addr)> {
    out.frames()
        .iter()
        .filter(|f| f.port == UPLINK)
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f.data[14..]).ok()?;
            let p = ip.payload().to_vec();
            (ip.next_header() == NextHeader::HopByHop && p.get(8) == Some(&143)).then_some(p)
        })
        .flat_map(|p| {
            (0..usize::from(u16::from_be_bytes([p[14], p[15]])))
                .map(|i| {
                    let r = &p[16 + 20 * i..16 + 20 * (i + 1)];
                    let mut o = [0u8; 16];
                    o.copy_from_slice(&r[4..20]);
                    (r[0], Ipv6Addr::from(o))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_removed_guests_groups_are_left_unless_still_listened_to() {
    let mut r = router();
    let mut out = Outbox::new();
    r.poll(Instant::ZERO, &mut out);
    // RFC 3810 6.1: CHANGE_TO_INCLUDE_MODE (3) with no sources for tap2's group.
    r.remove_guest("tap2").unwrap();
    out.clear();
    r.poll(Instant::from_secs(1), &mut out);
    let left: Vec<_> = records(&out).into_iter().filter(|(t, _)| *t == 3).collect();
    assert_eq!(left, vec![(3, solicited_node(&tap2_addr()))]);
    assert_eq!(r.ipv6().stats().mld_leaves, 1);
    // A guest whose address shares tap1's group (same low 24 bits), removed: tap1
    // still listens to the group, so it is not left.
    r.add_guest(GuestSpec {
        name: "tap3".into(),
        port: PortId(3),
        mac: mac(3),
        ips: vec!["192.0.2.30".parse().unwrap()],
        network: NET,
        extra_prefixes: vec![],
    })
    .unwrap();
    let (t, v6) = r.ipv6_mut();
    let id3 = t.guest("tap3").unwrap().id;
    let mut o = tap1_addr().octets();
    o[9] ^= 0x01;
    let sharing = Ipv6Addr::from(o);
    assert_eq!(solicited_node(&sharing), solicited_node(&tap1_addr()));
    v6.set_guest6(
        t,
        id3,
        Guest6Spec {
            addrs: vec![sharing],
            eui64: false,
            prefixes: vec![],
        },
        Instant::from_secs(2),
    )
    .unwrap();
    r.poll(Instant::from_secs(3), &mut out);
    r.remove_guest("tap3").unwrap();
    out.clear();
    r.poll(Instant::from_secs(4), &mut out);
    assert!(
        records(&out).iter().all(|(t, _)| *t != 3),
        "left a group tap1 still listens to: {:?}",
        records(&out)
    );
}
