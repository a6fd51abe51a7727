//! Timers: retransmissions, aging, probing, failure and garbage collection.
//!
//! RFC 1122 2.3.2.1 lists ways to age cache entries; like Linux we combine "(1) Timeout --
//! Periodically time out cache entries, even if they are in use", "(2) Unicast Poll --
//! Actively poll the remote host by periodically sending a point-to-point ARP Request to
//! it, and delete the entry if no ARP Reply is received from N successive polls" and
//! "(4) Higher-layer advice" ([`NeighborCache::confirm`]).

use super::{NeighborCache, NeighborState, PollStats, Solicit, NEVER};
use crate::time::Instant;

impl NeighborCache {
    /// Run the timers due at `now`, handing the ARP requests to send to `out`. Cheap when
    /// nothing is due (one comparison); otherwise one pass over the entries.
    ///
    /// - INCOMPLETE: a broadcast request every `retrans_time`; after `mcast_probes`
    ///   unanswered ones, FAILED (queued frames dropped, reported in the stats).
    /// - REACHABLE: after `reachable_time` without confirmation, DELAY if used in the last
    ///   `delay_first_probe_time`, else STALE (Linux).
    /// - DELAY: after `delay_first_probe_time`, REACHABLE if confirmed meanwhile, else PROBE.
    /// - PROBE: a unicast request to the known MAC every `retrans_time`; after
    ///   `ucast_probes` unanswered ones, FAILED.
    /// - FAILED: removed after `failed_hold`.
    /// - STALE: removed when unused for `gc_stale_time` while the cache holds more than
    ///   `gc_threshold` entries.
    ///
    /// A request the rate limit holds back stays due and is retried by a later poll;
    /// deferred requests are served round-robin.
    pub fn poll(&mut self, now: Instant, out: &mut impl FnMut(Solicit)) -> PollStats {
        let mut stats = PollStats::default();
        if now < self.next_deadline {
            return stats;
        }
        self.next_deadline = NEVER;
        let n = self.table.slots.len();
        let start = if self.cursor < n { self.cursor } else { 0 };
        let mut deferred_at = None;
        for k in 0..n {
            let idx = (start + k) % n;
            let e = &self.table.slots[idx];
            if !e.live {
                continue;
            }
            if now >= e.deadline {
                self.fire(idx, now, out, &mut stats);
                let e = &self.table.slots[idx];
                if e.live && e.deferred && deferred_at.is_none() {
                    deferred_at = Some(idx);
                }
            }
            let e = &self.table.slots[idx];
            if e.live {
                let deadline = e.deadline;
                self.wake_at(deadline);
            }
        }
        self.cursor = deferred_at.unwrap_or(0);
        stats
    }

    /// The latest instant by which [`NeighborCache::poll`] must run; `None` if no timer is
    /// pending. May be earlier than needed, never later.
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.next_deadline != NEVER).then_some(self.next_deadline)
    }

    /// Handle slot `idx`'s due timer.
    fn fire(
        &mut self,
        idx: usize,
        now: Instant,
        out: &mut impl FnMut(Solicit),
        stats: &mut PollStats,
    ) {
        let cfg = &self.config;
        let len = self.table.len();
        let e = &mut self.table.slots[idx];
        match e.state {
            NeighborState::Incomplete => {
                if e.probes >= cfg.mcast_probes {
                    self.fail(idx, now, stats);
                } else {
                    self.send(idx, now, out, stats);
                }
            }
            NeighborState::Reachable => {
                e.updated = now;
                if now < e.used + cfg.delay_first_probe_time {
                    e.state = NeighborState::Delay;
                    e.deadline = now + cfg.delay_first_probe_time;
                } else {
                    e.state = NeighborState::Stale;
                    e.deadline = e.used.max(now) + cfg.gc_stale_time;
                }
            }
            NeighborState::Delay => match e.confirmed {
                Some(c) if now < c + cfg.reachable_time => {
                    e.state = NeighborState::Reachable;
                    e.updated = now;
                    e.deadline = c + cfg.reachable_time;
                }
                _ => {
                    e.state = NeighborState::Probe;
                    e.updated = now;
                    e.probes = 0;
                    self.probe(idx, now, out, stats);
                }
            },
            NeighborState::Probe => self.probe(idx, now, out, stats),
            NeighborState::Stale => {
                let idle_until = e.used + cfg.gc_stale_time;
                if now >= idle_until && len > cfg.gc_threshold {
                    self.free(idx);
                    stats.removed += 1;
                } else if now < idle_until {
                    e.deadline = idle_until;
                } else {
                    // Idle, but the cache is small: look again later.
                    e.deadline = now + cfg.gc_stale_time;
                }
            }
            NeighborState::Failed => {
                self.free(idx);
                stats.removed += 1;
            }
        }
    }

    /// PROBE: the next unicast request, or FAILED after `ucast_probes`.
    fn probe(
        &mut self,
        idx: usize,
        now: Instant,
        out: &mut impl FnMut(Solicit),
        stats: &mut PollStats,
    ) {
        if self.table.slots[idx].probes >= self.config.ucast_probes {
            self.fail(idx, now, stats);
        } else {
            self.send(idx, now, out, stats);
        }
    }

    fn send(
        &mut self,
        idx: usize,
        now: Instant,
        out: &mut impl FnMut(Solicit),
        stats: &mut PollStats,
    ) {
        if let Some(s) = self.solicit(idx, now) {
            stats.solicits += 1;
            out(s);
        }
    }

    /// Resolution failed: drop the queued frames, hold the entry for `failed_hold`.
    fn fail(&mut self, idx: usize, now: Instant, stats: &mut PollStats) {
        let e = &mut self.table.slots[idx];
        e.state = NeighborState::Failed;
        e.updated = now;
        e.deferred = false;
        e.deadline = now + self.config.failed_hold;
        let (frames, bytes) = e.queue.clear();
        self.queued_bytes -= bytes;
        self.counters.entries_failed += 1;
        self.counters.resolution_failures += frames as u64;
        stats.failed += 1;
        stats.frames_dropped += u32::try_from(frames).unwrap_or(u32::MAX);
    }
}
