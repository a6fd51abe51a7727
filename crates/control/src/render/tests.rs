use std::collections::BTreeMap;

use wire::{EthernetAddress, Ipv4Addr};

use super::*;
use crate::protocol::{
    Change, GuestChange, GuestOrigin, GuestSpec, NeighborState, NetworkCounters, NextHopInfo,
    PortCounters, PortFrames, PortRole, RouteOrigin, WorkerCounters,
};

fn guest(tap: &str, ip: [u8; 4], up: bool) -> GuestInfo {
    GuestInfo::new(
        GuestSpec {
            tap: tap.into(),
            mac: EthernetAddress([0x52, 0x54, 0, 0, 0, ip[3]]),
            ips: vec![Ipv4Addr::from(ip)],
            network: "public_90".into(),
            routed_prefixes: vec![],
            hostname: None,
            ipv6: None,
        },
        up,
        GuestOrigin::Config,
    )
}

fn port(name: &str, rx: u64, drops: &[(&str, u64)]) -> PortInfo {
    PortInfo {
        name: name.into(),
        role: if name.starts_with("tap") {
            PortRole::Guest
        } else {
            PortRole::Uplink
        },
        network: Some("public_90".into()),
        up: true,
        attached: true,
        xdp_mode: Some("native".into()),
        frames: None,
        gso: None,
        gso_reason: None,
        counters: PortCounters {
            rx_packets: rx,
            rx_bytes: rx * 64,
            drops: drops.iter().map(|&(r, n)| (r.to_string(), n)).collect(),
            ..PortCounters::default()
        },
    }
}

#[test]
fn guest_list_table() {
    let mut g2 = guest("tap12", [192, 0, 2, 12], false);
    g2.routed_prefixes = vec!["203.0.113.0/29".parse().unwrap()];
    g2.ips.push(Ipv4Addr::new(192, 0, 2, 13));
    g2.origin = GuestOrigin::Runtime;
    g2.ipv6 = Some(crate::protocol::GuestIpv6 {
        addrs: vec!["2001:db8:90::12".parse().unwrap()],
        eui64: true,
        routed_prefixes: vec!["2001:db8:1::/48".parse().unwrap()],
    });
    let out = human(&Response::Ok(Payload::Guests(vec![
        guest("tap3", [192, 0, 2, 10], true),
        g2,
    ])));
    assert_eq!(
        out,
        "TAP    MAC                NETWORK    STATE  ORIGIN   ADDRESSES              ROUTED          IPV6\n\
         tap3   52:54:00:00:00:0a  public_90  up     config   192.0.2.10             -               default\n\
         tap12  52:54:00:00:00:0c  public_90  down   runtime  192.0.2.12,192.0.2.13  203.0.113.0/29  2001:db8:90::12,eui64,+2001:db8:1::/48\n"
    );
    assert_eq!(human(&Response::Ok(Payload::Guests(vec![]))), "no guests\n");
}

