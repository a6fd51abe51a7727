//! Two workers, two pipelines over in-memory ports joined by a handoff mesh, stepped in
//! one thread: the uplink and guest A (tap1) on worker 0 (the home), guest B (tap2) on
//! worker 1 (a follower). Frames cross between them; neighbor resolution and
//! gratuitous ARP happen once; counters add up.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hvrouter_core::drop::DropReason;
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::{mesh, MemPort, Pipeline};
use support::two_workers::{replica, Workers};
use support::*;
use wire::ArpOperation;

fn is_arp(f: &[u8]) -> bool {
    f[12..14] == [0x08, 0x06]
}

#[test]
fn vlan_to_a_guest_on_another_worker() {
    let mut ws = Workers::new(64);
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false);
    ws.inject(UPLINK, &frame);
    ws.step(2);
    let sent = ws.sent(TAP2);
    assert_eq!(sent.len(), 1);
    let ip = parse_ip(&sent[0]);
    assert_eq!((ip.eth.src_addr, ip.eth.dst_addr), (GUEST_SIDE_MAC, MAC2));
    assert_eq!(ip.ttl, 63);
    assert_eq!(&ip.payload[..], &frame[34..]);
    assert_eq!(ws.w[0].handoff_stats().peers[1].handed_out, 1);
    assert_eq!(ws.w[1].handoff_stats().peers[0].handed_in, 1);
    // Received on worker 0's uplink, sent on worker 1's tap2.
    assert_eq!(ws.w[0].router().port_counters(UPLINK).rx_packets, 1);
    assert_eq!(ws.w[1].router().port_counters(TAP2).tx_packets, 1);
    assert_eq!(ws.totals(), (1, 1));
}

#[test]
fn a_follower_guest_to_the_vlan_is_resolved_by_the_home_only() {
    let mut ws = Workers::new(64);
    let frame = udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, REMOTE, 64, 18, false);
    ws.inject(TAP2, &frame);
    ws.step(2);
    // One ARP request, from the home, on the uplink; the datagram waits there.
    let sent = ws.sent(UPLINK);
    assert_eq!(sent.len(), 1, "only the ARP request");
    let (_, arp) = parse_arp(&sent[0]);
    assert_eq!(arp.operation, ArpOperation::Request);
    assert_eq!(arp.target_protocol_addr, GATEWAY);
    // Guest A sends too: same next hop, no second request.
    ws.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    ws.step(2);
    assert!(ws.sent(UPLINK).is_empty());
    // The gateway answers the home: both datagrams leave, decremented once.
    ws.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    ws.step(2);
    let sent = ws.sent(UPLINK);
    assert_eq!(sent.len(), 2);
    for f in &sent {
        let ip = parse_ip(f);
        assert_eq!((ip.eth.src_addr, ip.eth.dst_addr), (UPLINK_MAC, GW_MAC));
        assert_eq!(ip.ttl, 63);
    }
    // Resolved: the next one goes straight through, still one decrement.
    ws.inject(TAP2, &frame);
    ws.step(2);
    let sent = ws.sent(UPLINK);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_ip(&sent[0]).ttl, 63);
    // The follower never touched its neighbor cache; the home's knows the gateway.
    let net = hvrouter_core::NetworkId(0);
    assert!(ws.w[1].router().neighbors(net).unwrap().is_empty());
    assert_eq!(ws.w[0].router().neighbors(net).unwrap().len(), 1);
    assert_eq!(ws.w[1].router().port_counters(UPLINK).arp_sent, 0);
    assert_eq!(ws.w[0].router().port_counters(UPLINK).arp_sent, 1);
    // 4 frames received (3 datagrams, 1 ARP reply), 3 datagrams + 1 request sent.
    assert_eq!(ws.totals(), (4, 4));
}

#[test]
fn guests_on_two_workers_reach_each_other() {
    let mut ws = Workers::new(64);
    ws.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 64, 18, false),
    );
    ws.inject(
        TAP2,
        &udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, GUEST1, 64, 18, false),
    );
    ws.step(2);
    let to_b = ws.sent(TAP2);
    let to_a = ws.sent(TAP1);
    assert_eq!((to_a.len(), to_b.len()), (1, 1));
    let (a, b) = (parse_ip(&to_a[0]), parse_ip(&to_b[0]));
    assert_eq!(
        (a.src, a.dst, a.eth.dst_addr, a.ttl),
        (GUEST2, GUEST1, MAC1, 63)
    );
    assert_eq!(
        (b.src, b.dst, b.eth.dst_addr, b.ttl),
        (GUEST1, GUEST2, MAC2, 63)
    );
    assert!(ws.sent(UPLINK).is_empty());
    assert_eq!(ws.totals(), (2, 2));
}

