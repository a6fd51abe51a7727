//! IPv6 tables: EUI-64, routes, owners, refusals, explain.

use super::*;

#[test]
fn eui64_routes_and_owners() {
    let (t, t6) = setup();
    let g1 = t.guest("tap1").unwrap();
    let g6 = t6.guest6(g1.id).unwrap();
    assert_eq!(g6.addrs, vec![tap1_addr()]);
    assert_eq!(g6.link_local, link_local_from_mac(mac(1)));
    assert_eq!(
        t6.owner_of(&t, NET, &tap1_addr()).map(|g| g.id),
        Some(g1.id)
    );
    assert!(
        t6.owner_of(&t, NET, &a6("2001:db8:ff::1")).is_none(),
        "prefixes own nothing on-link"
    );
    assert_eq!(t6.next_hop(NET, tap1_addr()), Some(NextHop6::Guest(g1.id)));
    assert_eq!(
        t6.next_hop(NET, a6("2001:db8:ff:1::9")),
        Some(NextHop6::Guest(g1.id))
    );
    assert_eq!(
        t6.next_hop(NET, a6("2001:db8:90::77")),
        Some(NextHop6::OnLink)
    );
    assert_eq!(
        t6.next_hop(NET, a6("2001:db8:1::1")),
        Some(NextHop6::Gateway)
    );
}

#[test]
fn conflicts_and_bad_specs_are_refused() {
    let (t, mut t6) = setup();
    let g2 = t.guest("tap2").unwrap().id;
    let err = t6
        .set_guest6(
            &t,
            g2,
            Guest6Spec {
                addrs: vec![tap1_addr()],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Tables6Error::InUse { ref owner, .. } if owner == "tap1"),
        "{err}"
    );
    let err = t6
        .set_guest6(
            &t,
            g2,
            Guest6Spec {
                addrs: vec![a6("2001:db8:91::5")],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Tables6Error::Guest(Guest6Error::BadAddress { .. })),
        "{err}"
    );
    let err = t6.set_guest6(&t, g2, Guest6Spec::default()).unwrap_err();
    assert_eq!(err, Tables6Error::Guest(Guest6Error::NoAddress));
    let err = t6
        .set_guest6(
            &t,
            g2,
            Guest6Spec {
                eui64: true,
                prefixes: vec!["2001:db8:90::/56".parse().unwrap()],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Tables6Error::Guest(Guest6Error::BadPrefix { .. })),
        "{err}"
    );
    // tap2 keeps its old IPv6 side after refusals.
    assert_eq!(t6.guest6(g2).unwrap().addrs, vec![a6("2001:db8:90::20")]);

    let net = t.network(NET).unwrap();
    let bad = |subnet6: &str, gateway6: &str| {
        Network6Spec {
            subnet6: subnet6.parse::<Ipv6Net>().unwrap(),
            gateway6: a6(gateway6),
            ra: RaSettings::default(),
            source6: None,
        }
        .validate(net)
    };
    assert!(matches!(
        bad("2001:db8:90::5/64", "2001:db8:90::1"),
        Err(Network6Error::SubnetHostBits { .. })
    ));
    assert!(matches!(
        bad("2001:db8:90::/80", "2001:db8:90::1"),
        Err(Network6Error::SubnetTooSmall(_))
    ));
    assert!(matches!(
        bad("2001:db8:90::/64", "2001:db8:91::1"),
        Err(Network6Error::BadGateway { .. })
    ));
    assert!(matches!(
        bad("fe80::/64", "fe80::1"),
        Err(Network6Error::SubnetNotGlobal(_))
    ));
    assert!(
        bad("2001:db8:90::/64", "fe80::1").is_ok(),
        "link-local gateway"
    );
    let own = link_local_from_mac(GUEST_MAC).to_string();
    assert!(matches!(
        bad("2001:db8:90::/64", &own),
        Err(Network6Error::GatewayIsRouter(_))
    ));
}

#[test]
fn explain_ndp_uses_the_same_decisions() {
    let (t, t6) = setup();
    let net = t.network(NET).unwrap();
    let e = explain(&t, &t6, net, tap1_addr()).unwrap();
    assert_eq!(e.owner, Some(("tap1".into(), true)));
    assert!(e.uplink.is_answer() && e.uplink_dad.is_answer());
    assert_eq!(
        e.from_owner,
        Some(NdpDecision::Ignore(DropReason::NdpOwnAddress))
    );
    assert!(e.from_other_guest.is_some_and(|d| d.is_answer()));
    let e = explain(&t, &t6, net, a6("2001:db8:90::99")).unwrap();
    assert_eq!(e.owner, None);
    assert_eq!(e.uplink, NdpDecision::Ignore(DropReason::NdpNotHostedGuest));
    let _ = GuestId(0);
}

#[test]
fn source6_is_not_a_guests() {
    let (t, mut t6) = setup();
    let g2 = t.guest("tap2").unwrap().id;
    let err = t6
        .set_guest6(
            &t,
            g2,
            Guest6Spec {
                addrs: vec![a6("2001:db8:90::fe")],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err, Tables6Error::RouterAddress(a6("2001:db8:90::fe")));
}