#[test]
fn ports_and_counters() {
    let ports = vec![
        port(
            "bond0.90",
            1200,
            &[("no_route", 0), ("arp_not_hosted_guest", 17)],
        ),
        port("tap3", 5, &[("spoofed_source_ip", 2)]),
    ];
    let out = human(&Response::Ok(Payload::Ports(ports.clone())));
    let mut with_frames = ports.clone();
    with_frames[0].frames = Some(PortFrames {
        fill: 512,
        target: 1024,
        floor: 512,
        max: 1024,
        starved: false,
        held_back: 0,
    });
    with_frames[1].frames = Some(PortFrames {
        fill: 0,
        target: 8,
        floor: 8,
        max: 512,
        starved: true,
        held_back: 0,
    });
    with_frames[0].gso = Some("on".into());
    with_frames[1].gso = Some("unavailable".into());
    with_frames[1].gso_reason = Some(
        "creating the AF_PACKET socket: Operation not permitted (os error 1); fix: give \
         the router CAP_NET_RAW"
            .into(),
    );
    let framed = human(&Response::Ok(Payload::Ports(with_frames)));
    assert_eq!(
        framed,
        "NAME      ROLE    NETWORK    LINK  XDP     GSO                   FILL  RX-PKTS  RX-BYTES  TX-PKTS  TX-BYTES  DROPS\n\
         bond0.90  uplink  public_90  up    native  on                512/1024     1200     76800        0         0     17\n\
         tap3      guest   public_90  up    native  unavailable  0/8 NO-FRAMES        5       320        0         0      2\n\
         error: tap3 has no frames to receive into (0 of its floor of 8 UMEM chunks): traffic to it \
         is lost; raise dataplane.frames and restart (docs/FRAMES.md)\n\
         warning: tap3 segments TCP super-frames in software (GSO unavailable: creating the \
         AF_PACKET socket: Operation not permitted (os error 1); fix: give the router CAP_NET_RAW)\n"
    );
    assert_eq!(
        out,
        "NAME      ROLE    NETWORK    LINK  XDP     GSO  FILL  RX-PKTS  RX-BYTES  TX-PKTS  TX-BYTES  DROPS\n\
         bond0.90  uplink  public_90  up    native  -       -     1200     76800        0         0     17\n\
         tap3      guest   public_90  up    native  -       -        5       320        0         0      2\n"
    );
    let report = CountersReport {
        ports,
        networks: vec![NetworkCounters {
            network: "public_90".into(),
            counters: BTreeMap::from([("requests_sent".to_string(), 3), ("zero".to_string(), 0)]),
        }],
        worker: WorkerCounters {
            passes: 1000,
            idle_passes: 900,
            rx: 450,
            busy_ns: 250,
            idle_ns: 750,
            sleeps: 7,
            longest_housekeeping_ns: 1_250_000,
            longest_unpreempted_housekeeping_ns: 750_000,
            ..WorkerCounters::default()
        },
    };
    let out = human(&Response::Ok(Payload::Counters(report)));
    assert_eq!(
        out,
        "PORT      COUNTER                    VALUE\n\
         bond0.90  rx_packets                  1200\n\
         bond0.90  rx_bytes                   76800\n\
         bond0.90  drop arp_not_hosted_guest     17\n\
         tap3      rx_packets                     5\n\
         tap3      rx_bytes                     320\n\
         tap3      drop spoofed_source_ip         2\n\
         \n\
         NETWORK    COUNTER        VALUE\n\
         public_90  requests_sent      3\n\
         \n\
         worker: 100 of 1000 passes moved frames, 4.5 frames each on average; 25.0 % of the time in them; 7 waits; longest housekeeping 1.25 ms (0.75 ms not preempted)\n\
         (counters that are zero are not shown)\n"
    );
    // Several workers: the handoff between them on a line of its own.
    let mut two = report_with_workers(2);
    two.worker.handed_out = 30;
    two.worker.handed_in = 12;
    let out = human(&Response::Ok(Payload::Counters(two)));
    assert!(
        out.contains("workers: 2, the figures above summed (the longest: of any); frames handed between them: 30 out, 12 in\n"),
        "{out}"
    );
    let one = human(&Response::Ok(Payload::Counters(report_with_workers(1))));
    assert!(!one.contains("workers:"), "{one}");
    let zero = CountersReport::default();
    assert_eq!(
        human(&Response::Ok(Payload::Counters(zero))),
        "all counters are zero\n"
    );
}

#[test]
fn networks_routes_neighbors() {
    let n = NetworkInfo {
        name: "public_90".into(),
        uplink: "bond0.90".into(),
        uplink_up: false,
        subnet: "192.0.2.0/24".parse().unwrap(),
        gateway: Ipv4Addr::new(192, 0, 2, 1),
        mtu: 1500,
        uplink_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        guest_mac: EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]),
        arp_source: None,
        guests: 2,
    };
    let out = human(&Response::Ok(Payload::Networks(vec![n])));
    assert_eq!(
        out.lines().nth(1).unwrap(),
        "public_90  bond0.90  down  192.0.2.0/24  192.0.2.1  1500       2  02:00:00:00:00:01  fe:ff:ff:ff:ff:ff  0.0.0.0 (probe form)"
    );
    let routes = vec![
        RouteInfo {
            network: "public_90".into(),
            prefix: "0.0.0.0/0".parse().unwrap(),
            next_hop: NextHopInfo::Gateway(Ipv4Addr::new(192, 0, 2, 1)),
            origin: RouteOrigin::Default,
        },
        RouteInfo {
            network: "public_90".into(),
            prefix: "203.0.113.0/29".parse().unwrap(),
            next_hop: NextHopInfo::Guest("tap3".into()),
            origin: RouteOrigin::GuestPrefix,
        },
    ];
    assert_eq!(
        human(&Response::Ok(Payload::Routes(routes))),
        "NETWORK    PREFIX          NEXT-HOP       ORIGIN\n\
         public_90  0.0.0.0/0       via 192.0.2.1  default\n\
         public_90  203.0.113.0/29  dev tap3       guest-prefix\n"
    );
    let neigh = NeighborInfo {
        network: "public_90".into(),
        ip: Ipv4Addr::new(192, 0, 2, 1),
        mac: None,
        state: NeighborState::Incomplete,
        queued: 3,
        probes: 2,
        age_ms: 1_500,
        idle_ms: 61_000,
    };
    assert_eq!(
        human(&Response::Ok(Payload::Neighbors(vec![neigh]))),
        "NETWORK    ADDRESS    LLADDR  STATE       QUEUED  PROBES   AGE  IDLE\n\
         public_90  192.0.2.1  -       INCOMPLETE       3       2  1.5s  1m1s\n"
    );
}

