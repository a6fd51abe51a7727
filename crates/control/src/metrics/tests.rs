use super::*;
use crate::protocol::{PortCounters, PortFrames, PortRole};

fn snapshot() -> MetricsSnapshot {
    let uplink = PortInfo {
        name: "bond0.90".into(),
        role: PortRole::Uplink,
        network: Some("public_90".into()),
        up: true,
        attached: true,
        xdp_mode: Some("native".into()),
        frames: Some(PortFrames {
            fill: 512,
            target: 512,
            floor: 512,
            max: 1024,
            starved: false,
            held_back: 0,
        }),
        gso: Some("unavailable".into()),
        gso_reason: Some("creating the AF_PACKET socket: denied; fix: CAP_NET_RAW".into()),
        counters: PortCounters {
            rx_packets: 10,
            rx_bytes: 640,
            tx_packets: 4,
            tx_bytes: 256,
            arp_answered: 3,
            arp_sent: 1,
            icmp_errors_sent: 2,
            icmp_errors_suppressed: 5,
            fragmented: 6,
            drops: [
                ("arp_not_hosted_guest", 7),
                ("arp_reply_consumed", 1),
                ("no_route", 0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            ..PortCounters::default()
        },
    };
    let guest = PortInfo {
        name: "tap\"3\\".into(),
        role: PortRole::Guest,
        network: Some("public_90".into()),
        up: false,
        attached: false,
        xdp_mode: None,
        frames: None,
        gso: None,
        gso_reason: None,
        counters: PortCounters::default(),
    };
    MetricsSnapshot {
        ports: vec![uplink, guest],
        networks: vec![NetworkMetrics {
            name: "public_90".into(),
            guests: 1,
            neighbors: [(NeighborState::Reachable, 2), (NeighborState::Failed, 1)]
                .into_iter()
                .collect(),
        }],
        dhcp: vec![("sent".into(), "offer".into(), 3)],
        ipv6_sent: vec![("ra".into(), 4)],
        worker: WorkerCounters {
            passes: 40,
            idle_passes: 30,
            rx: 640,
            busy_ns: 1_500_000_000,
            idle_ns: 250,
            sleeps: 0,
            longest_housekeeping_ns: 2_500_000,
            longest_unpreempted_housekeeping_ns: 0,
            workers: 2,
            handed_out: 7,
            handed_in: 5,
        },
    }
}

#[test]
fn exposition_lines() {
    let text = render(&snapshot());
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "# TYPE hvrouter_worker_busy_seconds_total counter",
        "hvrouter_worker_busy_seconds_total 1.500000000",
        "hvrouter_worker_idle_seconds_total 0.000000250",
        "hvrouter_worker_passes_total 40",
        "# TYPE hvrouter_worker_handoff_frames_total counter",
        "hvrouter_worker_handoff_frames_total{direction=\"out\"} 7",
        "hvrouter_worker_handoff_frames_total{direction=\"in\"} 5",
        "hvrouter_worker_busy_passes_total 10",
        "# HELP hvrouter_port_up Whether the port's link is up (1) or down (0).",
        "# TYPE hvrouter_port_up gauge",
        "hvrouter_port_up{port=\"bond0.90\",role=\"uplink\",network=\"public_90\"} 1",
        "hvrouter_port_up{port=\"tap\\\"3\\\\\",role=\"guest\",network=\"public_90\"} 0",
        "hvrouter_port_attached{port=\"bond0.90\"} 1",
        "# TYPE hvrouter_port_fill_frames gauge",
        "hvrouter_port_fill_frames{port=\"bond0.90\"} 512",
        "hvrouter_port_frames_starved{port=\"bond0.90\"} 0",
        "# TYPE hvrouter_port_gso gauge",
        "hvrouter_port_gso{port=\"bond0.90\",state=\"unavailable\"} 0",
        "# TYPE hvrouter_rx_packets_total counter",
        "hvrouter_rx_packets_total{port=\"bond0.90\"} 10",
        "hvrouter_rx_bytes_total{port=\"bond0.90\"} 640",
        "hvrouter_tx_packets_total{port=\"bond0.90\"} 4",
        "hvrouter_tx_bytes_total{port=\"bond0.90\"} 256",
        "hvrouter_arp_answered_total{port=\"bond0.90\"} 3",
        "hvrouter_arp_ignored_total{port=\"bond0.90\"} 7",
        "hvrouter_arp_sent_total{port=\"bond0.90\"} 1",
        "hvrouter_icmp_errors_sent_total{port=\"bond0.90\"} 2",
        "hvrouter_icmp_errors_suppressed_total{port=\"bond0.90\"} 5",
        "hvrouter_fragmented_total{port=\"bond0.90\"} 6",
        "# TYPE hvrouter_drops_total counter",
        "hvrouter_drops_total{port=\"bond0.90\",reason=\"arp_not_hosted_guest\"} 7",
        "hvrouter_drops_total{port=\"bond0.90\",reason=\"no_route\"} 0",
        "hvrouter_guests{network=\"public_90\"} 1",
        "hvrouter_neighbors{network=\"public_90\",state=\"reachable\"} 2",
        "hvrouter_neighbors{network=\"public_90\",state=\"incomplete\"} 0",
        "hvrouter_neighbors{network=\"public_90\",state=\"failed\"} 1",
        "# TYPE hvrouter_dhcp_messages_total counter",
        "hvrouter_dhcp_messages_total{direction=\"sent\",type=\"offer\"} 3",
        "# TYPE hvrouter_ipv6_sent_total counter",
        "hvrouter_ipv6_sent_total{kind=\"ra\"} 4",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn every_family_has_help_and_type_once_before_its_samples() {
    let text = render(&snapshot());
    let mut seen = std::collections::HashSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(seen.insert(name.clone()), "{name} described twice");
            current = name;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            assert_eq!(parts.next(), Some(current.as_str()));
            let kind = parts.next().unwrap();
            assert!(kind == "counter" || kind == "gauge");
            assert_eq!(kind == "counter", current.ends_with("_total"), "{current}");
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "{line}");
            let value = line.rsplit(' ').next().unwrap();
            // Seconds are fractional; everything else counts.
            if name.ends_with("_seconds_total") || name.ends_with("_seconds") {
                assert!(value.parse::<f64>().is_ok_and(|v| v >= 0.0), "{line}");
            } else {
                assert!(value.parse::<u64>().is_ok(), "{line}");
            }
        }
    }
    assert_eq!(seen.len(), 32);
    // An empty snapshot still describes every family (the worker's have one sample).
    let empty = render(&MetricsSnapshot::default());
    assert_eq!(empty.lines().count(), 52 + 5 * 3 + 4);
}

#[test]
fn escaping() {
    assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    assert_eq!(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
}
