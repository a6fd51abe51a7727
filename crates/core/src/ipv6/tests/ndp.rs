//! NDP on the uplink and from guests: fail-closed proxy NDP, hostile guests.

use super::*;

/// The incident's rule carried to IPv6: NS from the VLAN is answered only for hosted
/// guests whose port is up, decided from the guest list.
#[test]
fn uplink_answers_only_hosted_guests() {
    let (mut t, mut t6) = setup();
    // 12 non-guest addresses of the /64 (a fixed pseudo-random spread), the gateway, an
    // address in tap1's routed prefix, an address outside the subnet.
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut strangers: Vec<Ipv6Addr> = (0..12)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Ipv6Addr::from(
                (u128::from(a6("2001:db8:90::")) & !u128::from(u64::MAX)) | u128::from(x),
            )
        })
        .collect();
    strangers.extend([gw6(), a6("2001:db8:ff::1"), a6("2001:db8:1::1")]);
    for s in &strangers {
        match uplink(&t, &t6, &ns(gw6(), *s, Some(GW_MAC))) {
            Control6::Learn(l, r) => {
                assert_eq!((l.addr, l.mac), (gw6(), GW_MAC), "the solicitor is learned");
                assert!(
                    matches!(
                        r,
                        DropReason::NdpNotHostedGuest | DropReason::NdpOutsideSubnet
                    ),
                    "{s}: {r}"
                );
            }
            other => panic!("{s}: {other:?}"),
        }
    }
    // Hosted guests are answered, with the uplink MAC, solicited, override, not router.
    for target in [tap1_addr(), a6("2001:db8:90::20")] {
        let Control6::Answer(na, Some(_)) = uplink(&t, &t6, &ns(gw6(), target, Some(GW_MAC)))
        else {
            panic!("{target} not answered");
        };
        assert_eq!(
            (na.target, na.lladdr, na.dst_ip),
            (target, UPLINK_MAC, gw6())
        );
        assert_eq!(na.flags, nf::SOLICITED | nf::OVERRIDE);
    }
    // A DAD probe for a hosted guest's address is defended: NA to all-nodes, S clear.
    let Control6::Answer(na, None) = uplink(&t, &t6, &ns(Ipv6Addr::UNSPECIFIED, tap1_addr(), None))
    else {
        panic!("DAD probe for a hosted guest not defended");
    };
    assert_eq!((na.dst_ip, na.flags), (ALL_NODES, nf::OVERRIDE));
    // The router's own VLAN link-local address is answered (the gateway's NUD needs it).
    let ll = link_local_from_mac(UPLINK_MAC);
    assert!(matches!(
        uplink(&t, &t6, &ns(gw6(), ll, Some(GW_MAC))),
        Control6::Answer(..)
    ));

    // Port down: silent. Guest removed from Tables: silent at once, before any prune.
    let g1 = t.guest("tap1").unwrap();
    let (g1_id, g1_port) = (g1.id, g1.port);
    t.set_port_up(g1_port, false);
    assert!(matches!(
        uplink(&t, &t6, &ns(gw6(), tap1_addr(), Some(GW_MAC))),
        Control6::Learn(_, DropReason::NdpGuestDown)
    ));
    t.set_port_up(g1_port, true);
    t.remove_guest(g1_id).unwrap();
    assert!(matches!(
        uplink(&t, &t6, &ns(gw6(), tap1_addr(), Some(GW_MAC))),
        Control6::Learn(_, DropReason::NdpNotHostedGuest)
    ));
    assert_eq!(t6.prune(&t), 1);
    assert!(t6.guest6(g1_id).is_none());
    assert_eq!(
        t6.next_hop(NET, tap1_addr()),
        Some(NextHop6::OnLink),
        "its /128 is gone"
    );

    // No IPv6 side at all: nothing answered, nothing routed.
    t6.remove_network6(NET);
    assert!(t6.owner_of(&t, NET, &a6("2001:db8:90::20")).is_none());
    assert_eq!(t6.next_hop(NET, a6("2001:db8:90::20")), None);
}

#[test]
fn guest_side_ndp() {
    let (t, t6) = setup();
    let me = tap1_addr();
    let router_ll = link_local_from_mac(GUEST_MAC);
    for target in [
        router_ll,
        gw6(),
        a6("2001:db8:90::20"),
        a6("2001:db8:90::abcd"),
    ] {
        let Control6::Answer(na, None) = from_guest(&t, &t6, "tap1", &ns(me, target, Some(mac(1))))
        else {
            panic!("{target} not answered to the guest");
        };
        assert_eq!((na.lladdr, na.dst_ip), (GUEST_MAC, me));
        assert_eq!(na.flags, nf::ROUTER | nf::SOLICITED | nf::OVERRIDE);
    }
    let cases = [
        (ns(Ipv6Addr::UNSPECIFIED, me, None), DropReason::NdpDadProbe),
        (
            ns(link_local_from_mac(mac(1)), me, Some(mac(1))),
            DropReason::NdpOwnAddress,
        ),
        (
            ns(me, a6("fe80::1234"), Some(mac(1))),
            DropReason::NdpNotOnLink,
        ),
        (
            ns(me, a6("2001:db8:5::1"), Some(mac(1))),
            DropReason::NdpOutsideSubnet,
        ),
        (
            ns(a6("2001:db8:90::20"), gw6(), Some(mac(1))),
            DropReason::SpoofedSourceIpv6,
        ),
    ];
    for (frame, want) in cases {
        assert_eq!(from_guest(&t, &t6, "tap1", &frame), Control6::Drop(want));
    }
}

