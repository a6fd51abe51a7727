//! The uplink's ARP cache: one per network (VLAN), modelled on RFC 1122 2.3.2 and on
//! Linux's neighbour state machine (`net/core/neighbour.c`, `net/ipv4/arp.c`).
//!
//! ```text
//!              enqueue (no entry)               reply for us
//!   (absent) ------------------> INCOMPLETE ------------------------> REACHABLE
//!      |                          |  mcast_probes broadcast requests     |  reachable_time
//!      | request for us           |  unanswered                          v  (unconfirmed)
//!      +-----------------------> STALE <---------------------------- (REACHABLE)
//!                                 |  used by forwarding (lookup)
//!                                 v
//!                               DELAY --- delay_first_probe_time, still unconfirmed ---> PROBE
//!                                                         ucast_probes unicast requests  |
//!   INCOMPLETE / PROBE unanswered ---> FAILED --- failed_hold ---> (removed)  <----------+
//! ```
//!
//! - [`NeighborCache::lookup`] is the forwarding hot path: one hash probe, no allocation.
//! - [`NeighborCache::enqueue`] parks a frame for an unresolved neighbor (RFC 1122 2.3.2.2)
//!   and says whether to send an ARP request now.
//! - [`NeighborCache::handle_arp`] learns from received ARP under strict rules: the VLAN
//!   is shared with hosts we do not fully trust.
//! - [`NeighborCache::poll`] runs the timers and emits the requests ([`Solicit`]).
//!
//! All requests go through one token bucket per cache, and per neighbor at most one
//! request is sent per `retrans_time` (RFC 1122 2.3.2.1: "A mechanism to prevent ARP
//! flooding (repeatedly sending an ARP Request for the same IP address, at a high rate)
//! MUST be included. The recommended maximum rate is 1 per second per destination.").
//!
//! No clock reads: every method takes `now`.

mod config;
mod learn;
mod outcome;
mod queue;
mod resolve;
mod table;
mod timers;

#[cfg(test)]
mod tests;

use core::fmt;
use std::time::Duration;

use wire::{EthernetAddress, Ipv4Addr};

use crate::ratelimit::TokenBucket;
use crate::time::Instant;

pub use config::{NeighborConfig, NeighborConfigError};
pub use outcome::{
    ArpKind, EnqueueDrop, EnqueueOutcome, LearnOutcome, NeighborCounters, NeighborInfo, PollStats,
    Solicit, StateCounts,
};
use table::Table;
pub use table::{NeighborBuildHasher, NeighborHasher};

/// State of a neighbor entry (Linux's NUD_* states).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NeighborState {
    /// Resolution in progress: broadcast requests are being sent, frames wait in the queue.
    Incomplete,
    /// Confirmed recently (within `reachable_time`): use without further checks.
    Reachable,
    /// Known MAC, not confirmed recently. Still used; using it starts verification.
    Stale,
    /// Used while stale: waiting `delay_first_probe_time` for a confirmation before
    /// probing.
    Delay,
    /// Sending unicast requests to the known MAC to verify it.
    Probe,
    /// Resolution failed: frames are dropped until the entry expires (`failed_hold`).
    Failed,
}

impl NeighborState {
    /// Every state, in display order.
    pub const ALL: [NeighborState; 6] = [
        NeighborState::Incomplete,
        NeighborState::Reachable,
        NeighborState::Stale,
        NeighborState::Delay,
        NeighborState::Probe,
        NeighborState::Failed,
    ];

    /// Name as `ip neigh` prints it.
    pub const fn name(self) -> &'static str {
        match self {
            NeighborState::Incomplete => "INCOMPLETE",
            NeighborState::Reachable => "REACHABLE",
            NeighborState::Stale => "STALE",
            NeighborState::Delay => "DELAY",
            NeighborState::Probe => "PROBE",
            NeighborState::Failed => "FAILED",
        }
    }

    /// Whether the entry has a usable MAC (Linux's NUD_VALID).
    pub const fn has_mac(self) -> bool {
        matches!(
            self,
            NeighborState::Reachable
                | NeighborState::Stale
                | NeighborState::Delay
                | NeighborState::Probe
        )
    }
}

