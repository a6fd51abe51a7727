//! Bounds: request rate, per-destination request spacing, queue and byte bounds,
//! max_entries, eviction.

use std::collections::HashMap;

use super::*;

#[test]
fn burst_of_new_neighbors_is_rate_limited_not_lost() {
    let mut c = cache_with(|cfg| {
        cfg.request_rate = 10;
        cfg.request_burst = 5;
    });
    let mut sent: HashMap<Ipv4Addr, Vec<Instant>> = HashMap::new();
    let mut immediate = 0;
    for n in 1..=20 {
        if let EnqueueOutcome::Queued {
            solicit: Some(s), ..
        } = c.enqueue(ip(n), &frame(n), t(0))
        {
            assert_eq!(s, broadcast(n));
            sent.entry(s.target).or_default().push(t(0));
            immediate += 1;
        }
    }
    // At most `burst` requests at once; the rest deferred (counted once each).
    assert_eq!(immediate, 5);
    assert_eq!(c.counters().requests_rate_limited, 15);
    assert_eq!(poll(&mut c, t(0)).0, vec![]);
    // Then 10/s: the deferred ones go out over the next 1.5 s, none lost.
    let mut now = 0;
    while now <= 20_000 {
        now += 10;
        c.poll(t(now), &mut |s| {
            assert_eq!(s.unicast, None);
            sent.entry(s.target).or_default().push(t(now));
        });
    }
    assert_eq!(sent.len(), 20);
    for (addr, times) in &sent {
        // mcast_probes requests each, and RFC 1122 2.3.2.1: at most 1 per second per
        // destination.
        assert_eq!(times.len(), 3, "{addr}: {times:?}");
        for w in times.windows(2) {
            assert!(
                w[1].saturating_duration_since(w[0]) >= secs(1),
                "{addr}: {times:?}"
            );
        }
    }
    // Every first request within 1.5 s of the burst.
    let last_first = sent.values().map(|v| v[0]).max();
    assert!(last_first <= Some(t(1_500)), "{last_first:?}");
    assert_eq!(c.counters().requests_sent, 60);
    // All unanswered: every frame failed, every entry gone by now.
    assert_eq!(c.counters().resolution_failures, 20);
    assert!(c.is_empty());
}

#[test]
fn rate_zero_defers_requests_until_enabled() {
    let mut c = cache_with(|cfg| cfg.request_rate = 0);
    assert_eq!(
        c.enqueue(ip(1), &frame(1), t(0)),
        EnqueueOutcome::Queued {
            dropped: 0,
            solicit: None
        }
    );
    assert_eq!(poll(&mut c, t(10_000)).0, vec![]);
    // Deferred, not failed: nothing was ever asked.
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Incomplete));
    c.set_request_rate(10, 5, t(10_000));
    assert_eq!(poll(&mut c, t(11_000)).0, vec![broadcast(1)]);
    assert_eq!(c.counters().requests_rate_limited, 1);
}

#[test]
fn failed_hold_keeps_one_request_per_second_across_restart() {
    let mut c = cache();
    let mut times = Vec::new();
    let mut now = 0;
    while now < 20_000 {
        // A flow sends to a dead neighbor every 100 ms.
        if let EnqueueOutcome::Queued {
            solicit: Some(_), ..
        } = c.enqueue(ip(1), &frame(0), t(now))
        {
            times.push(now);
        }
        c.poll(t(now), &mut |_| times.push(now));
        now += 100;
    }
    assert!(times.len() >= 10, "{times:?}");
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= 1_000, "{times:?}");
    }
}

