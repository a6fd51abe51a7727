#![allow(clippy::unwrap_used)]

use hvrouter_core::router::Router;

use super::*;
use crate::fixtures::{self, spec, v6};
use crate::ports::Kind;

/// The fixture's networks with tap1 (192.0.2.10, routed 203.0.113.0/28, IPv6
/// 2001:db8:90::10) on port 2 of public_90, bound to device 12, and tap3
/// (198.51.100.10) on port 3 of public_80, following its name; and the port table's
/// entries for them.
fn setup() -> (Router, Vec<Entry>) {
    let (mut r, _, _) = fixtures::router();
    let mut tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    tap1.routed_prefixes = vec!["203.0.113.0/28".parse().unwrap()];
    tap1.ipv6 = Some(v6(&["2001:db8:90::10"], false, &[]));
    fixtures::add(&mut r, &tap1, 2);
    fixtures::add(
        &mut r,
        &spec("tap3", "public_80", 0x0c, &["198.51.100.10"]),
        3,
    );
    let entry = |id: u16, ifname: &str, kind: Kind, bound: Option<u32>| Entry {
        id: PortId(id),
        ifname: ifname.into(),
        kind,
        ifindex: bound,
        link_up: bound.is_some(),
        bound,
    };
    let entries = vec![
        entry(0, "vlan90", Kind::Uplink(NetworkId(0)), None),
        entry(1, "vlan80", Kind::Uplink(NetworkId(1)), None),
        entry(2, "tap1", Kind::Guest, Some(12)),
        entry(3, "tap3", Kind::Guest, None),
    ];
    (r, entries)
}

fn device(name: &str, bound: Option<u32>) -> MetDevice {
    MetDevice {
        name: name.into(),
        ifname: name.into(),
        bound,
    }
}

fn clashes(met: &AddCandidates) -> Vec<(&str, &str)> {
    met.clashes
        .iter()
        .map(|c| (c.name.as_str(), c.what.as_str()))
        .collect()
}

#[test]
fn a_new_guest_on_free_addresses_meets_nobody() {
    let (r, entries) = setup();
    let (met, devices) = candidates(
        &entries,
        &r,
        &spec("tap2", "public_90", 0x14, &["192.0.2.20"]),
    )
    .unwrap();
    assert_eq!(met, AddCandidates::default());
    assert!(devices.is_empty());
    // The same address in another network is another address.
    let (met, _) = candidates(
        &entries,
        &r,
        &spec("tap2", "public_80", 0x14, &["192.0.2.10"]),
    )
    .unwrap();
    assert!(met.clashes.is_empty(), "{met:?}");
}

#[test]
fn an_unknown_network_or_an_impossible_ipv6_side_refuses_the_add() {
    let (r, entries) = setup();
    let e = candidates(&entries, &r, &spec("tap2", "public_70", 0x14, &[])).unwrap_err();
    assert_eq!(
        e,
        "guest tap2: no such network \"public_70\" (configured: public_90, public_80)"
    );
    let mut s = spec("tap2", "public_80", 0x14, &["198.51.100.20"]);
    s.ipv6 = Some(v6(&[], true, &[]));
    let e = candidates(&entries, &r, &s).unwrap_err();
    assert!(e.contains("network public_80 has no IPv6"), "{e}");
}

#[test]
fn the_same_tap_again_is_met_with_whether_its_data_changed() {
    let (r, entries) = setup();
    let mut again = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    again.routed_prefixes = vec!["203.0.113.0/28".parse().unwrap()];
    again.ipv6 = Some(v6(&["2001:db8:90::10"], false, &[]));
    again.hostname = Some("web1".into());
    let (met, devices) = candidates(&entries, &r, &again).unwrap();
    let same = met.same_name.clone().unwrap();
    assert!(same.same_data, "a host name alone is no other data");
    assert!(met.clashes.is_empty(), "its own addresses are no clash");
    assert_eq!(devices, [device("tap1", Some(12))]);
    // Another MAC: other data, described with what the guest has now.
    let other = GuestSpec {
        mac: wire::EthernetAddress([2, 0, 0, 0, 0, 0x0b]),
        ..again
    };
    let (met, _) = candidates(&entries, &r, &other).unwrap();
    let same = met.same_name.clone().unwrap();
    assert!(!same.same_data);
    assert_eq!(same.describe, "02:00:00:00:00:0a [192.0.2.10]");
    assert_eq!(
        decide("tap1", &met, &[device("tap1", Some(12))], |_| false).unwrap_err(),
        "guest tap1 exists with other data (02:00:00:00:00:0a [192.0.2.10]); remove it first"
    );
}

