#![allow(clippy::unwrap_used)]

use hvrouter_core::PortId;

use super::*;
use crate::fixtures::{self, spec, v6};

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The fixture's networks with tap1 (2001:db8:90::10, prefix 2001:db8:1::/48) and tap2
/// (2001:db8:90:0:1::10: the same solicited-node group as tap1's address) on public_90,
/// and tap3 on public_80, which has no IPv6.
fn router() -> (Router, NetworkId, NetworkId) {
    let (mut r, n90, n80) = fixtures::router();
    let mut tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    tap1.ipv6 = Some(v6(&["2001:db8:90::10"], false, &["2001:db8:1::/48"]));
    let mut tap2 = spec("tap2", "public_90", 0x14, &["192.0.2.20"]);
    tap2.ipv6 = Some(v6(&["2001:db8:90:0:1::10"], false, &[]));
    fixtures::add(&mut r, &tap1, 2);
    fixtures::add(&mut r, &tap2, 3);
    fixtures::add(
        &mut r,
        &spec("tap3", "public_80", 0x0c, &["198.51.100.10"]),
        4,
    );
    (r, n90, n80)
}

#[test]
fn the_uplink_steers_the_routers_and_the_guests_addresses_and_their_groups() {
    let (r, n90, n80) = router();
    let s = Steered6::wanted(&r, n90);
    let mut addrs = vec![
        a("fe80::ff:fe00:0"), // the uplink's link-local (MAC 02:00:00:00:00:00)
        a("2001:db8:90::fe"), // source6
        a("2001:db8:90::10"),
        a("2001:db8:90:0:1::10"),
        a("ff02::1:ff00:0"),
        a("ff02::1:ff00:fe"),
        a("ff02::1:ff00:10"), // tap1's and tap2's group, once
    ];
    addrs.sort_unstable();
    assert_eq!(s.addrs, addrs);
    assert_eq!(s.prefixes, ["2001:db8:1::/48".parse::<Ipv6Net>().unwrap()]);
    assert_eq!(Steered6::wanted(&r, n80), Steered6::default(), "no IPv6");
}

#[test]
fn removing_a_guest_unsteers_only_what_no_other_guest_needs() {
    let (mut r, n90, _) = router();
    let gone = Steered6::of_guest(&r, "tap2");
    assert_eq!(
        gone,
        Steered6 {
            addrs: vec![a("2001:db8:90:0:1::10"), a("ff02::1:ff00:10")],
            prefixes: vec![],
        }
    );
    r.remove_guest("tap2").unwrap();
    // tap1 still needs the group: only tap2's address goes.
    let unwanted = gone.unwanted(&Steered6::wanted(&r, n90));
    assert_eq!(unwanted.addrs, [a("2001:db8:90:0:1::10")]);
    assert!(unwanted.prefixes.is_empty());
    // The last guest of the group takes it, and its prefix, with it.
    let gone = Steered6::of_guest(&r, "tap1");
    r.remove_guest("tap1").unwrap();
    let unwanted = gone.unwanted(&Steered6::wanted(&r, n90));
    assert_eq!(unwanted.addrs, [a("2001:db8:90::10"), a("ff02::1:ff00:10")]);
    assert_eq!(
        unwanted.prefixes,
        ["2001:db8:1::/48".parse::<Ipv6Net>().unwrap()]
    );
    // A guest without an IPv6 side, or none at all, steers nothing.
    assert_eq!(Steered6::of_guest(&r, "tap3"), Steered6::default());
    assert_eq!(Steered6::of_guest(&r, "tap9"), Steered6::default());
}

#[test]
fn explain_ndp_names_the_owner_and_answers_on_the_vlan_only_for_it() {
    let (mut r, _, _) = router();
    let e = explain(&r, a("2001:db8:90::10"), None);
    assert_eq!(e.len(), 1, "public_80 has no IPv6: {e:?}");
    assert_eq!(e[0].owner.as_deref(), Some("tap1"));
    assert!(e[0].in_subnet6);
    assert!(e[0].uplink.answer, "{:?}", e[0].uplink);
    r.set_port_up(PortId(2), false);
    let e = explain(&r, a("2001:db8:90::10"), Some("public_90"));
    assert_eq!(e[0].owner.as_deref(), Some("tap1 (down)"));
    assert!(
        !e[0].uplink.answer,
        "a guest that is down is not answered for"
    );
    let e = explain(&r, a("2001:db8:90::99"), Some("public_90"));
    assert_eq!(e[0].owner, None);
    assert!(!e[0].uplink.answer);
    assert!(explain(&r, a("2001:db8:90::10"), Some("public_80")).is_empty());
}
