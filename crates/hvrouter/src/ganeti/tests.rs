//! The hook decisions without root, sockets or shells: environments as Ganeti's
//! `hv_base.ConfigureNIC` builds them, and a scripted router.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::IpAddr;

use std::net::Ipv6Addr;

use hvrouter_control::protocol::{
    Change, GuestChange, GuestInfo, GuestIpv6, GuestOrigin, GuestSpec, Ipv6NetworkInfo, Ipv6Report,
    Ipv6Sent, Payload, Request, Response,
};
use ipnet::Ipv6Net;

use super::env::{tag_prefixes, Direction, EnvError, MigrationPhase, Mode, NicEnv, Vars};
use super::plan::{plan_down, plan_up, DownPlan, UpPlan};
use super::router::{add, check_network6, remove, AddOutcome, Check6Error, Control, RemoveOutcome};
use super::sync::{hook_vars, parse_listing};

/// A routed NIC on Ganeti network public_90, as v3.1.1's ConfigureNIC passes it.
const ROUTED: &[(&str, &str)] = &[
    ("PATH", "/usr/bin:/bin:/sbin:/usr/sbin"),
    ("INSTANCE", "web1.example.org"),
    ("MAC", "aa:00:00:5e:10:01"),
    ("MODE", "routed"),
    ("INTERFACE", "tap0"),
    ("INTERFACE_INDEX", "0"),
    ("INTERFACE_UUID", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
    ("TAGS", "owner:ops"),
    ("IP", "192.0.2.10"),
    ("LINK", "public_90"),
    ("NETWORK_NAME", "public_90"),
    ("NETWORK_UUID", "6fa459ea-ee8a-3ca4-894e-db77e160355e"),
    ("NETWORK_TAGS", ""),
    ("NETWORK_SUBNET", "192.0.2.0/24"),
    ("NETWORK_GATEWAY", "192.0.2.1"),
    ("NETWORK_MAC_PREFIX", "aa:00:00"),
];

fn vars(
    base: &[(&'static str, &'static str)],
    changes: &[(&'static str, Option<&'static str>)],
) -> Vars {
    let mut v: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .collect();
    v.extend(
        changes
            .iter()
            .filter_map(|(k, val)| val.map(|val| (*k, val))),
    );
    Vars::from_pairs(v)
}

fn up_plan(v: &Vars) -> Result<UpPlan, EnvError> {
    plan_up(&NicEnv::parse(v, true)?, None)
}

fn spec(tap: &str) -> GuestSpec {
    GuestSpec {
        tap: tap.into(),
        mac: "aa:00:00:5e:10:01".parse().unwrap(),
        ips: vec!["192.0.2.10".parse().unwrap()],
        network: "public_90".into(),
        routed_prefixes: vec![],
        hostname: None,
        ipv6: None,
    }
}

#[test]
fn routed_nic_parses_into_a_typed_env() {
    let nic = NicEnv::parse(&vars(ROUTED, &[]), true).unwrap();
    assert_eq!(nic.mode, Mode::Routed);
    assert_eq!(nic.interface, "tap0");
    assert_eq!(nic.ip, Some(IpAddr::V4("192.0.2.10".parse().unwrap())));
    assert_eq!(nic.link.as_deref(), Some("public_90"));
    assert_eq!(nic.tags, ["owner:ops"]);
    assert_eq!(nic.network.gateway, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(nic.network.subnet, Some("192.0.2.0/24".parse().unwrap()));
    assert_eq!(nic.action, None);
    assert_eq!(nic.phase, None);
    let nic = NicEnv::parse(
        &vars(
            ROUTED,
            &[("ACTION", Some("up")), ("MIGRATION_PHASE", Some("post"))],
        ),
        true,
    )
    .unwrap();
    assert_eq!(nic.action, Some(Direction::Up));
    assert_eq!(nic.phase, Some(MigrationPhase::Post));
}

#[test]
fn up_adds_the_guest_with_the_instance_name_as_host_name() {
    let want = GuestSpec {
        hostname: Some("web1.example.org".into()),
        ..spec("tap0")
    };
    assert_eq!(
        up_plan(&vars(ROUTED, &[])).unwrap(),
        UpPlan::Add {
            spec: want,
            ganeti6: None,
            warnings: vec![]
        }
    );
    // A name DHCP cannot carry: no host name, a warning, the guest still added.
    // A first label of 64 characters: DNS labels stop at 63 (RFC 1035 2.3.4).
    let long = "an-instance-name-whose-first-label-is-longer-than-any-dns-label-x.example.org";
    let v = vars(ROUTED, &[("INSTANCE", Some(long))]);
    match up_plan(&v).unwrap() {
        UpPlan::Add {
            spec: s, warnings, ..
        } => {
            assert_eq!(s.hostname, None);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("no host name"), "{warnings:?}");
        }
        p => panic!("{p:?}"),
    }
}

#[test]
fn errors_name_the_variable() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("MODE", None, "MODE is not set"),
        ("INTERFACE", None, "INTERFACE is not set"),
        ("INTERFACE", Some("tap0; reboot"), "INTERFACE="),
        ("INTERFACE", Some("../../etc"), "INTERFACE="),
        ("INTERFACE", Some("-h"), "INTERFACE=-h"),
        (
            "INTERFACE",
            Some("a-very-long-tap-name"),
            "INTERFACE=a-very-long-tap-name",
        ),
        ("MAC", Some("aa:00:00:5e:10"), "MAC=aa:00:00:5e:10"),
        ("MAC", Some("01:00:5e:00:00:01"), "not a unicast"),
        ("MAC", None, "MAC is not set"),
        ("IP", Some("192.0.2.256"), "IP=192.0.2.256"),
        ("IP", Some("192.0.2.010"), "IP=192.0.2.010"),
        (
            "IP",
            Some("192.0.2.10 --network x"),
            "IP=\"192.0.2.10 --network x\"",
        ),
        ("IP", Some("224.0.0.5"), "IP=224.0.0.5"),
        ("IP", Some("192.0.2.1"), "NETWORK_GATEWAY"),
        ("LINK", None, "LINK=(empty)"),
        ("LINK", Some("public 90"), "LINK=\"public 90\""),
        (
            "TAGS",
            Some("hvrouter:prefix:203.0.113.0/33"),
            "TAGS=hvrouter:prefix:203.0.113.0/33",
        ),
        ("TAGS", Some("hvrouter:prefix:203.0.113.5/28"), "host bits"),
        ("TAGS", Some("hvrouter:prefix:*/28"), "TAGS="),
        ("MIGRATION_PHASE", Some("during"), "MIGRATION_PHASE=during"),
        ("ACTION", Some("modify"), "ACTION=modify"),
        ("ACTION", Some("down"), "this is the up hook"),
    ];
    for &(var, value, expect) in cases {
        let err = up_plan(&vars(ROUTED, &[(var, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{var}={value:?}: {err}");
    }
}

#[test]
fn routed_nic_without_ipv4_nor_subnet6_fails_loudly() {
    for ip in [None, Some(""), Some("2001:db8::10")] {
        let err = up_plan(&vars(ROUTED, &[("IP", ip)])).unwrap_err();
        assert!(matches!(err, EnvError::NoIpv4 { .. }), "{ip:?}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("no IPv4 address") && text.contains("has no NETWORK_SUBNET6"),
            "{text}"
        );
    }
}

const SUBNET6: (&str, Option<&str>) = ("NETWORK_SUBNET6", Some("2001:db8:90::/64"));
const GATEWAY6: (&str, Option<&str>) = ("NETWORK_GATEWAY6", Some("2001:db8:90::1"));

fn eui64_only() -> Option<GuestIpv6> {
    Some(GuestIpv6 {
        eui64: true,
        ..GuestIpv6::default()
    })
}

#[test]
fn subnet6_gives_the_eui64_address_and_ipv6_only_nics_are_served() {
    let want6: Ipv6Net = "2001:db8:90::/64".parse().unwrap();
    let gw6: Ipv6Addr = "2001:db8:90::1".parse().unwrap();
    // IPv4 and IPv6: the EUI-64 address in NETWORK_SUBNET6, checked against the router.
    match up_plan(&vars(ROUTED, &[SUBNET6, GATEWAY6])).unwrap() {
        UpPlan::Add { spec, ganeti6, .. } => {
            assert_eq!(
                spec.ips,
                vec!["192.0.2.10".parse::<wire::Ipv4Addr>().unwrap()]
            );
            assert_eq!(spec.ipv6, eui64_only());
            assert_eq!(ganeti6, Some((want6, Some(gw6))));
        }
        p => panic!("{p:?}"),
    }
    // No IP: an IPv6-only guest.
    match up_plan(&vars(ROUTED, &[SUBNET6, ("IP", None)])).unwrap() {
        UpPlan::Add { spec, ganeti6, .. } => {
            assert!(spec.ips.is_empty());
            assert_eq!(spec.ipv6, eui64_only());
            assert_eq!(ganeti6, Some((want6, None)));
        }
        p => panic!("{p:?}"),
    }
    // An IPv6 IP: that address too.
    match up_plan(&vars(ROUTED, &[SUBNET6, ("IP", Some("2001:db8:90::10"))])).unwrap() {
        UpPlan::Add { spec, .. } => {
            assert!(spec.ips.is_empty());
            let v6 = spec.ipv6.unwrap();
            assert_eq!(
                v6.addrs,
                vec!["2001:db8:90::10".parse::<Ipv6Addr>().unwrap()]
            );
            assert!(v6.eui64);
        }
        p => panic!("{p:?}"),
    }
    // MIGRATION_PHASE=pre still only prepares the tap.
    let pre = up_plan(&vars(
        ROUTED,
        &[SUBNET6, ("IP", None), ("MIGRATION_PHASE", Some("pre"))],
    ))
    .unwrap();
    assert!(matches!(pre, UpPlan::PrepareOnly { .. }), "{pre:?}");
    // Malformed values name the variable.
    for (var, value) in [
        ("NETWORK_SUBNET6", "2001:db8:90::5/64"),
        ("NETWORK_SUBNET6", "192.0.2.0/24"),
        ("NETWORK_GATEWAY6", "2001:db8:90::1/64"),
    ] {
        let err = up_plan(&vars(ROUTED, &[SUBNET6, (var, Some(value))]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{var}={value}")), "{err}");
    }
}

fn ipv6_report(subnet6: &str, gateway6: &str) -> Result<Response, String> {
    Ok(Response::Ok(Payload::Ipv6(Ipv6Report {
        networks: vec![Ipv6NetworkInfo {
            network: "public_90".into(),
            subnet6: subnet6.into(),
            gateway6: gateway6.parse().unwrap(),
            guest_ll: "fe80::fcff:ffff:feff:ffff".parse().unwrap(),
            uplink_ll: "fe80::1".parse().unwrap(),
            source6: None,
            router_advertisements: true,
            guests: vec![],
            neighbors: vec![],
        }],
        sent: Ipv6Sent::default(),
    })))
}

#[test]
fn subnet6_and_gateway6_must_match_the_routers_network() {
    let s6: Ipv6Net = "2001:db8:90::/64".parse().unwrap();
    let gw: Ipv6Addr = "2001:db8:90::1".parse().unwrap();
    let check = |answer: Result<Response, String>, gateway6: Option<Ipv6Addr>| {
        let mut r = Scripted {
            answers: [answer].into(),
            ..Default::default()
        };
        let out = check_network6(&mut r, "public_90", s6, gateway6);
        assert_eq!(
            r.seen,
            vec![Request::ShowIpv6 {
                network: Some("public_90".into())
            }]
        );
        out
    };
    assert_eq!(
        check(ipv6_report("2001:db8:90::/64", "2001:db8:90::1"), Some(gw)),
        Ok(())
    );
    assert_eq!(
        check(ipv6_report("2001:db8:90::/64", "fe80::1"), None),
        Ok(())
    );
    let mismatch = |r: Result<(), Check6Error>| match r {
        Err(Check6Error::Mismatch(m)) => m,
        other => panic!("{other:?}"),
    };
    let m = mismatch(check(
        ipv6_report("2001:db8:91::/64", "2001:db8:91::1"),
        Some(gw),
    ));
    assert!(
        m.contains("NETWORK_SUBNET6 is 2001:db8:90::/64") && m.contains("subnet6 2001:db8:91::/64"),
        "{m}"
    );
    let m = mismatch(check(ipv6_report("2001:db8:90::/64", "fe80::1"), Some(gw)));
    assert!(
        m.contains("NETWORK_GATEWAY6 is 2001:db8:90::1") && m.contains("gateway6 fe80::1"),
        "{m}"
    );
    let none = Ok(Response::Ok(Payload::Ipv6(Ipv6Report::default())));
    let m = mismatch(check(none, Some(gw)));
    assert!(m.contains("has no IPv6"), "{m}");
    assert!(matches!(
        check(refused("no such network: public_90"), None),
        Err(Check6Error::Router(_))
    ));
    assert!(matches!(
        check(Err("connection refused".into()), None),
        Err(Check6Error::Router(_))
    ));
}

#[test]
fn migration_pre_only_prepares_the_tap() {
    let plan = up_plan(&vars(ROUTED, &[("MIGRATION_PHASE", Some("pre"))])).unwrap();
    assert!(
        matches!(plan, UpPlan::PrepareOnly { ref tap, .. } if tap == "tap0"),
        "{plan:?}"
    );
    let plan = up_plan(&vars(ROUTED, &[("MIGRATION_PHASE", Some("post"))])).unwrap();
    assert!(matches!(plan, UpPlan::Add { .. }), "{plan:?}");
}

#[test]
fn other_modes_and_communication_taps_are_skipped() {
    let bridged = vars(
        ROUTED,
        &[
            ("MODE", Some("bridged")),
            ("BRIDGE", Some("br0")),
            ("IP", Some("garbage")),
            ("MAC", Some("x")),
        ],
    );
    assert!(matches!(up_plan(&bridged).unwrap(), UpPlan::Skip(_)));
    for mode in ["openvswitch", "ext"] {
        let v = vars(ROUTED, &[("MODE", Some(mode))]);
        assert!(matches!(up_plan(&v).unwrap(), UpPlan::Skip(_)), "{mode}");
        assert!(matches!(
            plan_down(&NicEnv::parse(&v, false).unwrap()),
            DownPlan::Skip(_)
        ));
    }
    for tap in ["gnt.com.0", "gnt.com.12"] {
        let v = vars(ROUTED, &[("INTERFACE", Some(tap)), ("IP", None)]);
        let plan = up_plan(&v).unwrap();
        assert!(
            matches!(plan, UpPlan::Skip(ref r) if r.contains("instance-communication")),
            "{plan:?}"
        );
    }
    // Only gnt.com.N is Ganeti's; a tap merely starting with "gnt" is not.
    let v = vars(ROUTED, &[("INTERFACE", Some("gnt.comX"))]);
    assert!(matches!(up_plan(&v).unwrap(), UpPlan::Add { .. }));
}

#[test]
fn network_comes_from_the_setting_else_link() {
    let nic = NicEnv::parse(&vars(ROUTED, &[]), true).unwrap();
    match plan_up(&nic, Some("vlan90")).unwrap() {
        UpPlan::Add { spec, .. } => assert_eq!(spec.network, "vlan90"),
        p => panic!("{p:?}"),
    }
    let nic = NicEnv::parse(&vars(ROUTED, &[("LINK", None)]), true).unwrap();
    assert!(matches!(
        plan_up(&nic, Some("vlan90")).unwrap(),
        UpPlan::Add { .. }
    ));
}

#[test]
fn subnet_mismatch_is_a_warning() {
    let v = vars(ROUTED, &[("NETWORK_SUBNET", Some("198.51.100.0/24"))]);
    match up_plan(&v).unwrap() {
        UpPlan::Add { warnings, .. } => {
            assert_eq!(warnings.len(), 1);
            assert!(
                warnings[0].contains("not inside Ganeti's NETWORK_SUBNET"),
                "{warnings:?}"
            );
        }
        p => panic!("{p:?}"),
    }
}

#[test]
fn prefixes_from_tags() {
    let tags: Vec<String> =
        "owner:ops hvrouter:prefix:203.0.113.0/28 hvrouter:prefix:public_80:203.0.113.64/28 \
         hvrouter:prefix:public_90:203.0.113.32/29 hvrouter:prefix:203.0.113.0/28 hvrouter:other:x"
            .split(' ')
            .map(str::to_string)
            .collect();
    let got = tag_prefixes(&tags, "public_90").unwrap();
    let want: Vec<ipnet::Ipv4Net> = vec![
        "203.0.113.0/28".parse().unwrap(),
        "203.0.113.32/29".parse().unwrap(),
    ];
    assert_eq!(got.v4, want);
    assert!(got.v6.is_empty());
    assert!(tag_prefixes(&["hvrouter:prefix:a:b".to_string()], "a").is_err());
    // IPv6 prefixes, for every NIC or one network's.
    let tags: Vec<String> =
        "hvrouter:prefix:2001:db8:1::/48 hvrouter:prefix:public_90:2001:db8:2::/56 \
         hvrouter:prefix:public_80:2001:db8:3::/48"
            .split(' ')
            .map(str::to_string)
            .collect();
    let got = tag_prefixes(&tags, "public_90").unwrap();
    let want6: Vec<Ipv6Net> = vec![
        "2001:db8:1::/48".parse().unwrap(),
        "2001:db8:2::/56".parse().unwrap(),
    ];
    assert_eq!((got.v4, got.v6), (vec![], want6.clone()));
    for bad in [
        "hvrouter:prefix:2001:db8:1::5/48",
        "hvrouter:prefix:public_90:2001:db8::1:zz/64",
    ] {
        let err = tag_prefixes(&[bad.to_string()], "public_90").unwrap_err();
        assert!(err.to_string().starts_with("TAGS="), "{bad}: {err}");
    }
    // On the NIC: its IPv6 side's routed prefixes, only with NETWORK_SUBNET6.
    let t = "hvrouter:prefix:2001:db8:1::/48 hvrouter:prefix:public_90:2001:db8:2::/56";
    match up_plan(&vars(ROUTED, &[SUBNET6, ("TAGS", Some(t))])).unwrap() {
        UpPlan::Add { spec, .. } => {
            assert_eq!(spec.ipv6.unwrap().routed_prefixes, want6);
            assert!(spec.routed_prefixes.is_empty());
        }
        p => panic!("{p:?}"),
    }
    let err = up_plan(&vars(ROUTED, &[("TAGS", Some(t))])).unwrap_err();
    assert!(
        err.to_string()
            .contains("needs a Ganeti network with NETWORK_SUBNET6"),
        "{err}"
    );
}

#[test]
fn down_is_lenient_and_keeps_the_mac() {
    let nic = NicEnv::parse(
        &vars(ROUTED, &[("IP", Some("junk")), ("TAGS", None)]),
        false,
    )
    .unwrap();
    assert_eq!(
        plan_down(&nic),
        DownPlan::Remove {
            tap: "tap0".into(),
            mac: Some("aa:00:00:5e:10:01".parse().unwrap())
        }
    );
    let nic = NicEnv::parse(&vars(ROUTED, &[("MAC", Some("junk"))]), false).unwrap();
    assert_eq!(
        plan_down(&nic),
        DownPlan::Remove {
            tap: "tap0".into(),
            mac: None
        }
    );
}

/// A router that answers from a script and records the requests.
#[derive(Default)]
struct Scripted {
    answers: VecDeque<Result<Response, String>>,
    seen: Vec<Request>,
}

impl Control for Scripted {
    fn call(&mut self, request: &Request) -> Result<Response, String> {
        self.seen.push(request.clone());
        self.answers
            .pop_front()
            .unwrap_or_else(|| Err("no more answers".into()))
    }
}

fn changed(tap: &str, change: Change) -> Result<Response, String> {
    Ok(Response::Ok(Payload::GuestChanged(GuestChange {
        tap: tap.into(),
        change,
    })))
}

fn listed(entries: &[(&str, &str)]) -> Result<Response, String> {
    Ok(Response::Ok(Payload::Guests(
        entries
            .iter()
            .map(|(tap, mac)| {
                let mut s = spec(tap);
                s.mac = mac.parse().unwrap();
                GuestInfo::new(s, true, GuestOrigin::Runtime)
            })
            .collect(),
    )))
}

fn refused(m: &str) -> Result<Response, String> {
    Ok(Response::error(m))
}

#[test]
fn add_replaces_a_stale_entry_for_the_same_tap_only() {
    let s = spec("tap0");
    let mut r = Scripted {
        answers: [changed("tap0", Change::Added)].into(),
        ..Default::default()
    };
    assert_eq!(add(&mut r, &s), AddOutcome::Done(Change::Added));
    assert_eq!(r.seen, [Request::GuestAdd(s.clone())]);

    let mut r = Scripted {
        answers: [
            refused("tap0 exists with other data: remove it first"),
            listed(&[("tap0", "aa:00:00:5e:99:99")]),
            changed("tap0", Change::Removed),
            changed("tap0", Change::Added),
        ]
        .into(),
        ..Default::default()
    };
    assert_eq!(add(&mut r, &s), AddOutcome::Replaced);
    assert_eq!(
        r.seen,
        [
            Request::GuestAdd(s.clone()),
            Request::GuestList,
            Request::GuestDel { tap: "tap0".into() },
            Request::GuestAdd(s.clone())
        ]
    );

    // The address belongs to a live guest on another tap: refused, nothing removed.
    let mut r = Scripted {
        answers: [
            refused("192.0.2.10 already belongs to guest tap2"),
            listed(&[("tap2", "aa:00:00:5e:10:01")]),
        ]
        .into(),
        ..Default::default()
    };
    assert_eq!(
        add(&mut r, &s),
        AddOutcome::Refused("192.0.2.10 already belongs to guest tap2".into())
    );
    assert_eq!(r.seen.len(), 2);

    let mut r = Scripted {
        answers: [Err("cannot connect".into())].into(),
        ..Default::default()
    };
    assert_eq!(
        add(&mut r, &s),
        AddOutcome::Unreachable("cannot connect".into())
    );
}

#[test]
fn remove_leaves_a_reused_tap_name_alone() {
    let mac = Some("aa:00:00:5e:10:01".parse().unwrap());
    let mut r = Scripted {
        answers: [
            listed(&[("tap0", "aa:00:00:5e:10:01")]),
            changed("tap0", Change::Removed),
        ]
        .into(),
        ..Default::default()
    };
    assert_eq!(remove(&mut r, "tap0", mac), RemoveOutcome::Removed);
    assert_eq!(r.seen[1], Request::GuestDel { tap: "tap0".into() });

    let mut r = Scripted {
        answers: [listed(&[("tap0", "aa:00:00:5e:77:77")])].into(),
        ..Default::default()
    };
    assert_eq!(
        remove(&mut r, "tap0", mac),
        RemoveOutcome::OtherNic("aa:00:00:5e:77:77".parse().unwrap())
    );
    assert_eq!(r.seen, [Request::GuestList], "nothing deleted");

    let mut r = Scripted {
        answers: [listed(&[])].into(),
        ..Default::default()
    };
    assert_eq!(remove(&mut r, "tap0", mac), RemoveOutcome::Absent);

    let mut r = Scripted {
        answers: [Err("cannot connect".into())].into(),
        ..Default::default()
    };
    assert!(matches!(
        remove(&mut r, "tap0", mac),
        RemoveOutcome::Failed(_)
    ));
}

#[test]
fn listing_gives_this_nodes_routed_nics() {
    let text = "\
web1.example.org|node1|routed|public_90|192.0.2.10|aa:00:00:5e:10:01|owner:ops,hvrouter:prefix:203.0.113.0/28
db1.example.org|node1|bridged,routed|br0,public_80|198.51.100.9,198.51.100.20|aa:00:00:5e:20:01,aa:00:00:5e:20:02|
v6.example.org|node1|routed|public_90|None|aa:00:00:5e:60:01|
other.example.org|node2|routed|public_90|192.0.2.11|aa:00:00:5e:30:01|
../etc|node1|routed|public_90|192.0.2.12|aa:00:00:5e:40:01|
short|node1|routed
";
    let (nics, warnings) = parse_listing(text, "node1");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let got: Vec<(&str, usize, Option<&str>)> = nics
        .iter()
        .map(|n| (n.instance.as_str(), n.index, n.ip.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("web1.example.org", 0, Some("192.0.2.10")),
            ("db1.example.org", 1, Some("198.51.100.20")),
            ("v6.example.org", 0, None)
        ]
    );
    let v = hook_vars(&nics[0], "tap4");
    assert_eq!(
        v.get("TAGS"),
        Some("owner:ops hvrouter:prefix:203.0.113.0/28")
    );
    assert_eq!(v.get("INTERFACE"), Some("tap4"));
    match up_plan(&v).unwrap() {
        UpPlan::Add { spec, .. } => assert_eq!(spec.routed_prefixes.len(), 1),
        p => panic!("{p:?}"),
    }
    assert!(matches!(
        up_plan(&hook_vars(&nics[2], "tap5")),
        Err(EnvError::NoIpv4 { .. })
    ));
}
