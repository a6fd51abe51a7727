//! The uplink's IPv6 neighbor cache (RFC 4861 7.3): the gateway and on-link VLAN hosts.
//!
//! The IPv6 twin of [`crate::neighbor::NeighborCache`]: the same NUD states
//! ([`NeighborState`]), tunables ([`NeighborConfig`]) and request rate limit (one
//! [`TokenBucket`] per cache, and at most one solicitation per neighbor per
//! `retrans_time`, RFC 4861 7.2.2: "the sender SHOULD retransmit ... every RetransTimer
//! milliseconds until ... MAX_MULTICAST_SOLICIT solicitations"). Frames for an
//! unresolved neighbor wait in a bounded queue (the latest `queue_len`, RFC 4861 7.2.2:
//! "the sender SHOULD ... queue the packet ... When a queue overflows, the new arrival
//! SHOULD replace the oldest entry").
//!
//! Learning follows RFC 4861 7.2.5 (advertisements) and 7.2.3 (solicitations), but only
//! for entries the router created itself: the VLAN is shared with hosts we do not fully
//! trust, so an unsolicited advertisement or a solicitation never creates an entry.
//!
//! Queued frames are copied into owned buffers: resolution is the slow path (a few frames
//! per neighbor, a few neighbors per VLAN). No clock reads: every method takes `now`.

use std::collections::{HashMap, VecDeque};

use wire::{EthernetAddress, Ipv6Addr};

use crate::drop::DropReason;
use crate::ipv6::control6::Learn6;
use crate::lpm::FastBuildHasher;
use crate::neighbor::{NeighborConfig, NeighborState};
use crate::ratelimit::TokenBucket;
use crate::time::Instant;

/// A solicitation the cache wants sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Solicit6 {
    /// To the target's solicited-node multicast group (INCOMPLETE, RFC 4861 7.2.2).
    Multicast {
        /// The address being resolved.
        target: Ipv6Addr,
    },
    /// Unicast to the cached MAC (PROBE, RFC 4861 7.3.3).
    Unicast {
        /// The address being verified.
        target: Ipv6Addr,
        /// Its cached MAC.
        mac: EthernetAddress,
    },
}

/// What [`Neighbor6Cache::enqueue`] did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueue6 {
    /// Queued; send this solicitation now, if any.
    Queued(Option<Solicit6>),
    /// Queued, and the oldest waiting frame was dropped to make room.
    QueuedDroppedOldest(Option<Solicit6>),
    /// Not queued.
    Dropped(DropReason),
}

#[derive(Debug)]
struct Entry6 {
    state: NeighborState,
    mac: EthernetAddress,
    deadline: Instant,
    probes: u32,
    used: Instant,
    queue: VecDeque<Vec<u8>>,
}

/// One entry, for `show neighbors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbor6Info {
    /// The neighbor.
    pub addr: Ipv6Addr,
    /// State.
    pub state: NeighborState,
    /// MAC, if known.
    pub mac: Option<EthernetAddress>,
    /// Frames waiting.
    pub queued: usize,
}

/// The IPv6 neighbor cache of one network's uplink.
#[derive(Debug)]
pub struct Neighbor6Cache {
    config: NeighborConfig,
    entries: HashMap<u128, Entry6, FastBuildHasher>,
    bucket: TokenBucket,
    queued_bytes: usize,
    /// Frames dropped because resolution failed.
    pub unresolved_drops: u64,
}

impl Neighbor6Cache {
    /// An empty cache (queue_len at least 1).
    pub fn new(mut config: NeighborConfig, now: Instant) -> Self {
        config.queue_len = config.queue_len.max(1);
        let bucket = TokenBucket::new(config.request_rate, config.request_burst, now);
        Neighbor6Cache {
            config,
            entries: HashMap::default(),
            bucket,
            queued_bytes: 0,
            unresolved_drops: 0,
        }
    }

    /// Entries in the cache.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The MAC to forward to `addr`, if known. A used STALE (or expired REACHABLE) entry
    /// moves to DELAY (RFC 4861 7.3.3: "the first time a node sends a packet to a
    /// neighbor whose entry is STALE, the sender changes the state to DELAY").
    pub fn lookup(&mut self, addr: Ipv6Addr, now: Instant) -> Option<EthernetAddress> {
        let cfg_delay = self.config.delay_first_probe_time;
        let e = self.entries.get_mut(&u128::from(addr))?;
        e.used = now;
        match e.state {
            NeighborState::Reachable if now < e.deadline => Some(e.mac),
            NeighborState::Delay | NeighborState::Probe => Some(e.mac),
            NeighborState::Reachable | NeighborState::Stale => {
                e.state = NeighborState::Delay;
                e.deadline = now + cfg_delay;
                Some(e.mac)
            }
            NeighborState::Incomplete | NeighborState::Failed => None,
        }
    }