impl fmt::Display for NeighborState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// "No deadline": later than any real instant.
const NEVER: Instant = Instant::from_nanos(u64::MAX);

/// The ARP cache of one network's uplink.
#[derive(Debug)]
pub struct NeighborCache {
    config: NeighborConfig,
    table: Table,
    bucket: TokenBucket,
    counters: NeighborCounters,
    /// Bytes of frames queued across all entries.
    queued_bytes: usize,
    /// No entry's deadline is earlier than this (it may be earlier than the earliest).
    next_deadline: Instant,
    /// Slot where the next poll starts, so deferred requests are served round-robin.
    cursor: usize,
}

impl NeighborCache {
    /// An empty cache. Values [`NeighborConfig::validate`] rejects are adjusted to the
    /// nearest working one (queue_len 1, retrans_time 1 ms).
    pub fn new(mut config: NeighborConfig, now: Instant) -> NeighborCache {
        config.queue_len = config.queue_len.max(1);
        config.retrans_time = config.retrans_time.max(Duration::from_millis(1));
        let bucket = TokenBucket::new(config.request_rate, config.request_burst, now);
        NeighborCache {
            table: Table::new(config.max_entries),
            config,
            bucket,
            counters: NeighborCounters::default(),
            queued_bytes: 0,
            next_deadline: NEVER,
            cursor: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &NeighborConfig {
        &self.config
    }

    /// Running totals.
    pub fn counters(&self) -> &NeighborCounters {
        &self.counters
    }

    /// Change the request rate limit.
    pub fn set_request_rate(&mut self, rate_per_sec: u32, burst: u32, now: Instant) {
        self.config.request_rate = rate_per_sec;
        self.config.request_burst = burst;
        self.bucket.set_rate(rate_per_sec, burst, now);
    }

    /// Entries in the cache.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the cache has no entries.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Bytes of frames queued across all entries.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The MAC to forward a frame for `ip` to, if known (REACHABLE, STALE, DELAY, PROBE).
    /// Marks the entry used; a used STALE entry moves to DELAY (Linux `neigh_event_send`),
    /// so the neighbor is verified soon. `None`: call [`NeighborCache::enqueue`].
    #[inline(always)]
    pub fn lookup(&mut self, ip: Ipv4Addr, now: Instant) -> Option<EthernetAddress> {
        let e = self.table.get_mut(ip)?;
        match e.state {
            NeighborState::Reachable if now < e.deadline => {
                e.used = now;
                Some(e.mac)
            }
            NeighborState::Delay | NeighborState::Probe => {
                e.used = now;
                Some(e.mac)
            }
            // A REACHABLE entry whose timer is due (poll not run yet) is stale, and now used.
            NeighborState::Reachable | NeighborState::Stale => {
                e.used = now;
                e.state = NeighborState::Delay;
                e.updated = now;
                e.deadline = now + self.config.delay_first_probe_time;
                let (mac, deadline) = (e.mac, e.deadline);
                self.wake_at(deadline);
                Some(mac)
            }
            NeighborState::Incomplete | NeighborState::Failed => None,
        }
    }

    /// Hand the frames queued for `ip` to `f`, oldest first, if `ip` has a MAC now; `f`
    /// may rewrite each frame in place (destination MAC) before transmitting it. Returns
    /// the number of frames released (0 if the entry is absent or still unresolved).
    pub fn drain_queue(&mut self, ip: Ipv4Addr, f: impl FnMut(&mut [u8])) -> usize {
        let Some(e) = self.table.get_mut(ip) else {
            return 0;
        };
        if !e.state.has_mac() {
            return 0;
        }
        let (frames, bytes) = e.queue.drain(f);
        self.queued_bytes -= bytes;
        frames
    }

    /// Remove `ip`'s entry. Returns the number of queued frames discarded with it, `None`
    /// if there was no entry.
    pub fn remove(&mut self, ip: Ipv4Addr) -> Option<usize> {
        let idx = self.table.find(ip)?;
        Some(self.free(idx))
    }

    /// Remove every entry. Returns the number of queued frames discarded.
    pub fn flush(&mut self) -> usize {
        let mut frames = 0;
        for idx in 0..self.table.slots.len() {
            if self.table.slots[idx].live {
                frames += self.free(idx);
            }
        }
        self.next_deadline = NEVER;
        frames
    }

    /// Every entry, for `show neighbors` (slab order, not sorted).
    pub fn iter(&self, now: Instant) -> impl Iterator<Item = NeighborInfo> + '_ {
        self.table
            .slots
            .iter()
            .filter(|e| e.live)
            .map(move |e| e.info(now))
    }

    /// `ip`'s entry, if any.
    pub fn get(&self, ip: Ipv4Addr, now: Instant) -> Option<NeighborInfo> {
        let idx = self.table.find(ip)?;
        Some(self.table.slots[idx].info(now))
    }

    /// Entries an in-kernel fast path may forward to, with their MAC and the instant
    /// that may change (derive again by then): confirmed recently (REACHABLE within
    /// `reachable_time`), or being verified (DELAY, PROBE), where Linux forwards with the
    /// cached MAC too (`neigh_event_send` lets NUD_CONNECTED, NUD_DELAY and NUD_PROBE
    /// entries through). Not STALE ones: the router's own use starts their verification
    /// ([`NeighborCache::lookup`], or [`NeighborCache::mark_used`] for entries only the
    /// fast path used); not INCOMPLETE or FAILED ones.
    pub fn confirmed(
        &self,
        now: Instant,
    ) -> impl Iterator<Item = (Ipv4Addr, EthernetAddress, Instant)> + '_ {
        // A DELAY or PROBE deadline already due (the poll has not run yet): look again
        // shortly rather than at once.
        let soon = now + Duration::from_millis(10);
        self.table
            .slots
            .iter()
            .filter(move |e| {
                e.live
                    && match e.state {
                        NeighborState::Reachable => now < e.deadline,
                        NeighborState::Delay | NeighborState::Probe => true,
                        _ => false,
                    }
            })
            .map(move |e| {
                let until = match e.state {
                    NeighborState::Reachable => e.deadline,
                    _ => e.deadline.max(soon),
                };
                (e.ip, e.mac, until)
            })
    }