#[test]
fn explain_trace_reload_and_simple_answers() {
    let e = ArpExplanation {
        network: "public_90".into(),
        ip: Ipv4Addr::new(192, 0, 2, 77),
        owner: None,
        uplink: Decision {
            answer: false,
            reason: "192.0.2.77 is not a guest address hosted here (arp_not_hosted_guest)".into(),
            mac: None,
        },
        toward_guests: Decision {
            answer: true,
            reason: "an address of the guests' subnet".into(),
            mac: Some(EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff])),
        },
    };
    assert_eq!(
        human(&Response::Ok(Payload::ArpExplanations(vec![e]))),
        "192.0.2.77 on network public_90: not the address of a guest hosted here\n\
         \x20 who-has from the VLAN (uplink): stays silent: 192.0.2.77 is not a guest address hosted here (arp_not_hosted_guest)\n\
         \x20 who-has from guests:            answers with fe:ff:ff:ff:ff:ff: an address of the guests' subnet\n"
    );
    let t = TraceRecord {
        port: "tap3".into(),
        summary: "IPv4 192.0.2.10 > 198.51.100.7 ICMP".into(),
        steps: vec!["anti-spoofing: ok".into()],
        decision: "forward to bond0.90".into(),
    };
    assert_eq!(
        human(&Response::Ok(Payload::Trace(vec![t]))),
        "#1 tap3: IPv4 192.0.2.10 > 198.51.100.7 ICMP\n    anti-spoofing: ok\n    => forward to bond0.90\n"
    );
    let r = ReloadSummary {
        added: vec!["guest tap4".into()],
        removed: vec![],
        changed: vec!["guest tap3".into()],
        unchanged: 5,
        notes: vec!["dataplane.workers needs a restart".into()],
    };
    assert_eq!(
        human(&Response::Ok(Payload::Reloaded(r))),
        "reloaded: 1 added, 0 removed, 1 changed, 5 unchanged\n  + guest tap4\n  ~ guest tap3\n  note: dataplane.workers needs a restart\n"
    );
    let c = GuestChange {
        tap: "tap3".into(),
        change: Change::Unchanged,
    };
    assert_eq!(
        human(&Response::Ok(Payload::GuestChanged(c))),
        "guest tap3: unchanged (already present with the same data)\n"
    );
    let p = PongInfo {
        protocol: 1,
        version: "0.1.0".into(),
        pid: 42,
        uptime_secs: 3_725,
    };
    assert_eq!(
        human(&Response::Ok(Payload::Pong(p))),
        "hvrouter 0.1.0 is running: pid 42, up 1h2m, protocol 1\n"
    );
    assert_eq!(
        human(&Response::error("no such network")),
        "error: no such network\n"
    );
}

#[test]
fn json_is_the_payload_itself() {
    let out = json(&Response::Ok(Payload::Guests(vec![guest(
        "tap3",
        [192, 0, 2, 10],
        true,
    )])));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.is_array());
    assert_eq!(v[0]["tap"], "tap3");
    assert_eq!(v[0]["mac"], "52:54:00:00:00:0a");
    assert_eq!(v[0]["ips"][0], "192.0.2.10");
    assert_eq!(v[0]["origin"], "config");
    assert!(out.ends_with("]\n"));
    let out = json(&Response::Ok(Payload::Ports(vec![port(
        "tap3",
        1,
        &[("no_route", 4)],
    )])));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["counters"]["drops"]["no_route"], 4);
    let out = json(&Response::error("boom"));
    assert_eq!(out, "{\n  \"error\": \"boom\"\n}\n");
}

#[test]
fn capture_answers() {
    use crate::protocol::{CaptureBatch, CaptureDirection, CaptureInfo, CapturedFrame};
    let c = CaptureInfo {
        id: 3,
        ports: vec!["tap3".into(), "bond0.90".into()],
        snaplen: 96,
        max_bytes: 65536,
        idle_timeout_ms: 5000,
    };
    assert_eq!(
        human(&Response::Ok(Payload::CaptureStarted(c))),
        "capture 3 started on tap3, bond0.90 (snaplen 96, buffer 65536 bytes; stops after 5000 ms without a read)\n"
    );
    let b = CaptureBatch {
        id: 3,
        frames: vec![CapturedFrame {
            port: "tap3".into(),
            direction: CaptureDirection::Rx,
            time_ns: 12,
            len: 98,
            decision: "drop spoofed_source_ip".into(),
            data: vec![1, 2],
        }],
        captured: 1,
        dropped: 4,
        running: false,
    };
    assert_eq!(
        human(&Response::Ok(Payload::Captured(b))),
        "12 tap3 rx 98 bytes: drop spoofed_source_ip\ncapture 3: 1 frames here, 1 captured, 4 dropped (buffer full), stopped\n"
    );
}

fn report_with_workers(workers: u64) -> CountersReport {
    CountersReport {
        worker: WorkerCounters {
            passes: 10,
            rx: 5,
            workers,
            ..WorkerCounters::default()
        },
        ..CountersReport::default()
    }
}
