//! Neighbor cache tests. Time is a fake clock: `t(ms)`.

mod learning;
mod limits;
mod states;

use std::time::Duration;

use wire::{EthernetAddress, Ipv4Addr};

use super::*;
use crate::time::Instant;

pub(super) fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, n)
}

pub(super) fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

pub(super) fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn cache() -> NeighborCache {
    NeighborCache::new(NeighborConfig::default(), t(0))
}

pub(super) fn cache_with(f: impl FnOnce(&mut NeighborConfig)) -> NeighborCache {
    let mut cfg = NeighborConfig::default();
    f(&mut cfg);
    NeighborCache::new(cfg, t(0))
}

/// A 60-byte Ethernet frame whose byte 14 (first payload byte) is `tag`.
pub(super) fn frame(tag: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[14] = tag;
    f
}

pub(super) fn poll(c: &mut NeighborCache, now: Instant) -> (Vec<Solicit>, PollStats) {
    let mut out = Vec::new();
    let stats = c.poll(now, &mut |s| out.push(s));
    (out, stats)
}

pub(super) fn state(c: &NeighborCache, addr: Ipv4Addr) -> Option<NeighborState> {
    c.get(addr, Instant::ZERO).map(|i| i.state)
}

pub(super) fn broadcast(n: u8) -> Solicit {
    Solicit {
        target: ip(n),
        unicast: None,
    }
}

pub(super) fn unicast(n: u8) -> Solicit {
    Solicit {
        target: ip(n),
        unicast: Some(mac(n)),
    }
}

/// Drain `addr`'s queue, writing `dst` into each frame's destination MAC; returns the
/// frames' tags in release order.
pub(super) fn drain(c: &mut NeighborCache, addr: Ipv4Addr, dst: EthernetAddress) -> Vec<u8> {
    let mut tags = Vec::new();
    c.drain_queue(addr, |f| {
        f[..6].copy_from_slice(dst.as_bytes());
        assert_eq!(&f[..6], dst.as_bytes());
        tags.push(f[14]);
    });
    tags
}

/// Make `ip(n)` REACHABLE with `mac(n)` at `now`: enqueue a frame, answer the request.
pub(super) fn resolve(c: &mut NeighborCache, n: u8, now: Instant) {
    let out = c.enqueue(ip(n), &frame(0), now);
    assert!(matches!(out, EnqueueOutcome::Queued { .. }), "{out:?}");
    let learned = c.handle_arp(ip(n), mac(n), ArpKind::Reply, true, now);
    assert!(
        matches!(learned, LearnOutcome::Resolved { .. }),
        "{learned:?}"
    );
    drain(c, ip(n), mac(n));
    assert_eq!(state(c, ip(n)), Some(NeighborState::Reachable));
}

/// Make `ip(n)` STALE with `mac(n)` at `now`, from a request addressed to us.
pub(super) fn learn_stale(c: &mut NeighborCache, n: u8, now: Instant) {
    let learned = c.handle_arp(ip(n), mac(n), ArpKind::Request, true, now);
    assert_eq!(learned, LearnOutcome::Created);
    assert_eq!(state(c, ip(n)), Some(NeighborState::Stale));
}

#[test]
fn config_defaults_and_validation() {
    let cfg = NeighborConfig::default();
    assert_eq!(cfg.validate(), Ok(()));
    assert_eq!(cfg.reachable_time, secs(30));
    assert_eq!(cfg.queue_len, 3);
    let bad = NeighborConfig {
        queue_len: 0,
        ..NeighborConfig::default()
    };
    assert_eq!(bad.validate(), Err(NeighborConfigError::QueueLenZero));
    // new() adjusts rather than fails: a zero-length queue still keeps the latest frame.
    let mut c = NeighborCache::new(bad, t(0));
    assert_eq!(c.config().queue_len, 1);
    assert!(matches!(
        c.enqueue(ip(1), &frame(1), t(0)),
        EnqueueOutcome::Queued { dropped: 0, .. }
    ));
    assert!(matches!(
        c.enqueue(ip(1), &frame(2), t(0)),
        EnqueueOutcome::Queued { dropped: 1, .. }
    ));
}

#[test]
fn introspection_lists_entries_and_counts_states() {
    let mut c = cache();
    resolve(&mut c, 1, t(0));
    learn_stale(&mut c, 2, t(0));
    let _ = c.enqueue(ip(3), &frame(7), t(0));
    let _ = c.enqueue(ip(3), &frame(8), t(0));

    let counts = c.state_counts();
    assert_eq!(
        (counts.reachable, counts.stale, counts.incomplete),
        (1, 1, 1)
    );
    assert_eq!(counts.get(NeighborState::Failed), 0);
    assert_eq!(c.len(), 3);

    let mut rows: Vec<NeighborInfo> = c.iter(t(2_500)).collect();
    rows.sort_by_key(|r| r.ip);
    assert_eq!(rows[0].mac, Some(mac(1)));
    assert_eq!(rows[0].age, Duration::from_millis(2_500));
    assert_eq!(rows[2].state, NeighborState::Incomplete);
    assert_eq!(rows[2].mac, None);
    assert_eq!(rows[2].queued, 2);
    assert_eq!(rows[2].probes, 1);
    assert_eq!(NeighborState::Incomplete.to_string(), "INCOMPLETE");

    // remove/flush report the frames they discard.
    assert_eq!(c.remove(ip(3)), Some(2));
    assert_eq!(c.remove(ip(3)), None);
    assert_eq!(c.queued_bytes(), 0);
    let _ = c.enqueue(ip(4), &frame(9), t(0));
    assert_eq!(c.flush(), 1);
    assert!(c.is_empty());
    assert_eq!(c.counters().frames_flushed, 3);
    assert_eq!(c.next_deadline(), None);
}
