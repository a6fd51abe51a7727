//! Resolution: parking frames for unresolved neighbors (RFC 1122 2.3.2.2), creating and
//! evicting entries within `max_entries`, and sending requests through the rate limit.

use wire::Ipv4Addr;

use super::{EnqueueDrop, EnqueueOutcome, NeighborCache, NeighborState, Solicit};
use crate::time::Instant;

impl NeighborCache {
    /// Park `frame` (a full Ethernet frame) until `ip` resolves, creating an INCOMPLETE
    /// entry if there is none. See [`EnqueueOutcome`].
    pub fn enqueue(&mut self, ip: Ipv4Addr, frame: &[u8], now: Instant) -> EnqueueOutcome {
        if let Some(mac) = self.lookup(ip, now) {
            return EnqueueOutcome::Resolved(mac);
        }
        let (idx, created) = match self.table.find(ip) {
            Some(idx) => (idx, false),
            None => match self.create(ip, NeighborState::Incomplete, now) {
                Some(idx) => (idx, true),
                None => return EnqueueOutcome::Dropped(EnqueueDrop::CacheFull),
            },
        };
        if self.table.slots[idx].state == NeighborState::Failed {
            self.counters.resolution_failures += 1;
            return EnqueueOutcome::Dropped(EnqueueDrop::ResolutionFailed);
        }
        // INCOMPLETE from here on.
        match self.store(idx, frame) {
            Ok(dropped) => {
                // RFC 1122 2.3.2.1: the first request goes out at once (rate limit
                // permitting); later ones one per retrans_time, from poll.
                let solicit = if created {
                    self.solicit(idx, now)
                } else {
                    None
                };
                EnqueueOutcome::Queued { dropped, solicit }
            }
            // A new entry is due now (deadline = now), so the next poll sends its first
            // request even though this frame could not be kept.
            Err(drop) => {
                if created {
                    self.wake_at(now);
                }
                EnqueueOutcome::Dropped(drop)
            }
        }
    }

    /// Create an entry for `ip` (absent), evicting one if the cache is full: a FAILED entry
    /// first, else the least recently used STALE entry. `None` (counted) if neither exists.
    /// The new entry's deadline is `now`; the caller sets the real one and calls `wake_at`.
    pub(super) fn create(
        &mut self,
        ip: Ipv4Addr,
        state: NeighborState,
        now: Instant,
    ) -> Option<usize> {
        if self.table.len() >= self.config.max_entries {
            let victim = self.eviction_victim();
            match victim {
                Some(idx) => {
                    self.free(idx);
                    self.counters.entries_evicted += 1;
                }
                None => {
                    self.counters.entries_refused += 1;
                    return None;
                }
            }
        }
        self.table.insert(ip, state, now)
    }

    /// A FAILED entry, else the least recently used STALE one.
    fn eviction_victim(&self) -> Option<usize> {
        let mut stale: Option<(usize, Instant)> = None;
        for (idx, e) in self.table.slots.iter().enumerate() {
            if !e.live {
                continue;
            }
            match e.state {
                NeighborState::Failed => return Some(idx),
                NeighborState::Stale if stale.is_none_or(|(_, used)| e.used < used) => {
                    stale = Some((idx, e.used));
                }
                _ => {}
            }
        }
        stale.map(|(idx, _)| idx)
    }

    /// Store a copy of `frame` in slot `idx`'s queue within the per-entry and byte bounds.
    /// Ok(number of older frames dropped) or Err(why the frame was not kept).
    fn store(&mut self, idx: usize, frame: &[u8]) -> Result<u32, EnqueueDrop> {
        let max = self.config.max_queued_bytes;
        let queue_len = self.config.queue_len;
        let e = &mut self.table.slots[idx];
        let mut dropped = 0u32;
        if frame.len() > max {
            self.counters.queue_overflow_drops += 1;
            return Err(EnqueueDrop::NoBuffer);
        }
        // Make room in the byte budget from this neighbor's own oldest frames first
        // (RFC 1122 2.3.2.2: keep the latest).
        while self.queued_bytes + frame.len() > max {
            let Some(n) = e.queue.drop_oldest() else {
                break;
            };
            self.queued_bytes -= n;
            dropped += 1;
        }
        if self.queued_bytes + frame.len() > max {
            self.counters.queue_overflow_drops += u64::from(dropped) + 1;
            return Err(EnqueueDrop::NoBuffer);
        }
        if let Some(n) = e.queue.push(frame, queue_len) {
            self.queued_bytes -= n;
            dropped += 1;
        }
        self.queued_bytes += frame.len();
        self.counters.frames_queued += 1;
        self.counters.queue_overflow_drops += u64::from(dropped);
        Ok(dropped)
    }

    /// Send slot `idx`'s next request if the rate limit allows, else defer it to a later
    /// poll. The entry must be INCOMPLETE (broadcast) or PROBE (unicast).
    pub(super) fn solicit(&mut self, idx: usize, now: Instant) -> Option<Solicit> {
        let e = &mut self.table.slots[idx];
        let unicast = match e.state {
            NeighborState::Probe => Some(e.mac),
            _ => None,
        };
        if self.bucket.try_take(now) {
            e.probes += 1;
            e.deferred = false;
            e.deadline = now + self.config.retrans_time;
            self.counters.requests_sent += 1;
            let deadline = e.deadline;
            let target = e.ip;
            self.wake_at(deadline);
            Some(Solicit { target, unicast })
        } else {
            if !e.deferred {
                e.deferred = true;
                self.counters.requests_rate_limited += 1;
            }
            // Retry when the bucket has a token; with requests disabled (rate 0), retry
            // every retrans_time so a rate change takes effect.
            e.deadline = self
                .bucket
                .next_available(now)
                .unwrap_or(now + self.config.retrans_time);
            let deadline = e.deadline;
            self.wake_at(deadline);
            None
        }
    }
}
