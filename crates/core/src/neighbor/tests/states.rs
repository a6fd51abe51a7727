//! Every state transition, with a fake clock.

use super::*;

#[test]
fn incomplete_retransmits_then_fails_and_drops_queue() {
    let mut c = cache();
    // RFC 1122 2.3.2.1: the first request goes out at once...
    let out = c.enqueue(ip(1), &frame(1), t(0));
    assert_eq!(
        out,
        EnqueueOutcome::Queued {
            dropped: 0,
            solicit: Some(broadcast(1))
        }
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Incomplete));
    assert_eq!(c.lookup(ip(1), t(0)), None);
    // ...and more frames for it do not send more requests.
    assert_eq!(
        c.enqueue(ip(1), &frame(2), t(500)),
        EnqueueOutcome::Queued {
            dropped: 0,
            solicit: None
        }
    );
    assert_eq!(c.next_deadline(), Some(t(1_000)));
    assert_eq!(poll(&mut c, t(999)).0, vec![]);
    // One request per retrans_time (1 s), mcast_probes (3) in all.
    assert_eq!(poll(&mut c, t(1_000)).0, vec![broadcast(1)]);
    assert_eq!(poll(&mut c, t(1_500)).0, vec![]);
    assert_eq!(poll(&mut c, t(2_000)).0, vec![broadcast(1)]);
    assert_eq!(c.get(ip(1), t(2_000)).map(|i| i.probes), Some(3));
    // The third goes unanswered for retrans_time: FAILED, queue dropped.
    assert_eq!(poll(&mut c, t(2_999)).1, PollStats::default());
    let (sent, stats) = poll(&mut c, t(3_000));
    assert_eq!(sent, vec![]);
    assert_eq!(
        stats,
        PollStats {
            solicits: 0,
            failed: 1,
            frames_dropped: 2,
            removed: 0
        }
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Failed));
    assert_eq!(c.queued_bytes(), 0);
    assert_eq!(c.counters().resolution_failures, 2);
    assert_eq!(c.counters().entries_failed, 1);
    assert_eq!(c.counters().requests_sent, 3);
}

#[test]
fn failed_entry_drops_frames_during_hold_then_expires() {
    let mut c = cache();
    let _ = c.enqueue(ip(1), &frame(1), t(0));
    for ms in [1_000, 2_000, 3_000] {
        poll(&mut c, t(ms));
    }
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Failed));
    // While held, frames fail at once and no request is sent.
    assert_eq!(
        c.enqueue(ip(1), &frame(2), t(3_500)),
        EnqueueOutcome::Dropped(EnqueueDrop::ResolutionFailed)
    );
    assert_eq!(c.lookup(ip(1), t(3_500)), None);
    assert_eq!(c.counters().resolution_failures, 2);
    // failed_hold (1 s) later the entry is gone...
    assert_eq!(poll(&mut c, t(3_999)).1.removed, 0);
    assert_eq!(poll(&mut c, t(4_000)).1.removed, 1);
    assert_eq!(state(&c, ip(1)), None);
    // ...and resolution starts over, 2 s after the previous request (1 per second).
    assert_eq!(
        c.enqueue(ip(1), &frame(3), t(4_000)),
        EnqueueOutcome::Queued {
            dropped: 0,
            solicit: Some(broadcast(1))
        }
    );
}

#[test]
fn reply_resolves_and_releases_queue_in_order() {
    let mut c = cache();
    for tag in 1..=3 {
        let _ = c.enqueue(ip(1), &frame(tag), t(0));
    }
    // Nothing is released before resolution.
    assert_eq!(drain(&mut c, ip(1), mac(1)), Vec::<u8>::new());
    let out = c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(300));
    assert_eq!(
        out,
        LearnOutcome::Resolved {
            mac: mac(1),
            queued: 3
        }
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    // FIFO, each frame rewritable in place.
    assert_eq!(drain(&mut c, ip(1), mac(1)), vec![1, 2, 3]);
    assert_eq!(drain(&mut c, ip(1), mac(1)), Vec::<u8>::new());
    assert_eq!(c.queued_bytes(), 0);
    assert_eq!(c.lookup(ip(1), t(300)), Some(mac(1)));
    // No more retransmissions once resolved.
    assert_eq!(poll(&mut c, t(1_000)).0, vec![]);
    assert_eq!(c.counters().replies_learned, 1);
    // enqueue on a resolved neighbor says so instead of storing.
    assert_eq!(
        c.enqueue(ip(1), &frame(9), t(400)),
        EnqueueOutcome::Resolved(mac(1))
    );
}