#[test]
fn queue_is_bounded_and_keeps_the_latest() {
    // RFC 1122 2.3.2.2: "SHOULD save ... at least one (the latest) packet".
    let mut c = cache();
    let mut dropped = Vec::new();
    for tag in 1..=5 {
        match c.enqueue(ip(1), &frame(tag), t(0)) {
            EnqueueOutcome::Queued { dropped: d, .. } => dropped.push(d),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(dropped, vec![0, 0, 0, 1, 1]);
    assert_eq!(c.get(ip(1), t(0)).map(|i| i.queued), Some(3));
    assert_eq!(c.queued_bytes(), 180);
    assert_eq!(c.counters().frames_queued, 5);
    assert_eq!(c.counters().queue_overflow_drops, 2);
    let _ = c.handle_arp(ip(1), mac(1), ArpKind::Reply, true, t(10));
    assert_eq!(drain(&mut c, ip(1), mac(1)), vec![3, 4, 5]);
}

#[test]
fn byte_budget_bounds_queued_frames() {
    let mut c = cache_with(|cfg| cfg.max_queued_bytes = 150);
    // Larger than the whole budget: refused outright, the request still goes out.
    assert_eq!(
        c.enqueue(ip(1), &[0u8; 151], t(0)),
        EnqueueOutcome::Dropped(EnqueueDrop::NoBuffer)
    );
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Incomplete));
    assert_eq!(poll(&mut c, t(0)).0, vec![broadcast(1)]);
    // Two 60-byte frames fit; a third for the same neighbor pushes out its oldest.
    let _ = c.enqueue(ip(2), &frame(1), t(0));
    let _ = c.enqueue(ip(2), &frame(2), t(0));
    assert_eq!(
        c.enqueue(ip(2), &frame(3), t(0)),
        EnqueueOutcome::Queued {
            dropped: 1,
            solicit: None
        }
    );
    assert_eq!(c.queued_bytes(), 120);
    // Another neighbor cannot take what ip(2) holds.
    assert_eq!(
        c.enqueue(ip(3), &frame(9), t(0)),
        EnqueueOutcome::Dropped(EnqueueDrop::NoBuffer)
    );
    assert_eq!(c.queued_bytes(), 120);
    let _ = c.handle_arp(ip(2), mac(2), ArpKind::Reply, true, t(10));
    assert_eq!(drain(&mut c, ip(2), mac(2)), vec![2, 3]);
    assert_eq!(c.queued_bytes(), 0);
}

#[test]
fn max_entries_refuses_when_nothing_evictable() {
    let mut c = cache_with(|cfg| cfg.max_entries = 3);
    for n in 1..=3 {
        let _ = c.enqueue(ip(n), &frame(n), t(0));
    }
    // INCOMPLETE entries (with waiting frames) are never evicted.
    assert_eq!(
        c.enqueue(ip(4), &frame(4), t(0)),
        EnqueueOutcome::Dropped(EnqueueDrop::CacheFull)
    );
    assert_eq!(
        c.handle_arp(ip(5), mac(5), ArpKind::Request, true, t(0)),
        LearnOutcome::IgnoredFull
    );
    assert_eq!(c.len(), 3);
    assert_eq!(c.counters().entries_refused, 2);
}

#[test]
fn max_entries_evicts_failed_first_then_oldest_stale() {
    let mut c = cache_with(|cfg| cfg.max_entries = 3);
    learn_stale(&mut c, 1, t(0));
    learn_stale(&mut c, 2, t(100));
    let _ = c.enqueue(ip(3), &frame(3), t(0));
    for ms in [1_000, 2_000, 3_000] {
        poll(&mut c, t(ms));
    }
    assert_eq!(state(&c, ip(3)), Some(NeighborState::Failed));
    // Full: the FAILED entry goes first, although STALE ones are older.
    assert!(matches!(
        c.enqueue(ip(4), &frame(4), t(3_100)),
        EnqueueOutcome::Queued { .. }
    ));
    assert_eq!(state(&c, ip(3)), None);
    assert_eq!(state(&c, ip(1)), Some(NeighborState::Stale));
    // Then the least recently used STALE entry.
    let _ = c.handle_arp(ip(5), mac(5), ArpKind::Request, true, t(3_200));
    assert_eq!(state(&c, ip(1)), None);
    assert_eq!(state(&c, ip(2)), Some(NeighborState::Stale));
    assert_eq!(state(&c, ip(5)), Some(NeighborState::Stale));
    assert_eq!(c.counters().entries_evicted, 2);
    assert_eq!(c.len(), 3);
}

#[test]
fn table_stays_bounded_under_churn() {
    let mut c = cache_with(|cfg| {
        cfg.max_entries = 16;
        cfg.request_rate = 1_000;
        cfg.request_burst = 1_000;
    });
    let mut now = 0;
    for round in 0..50u8 {
        for n in 1..=40u8 {
            let addr = Ipv4Addr::new(198, 51, 100 + round % 3, n);
            let _ = c.enqueue(addr, &frame(n), t(now));
            let _ = c.handle_arp(addr, mac(n), ArpKind::Request, true, t(now));
            assert!(c.len() <= 16);
        }
        now += 700;
        poll(&mut c, t(now));
    }
    let total: usize = NeighborState::ALL
        .iter()
        .map(|&s| c.state_counts().get(s))
        .sum();
    assert_eq!(total, c.len());
    let queued: usize = c.iter(t(now)).map(|i| i.queued).sum();
    assert_eq!(c.queued_bytes(), queued * 60);
}
