//! Storage of the neighbor cache: a slab of entries indexed by a hash map from IPv4
//! address to slot.
//!
//! The slab keeps freed slots (and their frame-queue buffers) for reuse, so the cache
//! allocates only while it grows toward `max_entries`. The map uses [`NeighborHasher`], a
//! multiplicative hasher: the key is one `u32` and the hot path (`lookup` of a REACHABLE
//! neighbor) should cost one multiply, not SipHash. It is not resistant to chosen keys;
//! that is acceptable because the table is bounded (`max_entries`) and entries are only
//! created for addresses the router itself resolves or that sent an ARP request addressed
//! to it (see `handle_arp`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use wire::{EthernetAddress, Ipv4Addr};

use super::queue::FrameQueue;
use super::{NeighborInfo, NeighborState};
use crate::time::Instant;

/// An Fx-style multiplicative hasher for the neighbor table's `u32` keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct NeighborHasher {
    hash: u64,
}

/// Odd constant from the golden ratio (as in FxHash / Knuth's multiplicative hashing).
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

impl NeighborHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NeighborHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply mixes every input bit into the high output bits only; swap them
        // into the low bits, which pick the bucket (the low byte, well spread for
        // adjacent keys, ends up in the top bits hashbrown uses as the tag).
        self.hash.swap_bytes()
    }
}

/// `BuildHasher` for maps keyed by IPv4 addresses as `u32`.
pub type NeighborBuildHasher = BuildHasherDefault<NeighborHasher>;

/// One neighbor.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) ip: Ipv4Addr,
    /// Whether the slot holds a neighbor (false: on the free list).
    pub(super) live: bool,
    pub(super) state: NeighborState,
    /// Meaningful only in REACHABLE, STALE, DELAY and PROBE.
    pub(super) mac: EthernetAddress,
    /// When this entry's timer fires (meaning depends on the state).
    pub(super) deadline: Instant,
    /// Requests sent in the current INCOMPLETE or PROBE phase.
    pub(super) probes: u32,
    /// A request is due but the request rate limit deferred it.
    pub(super) deferred: bool,
    /// Last change of state or MAC (age in `show neighbors`, and ARP locktime).
    pub(super) updated: Instant,
    /// Last proof of reachability (a reply addressed to us, or `confirm`).
    pub(super) confirmed: Option<Instant>,
    /// Last time forwarding used the entry.
    pub(super) used: Instant,
    pub(super) queue: FrameQueue,
}

impl Entry {
    fn vacant() -> Entry {
        Entry {
            ip: Ipv4Addr::UNSPECIFIED,
            live: false,
            state: NeighborState::Incomplete,
            mac: EthernetAddress::ZERO,
            deadline: Instant::ZERO,
            probes: 0,
            deferred: false,
            updated: Instant::ZERO,
            confirmed: None,
            used: Instant::ZERO,
            queue: FrameQueue::default(),
        }
    }

    /// The MAC, if the state has one.
    pub(super) fn valid_mac(&self) -> Option<EthernetAddress> {
        self.state.has_mac().then_some(self.mac)
    }

    /// The entry as `show neighbors` prints it.
    pub(super) fn info(&self, now: Instant) -> NeighborInfo {
        NeighborInfo {
            ip: self.ip,
            state: self.state,
            mac: self.valid_mac(),
            queued: self.queue.len(),
            probes: self.probes,
            age: now.saturating_duration_since(self.updated),
            idle: now.saturating_duration_since(self.used),
        }
    }
}

/// Slab of entries plus the address index.
#[derive(Debug)]
pub(super) struct Table {
    map: HashMap<u32, u32, NeighborBuildHasher>,
    pub(super) slots: Vec<Entry>,
    free: Vec<u32>,
    /// Slot of the entry [`Table::get_mut`] found last. Traffic from guests to the VLAN
    /// mostly goes to one neighbor (the gateway), so checking this slot first saves the
    /// hash probe. Only a hint: the slot's entry is used only if it is live and has the
    /// address asked for, so freeing or reusing the slot needs no invalidation.
    last: usize,
}

impl Table {
    pub(super) fn new(capacity_hint: usize) -> Table {
        let hint = capacity_hint.min(256);
        Table {
            map: HashMap::with_capacity_and_hasher(hint, NeighborBuildHasher::default()),
            slots: Vec::with_capacity(hint),
            free: Vec::new(),
            last: 0,
        }
    }

