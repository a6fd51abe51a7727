#![allow(clippy::unwrap_used)]

use super::*;
use crate::fixtures::{self, spec, v6};

/// The guests a configuration asks for: tap1 with a host name and an IPv6 side, tap3,
/// tap5.
fn configured() -> Vec<GuestSpec> {
    let mut tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    tap1.hostname = Some("web1".into());
    tap1.ipv6 = Some(v6(&["2001:db8:90::10"], false, &[]));
    vec![
        tap1,
        spec("tap3", "public_80", 0x0c, &["198.51.100.10"]),
        spec("tap5", "public_90", 0x0e, &["192.0.2.50"]),
    ]
}

/// What the router has after adding `guests`, read back as a reload reads it.
fn current(guests: &[GuestSpec]) -> Vec<GuestSpec> {
    let (mut r, _, _) = fixtures::router();
    for (i, g) in guests.iter().enumerate() {
        fixtures::add(&mut r, g, 2 + i as u16);
    }
    r.tables()
        .guests()
        .iter()
        .map(|g| crate::views::guest_spec(&r, g))
        .collect()
}

#[test]
fn reloading_the_same_configuration_changes_nothing() {
    let wanted = configured();
    let p = plan(&current(&wanted), &wanted);
    assert_eq!(
        p,
        ReloadPlan {
            unchanged: 3,
            ..ReloadPlan::default()
        }
    );
}

#[test]
fn a_guest_is_re_added_for_its_ipv4_data_but_not_for_ipv6_or_its_host_name() {
    let now = current(&configured());
    let mut wanted = configured();
    // tap1: another IPv6 side and host name, changed in place (no re-add).
    wanted[0].ipv6 = Some(v6(&["2001:db8:90::11"], true, &[]));
    wanted[0].hostname = Some("web2".into());
    // tap3: another MAC, re-added; tap5 gone; tap7 new.
    wanted[1].mac = wire::EthernetAddress([2, 0, 0, 0, 0, 0x0d]);
    wanted.remove(2);
    wanted.push(spec("tap7", "public_90", 0x10, &["192.0.2.70"]));
    let p = plan(&now, &wanted);
    assert_eq!(p.unchanged, 1);
    assert_eq!(p.remove, ["tap5"]);
    assert_eq!(
        p.change.iter().map(|g| g.tap.as_str()).collect::<Vec<_>>(),
        ["tap3"]
    );
    assert_eq!(p.change[0].mac, wanted[1].mac, "re-added with the new data");
    assert_eq!(
        p.add.iter().map(|g| g.tap.as_str()).collect::<Vec<_>>(),
        ["tap7"]
    );
    // Another address or routed prefix is a change too.
    let mut wanted = configured();
    wanted[2].ips.push("192.0.2.51".parse().unwrap());
    wanted[0].routed_prefixes = vec!["203.0.113.0/28".parse().unwrap()];
    let p = plan(&now, &wanted);
    let mut changed: Vec<_> = p.change.iter().map(|g| g.tap.as_str()).collect();
    changed.sort_unstable();
    assert_eq!(changed, ["tap1", "tap5"]);
    assert_eq!(p.unchanged, 1);
}
