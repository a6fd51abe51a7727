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

mod learn;
mod queue;
mod table;
mod timers;

#[cfg(test)]
mod tests;

use core::fmt;
use std::time::Duration;

use wire::{EthernetAddress, Ipv4Addr};

use crate::ratelimit::TokenBucket;
use crate::time::Instant;

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

/// Tunables of a neighbor cache. Defaults follow Linux's `arp_tbl` where it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighborConfig {
    /// How long a confirmation keeps an entry REACHABLE (Linux base_reachable_time, 30 s;
    /// Linux randomizes it by 0.5-1.5x, we do not).
    pub reachable_time: Duration,
    /// How long a used STALE entry waits in DELAY for a confirmation before probing
    /// (Linux delay_first_probe_time, 5 s).
    pub delay_first_probe_time: Duration,
    /// Interval between requests for the same neighbor (Linux retrans_time, 1 s; RFC 1122
    /// 2.3.2.1 recommends at most one per second per destination).
    pub retrans_time: Duration,
    /// Broadcast requests sent in INCOMPLETE before giving up (Linux mcast_solicit, 3).
    pub mcast_probes: u32,
    /// Unicast requests sent in PROBE before giving up (Linux ucast_solicit, 3).
    pub ucast_probes: u32,
    /// Frames queued per unresolved neighbor; the oldest is dropped when full. At least 1
    /// (RFC 1122 2.3.2.2). Linux bounds by bytes (unres_qlen_bytes); we bound by frames
    /// here and by bytes across the cache (`max_queued_bytes`).
    pub queue_len: usize,
    /// Bytes of queued frames across the whole cache (guests send frames up to 64 KB).
    pub max_queued_bytes: usize,
    /// Most entries. When full, a new entry evicts a FAILED entry, else the least recently
    /// used STALE one; if there is none it is refused (and counted).
    pub max_entries: usize,
    /// How long a FAILED entry stays, dropping frames at once instead of queueing them and
    /// suppressing new requests. Linux restarts resolution on the next frame; holding for
    /// one `retrans_time` keeps RFC 1122's "1 per second per destination" across the
    /// restart, and fails frames fast meanwhile.
    pub failed_hold: Duration,
    /// STALE entries unused for this long are removed when the cache holds more than
    /// `gc_threshold` entries (Linux gc_stale_time, 60 s).
    pub gc_stale_time: Duration,
    /// Below this many entries STALE entries are kept however old (Linux gc_thresh1, 128).
    pub gc_threshold: usize,
    /// After an entry's MAC changed, replies and requests not addressed to us that carry
    /// another MAC are ignored for this long: when several hosts answer (proxy ARP races),
    /// the first answer wins (Linux locktime, 1 s).
    pub locktime: Duration,
    /// ARP requests per second the cache may send in total.
    pub request_rate: u32,
    /// ARP requests the cache may send at once.
    pub request_burst: u32,
}

impl Default for NeighborConfig {
    fn default() -> NeighborConfig {
        NeighborConfig {
            reachable_time: Duration::from_secs(30),
            delay_first_probe_time: Duration::from_secs(5),
            retrans_time: Duration::from_secs(1),
            mcast_probes: 3,
            ucast_probes: 3,
            queue_len: 3,
            max_queued_bytes: 4 << 20,
            max_entries: 4096,
            failed_hold: Duration::from_secs(1),
            gc_stale_time: Duration::from_secs(60),
            gc_threshold: 128,
            locktime: Duration::from_secs(1),
            request_rate: 100,
            request_burst: 20,
        }
    }
}

/// A configuration the cache cannot work with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NeighborConfigError {
    /// `queue_len` is 0: RFC 1122 2.3.2.2 wants at least the latest frame kept.
    #[error("neighbor queue_len must be at least 1")]
    QueueLenZero,
    /// `retrans_time` is 0: requests would be resent on every poll.
    #[error("neighbor retrans_time must be positive")]
    RetransTimeZero,
    /// `max_entries` is 0: nothing could ever be resolved.
    #[error("neighbor max_entries must be at least 1")]
    MaxEntriesZero,
}

impl NeighborConfig {
    /// Check the values [`NeighborCache::new`] would otherwise silently adjust.
    pub fn validate(&self) -> Result<(), NeighborConfigError> {
        if self.queue_len == 0 {
            return Err(NeighborConfigError::QueueLenZero);
        }
        if self.retrans_time.is_zero() {
            return Err(NeighborConfigError::RetransTimeZero);
        }
        if self.max_entries == 0 {
            return Err(NeighborConfigError::MaxEntriesZero);
        }
        Ok(())
    }
}