#[test]
fn an_icmp_error_from_the_follower_and_one_from_the_home_reach_the_guest() {
    let mut ws = Workers::new(64);
    // TTL 1 from guest B: time exceeded, built by the follower, sent to B there.
    ws.inject(
        TAP2,
        &udp_frame(MAC2, GUEST_SIDE_MAC, GUEST2, REMOTE, 1, 18, false),
    );
    // From the VLAN to B with TTL 1: the home answers on the uplink.
    ws.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 1, 18, false),
    );
    ws.step(2);
    let to_b = ws.sent(TAP2);
    assert_eq!(to_b.len(), 1);
    assert_eq!(parse_icmp(&to_b[0]).0, wire::icmpv4::Message::TimeExceeded);
    let up = ws.sent(UPLINK);
    assert_eq!(up.len(), 1);
    assert_eq!(parse_icmp(&up[0]).0, wire::icmpv4::Message::TimeExceeded);
    assert_eq!(ws.drops(DropReason::TtlExceeded), 2);
}

#[test]
fn gratuitous_arp_goes_out_once_as_with_one_worker() {
    // One worker, everything local: the reference.
    let now = Instant::from_secs(1000);
    let mut single = Pipeline::new(replica(now), 32);
    for p in [UPLINK, TAP1, TAP2] {
        single.attach(p, MemPort::new());
    }
    let mut ws = Workers::new(64);
    for name in ["tap1", "tap2"] {
        assert!(single.router_mut().announce_guest(name, now));
        for w in &mut ws.w {
            assert!(w.router_mut().announce_guest(name, now));
        }
    }
    let mut t = now;
    for _ in 0..5 {
        single.run_once(t);
        ws.now = t;
        ws.step(1);
        t = t + Duration::from_secs(1);
    }
    for port in [UPLINK, TAP1, TAP2] {
        let reference = single.port_mut(port).unwrap().take_sent();
        let got = ws.sent(port);
        assert!(!reference.is_empty() && reference.iter().all(|f| is_arp(f)));
        assert_eq!(got, reference, "gratuitous ARP on {port}");
    }
    // Nothing crossed: each worker sent only on its own ports.
    assert_eq!(ws.w[0].handoff_stats().total().handed_out, 0);
    assert_eq!(ws.w[1].handoff_stats().total().handed_out, 0);
    let arp_sent = |p: PortId| -> u64 {
        ws.w.iter()
            .map(|w| w.router().port_counters(p).arp_sent)
            .sum()
    };
    for port in [UPLINK, TAP1, TAP2] {
        assert_eq!(arp_sent(port), single.router().port_counters(port).arp_sent);
    }
}

#[test]
fn a_full_ring_drops_and_counts_handoff_full() {
    let mut ws = Workers::new(4);
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false);
    for _ in 0..10 {
        ws.inject(UPLINK, &frame);
    }
    // Worker 0 alone: its burst of 10 finds room for 4.
    ws.w[0].run_once(ws.now);
    assert_eq!(
        ws.w[0].router().port_counters(UPLINK).drops[DropReason::HandoffFull.index()],
        6
    );
    let s = ws.w[0].handoff_stats().peers[1];
    assert_eq!((s.handed_out, s.dropped), (4, 6));
    ws.w[1].run_once(ws.now);
    assert_eq!(ws.sent(TAP2).len(), 4);
    // Room again once worker 1 took them.
    ws.inject(UPLINK, &frame);
    ws.step(1);
    assert_eq!(ws.sent(TAP2).len(), 1);
    // Every received frame is sent or counted as dropped.
    let (rx, tx) = ws.totals();
    assert_eq!((rx, tx), (11, 5));
    assert_eq!(rx, tx + ws.drops(DropReason::HandoffFull));
}

