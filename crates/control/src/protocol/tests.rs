use super::*;
use wire::EthernetAddress;

fn spec() -> GuestSpec {
    GuestSpec {
        tap: "tap3".into(),
        mac: EthernetAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
        ips: vec![Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 11)],
        network: "public_90".into(),
        routed_prefixes: vec!["203.0.113.0/29".parse().unwrap()],
        hostname: None,
        ipv6: None,
    }
}

fn all_requests() -> Vec<Request> {
    vec![
        Request::GuestAdd(spec()),
        Request::GuestDel { tap: "tap3".into() },
        Request::GuestList,
        Request::ShowNetworks,
        Request::ShowRoutes { network: None },
        Request::ShowRoutes {
            network: Some("public_90".into()),
        },
        Request::ShowNeighbors { network: None },
        Request::ShowPorts,
        Request::ShowCounters,
        Request::ExplainArp {
            ip: Ipv4Addr::new(192, 0, 2, 77),
            network: Some("public_90".into()),
        },
        Request::Trace { count: 5 },
        Request::CaptureStart {
            ports: vec![],
            snaplen: None,
            max_bytes: None,
        },
        Request::CaptureStart {
            ports: vec!["tap3".into(), "bond0.90".into()],
            snaplen: Some(128),
            max_bytes: Some(1 << 20),
        },
        Request::CaptureRead { id: 7 },
        Request::CaptureStop { id: 7 },
        Request::Reload,
        Request::Ping,
    ]
}