/// An ARP request the caller should send now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Solicit {
    /// The address to resolve (the request's target protocol address).
    pub target: Ipv4Addr,
    /// `None`: broadcast request (INCOMPLETE). `Some(mac)`: unicast request to the known
    /// MAC (PROBE, RFC 1122 2.3.2.1 "Unicast Poll").
    pub unicast: Option<EthernetAddress>,
}

/// Operation of a received ARP packet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ArpKind {
    /// ARP request (op 1).
    Request,
    /// ARP reply (op 2).
    Reply,
}

/// What [`NeighborCache::enqueue`] did with a frame.
#[must_use]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EnqueueOutcome {
    /// The frame is stored until the neighbor resolves. `dropped` older frames for the
    /// same neighbor were discarded to make room: count them as queue-overflow drops.
    /// Send `solicit` now if it is `Some`; a request the rate limit held back is sent by a
    /// later [`NeighborCache::poll`].
    Queued {
        dropped: u32,
        solicit: Option<Solicit>,
    },
    /// The neighbor is already resolved: transmit the frame now to this MAC. Nothing was
    /// stored.
    Resolved(EthernetAddress),
    /// The frame was not stored: drop it and count it under this reason.
    Dropped(EnqueueDrop),
}

/// Why [`NeighborCache::enqueue`] could not keep a frame.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EnqueueDrop {
    /// Resolution failed recently (FAILED entry). RFC 1812 5.2.7.1: code 1 Host
    /// Unreachable is "generated by a router if a forwarding path (route) to the
    /// destination host on a directly connected network is not available (does not
    /// respond to ARP)".
    ResolutionFailed,
    /// The cache is full of entries that may not be evicted.
    CacheFull,
    /// The cache's byte budget for queued frames is used up by other neighbors, or the
    /// frame alone is larger than it.
    NoBuffer,
}

/// What [`NeighborCache::handle_arp`] did with a received ARP packet's sender.
#[must_use]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LearnOutcome {
    /// A new STALE entry from a request addressed to us (RFC 826 merge).
    Created,
    /// An existing entry was refreshed; `mac_changed` if it now has another MAC.
    Updated { mac_changed: bool },
    /// An INCOMPLETE (or FAILED) entry learned its MAC. `queued` frames wait in its
    /// queue: release them now with [`NeighborCache::drain_queue`].
    Resolved { mac: EthernetAddress, queued: usize },
    /// Nothing to learn: a request from an unknown sender not addressed to us.
    NotLearned,
    /// A reply for an address we have no entry for (unsolicited or gratuitous): ignored.
    IgnoredUnsolicited,
    /// Another MAC within `locktime` of the last change, not addressed to us: ignored.
    IgnoredLocked,
    /// Sender address unusable (0.0.0.0, broadcast, multicast IP; multicast or zero MAC).
    IgnoredInvalid,
    /// Would create an entry, but the cache is full.
    IgnoredFull,
}

/// Timer work done by one [`NeighborCache::poll`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PollStats {
    /// Requests handed to the caller.
    pub solicits: u32,
    /// Entries that went to FAILED.
    pub failed: u32,
    /// Queued frames dropped because their neighbor went to FAILED: count each as a
    /// resolution failure (and send ICMP host unreachable if wanted).
    pub frames_dropped: u32,
    /// Entries removed (FAILED expired, STALE collected).
    pub removed: u32,
}

/// Running totals of a cache, for counters and `show neighbors`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NeighborCounters {
    /// ARP requests handed to the caller (broadcast and unicast).
    pub requests_sent: u64,
    /// Times a due request was deferred by the request rate limit.
    pub requests_rate_limited: u64,
    /// Replies that created knowledge or refreshed an entry.
    pub replies_learned: u64,
    /// Requests that created or refreshed an entry (RFC 826 merge).
    pub requests_learned: u64,
    /// Replies for unknown addresses, ignored.
    pub unsolicited_ignored: u64,
    /// ARP packets with an unusable sender, ignored.
    pub invalid_ignored: u64,
    /// MAC changes ignored within `locktime`.
    pub locktime_ignored: u64,
    /// Frames stored waiting for resolution.
    pub frames_queued: u64,
    /// Queued frames dropped to make room for newer ones, or refused for lack of buffer.
    pub queue_overflow_drops: u64,
    /// Frames dropped because resolution failed (queued ones, and new ones while FAILED).
    pub resolution_failures: u64,
    /// Queued frames discarded by `remove`, `flush` or eviction.
    pub frames_flushed: u64,
    /// Entries that went to FAILED.
    pub entries_failed: u64,
    /// Entries evicted to make room for a new one.
    pub entries_evicted: u64,
    /// New entries refused because the cache was full.
    pub entries_refused: u64,
}

