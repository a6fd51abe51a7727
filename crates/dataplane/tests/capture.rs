//! `hvrouter capture` in the pipeline: what ports receive and send, with decisions, on
//! in-memory ports with a fake clock (no privileges).

mod support;

use hvrouter_core::drop::DropReason;
use hvrouter_core::router::Action;
use hvrouter_core::PortId;
use hvrouter_dataplane::{CaptureConfig, Direction, Verdict};
use support::*;

fn start(lab: &mut Lab, ports: &[PortId]) {
    lab.pipe.capture_mut().start(&CaptureConfig {
        ports: ports.to_vec(),
        ..CaptureConfig::default()
    });
}

/// (port, direction, verdict, data) of every record taken.
fn take(lab: &mut Lab) -> Vec<(PortId, Direction, Verdict, Vec<u8>)> {
    let batch = lab.pipe.capture_mut().take();
    batch
        .records()
        .map(|r| (r.port, r.direction, r.verdict, r.data.to_vec()))
        .collect()
}

#[test]
fn forwarded_frame_is_seen_on_both_ports_as_received_and_as_sent() {
    let mut lab = Lab::new();
    start(&mut lab, &[]);
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false);
    lab.inject(UPLINK, &frame);
    lab.run();
    let sent = lab.sent(TAP1);
    let recs = take(&mut lab);
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(
        recs[0],
        (
            UPLINK,
            Direction::Rx,
            Verdict::Decided(Action::Forward(TAP1)),
            frame.clone()
        ),
        "received bytes are kept as they arrived, before the rewrite"
    );
    assert_eq!(
        recs[1],
        (TAP1, Direction::Tx, Verdict::Sent, sent[0].clone())
    );
    assert_ne!(recs[1].3, frame, "the sent copy is the rewritten frame");
}

#[test]
fn replies_drops_and_originated_frames_carry_their_verdicts() {
    let mut lab = Lab::new();
    start(&mut lab, &[]);
    // Guest 1 spoofs guest 2's address.
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST2, REMOTE, 64, 18, false),
    );
    // Guest 1 to the VLAN: the router asks for the gateway first and queues the frame.
    lab.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    lab.run();
    // who-has guest 1 from the VLAN: answered in place on the uplink.
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.run();
    let recs = take(&mut lab);
    let verdicts: Vec<_> = recs.iter().map(|r| (r.0, r.1, r.2)).collect();
    assert!(verdicts.contains(&(
        UPLINK,
        Direction::Rx,
        Verdict::Decided(Action::Forward(UPLINK))
    )));
    assert!(verdicts.contains(&(UPLINK, Direction::Tx, Verdict::Sent)));
    assert!(verdicts.contains(&(
        TAP1,
        Direction::Rx,
        Verdict::Decided(Action::Drop(DropReason::SpoofedSourceIp))
    )));
    assert!(verdicts.contains(&(TAP1, Direction::Rx, Verdict::Decided(Action::Consumed))));
    assert!(
        verdicts.contains(&(UPLINK, Direction::Tx, Verdict::Originated(true))),
        "the ARP request for the gateway: {verdicts:?}"
    );
}

#[test]
fn port_filter_keeps_only_those_ports() {
    let mut lab = Lab::new();
    start(&mut lab, &[TAP1]);
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false),
    );
    lab.run();
    let recs = take(&mut lab);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!((recs[0].0, recs[0].1), (TAP1, Direction::Tx));
}

#[test]
fn timestamps_are_the_pipelines_clock() {
    let mut lab = Lab::new();
    start(&mut lab, &[]);
    let t0 = lab.now;
    lab.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, 18, false),
    );
    lab.run();
    let batch = lab.pipe.capture_mut().take();
    assert!(batch.records().all(|r| r.time == t0));
}

#[test]
fn capture_changes_nothing_the_router_does_and_off_records_nothing() {
    let traffic = |lab: &mut Lab| {
        for dst in [GUEST1, GUEST2, GUEST3] {
            lab.inject(
                UPLINK,
                &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, dst, 64, 100, false),
            );
        }
        lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST2));
        lab.inject(
            TAP2,
            &udp_frame(MAC2, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
        );
        lab.run();
        lab.sent_all()
    };
    let mut plain = Lab::new();
    let mut watched = Lab::new();
    start(&mut watched, &[]);
    assert_eq!(traffic(&mut plain), traffic(&mut watched));
    for p in [UPLINK, TAP1, TAP2, TAP3] {
        let (a, b) = (
            plain.pipe.router().port_counters(p),
            watched.pipe.router().port_counters(p),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert!(take(&mut watched).len() >= 9);
    // Off: nothing recorded, no buffer.
    assert!(!plain.pipe.capture_mut().is_running());
    assert_eq!(plain.pipe.capture_mut().take().bytes(), 0);
    // Stopped: copying ends.
    let _ = watched.pipe.capture_mut().stop();
    traffic(&mut watched);
    assert_eq!(take(&mut watched).len(), 0);
}