fn err(line: &str) -> String {
    match Request::parse_line(line.as_bytes()) {
        Ok(r) => panic!("{line} parsed as {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_request_round_trips() {
    for req in all_requests() {
        let line = req.to_line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        assert!(line.starts_with("{\"version\":1,\"op\":\""), "{line}");
        assert_eq!(Request::parse_line(line.as_bytes()).unwrap(), req, "{line}");
    }
}

#[test]
fn guest_add_wire_form() {
    let line = Request::GuestAdd(spec()).to_line();
    assert_eq!(
        line,
        "{\"version\":1,\"op\":\"guest_add\",\"tap\":\"tap3\",\"mac\":\"52:54:00:12:34:56\",\
         \"ips\":[\"192.0.2.10\",\"192.0.2.11\"],\"network\":\"public_90\",\
         \"routed_prefixes\":[\"203.0.113.0/29\"]}\n"
    );
    // routed_prefixes may be left out; network is optional where documented.
    let r = Request::parse_line(
        br#"{"version":1,"op":"guest_add","tap":"tap4","mac":"52:54:00:00:00:04","ips":["192.0.2.4"],"network":"n"}"#,
    )
    .unwrap();
    assert!(matches!(r, Request::GuestAdd(s) if s.routed_prefixes.is_empty()));
    let r = Request::parse_line(br#"{"op":"show_routes","version":1}"#).unwrap();
    assert_eq!(r, Request::ShowRoutes { network: None });
}

#[test]
fn every_response_round_trips() {
    let counters = PortCounters {
        rx_packets: 1,
        drops: [("no_route".to_string(), 3)].into_iter().collect(),
        ..PortCounters::default()
    };
    let port = PortInfo {
        name: "bond0.90".into(),
        role: PortRole::Uplink,
        network: Some("public_90".into()),
        up: true,
        attached: true,
        xdp_mode: Some("native".into()),
        frames: Some(PortFrames {
            fill: 8,
            target: 16,
            floor: 8,
            max: 512,
            starved: true,
            held_back: 3,
        }),
        gso: Some("unavailable".into()),
        gso_reason: Some("creating the AF_PACKET socket: Operation not permitted".into()),
        counters,
    };
    let responses = vec![
        Response::Ok(Payload::Pong(PongInfo::new(7))),
        Response::Ok(Payload::GuestChanged(GuestChange {
            tap: "tap3".into(),
            change: Change::Added,
        })),
        Response::Ok(Payload::Guests(vec![GuestInfo::new(
            spec(),
            true,
            GuestOrigin::Runtime,
        )])),
        Response::Ok(Payload::Networks(vec![NetworkInfo {
            name: "public_90".into(),
            uplink: "bond0.90".into(),
            uplink_up: true,
            subnet: "192.0.2.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(192, 0, 2, 1),
            mtu: 1500,
            uplink_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
            guest_mac: EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]),
            arp_source: None,
            guests: 1,
        }])),
        Response::Ok(Payload::Routes(vec![RouteInfo {
            network: "public_90".into(),
            prefix: "0.0.0.0/0".parse().unwrap(),
            next_hop: NextHopInfo::Gateway(Ipv4Addr::new(192, 0, 2, 1)),
            origin: RouteOrigin::Default,
        }])),
        Response::Ok(Payload::Neighbors(vec![NeighborInfo {
            network: "public_90".into(),
            ip: Ipv4Addr::new(192, 0, 2, 1),
            mac: None,
            state: NeighborState::Incomplete,
            queued: 2,
            probes: 1,
            age_ms: 10,
            idle_ms: 10,
        }])),
        Response::Ok(Payload::Ports(vec![port.clone()])),
        Response::Ok(Payload::Counters(CountersReport {
            ports: vec![port],
            networks: vec![],
            worker: WorkerCounters {
                passes: 10,
                idle_passes: 4,
                rx: 12,
                busy_ns: 600,
                idle_ns: 400,
                sleeps: 1,
                longest_housekeeping_ns: 0,
                longest_unpreempted_housekeeping_ns: 0,
                workers: 2,
                handed_out: 3,
                handed_in: 2,
            },
        })),
        Response::Ok(Payload::ArpExplanations(vec![ArpExplanation {
            network: "public_90".into(),
            ip: Ipv4Addr::new(192, 0, 2, 10),
            owner: Some("tap3".into()),
            uplink: Decision {
                answer: true,
                reason: "hosted".into(),
                mac: Some(EthernetAddress([2, 0, 0, 0, 0, 1])),
            },
            toward_guests: Decision {
                answer: false,
                reason: "own".into(),
                mac: None,
            },
        }])),
        Response::Ok(Payload::Trace(vec![TraceRecord {
            port: "tap3".into(),
            summary: "IPv4".into(),
            steps: vec!["spoof: ok".into()],
            decision: "forward".into(),
        }])),
        Response::Ok(Payload::Reloaded(ReloadSummary::default())),
        Response::Ok(Payload::CaptureStarted(CaptureInfo {
            id: 1,
            ports: vec!["tap3".into()],
            snaplen: 96,
            max_bytes: 1 << 20,
            idle_timeout_ms: 5000,
        })),
        Response::Ok(Payload::Captured(CaptureBatch {
            id: 1,
            frames: vec![CapturedFrame {
                port: "tap3".into(),
                direction: CaptureDirection::Tx,
                time_ns: 1_800_000_000_000_000_000,
                len: 1500,
                decision: "sent".into(),
                data: vec![0, 1, 2, 255],
            }],
            captured: 1,
            dropped: 2,
            running: true,
        })),
        Response::error("no such network"),
    ];
    for resp in responses {
        let line = resp.to_line();
        assert!(line.starts_with("{\"version\":1,"), "{line}");
        assert_eq!(
            Response::parse_line(line.as_bytes()).unwrap(),
            resp,
            "{line}"
        );
    }
    assert_eq!(
        Response::error("x \"y\"").to_line(),
        "{\"version\":1,\"error\":{\"message\":\"x \\\"y\\\"\"}}\n"
    );
}

#[test]
fn malformed_json_and_envelope() {
    assert!(err("{\"version\":1,").starts_with("invalid JSON:"));
    assert!(err("").starts_with("invalid JSON:"));
    assert!(err("\u{0}\u{1}").starts_with("invalid JSON:"));
    assert!(err("[1,2]").starts_with("expected a JSON object"));
    assert!(err("{\"op\":\"ping\"}").starts_with("missing \"version\""));
    let e = err("{\"version\":2,\"op\":\"ping\"}");
    assert!(e.contains("unsupported protocol version 2") && e.contains("speaks version 1"));
    assert!(
        err("{\"version\":\"1\",\"op\":\"ping\"}").contains("unsupported protocol version \"1\"")
    );
    let long = format!(
        "{{\"version\":1,\"op\":\"ping\",\"x\":\"{}\"}}",
        "a".repeat(MAX_REQUEST_LINE)
    );
    assert!(err(&long).starts_with("request too long"));
}

#[test]
fn unknown_ops_and_fields_are_refused() {
    assert!(err("{\"version\":1,\"op\":\"pong\"}").contains("unknown variant `pong`"));
    assert!(err("{\"version\":1}").contains("missing field `op`"));
    let e = err("{\"version\":1,\"op\":\"guest_del\",\"tap\":\"tap3\",\"force\":true}");
    assert!(e.contains("unknown field `force`"), "{e}");
    let e = err(
        r#"{"version":1,"op":"guest_add","tap":"tap3","mac":"52:54:00:12:34:56","ips":["192.0.2.10"],"network":"n","ip":"x"}"#,
    );
    assert!(e.contains("unknown field `ip`"), "{e}");
    let e = err("{\"version\":1,\"op\":\"ping\",\"extra\":1}");
    assert!(e.contains("unknown field `extra`"), "{e}");
    let e = err("{\"version\":1,\"op\":\"guest_add\",\"tap\":\"tap3\"}");
    assert!(e.contains("missing field `mac`"), "{e}");
}

#[test]
fn bad_addresses_are_named() {
    let add = |mac: &str, ips: &str, prefixes: &str| {
        err(&format!(
            r#"{{"version":1,"op":"guest_add","tap":"tap3","mac":"{mac}","ips":{ips},"network":"n","routed_prefixes":{prefixes}}}"#
        ))
    };
    let ok_mac = "52:54:00:12:34:56";
    let e = add("52:54:00:12:34", r#"["192.0.2.1"]"#, "[]");
    assert!(e.contains("invalid MAC address \"52:54:00:12:34\""), "{e}");
    let e = add(ok_mac, r#"["192.0.2.300"]"#, "[]");
    assert!(e.contains("invalid IPv4 address \"192.0.2.300\""), "{e}");
    let e = add(ok_mac, r#"["192.0.2.1"]"#, r#"["203.0.113.5/29"]"#);
    assert!(e.contains("did you mean 203.0.113.0/29?"), "{e}");
    let e = add(ok_mac, r#"["192.0.2.1"]"#, r#"["203.0.113.0/33"]"#);
    assert!(e.contains("invalid IPv4 prefix"), "{e}");
    let e = add("01:00:5e:00:00:01", r#"["192.0.2.1"]"#, "[]");
    assert!(e.contains("is not a unicast address"), "{e}");
    let e = add(ok_mac, "[]", "[]");
    assert!(e.contains("at least one IP address"), "{e}");
    let e = add(ok_mac, r#"["127.0.0.1"]"#, "[]");
    assert!(e.contains("127.0.0.1 is a loopback address"), "{e}");
    let e = add(ok_mac, r#"["255.255.255.255"]"#, "[]");
    assert!(e.contains("limited broadcast"), "{e}");
    let e = add(ok_mac, r#"["224.0.0.1"]"#, "[]");
    assert!(e.contains("multicast"), "{e}");
    let e = add(ok_mac, r#""192.0.2.1""#, "[]");
    assert!(e.contains("invalid type"), "{e}");
    let e = err(r#"{"version":1,"op":"explain_arp","ip":"nope"}"#);
    assert!(e.contains("invalid IPv4 address \"nope\""), "{e}");
}

#[test]
fn names_and_ranges_are_checked() {
    for tap in ["", ".", "..", "a/b", "tap:1", "tap 3", "sixteen-chars-xx"] {
        let e = err(&format!(
            r#"{{"version":1,"op":"guest_del","tap":"{tap}"}}"#
        ));
        assert!(e.contains("invalid interface name"), "{tap}: {e}");
    }
    assert!(
        Request::parse_line(br#"{"version":1,"op":"guest_del","tap":"fifteen-chars-x"}"#).is_ok()
    );
    let e = err(r#"{"version":1,"op":"show_neighbors","network":""}"#);
    assert!(e.contains("invalid network name"), "{e}");
    let e = err(r#"{"version":1,"op":"trace","count":0}"#);
    assert!(e.contains("between 1 and"), "{e}");
    let e = err(r#"{"version":1,"op":"trace","count":-1}"#);
    assert!(e.contains("invalid value"), "{e}");
    let e = err(r#"{"version":1,"op":"trace","count":4294967296}"#);
    assert!(e.starts_with("invalid request"), "{e}");
}

#[test]
fn guest_spec_sameness_ignores_order() {
    let a = spec();
    let mut b = spec();
    b.ips.reverse();
    b.ips.push(b.ips[0]);
    assert!(a.same_as(&b));
    b.network = "other".into();
    assert!(!a.same_as(&b));
    let info = GuestInfo::new(a.clone(), false, GuestOrigin::Config);
    assert_eq!(info.spec(), a);
}

#[test]
fn counters_helpers() {
    let c = PortCounters {
        drops: [
            ("arp_not_hosted_guest", 4),
            ("arp_probe", 1),
            ("arp_reply_consumed", 9),
            ("no_route", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        ..PortCounters::default()
    };
    assert_eq!(c.total_drops(), 16);
    assert_eq!(c.arp_ignored(), 5);
}

#[test]
fn ops_and_mutations() {
    for r in all_requests() {
        let line = r.to_line();
        assert!(line.contains(&format!("\"op\":\"{}\"", r.op())), "{line}");
    }
    assert!(Request::Reload.is_mutation());
    assert!(!Request::GuestList.is_mutation());
}

#[test]
fn counters_without_worker_read_as_zero() {
    // What a router from before the worker counters answers.
    let line = Response::Ok(Payload::Counters(CountersReport::default())).to_line();
    let old = line.replace(
        r#","worker":{"passes":0,"idle_passes":0,"rx":0,"busy_ns":0,"idle_ns":0,"sleeps":0,"longest_housekeeping_ns":0,"longest_unpreempted_housekeeping_ns":0,"workers":0,"handed_out":0,"handed_in":0}"#,
        "",
    );
    assert_ne!(old, line, "the worker field was not where expected: {line}");
    match Response::parse_line(old.as_bytes()) {
        Ok(Response::Ok(Payload::Counters(c))) => {
            assert_eq!(c.worker, WorkerCounters::default());
            assert_eq!(c.worker.busy_share(), 0.0);
        }
        other => panic!("{other:?} from {old}"),
    }
    let busy = WorkerCounters {
        busy_ns: 3,
        idle_ns: 1,
        ..WorkerCounters::default()
    };
    assert_eq!(busy.busy_share(), 0.75);
    assert_eq!(busy.frames_per_busy_pass(), 0.0);
    let fill = WorkerCounters {
        passes: 10,
        idle_passes: 6,
        rx: 100,
        ..WorkerCounters::default()
    };
    assert_eq!(fill.frames_per_busy_pass(), 25.0);
    // A router that sent only part of the counters.
    let partial =
        r#"{"version":1,"ok":{"counters":{"ports":[],"networks":[],"worker":{"passes":3}}}}"#;
    match Response::parse_line(partial.as_bytes()) {
        Ok(Response::Ok(Payload::Counters(c))) => assert_eq!(c.worker.passes, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn capture_start_defaults_and_limits() {
    let req = Request::parse_line(br#"{"version":1,"op":"capture_start"}"#).unwrap();
    assert_eq!(
        req,
        Request::CaptureStart {
            ports: vec![],
            snaplen: None,
            max_bytes: None
        }
    );
    assert!(err(r#"{"version":1,"op":"capture_start","snaplen":0}"#).contains("snaplen"));
    assert!(
        err(r#"{"version":1,"op":"capture_start","max_bytes":1073741824}"#)
            .contains("capture buffer")
    );
    assert!(err(r#"{"version":1,"op":"capture_start","ports":["a b"]}"#)
        .contains("invalid interface name"));
    assert!(err(r#"{"version":1,"op":"capture_read"}"#).contains("id"));
    assert!(!Request::CaptureStart {
        ports: vec![],
        snaplen: None,
        max_bytes: None
    }
    .is_mutation());
}

#[test]
fn guest_ipv6_is_optional_and_default_means_eui64() {
    // A request (or state file entry) from before IPv6 has no "ipv6": the default.
    let old = r#"{"version":1,"op":"guest_add","tap":"tap3","mac":"52:54:00:12:34:56","ips":["192.0.2.10"],"network":"public_90"}"#;
    let Request::GuestAdd(spec) = parse_request(old).unwrap() else {
        panic!("not a guest_add")
    };
    assert_eq!(spec.ipv6, None);
    assert!(!serde_json::to_string(&spec).unwrap().contains("ipv6"));
    let with = r#"{"version":1,"op":"guest_add","tap":"tap3","mac":"52:54:00:12:34:56","ips":["192.0.2.10"],"network":"public_90","ipv6":{"addrs":["2001:db8:90::5"],"eui64":true,"routed_prefixes":["2001:db8:1::/48"]}}"#;
    let Request::GuestAdd(v6) = parse_request(with).unwrap() else {
        panic!("not a guest_add")
    };
    let asked = v6.ipv6.clone().unwrap();
    assert_eq!(
        asked.addrs,
        vec!["2001:db8:90::5".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert!(asked.eui64);
    // Round trip.
    let back: GuestSpec = serde_json::from_str(&serde_json::to_string(&v6).unwrap()).unwrap();
    assert_eq!(back, v6);
    // None is the same guest as the EUI-64 address alone; anything else is not.
    let eui_only = GuestSpec {
        ipv6: Some(GuestIpv6 {
            eui64: true,
            ..GuestIpv6::default()
        }),
        ..spec.clone()
    };
    assert!(spec.same_as(&eui_only));
    assert!(!spec.same_as(&v6));
    // Host bits in a routed prefix, an empty side and link-local addresses are refused.
    let bad = with.replace("2001:db8:1::/48", "2001:db8:1::1/48");
    assert!(parse_request(&bad)
        .unwrap_err()
        .to_string()
        .contains("host bits"));
    for (side, why) in [
        (r#"{"eui64":false}"#, "no IPv6 address"),
        (r#"{"addrs":["fe80::1"]}"#, "not a global unicast"),
        (r#"{"addrs":["ff02::1"]}"#, "not a global unicast"),
        (r#"{"eui64":true,"bogus":1}"#, "unknown field"),
    ] {
        let req = old.replace(
            r#""network":"public_90""#,
            &format!(r#""network":"public_90","ipv6":{side}"#),
        );
        let err = parse_request(&req).unwrap_err().to_string();
        assert!(err.contains(why), "{side}: {err}");
    }
}

fn parse_request(line: &str) -> Result<Request, ProtocolError> {
    Request::parse_line(line.as_bytes())
}