    /// Live entries.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Slot of `ip`'s entry.
    #[inline]
    pub(super) fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        self.map.get(&u32::from(ip)).map(|&i| i as usize)
    }

    /// Slot of `ip`'s entry, mutably.
    #[inline(always)]
    pub(super) fn get_mut(&mut self, ip: Ipv4Addr) -> Option<&mut Entry> {
        let last = self.last;
        if self.slots.get(last).is_some_and(|e| e.live && e.ip == ip) {
            return self.slots.get_mut(last);
        }
        let i = *self.map.get(&u32::from(ip))? as usize;
        self.last = i;
        self.slots.get_mut(i)
    }

    /// Add a fresh entry for `ip` (which must be absent) in `state`; returns its slot.
    /// The caller bounds the number of entries. `None` only past u32::MAX slots.
    pub(super) fn insert(
        &mut self,
        ip: Ipv4Addr,
        state: NeighborState,
        now: Instant,
    ) -> Option<usize> {
        let idx = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                let i = self.slots.len();
                u32::try_from(i).ok()?;
                self.slots.push(Entry::vacant());
                i
            }
        };
        let e = &mut self.slots[idx];
        e.ip = ip;
        e.live = true;
        e.state = state;
        e.mac = EthernetAddress::ZERO;
        e.deadline = now;
        e.probes = 0;
        e.deferred = false;
        e.updated = now;
        e.confirmed = None;
        e.used = now;
        // idx fits: checked above, or it came from the free list.
        self.map.insert(u32::from(ip), idx as u32);
        Some(idx)
    }

    /// Free slot `idx`. Returns the (frames, bytes) that were still queued; the slot keeps
    /// its (emptied) buffers for the next entry.
    pub(super) fn remove(&mut self, idx: usize) -> (usize, usize) {
        let Some(e) = self.slots.get_mut(idx) else {
            return (0, 0);
        };
        if !e.live {
            return (0, 0);
        }
        e.live = false;
        let dropped = e.queue.clear();
        self.map.remove(&u32::from(e.ip));
        self.free.push(idx as u32);
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn hasher_spreads_adjacent_and_high_bit_keys() {
        let b = NeighborBuildHasher::default();
        let low: std::collections::HashSet<u64> = (0u32..256)
            .map(|i| b.hash_one(0xc000_0200 | i) & 0xff)
            .collect();
        assert!(
            low.len() > 150,
            "low bits of adjacent keys collide: {}",
            low.len()
        );
        let high: std::collections::HashSet<u64> =
            (0u32..256).map(|i| b.hash_one(i << 24) & 0xff).collect();
        assert!(high.len() > 150, "high-byte keys collide: {}", high.len());
    }

    #[test]
    fn slots_are_reused() {
        let mut t = Table::new(4);
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = Ipv4Addr::new(192, 0, 2, 2);
        let ia = t.insert(a, NeighborState::Stale, Instant::ZERO).unwrap();
        t.remove(ia);
        assert_eq!(t.find(a), None);
        let ib = t.insert(b, NeighborState::Stale, Instant::ZERO).unwrap();
        assert_eq!(ia, ib);
        assert_eq!(t.len(), 1);
        assert_eq!(t.slots.len(), 1);
    }

    #[test]
    fn last_hit_hint_never_returns_another_entry() {
        let mut t = Table::new(4);
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = Ipv4Addr::new(192, 0, 2, 2);
        let ia = t.insert(a, NeighborState::Stale, Instant::ZERO).unwrap();
        assert_eq!(t.get_mut(a).unwrap().ip, a);
        // The hinted slot is freed: a lookup of its old address misses.
        t.remove(ia);
        assert!(t.get_mut(a).is_none());
        // The slot is reused for another address: the hint does not answer for `a`.
        let ib = t.insert(b, NeighborState::Stale, Instant::ZERO).unwrap();
        assert_eq!(ia, ib);
        assert!(t.get_mut(a).is_none());
        assert_eq!(t.get_mut(b).unwrap().ip, b);
        let ia = t.insert(a, NeighborState::Stale, Instant::ZERO).unwrap();
        assert_ne!(ia, ib);
        assert_eq!(t.get_mut(a).unwrap().ip, a);
        assert_eq!(t.get_mut(b).unwrap().ip, b);
    }
}