#[test]
fn a_port_no_worker_owns_is_missing_as_before() {
    let mut ws = Workers::new(4);
    ws.w[0].set_port_owner(TAP2, None);
    ws.inject(
        UPLINK,
        &udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false),
    );
    ws.step(2);
    assert!(ws.sent(TAP2).is_empty());
    assert_eq!(ws.drops(DropReason::EgressPortMissing), 1);
    assert_eq!(ws.drops(DropReason::HandoffFull), 0);
}

#[test]
fn a_datagram_the_home_fragments_reaches_the_followers_guest() {
    let mut ws = Workers::new(64);
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 3000, false);
    ws.inject(UPLINK, &frame);
    ws.step(2);
    let sent = ws.sent(TAP2);
    assert!(sent.len() >= 3, "fragments: {}", sent.len());
    assert!(sent.iter().all(|f| f.len() <= 14 + 1500));
    let (ip, data) = reassemble(&sent);
    assert_eq!((ip.src, ip.dst, ip.ttl), (REMOTE, GUEST2, 63));
    assert_eq!(&data[8..], &frame[42..], "UDP payload whole");
    // Counted as sent on worker 1, which sent them.
    assert_eq!(
        ws.w[1].router().port_counters(TAP2).tx_packets,
        sent.len() as u64
    );
}

#[test]
fn a_follower_guests_tcp_super_frame_is_segmented_by_the_home() {
    let mut ws = Workers::new(64);
    // Resolve the gateway first (from guest A, on the home).
    ws.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    ws.step(1);
    ws.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    ws.step(1);
    assert_eq!(ws.sent(UPLINK).len(), 2, "request and released datagram");
    // A 20 KB super-frame from guest B, checksum partial: the follower hands it whole,
    // the home cuts it to the MTU.
    let payload = 20_000;
    ws.inject(
        TAP2,
        &tcp_partial_frame(MAC2, GUEST_SIDE_MAC, GUEST2, REMOTE, payload),
    );
    ws.step(2);
    let sent = ws.sent(UPLINK);
    assert!(sent.len() >= 14, "segments: {}", sent.len());
    let mut data = Vec::new();
    for f in &sent {
        assert!(f.len() <= 14 + 1500);
        let ip = parse_ip(f);
        assert_eq!((ip.eth.dst_addr, ip.ttl), (GW_MAC, 63));
        data.extend(parse_tcp(f).2);
    }
    assert_eq!(data.len(), payload);
    assert!(data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

#[test]
fn toward_an_uplink_taking_gso_a_followers_super_frame_leaves_whole() {
    let mut ws = Workers::new(64);
    ws.w[0].attach(UPLINK, MemPort::new().with_gso(false));
    ws.inject(
        TAP1,
        &udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, 18, false),
    );
    ws.step(1);
    ws.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    ws.step(1);
    assert_eq!(ws.sent(UPLINK).len(), 2);
    ws.inject(
        TAP2,
        &tcp_partial_frame(MAC2, GUEST_SIDE_MAC, GUEST2, REMOTE, 20_000),
    );
    ws.step(2);
    let gso = ws.w[0].port_mut(UPLINK).unwrap().take_sent_gso();
    assert_eq!(gso.len(), 1, "one GSO send");
    let ip = parse_ip(&gso[0].1);
    assert_eq!((ip.eth.dst_addr, ip.ttl, ip.src), (GW_MAC, 63, GUEST2));
    assert!(ws.sent(UPLINK).is_empty());
}

#[test]
fn two_threads_deliver_every_frame_once() {
    // Worker 0 receives `PASSES` bursts from the VLAN for guest B; worker 1, on its own
    // thread, sends them. The rings hold them all: nothing may be lost or duplicated.
    const PASSES: usize = 200;
    const BURST: usize = 32;
    let total = (PASSES * BURST) as u64;
    let mut ends = mesh(2, PASSES * BURST).into_iter();
    let (e0, e1) = (ends.next().unwrap(), ends.next().unwrap());
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done1 = std::sync::Arc::clone(&done);
    let receiver = std::thread::spawn(move || {
        let now = Instant::from_secs(1000);
        let mut pipe = Pipeline::new(replica(now), BURST);
        pipe.router_mut().set_follower(true);
        let pool = hvrouter_dataplane::MemPool::default();
        pipe.attach(TAP2, MemPort::sink(pool));
        pipe.set_port_owner(UPLINK, Some(0));
        pipe.set_handoff(e1);
        // Liveness bound only (no speed asserted): the sender finishes in well under it.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let finished = done1.load(std::sync::atomic::Ordering::Acquire);
            pipe.run_once(now);
            let sent = pipe.router().port_counters(TAP2).tx_packets;
            if (finished && sent >= total) || std::time::Instant::now() > deadline {
                pipe.run_once(now);
                let c = pipe.router().port_counters(TAP2);
                return (c.tx_packets, pipe.handoff_stats().peers[0]);
            }
        }
    });
    let now = Instant::from_secs(1000);
    let mut home = Pipeline::new(replica(now), BURST);
    let pool = hvrouter_dataplane::MemPool::default();
    home.attach(UPLINK, MemPort::generator(frame, pool.clone()));
    home.set_port_owner(TAP2, Some(1));
    home.set_handoff(e0);
    for _ in 0..PASSES {
        home.run_once(now);
    }
    // Worker 0 is done (it runs no further pass, so receives nothing more).
    done.store(true, std::sync::atomic::Ordering::Release);
    let (sent, stats) = receiver.join().unwrap();
    let c = home.router().port_counters(UPLINK);
    assert_eq!(c.rx_packets, total);
    assert_eq!(c.drops.iter().sum::<u64>(), 0);
    assert_eq!(home.handoff_stats().peers[1].handed_out, total);
    assert_eq!(stats.handed_in, total);
    assert_eq!(sent, total, "every frame sent once by worker 1");
}

