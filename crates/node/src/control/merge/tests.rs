use super::*;
use hvrouter_control::protocol::{CaptureDirection, CapturedFrame, PortRole};

fn row(name: &str, attached: bool, rx: u64, drop: u64) -> PortInfo {
    let mut counters = PortCounters {
        rx_packets: rx,
        tx_packets: rx * 2,
        ..PortCounters::default()
    };
    counters.drops.insert("no_route".into(), drop);
    PortInfo {
        name: name.into(),
        role: PortRole::Guest,
        network: None,
        up: attached,
        attached,
        xdp_mode: attached.then(|| "native".into()),
        frames: None,
        gso: None,
        gso_reason: None,
        counters,
    }
}

#[test]
fn a_port_row_is_its_owners_with_the_counters_of_every_worker() {
    let w0 = vec![row("up0", true, 10, 1), row("tap1", false, 3, 0)];
    let w1 = vec![row("up0", false, 0, 2), row("tap1", true, 7, 5)];
    let merged = ports(vec![(w0, vec![true, false]), (w1, vec![false, true])]);
    assert_eq!(merged.len(), 2);
    assert!(merged[0].attached && merged[1].attached, "{merged:#?}");
    assert_eq!(merged[0].counters.rx_packets, 10);
    assert_eq!(merged[0].counters.drops["no_route"], 3);
    assert_eq!(merged[1].counters.rx_packets, 10);
    assert_eq!(merged[1].counters.tx_packets, 20);
    assert_eq!(merged[1].counters.drops["no_route"], 5);
}

#[test]
fn rows_that_do_not_line_up_are_worker_0s_unmerged() {
    let w0 = vec![row("up0", true, 10, 1)];
    let w1 = vec![row("other", true, 7, 5)];
    let merged = ports(vec![(w0, vec![true]), (w1, vec![true])]);
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].name, "up0");
    assert_eq!(merged[0].counters.rx_packets, 10);
}

#[test]
fn worker_counters_add_up_and_the_longest_pause_is_the_longest() {
    let report = |passes, longest| CountersReport {
        ports: vec![row("up0", true, 1, 0)],
        networks: Vec::new(),
        worker: WorkerCounters {
            passes,
            longest_housekeeping_ns: longest,
            ..WorkerCounters::default()
        },
    };
    let merged = counters(vec![
        (report(5, 900), vec![true]),
        (report(7, 300), vec![false]),
    ])
    .expect("merged");
    assert_eq!(merged.worker.passes, 12);
    assert_eq!(merged.worker.longest_housekeeping_ns, 900);
    assert_eq!(merged.ports[0].counters.rx_packets, 2);
    assert!(counters(Vec::new()).is_none());
}

fn frame(t: u64) -> CapturedFrame {
    CapturedFrame {
        port: "tap1".into(),
        direction: CaptureDirection::Rx,
        time_ns: t,
        len: 60,
        decision: "forwarded".into(),
        data: vec![0; 60],
    }
}

fn batch(frames: Vec<CapturedFrame>, running: bool) -> Response {
    Response::Ok(Payload::Captured(CaptureBatch {
        id: 1,
        captured: frames.len() as u64,
        dropped: 1,
        frames,
        running,
    }))
}

#[test]
fn captures_of_the_workers_are_one_in_time_order() {
    let merged = capture(vec![
        batch(vec![frame(5), frame(30)], false),
        batch(vec![frame(10)], true),
    ]);
    let Response::Ok(Payload::Captured(b)) = merged else {
        panic!("{merged:?}");
    };
    let times: Vec<u64> = b.frames.iter().map(|f| f.time_ns).collect();
    assert_eq!(times, [5, 10, 30]);
    assert_eq!((b.captured, b.dropped, b.running), (3, 2, true));
    let refused = capture(vec![
        batch(Vec::new(), true),
        Response::error("no such port"),
    ]);
    assert!(matches!(refused, Response::Error { .. }), "{refused:?}");
}

fn dhcp_guest(tap: &str, last_ago: Option<u64>, declines: u64) -> DhcpGuestInfo {
    DhcpGuestInfo {
        tap: tap.into(),
        network: "public_90".into(),
        enabled: true,
        address: std::net::Ipv4Addr::new(192, 0, 2, 10),
        hostname: None,
        lease_left_s: last_ago.map(|_| 3600),
        declines,
        last: last_ago.map(|ago_ms| hvrouter_control::protocol::DhcpLast {
            message: "request".into(),
            xid: 7,
            ago_ms,
            outcome: "acked".into(),
            answered: true,
        }),
    }
}

fn dhcp_report(guests: Vec<DhcpGuestInfo>, acks: u64) -> DhcpReport {
    DhcpReport {
        guests,
        totals: hvrouter_control::protocol::DhcpTotals {
            messages: vec![("sent".into(), "ack".into(), acks)],
            drops: vec![("dhcp_not_for_us".into(), 1)],
        },
    }
}

#[test]
fn a_guests_dhcp_row_is_the_one_of_the_worker_that_served_it() {
    let w0 = dhcp_report(
        vec![dhcp_guest("g1", None, 0), dhcp_guest("g2", Some(50), 1)],
        2,
    );
    let w1 = dhcp_report(
        vec![dhcp_guest("g1", Some(20), 1), dhcp_guest("g2", None, 0)],
        3,
    );
    let merged = dhcp(vec![w0, w1]).expect("merged");
    let g1 = &merged.guests[0];
    assert_eq!((g1.tap.as_str(), g1.declines), ("g1", 1));
    assert_eq!(g1.last.as_ref().map(|l| l.ago_ms), Some(20));
    assert_eq!(g1.lease_left_s, Some(3600));
    let g2 = &merged.guests[1];
    assert_eq!(g2.last.as_ref().map(|l| l.ago_ms), Some(50));
    assert_eq!(
        merged.totals.messages,
        vec![("sent".into(), "ack".into(), 5)]
    );
    assert_eq!(merged.totals.drops, vec![("dhcp_not_for_us".into(), 2)]);
    assert!(dhcp(Vec::new()).is_none());
}
