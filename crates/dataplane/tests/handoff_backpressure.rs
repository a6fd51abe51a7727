//! Back-pressure between workers: a worker takes from a peer's handoff ring only what
//! the egress port's transmit ring can take; the rest waits in the ring, and once the
//! ring is full the sender refuses new frames (`handoff_full`) before copying them. A
//! port whose ring stays full does not hold up the frames behind it for long.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hvrouter_core::drop::DropReason;
use hvrouter_dataplane::MemPort;
use support::two_workers::Workers;
use support::*;

fn to_guest2() -> Vec<u8> {
    udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false)
}

#[test]
fn frames_beyond_the_egress_ring_wait_in_the_handoff_ring_instead_of_being_dropped() {
    let mut ws = Workers::new(64);
    ws.w[1].attach(TAP2, MemPort::new().with_tx_ring(8));
    for _ in 0..32 {
        ws.inject(UPLINK, &to_guest2());
    }
    ws.w[0].run_once(ws.now);
    assert_eq!(ws.w[0].handoff_stats().peers[1].handed_out, 32);
    // Each pass of worker 1 takes what its tap's ring can send: 8.
    let mut per_pass = Vec::new();
    for _ in 0..5 {
        ws.w[1].run_once(ws.now);
        per_pass.push(ws.sent(TAP2).len());
    }
    assert_eq!(per_pass, [8, 8, 8, 8, 0]);
    assert_eq!(ws.drops(DropReason::TxRingFull), 0);
    assert_eq!(ws.totals(), (32, 32));
}

#[test]
fn a_held_ring_fills_and_the_sender_refuses_before_copying() {
    let mut ws = Workers::new(16);
    ws.w[1].attach(TAP2, MemPort::new().with_tx_ring(4));
    for _ in 0..16 {
        ws.inject(UPLINK, &to_guest2());
    }
    ws.w[0].run_once(ws.now);
    ws.w[1].run_once(ws.now);
    assert_eq!(ws.sent(TAP2).len(), 4);
    // Twelve still wait in worker 1's ring: with 16 in flight, worker 0 refuses more.
    for _ in 0..8 {
        ws.inject(UPLINK, &to_guest2());
    }
    ws.w[0].run_once(ws.now);
    let uplink = ws.w[0].router().port_counters(UPLINK);
    assert_eq!(uplink.drops[DropReason::HandoffFull.index()], 8);
    // Worker 1 drains the rest, nothing lost on its side.
    for _ in 0..3 {
        ws.w[1].run_once(ws.now);
    }
    assert_eq!(ws.sent(TAP2).len(), 12);
    assert_eq!(ws.drops(DropReason::TxRingFull), 0);
    // Every received frame is sent or counted as dropped.
    assert_eq!(ws.totals(), (24, 16));
    // Room again: frames cross as before.
    ws.inject(UPLINK, &to_guest2());
    ws.step(1);
    assert_eq!(ws.sent(TAP2).len(), 1);
}

#[test]
fn a_port_whose_ring_stays_full_holds_up_others_only_briefly_then_drops() {
    let mut ws = Workers::new(64);
    // Guest A's ring (worker 0) never takes a frame; guest B (worker 1) sends to A and
    // then to a guest of worker 0 whose ring is fine: the VLAN host, through the uplink.
    ws.w[0].attach(TAP1, MemPort::new().with_tx_ring(0));
    let to_a = udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, GUEST1, 64, 18, false);
    let to_vlan = udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, VLAN_HOST, 64, 18, false);
    // The VLAN host resolved first (its reply answers the home's request).
    ws.inject(TAP2, &to_vlan);
    ws.step(2);
    ws.inject(
        UPLINK,
        &is_at(VLAN_HOST_MAC, VLAN_HOST, UPLINK_MAC, ROUTER_SRC),
    );
    ws.step(2);
    assert_eq!(ws.sent(UPLINK).len(), 2, "the request, then the datagram");
    ws.inject(TAP2, &to_a);
    ws.inject(TAP2, &to_vlan);
    ws.w[1].run_once(ws.now);
    // Held: the frame to A waits, and the one to the VLAN behind it.
    ws.w[0].run_once(ws.now);
    assert!(ws.sent(UPLINK).is_empty());
    assert_eq!(ws.drops(DropReason::TxRingFull), 0);
    ws.now = ws.now + Duration::from_millis(1);
    ws.w[0].run_once(ws.now);
    assert_eq!(ws.drops(DropReason::TxRingFull), 0);
    // Full for 2 ms: A's frame is dropped, the VLAN's leaves.
    ws.now = ws.now + Duration::from_millis(1);
    ws.w[0].run_once(ws.now);
    let all = ws.sent(UPLINK);
    let sent = all;
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).dst, VLAN_HOST);
    assert_eq!(
        ws.w[0].router().port_counters(TAP1).drops[DropReason::TxRingFull.index()],
        1
    );
    // Still full: later frames to A are dropped at once, without holding anything up.
    ws.inject(TAP2, &to_a);
    ws.inject(TAP2, &to_vlan);
    ws.w[1].run_once(ws.now);
    ws.w[0].run_once(ws.now);
    assert_eq!(ws.sent(UPLINK).len(), 1);
    assert_eq!(
        ws.w[0].router().port_counters(TAP1).drops[DropReason::TxRingFull.index()],
        2
    );
}