#[test]
fn addresses_prefixes_and_ipv6_held_by_another_guest_clash() {
    let (r, entries) = setup();
    let check = |s: &GuestSpec| {
        let (met, devices) = candidates(&entries, &r, s).unwrap();
        assert_eq!(
            devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            met.clashes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            "one device per guest met"
        );
        met
    };
    let met = check(&spec(
        "tap2",
        "public_90",
        0x14,
        &["192.0.2.20", "192.0.2.10"],
    ));
    assert_eq!(clashes(&met), [("tap1", "192.0.2.10")]);
    // A routed prefix inside tap1's, or containing it.
    for (p, what) in [
        ("203.0.113.8/29", "203.0.113.8/29"),
        ("203.0.113.0/24", "203.0.113.0/24"),
    ] {
        let mut s = spec("tap2", "public_90", 0x14, &["192.0.2.20"]);
        s.routed_prefixes = vec![p.parse().unwrap()];
        assert_eq!(clashes(&check(&s)), [("tap1", what)]);
    }
    let mut s = spec("tap2", "public_90", 0x14, &["192.0.2.20"]);
    s.routed_prefixes = vec!["203.0.113.16/28".parse().unwrap()];
    assert!(check(&s).clashes.is_empty(), "next to it, not over it");
    let mut s = spec("tap2", "public_90", 0x14, &["192.0.2.20"]);
    s.ipv6 = Some(v6(&["2001:db8:90::10"], false, &[]));
    assert_eq!(clashes(&check(&s)), [("tap1", "2001:db8:90::10")]);
    let met = check(&spec("tap2", "public_80", 0x14, &["198.51.100.10"]));
    assert_eq!(clashes(&met), [("tap3", "198.51.100.10")]);
}

#[test]
fn a_guest_met_whose_device_is_gone_is_replaced_and_a_live_one_refuses() {
    let (r, entries) = setup();
    let s = spec("tap2", "public_90", 0x14, &["192.0.2.10"]);
    let (met, devices) = candidates(&entries, &r, &s).unwrap();
    assert_eq!(devices, [device("tap1", Some(12))]);
    assert_eq!(
        decide("tap2", &met, &devices, |_| true),
        Ok(AddDecision::Add {
            stale: vec!["tap1".into()]
        })
    );
    let e = decide("tap2", &met, &devices, |_| false).unwrap_err();
    assert!(
        e.starts_with("192.0.2.10 already belongs to guest tap1 whose tap is present"),
        "{e}"
    );
    // A guest met with no device read for it counts as gone.
    assert_eq!(
        decide("tap2", &met, &[], |_| false),
        Ok(AddDecision::Add {
            stale: vec!["tap1".into()]
        })
    );
    // The same guest on its live device again: nothing to do.
    let mut again = spec("tap3", "public_80", 0x0c, &["198.51.100.10"]);
    let (met, devices) = candidates(&entries, &r, &again).unwrap();
    assert_eq!(devices, [device("tap3", None)]);
    assert_eq!(
        decide("tap3", &met, &devices, |_| false),
        Ok(AddDecision::Unchanged)
    );
    // Its VM restarted with another MAC after its tap was gone: replaced.
    again.mac = wire::EthernetAddress([2, 0, 0, 0, 0, 0x0d]);
    let (met, devices) = candidates(&entries, &r, &again).unwrap();
    assert_eq!(
        decide("tap3", &met, &devices, |_| true),
        Ok(AddDecision::Add {
            stale: vec!["tap3".into()]
        })
    );
}

#[test]
fn a_device_is_gone_when_its_name_is_free_or_names_another_device() {
    let lo = sys::netdev::ifindex("lo").unwrap();
    let met = |ifname: &str, bound| MetDevice {
        name: "g".into(),
        ifname: ifname.into(),
        bound,
    };
    assert!(!met("lo", None).is_gone(), "follows its name, which exists");
    assert!(
        !met("lo", Some(lo)).is_gone(),
        "bound to the device the name has"
    );
    assert!(
        met("lo", Some(lo + 1000)).is_gone(),
        "the name is another device's"
    );
    assert!(met("hvr-no-such-dev", None).is_gone());
    assert!(met("", None).is_gone(), "a guest with no entry");
}