/// One entry, for `show neighbors`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NeighborInfo {
    pub ip: Ipv4Addr,
    pub state: NeighborState,
    /// `None` in INCOMPLETE and FAILED.
    pub mac: Option<EthernetAddress>,
    /// Frames waiting for resolution.
    pub queued: usize,
    /// Requests sent in the current INCOMPLETE or PROBE phase.
    pub probes: u32,
    /// Time since the state or MAC last changed.
    pub age: Duration,
    /// Time since forwarding last used the entry.
    pub idle: Duration,
}

/// Number of entries per state.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StateCounts {
    pub incomplete: usize,
    pub reachable: usize,
    pub stale: usize,
    pub delay: usize,
    pub probe: usize,
    pub failed: usize,
}

impl StateCounts {
    /// Entries in `state`.
    pub fn get(&self, state: NeighborState) -> usize {
        match state {
            NeighborState::Incomplete => self.incomplete,
            NeighborState::Reachable => self.reachable,
            NeighborState::Stale => self.stale,
            NeighborState::Delay => self.delay,
            NeighborState::Probe => self.probe,
            NeighborState::Failed => self.failed,
        }
    }

    fn bump(&mut self, state: NeighborState) {
        let n = match state {
            NeighborState::Incomplete => &mut self.incomplete,
            NeighborState::Reachable => &mut self.reachable,
            NeighborState::Stale => &mut self.stale,
            NeighborState::Delay => &mut self.delay,
            NeighborState::Probe => &mut self.probe,
            NeighborState::Failed => &mut self.failed,
        };
        *n += 1;
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
    #[inline]
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
            Err(drop) => EnqueueOutcome::Dropped(drop),
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
            .map(move |e| NeighborInfo {
                ip: e.ip,
                state: e.state,
                mac: e.valid_mac(),
                queued: e.queue.len(),
                probes: e.probes,
                age: now.saturating_duration_since(e.updated),
                idle: now.saturating_duration_since(e.used),
            })
    }

    /// `ip`'s entry, if any.
    pub fn get(&self, ip: Ipv4Addr, now: Instant) -> Option<NeighborInfo> {
        let idx = self.table.find(ip)?;
        self.iter_one(idx, now)
    }

    /// Number of entries per state.
    pub fn state_counts(&self) -> StateCounts {
        let mut c = StateCounts::default();
        for e in self.table.slots.iter().filter(|e| e.live) {
            c.bump(e.state);
        }
        c
    }

    fn iter_one(&self, idx: usize, now: Instant) -> Option<NeighborInfo> {
        let e = self.table.slots.get(idx).filter(|e| e.live)?;
        Some(NeighborInfo {
            ip: e.ip,
            state: e.state,
            mac: e.valid_mac(),
            queued: e.queue.len(),
            probes: e.probes,
            age: now.saturating_duration_since(e.updated),
            idle: now.saturating_duration_since(e.used),
        })
    }

    /// Make sure poll runs at `deadline` at the latest.
    #[inline]
    fn wake_at(&mut self, deadline: Instant) {
        if deadline < self.next_deadline {
            self.next_deadline = deadline;
        }
    }

    /// Create an entry for `ip` (absent), evicting one if the cache is full: a FAILED entry
    /// first, else the least recently used STALE entry. `None` (counted) if neither exists.
    fn create(&mut self, ip: Ipv4Addr, state: NeighborState, now: Instant) -> Option<usize> {
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
        let idx = self.table.insert(ip, state, now)?;
        self.wake_at(now);
        Some(idx)
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

    /// Free slot `idx`, counting discarded frames. Returns their number.
    fn free(&mut self, idx: usize) -> usize {
        let (frames, bytes) = self.table.remove(idx);
        self.queued_bytes -= bytes;
        self.counters.frames_flushed += frames as u64;
        frames
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
    fn solicit(&mut self, idx: usize, now: Instant) -> Option<Solicit> {
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
