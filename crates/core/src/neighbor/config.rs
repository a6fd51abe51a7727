//! Tunables of a neighbor cache.

use std::time::Duration;

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