#[test]
fn a_worker_blocked_idle_is_woken_by_a_handed_frame() {
    use hvrouter_dataplane::worker::{self, MonotonicClock, PollMode, WorkerConfig};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    let mut ends = mesh(2, 64).into_iter();
    let (e0, e1) = (ends.next().unwrap(), ends.next().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (blocking_tx, blocking_rx) = mpsc::channel();
    let stop1 = Arc::clone(&stop);
    let receiver = std::thread::spawn(move || {
        let clock = MonotonicClock::default();
        let mut pipe = Pipeline::new(replica(clock.now()), 32);
        pipe.router_mut().set_follower(true);
        pipe.attach(TAP2, MemPort::new());
        pipe.set_port_owner(UPLINK, Some(0));
        pipe.set_handoff(e1);
        pipe.enable_handoff_wakeup().unwrap();
        // Interrupt mode, waits of up to a minute: only the doorbell ends one early.
        let config = WorkerConfig {
            mode: PollMode::Interrupt,
            spin_passes: 1,
            max_idle_sleep: Duration::from_secs(60),
            tick: Duration::from_secs(60),
        };
        let mut woken = 0u32;
        worker::run(
            &mut pipe,
            &config,
            &clock,
            &stop1,
            |_, _, _| {},
            |p, wait| {
                let fd = p.handoff_wake_fd().unwrap();
                let _ = blocking_tx.send(());
                if sys::poll::wait_readable(&[fd], wait).unwrap() {
                    woken += 1;
                }
                // Delivered: let the test stop the worker at its next wake.
                if p.router().port_counters(TAP2).tx_packets > 0 {
                    stop1.store(true, Ordering::Relaxed);
                }
            },
        );
        let sent = pipe.port_mut(TAP2).unwrap().take_sent();
        (sent, woken)
    });
    let now = Instant::from_secs(1000);
    let mut home = Pipeline::new(replica(now), 32);
    home.attach(UPLINK, MemPort::new());
    home.set_port_owner(TAP2, Some(1));
    home.set_handoff(e0);
    // Once worker 1 is about to block, hand it a frame.
    blocking_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST2, 64, 18, false);
    home.port_mut(UPLINK).unwrap().inject(&frame);
    home.run_once(now);
    // A second ring after delivery ends the worker's next wait too.
    let _ = blocking_rx.recv_timeout(Duration::from_secs(60));
    home.port_mut(UPLINK).unwrap().inject(&frame);
    home.run_once(now);
    let (sent, woken) = receiver.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(!sent.is_empty(), "the handed frame was sent by worker 1");
    assert_eq!(parse_ip(&sent[0]).dst, GUEST2);
    assert!(woken >= 1, "woken by the doorbell, not by the timeout");
}
