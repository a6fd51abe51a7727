#![allow(clippy::unwrap_used)]

use hvrouter_core::PortId;

use super::*;
use crate::fixtures::{self, spec, v6};

/// The fixture's networks with tap1 on public_90 (host name, routed prefix, IPv6 side)
/// on port 2, and tap3 on public_80 on port 3.
fn router() -> (Router, GuestSpec) {
    let (mut r, _, _) = fixtures::router();
    let mut tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10", "192.0.2.11"]);
    tap1.routed_prefixes = vec!["203.0.113.0/28".parse().unwrap()];
    tap1.hostname = Some("web1".into());
    tap1.ipv6 = Some(v6(&["2001:db8:90::10"], true, &["2001:db8:1::/48"]));
    fixtures::add(&mut r, &tap1, 2);
    fixtures::add(
        &mut r,
        &spec("tap3", "public_80", 0x0c, &["198.51.100.10"]),
        3,
    );
    (r, tap1)
}

#[test]
fn a_guest_reads_back_as_it_was_added() {
    // What a reload compares with the configuration: a guest that did not change must
    // read back the same, or every reload would re-add it.
    let (r, tap1) = router();
    let g = r.tables().guest("tap1").unwrap();
    assert_eq!(guest_spec(&r, g), tap1);
    let g = r.tables().guest("tap3").unwrap();
    let back = guest_spec(&r, g);
    assert_eq!(back.network, "public_80");
    assert_eq!((back.hostname, back.ipv6), (None, None));
}

#[test]
fn guest_list_tells_runtime_guests_from_configured_ones() {
    let (mut r, _) = router();
    r.set_port_up(PortId(2), false);
    let list = guests(&r, |tap| tap == "tap3");
    let rows: Vec<_> = list
        .iter()
        .map(|g| (g.tap.as_str(), g.network.as_str(), g.up, g.origin))
        .collect();
    assert_eq!(
        rows,
        [
            ("tap1", "public_90", false, GuestOrigin::Config),
            ("tap3", "public_80", true, GuestOrigin::Runtime), // up when added
        ]
    );
    assert_eq!(list[0].hostname.as_deref(), Some("web1"));
}

#[test]
fn routes_name_the_guest_they_lead_to_and_keep_to_the_network_asked() {
    let (r, _) = router();
    let rows = |only| {
        routes(&r, only)
            .into_iter()
            .map(|x| (x.network, x.prefix.to_string(), x.next_hop, x.origin))
            .collect::<Vec<_>>()
    };
    let n80 = rows(Some("public_80"));
    // Most specific first, as they are matched.
    assert_eq!(
        n80,
        [
            (
                "public_80".to_string(),
                "198.51.100.10/32".to_string(),
                NextHopInfo::Guest("tap3".into()),
                RouteOrigin::Guest
            ),
            (
                "public_80".into(),
                "198.51.100.0/24".into(),
                NextHopInfo::Connected,
                RouteOrigin::Connected
            ),
            (
                "public_80".into(),
                "0.0.0.0/0".into(),
                NextHopInfo::Gateway("198.51.100.1".parse().unwrap()),
                RouteOrigin::Default
            ),
        ]
    );
    let all = rows(None);
    assert_eq!(
        all.len(),
        n80.len() + 5,
        "public_90: default, subnet, 2 guest /32s, prefix"
    );
    assert!(all.contains(&(
        "public_90".into(),
        "203.0.113.0/28".into(),
        NextHopInfo::Guest("tap1".into()),
        RouteOrigin::GuestPrefix
    )));
    assert!(rows(Some("public_70")).is_empty());
}

#[test]
fn explain_arp_answers_for_a_hosted_guest_only_while_it_is_up() {
    let (mut r, _) = router();
    let ip: Ipv4Addr = "192.0.2.10".parse().unwrap();
    r.set_port_up(PortId(2), false);
    let e = explain(&r, ip, Some("public_90"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].owner.as_deref(), Some("tap1 (down)"));
    assert!(!e[0].uplink.answer, "{:?}", e[0].uplink);
    assert_eq!(e[0].uplink.mac, None);
    r.set_port_up(PortId(2), true);
    let e = explain(&r, ip, Some("public_90"));
    assert_eq!(e[0].owner.as_deref(), Some("tap1"));
    assert_eq!(
        e[0].uplink,
        Decision {
            answer: true,
            reason: "answered".into(),
            mac: Some(wire::EthernetAddress([2, 0, 0, 0, 0, 0])),
        }
    );
    // Nobody's address: never answered on the VLAN, in any network, with the reason;
    // toward the guests of its subnet the router answers for it with the guest MAC
    // (it is the guests' way to their neighbors on the VLAN).
    let e = explain(&r, "192.0.2.99".parse().unwrap(), None);
    assert_eq!(e.len(), 2);
    let reasons: Vec<_> = e
        .iter()
        .map(|x| {
            (
                x.network.as_str(),
                x.owner.as_deref(),
                x.uplink.answer,
                x.uplink.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("public_90", None, false, "arp_not_hosted_guest"),
            ("public_80", None, false, "arp_outside_subnet"),
        ]
    );
    assert_eq!(
        e[0].toward_guests,
        Decision {
            answer: true,
            reason: "answered".into(),
            mac: Some(wire::EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff])),
        }
    );
}
