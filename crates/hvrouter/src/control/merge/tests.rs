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