#[test]
fn reachable_becomes_stale_after_reachable_time() {
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    // next_deadline is a lower bound (it still has the retransmission that the reply
    // made unnecessary); a poll makes it exact.
    assert_eq!(c.next_deadline(), Some(t(1_000)));
    assert_eq!(poll(&mut c, t(1_000)).1, PollStats::default());
    assert_eq!(c.next_deadline(), Some(t(30_000)));
    poll(&mut c, t(29_999));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    poll(&mut c, t(30_000));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    // STALE is still usable; using it starts verification (DELAY).
    assert_eq!(c.lookup(ip(1), t(31_000)), Some(mac(1)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
}

#[test]
fn reachable_used_recently_goes_straight_to_delay() {
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    assert_eq!(c.lookup(ip(1), t(27_000)), Some(mac(1)));
    poll(&mut c, t(30_000));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
}

#[test]
fn reachable_expiry_is_seen_by_lookup_without_poll() {
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    assert_eq!(c.lookup(ip(1), t(40_000)), Some(mac(1)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
    assert!(c.next_deadline().is_some_and(|d| d <= t(45_000)));
    assert_eq!(poll(&mut c, t(45_000)).0, vec![unicast(1)]);
}

#[test]
fn delay_probes_by_unicast_then_fails() {
    let mut c = cache();
    learn_stale(&mut c, 1, t(0));
    assert_eq!(c.lookup(ip(1), t(10_000)), Some(mac(1)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Delay));
    assert_eq!(poll(&mut c, t(14_999)).0, vec![]);
    // delay_first_probe_time (5 s) without confirmation: PROBE, unicast to the known MAC.
    assert_eq!(poll(&mut c, t(15_000)).0, vec![unicast(1)]);
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Probe));
    // PROBE still forwards.
    assert_eq!(c.lookup(ip(1), t(15_500)), Some(mac(1)));
    assert_eq!(poll(&mut c, t(16_000)).0, vec![unicast(1)]);
    assert_eq!(poll(&mut c, t(17_000)).0, vec![unicast(1)]);
    // ucast_probes (3) unanswered: FAILED; forwarding stops.
    let (sent, stats) = poll(&mut c, t(18_000));
    assert_eq!((sent, stats.failed), (vec![], 1));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Failed));
    assert_eq!(c.lookup(ip(1), t(18_000)), None);
    assert_eq!(poll(&mut c, t(19_000)).1.removed, 1);
    assert!(c.is_empty());
}

#[test]
fn reply_during_probe_makes_reachable() {
    let mut c = cache();
    learn_stale(&mut c, 1, t(0));
    let _ = c.lookup(ip(1), t(0));
    assert_eq!(poll(&mut c, t(5_000)).0, vec![unicast(1)]);
    let out = c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(5_010));
    assert_eq!(out, LearnOutcome::Updated { mac_changed: false });
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    assert_eq!(poll(&mut c, t(6_000)).0, vec![]);
    assert_eq!(c.next_deadline(), Some(t(35_010)));
}

#[test]
fn confirmation_in_delay_avoids_probing() {
    let mut c = cache();
    learn_stale(&mut c, 1, t(0));
    let _ = c.lookup(ip(1), t(0));
    assert!(c.confirm(ip(1), t(2_000)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    assert_eq!(poll(&mut c, t(5_000)).0, vec![]);
    assert_eq!(poll(&mut c, t(31_999)).0, vec![]);
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    assert_eq!(poll(&mut c, t(32_000)).0, vec![]);
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    // Unknown or unresolved addresses cannot be confirmed.
    assert!(!c.confirm(ip(9), t(0)));
    let _ = c.enqueue(ip(2), &frame(0), t(0));
    assert!(!c.confirm(ip(2), t(0)));
}

#[test]
fn confirmation_while_stale_counts_when_used() {
    // Linux: confirming a STALE entry only records the time; the DELAY timer then finds
    // it recent and returns to REACHABLE without probing.
    let mut c = cache();
    learn_stale(&mut c, 1, t(0));
    assert!(c.confirm(ip(1), t(1_000)));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    let _ = c.lookup(ip(1), t(2_000));
    assert_eq!(poll(&mut c, t(7_000)).0, vec![]);
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    poll(&mut c, t(31_000));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
}

#[test]
fn confirm_extends_reachable() {
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    assert!(c.confirm(ip(1), t(20_000)));
    poll(&mut c, t(30_000));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Reachable));
    poll(&mut c, t(50_000));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
}

#[test]
fn stale_entries_collected_only_above_threshold() {
    let mut c = cache_with(|cfg| cfg.gc_threshold = 2);
    for n in 1..=3 {
        learn_stale(&mut c, n, t(0));
    }
    assert_eq!(poll(&mut c, t(59_999)).1.removed, 0);
    // 60 s idle: collected while more than gc_threshold entries remain.
    let stats = poll(&mut c, t(60_000)).1;
    assert_eq!(stats.removed, 1);
    assert_eq!(c.len(), 2);
    // At the threshold, STALE entries stay however old.
    assert_eq!(poll(&mut c, t(600_000)).1.removed, 0);
    assert_eq!(c.len(), 2);
}

#[test]
fn stale_entries_kept_in_small_cache() {
    let mut c = cache();
    learn_stale(&mut c, 1, t(0));
    poll(&mut c, t(3_600_000));
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    assert_eq!(c.lookup(ip(1), t(3_600_000)), Some(mac(1)));
}

#[test]
fn poll_is_a_no_op_before_next_deadline() {
    let mut c = cache();
    assert_eq!(c.next_deadline(), None);
    let _ = c.enqueue(ip(1), &frame(0), t(0));
    let _ = c.enqueue(ip(2), &frame(0), t(300));
    assert_eq!(c.next_deadline(), Some(t(1_000)));
    assert_eq!(poll(&mut c, t(1_000)).0, vec![broadcast(1)]);
    assert_eq!(c.next_deadline(), Some(t(1_300)));
    assert_eq!(poll(&mut c, t(1_300)).0, vec![broadcast(2)]);
}