    /// Marks `ip`'s entry used, as a frame forwarded to it would ([`NeighborCache::lookup`]):
    /// a STALE entry, or a REACHABLE one whose `reachable_time` ran out, moves to DELAY
    /// and is verified (RFC 1122 2.3.2.1: a neighbor in use is revalidated). For frames
    /// the router did not see (an in-kernel fast path's). Returns whether it moved.
    pub fn mark_used(&mut self, ip: Ipv4Addr, now: Instant) -> bool {
        let due = match self.table.get_mut(ip) {
            Some(e) => match e.state {
                NeighborState::Reachable => now >= e.deadline,
                NeighborState::Stale => true,
                _ => false,
            },
            None => false,
        };
        due && self.lookup(ip, now).is_some()
    }

    /// Number of entries per state.
    pub fn state_counts(&self) -> StateCounts {
        let mut c = StateCounts::default();
        for e in self.table.slots.iter().filter(|e| e.live) {
            c.bump(e.state);
        }
        c
    }

    /// Make sure poll runs at `deadline` at the latest.
    #[inline]
    fn wake_at(&mut self, deadline: Instant) {
        if deadline < self.next_deadline {
            self.next_deadline = deadline;
        }
    }

    /// Free slot `idx`, counting discarded frames. Returns their number.
    fn free(&mut self, idx: usize) -> usize {
        let (frames, bytes) = self.table.remove(idx);
        self.queued_bytes -= bytes;
        self.counters.frames_flushed += frames as u64;
        frames
    }
}