    /// Park `frame` for `addr` while it is resolved; creates an INCOMPLETE entry and asks
    /// for a multicast solicitation if there was none.
    pub fn enqueue(&mut self, addr: Ipv6Addr, frame: &[u8], now: Instant) -> Enqueue6 {
        let key = u128::from(addr);
        let solicit = match self.start_resolution(addr, now) {
            Ok(s) => s,
            Err(r) => return Enqueue6::Dropped(r),
        };
        if self.queued_bytes + frame.len() > self.config.max_queued_bytes {
            return Enqueue6::Dropped(DropReason::NeighborQueueFull);
        }
        let qlen = self.config.queue_len;
        let Some(e) = self.entries.get_mut(&key) else {
            return Enqueue6::Dropped(DropReason::NeighborTableFull);
        };
        match e.state {
            NeighborState::Failed => return Enqueue6::Dropped(DropReason::NeighborUnresolved),
            NeighborState::Incomplete => {}
            // Resolved meanwhile: the caller should have used lookup; queue anyway, the
            // next drain releases it.
            _ => {}
        }
        let mut dropped = false;
        if e.queue.len() >= qlen {
            if let Some(old) = e.queue.pop_front() {
                self.queued_bytes -= old.len();
                dropped = true;
            }
        }
        e.queue.push_back(frame.to_vec());
        self.queued_bytes += frame.len();
        if dropped {
            Enqueue6::QueuedDroppedOldest(solicit)
        } else {
            Enqueue6::Queued(solicit)
        }
    }

    /// Start resolving `addr` without parking a frame (an INCOMPLETE entry, if there is
    /// none): the multicast solicitation to send now, if the rate limit allows one.
    /// `Err(NeighborTableFull)` when no entry can be made.
    pub fn start_resolution(
        &mut self,
        addr: Ipv6Addr,
        now: Instant,
    ) -> Result<Option<Solicit6>, DropReason> {
        let key = u128::from(addr);
        if self.entries.contains_key(&key) {
            return Ok(None);
        }
        if self.entries.len() >= self.config.max_entries && !self.evict() {
            return Err(DropReason::NeighborTableFull);
        }
        let send = self.bucket.try_take(now);
        self.entries.insert(
            key,
            Entry6 {
                state: NeighborState::Incomplete,
                mac: EthernetAddress::ZERO,
                // Not sent (rate limit): due at once, so the next poll retries.
                deadline: if send {
                    now + self.config.retrans_time
                } else {
                    now
                },
                probes: u32::from(send),
                used: now,
                queue: VecDeque::new(),
            },
        );
        Ok(send.then_some(Solicit6::Multicast { target: addr }))
    }