#[test]
fn hostile_guest_ndp_and_mld_are_consumed_and_counted() {
    let (t, t6) = setup();
    let ll = link_local_from_mac(mac(1));
    let ra = ndp_frame(
        ll,
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
    );
    assert_eq!(
        from_guest(&t, &t6, "tap1", &ra),
        Control6::Drop(DropReason::RogueRouterAdvert)
    );
    let redirect = ndp_frame(
        ll,
        a6("fe80::5"),
        255,
        &NdpRepr::Redirect {
            target: ll,
            dest: a6("2001:db8:1::1"),
            options: &[],
        },
    );
    assert_eq!(
        from_guest(&t, &t6, "tap1", &redirect),
        Control6::Drop(DropReason::RogueRedirect)
    );
    let na = |target: Ipv6Addr, tll: EthernetAddress| {
        let mut opt = [0u8; 8];
        NdpOptionRepr::TargetLinkLayerAddr(tll).emit(&mut opt);
        ndp_frame(
            ll,
            ALL_NODES,
            255,
            &NdpRepr::NeighborAdvert {
                flags: nf::OVERRIDE,
                target,
                options: &opt,
            },
        )
    };
    assert_eq!(
        from_guest(&t, &t6, "tap1", &na(gw6(), mac(1))),
        Control6::Drop(DropReason::ForgedNeighborAdvert)
    );
    assert_eq!(
        from_guest(&t, &t6, "tap1", &na(tap1_addr(), mac(7))),
        Control6::Drop(DropReason::ForgedNeighborAdvert)
    );
    assert_eq!(
        from_guest(&t, &t6, "tap1", &na(tap1_addr(), mac(1))),
        Control6::Drop(DropReason::NdpConsumed)
    );
    // Hop limit below 255: could have been forwarded, invalid.
    let mut f = ns(tap1_addr(), gw6(), Some(mac(1)));
    f[14 + 7] = 64;
    assert_eq!(
        from_guest(&t, &t6, "tap1", &f),
        Control6::Drop(DropReason::NdpInvalid)
    );
    // Corrupt checksum.
    let mut f = ns(tap1_addr(), gw6(), Some(mac(1)));
    f[54 + 2] ^= 0xff;
    assert_eq!(
        from_guest(&t, &t6, "tap1", &f),
        Control6::Drop(DropReason::NdpMalformed)
    );
    // MLDv2 report from the unspecified address (before DAD completes).
    let mut mld = vec![0u8; 14 + 40 + 8];
    mld[12..14].copy_from_slice(&[0x86, 0xdd]);
    Ipv6Repr {
        src_addr: Ipv6Addr::UNSPECIFIED,
        dst_addr: a6("ff02::16"),
        next_header: NextHeader::Icmpv6,
        payload_len: 8,
        hop_limit: 1,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut mld[14..]));
    mld[54] = 143;
    assert_eq!(
        from_guest(&t, &t6, "tap1", &mld),
        Control6::Drop(DropReason::MldConsumed)
    );
    // A Router Solicitation is served.
    let rs = ndp_frame(
        ll,
        a6("ff02::2"),
        255,
        &NdpRepr::RouterSolicit { options: &[] },
    );
    assert_eq!(from_guest(&t, &t6, "tap1", &rs), Control6::RouterSolicit);
}

#[test]
fn trace_words_for_ipv6() {
    let f = ns(gw6(), tap1_addr(), Some(GW_MAC));
    let s = crate::trace::summarize(&f);
    assert!(s.contains(&format!("IPv6 {} > ", gw6())), "{s}");
    assert!(
        s.contains(&format!("ICMPv6 NeighborSolicit target {}", tap1_addr())),
        "{s}"
    );
    assert!(s.contains("hlim 255"), "{s}");
    let (_, t6) = setup();
    let step = super::super::describe::route_step(&t6, NET, &f[14..]).unwrap();
    assert!(step.contains("link-scoped, never routed"), "{step}");
    let mut g = f.clone();
    g[14 + 24..14 + 40].copy_from_slice(&a6("2001:db8:90::77").octets());
    let step = super::super::describe::route_step(&t6, NET, &g[14..]).unwrap();
    assert!(step.contains("on-link on the VLAN"), "{step}");
}