    /// Evict a FAILED entry, else the least recently used STALE one. True if one went.
    fn evict(&mut self) -> bool {
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.state, NeighborState::Failed | NeighborState::Stale))
            .min_by_key(|(_, e)| (e.state != NeighborState::Failed, e.used))
            .map(|(&k, _)| k);
        match victim {
            Some(k) => {
                self.remove_key(k);
                true
            }
            None => false,
        }
    }

    fn remove_key(&mut self, key: u128) -> usize {
        match self.entries.remove(&key) {
            Some(e) => {
                let bytes: usize = e.queue.iter().map(Vec::len).sum();
                self.queued_bytes -= bytes;
                e.queue.len()
            }
            None => 0,
        }
    }

    /// Learn from an advertisement (RFC 4861 7.2.5) or a solicitation's source option
    /// (7.2.3, `solicited` false and `override_` true), for an entry we created. Returns
    /// true if the entry now has a MAC (drain its queue).
    pub fn learn(&mut self, l: &Learn6, now: Instant) -> bool {
        let reachable = self.config.reachable_time;
        let Some(e) = self.entries.get_mut(&u128::from(l.addr)) else {
            return false;
        };
        match e.state {
            // "If the target's Neighbor Cache entry is in the INCOMPLETE state ... record
            // the link-layer address ... If the advertisement's Solicited flag is set,
            // the state of the entry is set to REACHABLE; otherwise, it is set to STALE."
            NeighborState::Incomplete | NeighborState::Failed => {
                e.mac = l.mac;
                e.probes = 0;
                if l.solicited {
                    e.state = NeighborState::Reachable;
                    e.deadline = now + reachable;
                } else {
                    e.state = NeighborState::Stale;
                }
            }
            _ => {
                let same = e.mac == l.mac;
                if !l.override_ && !same {
                    // "If the Override flag is clear and the supplied link-layer address
                    // differs ... If the state of the entry is REACHABLE, set it to
                    // STALE, but do not update the entry in any other way."
                    if e.state == NeighborState::Reachable {
                        e.state = NeighborState::Stale;
                    }
                } else {
                    e.mac = l.mac;
                    if l.solicited {
                        e.state = NeighborState::Reachable;
                        e.deadline = now + reachable;
                        e.probes = 0;
                    } else if !same {
                        e.state = NeighborState::Stale;
                    }
                }
            }
        }
        e.state.has_mac()
    }

    /// Hand the frames queued for `addr` to `f` (oldest first) if it has a MAC now.
    pub fn drain_queue(
        &mut self,
        addr: Ipv6Addr,
        mut f: impl FnMut(&mut [u8], EthernetAddress),
    ) -> usize {
        let Some(e) = self.entries.get_mut(&u128::from(addr)) else {
            return 0;
        };
        if !e.state.has_mac() {
            return 0;
        }
        let mut n = 0;
        while let Some(mut frame) = e.queue.pop_front() {
            self.queued_bytes -= frame.len();
            f(&mut frame, e.mac);
            n += 1;
        }
        n
    }

    /// Run the timers due at `now` (RFC 4861 7.3.3), handing solicitations to `out`.
    /// Returns the number of queued frames dropped because resolution failed.
    pub fn poll(&mut self, now: Instant, out: &mut impl FnMut(Solicit6)) -> usize {
        let cfg = self.config.clone();
        let mut failed_frames = 0;
        let mut remove = Vec::new();
        for (&key, e) in self.entries.iter_mut() {
            let target = Ipv6Addr::from(key);
            match e.state {
                NeighborState::Incomplete | NeighborState::Probe if now >= e.deadline => {
                    let max = if e.state == NeighborState::Incomplete {
                        cfg.mcast_probes
                    } else {
                        cfg.ucast_probes
                    };
                    if e.probes >= max {
                        e.state = NeighborState::Failed;
                        e.deadline = now + cfg.failed_hold;
                        let bytes: usize = e.queue.iter().map(Vec::len).sum();
                        self.queued_bytes -= bytes;
                        failed_frames += e.queue.len();
                        e.queue.clear();
                    } else if self.bucket.try_take(now) {
                        e.probes += 1;
                        e.deadline = now + cfg.retrans_time;
                        out(if e.state == NeighborState::Incomplete {
                            Solicit6::Multicast { target }
                        } else {
                            Solicit6::Unicast { target, mac: e.mac }
                        });
                    }
                }
                NeighborState::Reachable if now >= e.deadline => {
                    e.state = NeighborState::Stale;
                }
                NeighborState::Delay if now >= e.deadline => {
                    e.state = NeighborState::Probe;
                    e.probes = 0;
                    e.deadline = now;
                    if self.bucket.try_take(now) {
                        e.probes = 1;
                        e.deadline = now + cfg.retrans_time;
                        out(Solicit6::Unicast { target, mac: e.mac });
                    }
                }
                NeighborState::Failed if now >= e.deadline => remove.push(key),
                NeighborState::Stale
                    if now.saturating_duration_since(e.used) >= cfg.gc_stale_time =>
                {
                    remove.push(key);
                }
                _ => {}
            }
        }
        if self.entries.len() > cfg.gc_threshold || !remove.is_empty() {
            for k in remove {
                // Stale entries are only collected above the threshold; failed ones always.
                let failed = self
                    .entries
                    .get(&k)
                    .is_some_and(|e| e.state == NeighborState::Failed);
                if failed || self.entries.len() > cfg.gc_threshold {
                    self.remove_key(k);
                }
            }
        }
        self.unresolved_drops += failed_frames as u64;
        failed_frames
    }

    /// `addr`'s entry.
    pub fn get(&self, addr: Ipv6Addr) -> Option<Neighbor6Info> {
        self.entries.get(&u128::from(addr)).map(|e| info(addr, e))
    }

    /// Every entry (unsorted).
    pub fn iter(&self) -> impl Iterator<Item = Neighbor6Info> + '_ {
        self.entries
            .iter()
            .map(|(&k, e)| info(Ipv6Addr::from(k), e))
    }

    /// Remove every entry (uplink down); returns the queued frames discarded.
    pub fn flush(&mut self) -> usize {
        let frames = self.entries.values().map(|e| e.queue.len()).sum();
        self.entries.clear();
        self.queued_bytes = 0;
        frames
    }
}

fn info(addr: Ipv6Addr, e: &Entry6) -> Neighbor6Info {
    Neighbor6Info {
        addr,
        state: e.state,
        mac: e.state.has_mac().then_some(e.mac),
        queued: e.queue.len(),
    }
}

/// Queue the Neighbor Solicitation `s` on `network`'s uplink: from the router's VLAN
/// link-local address with its MAC in the Source Link-Layer Address option (RFC 4861
/// 7.2.2), to the target's solicited-node group or, when probing, to the target itself.
pub fn push_solicit(
    out: &mut crate::outbox::Outbox,
    network: &crate::network::Network,
    s: Solicit6,
) {
    use crate::ipv6::frames6::{push_ns, Addressing, NDP_HOP_LIMIT};
    use wire::ipv6_addr::{multicast_mac, solicited_node};
    let (target, dst_ip, dst_mac) = match s {
        Solicit6::Multicast { target } => {
            let g = solicited_node(&target);
            (target, g, multicast_mac(&g))
        }
        Solicit6::Unicast { target, mac } => (target, target, mac),
    };
    let a = Addressing {
        port: network.uplink,
        src_mac: network.uplink_mac,
        dst_mac,
        src_ip: crate::ipv6::net6::uplink_ll(network),
        dst_ip,
        hop_limit: NDP_HOP_LIMIT,
    };
    push_ns(out, &a, target, network.uplink_mac);
}
