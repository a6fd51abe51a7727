//! Longest-prefix-match table over IPv4, generic over a small `Copy` value.
//!
//! # Structure
//! The tables this router holds have up to a few thousand /32s (guests) and a handful of
//! shorter prefixes (extra prefixes, the connected subnet, the default route), so:
//! - /32s live in one open-addressing table keyed by address (`hosts.rs`): a guest
//!   destination costs one probe, usually one slot compare.
//! - Lengths 1..=31 have one hash map per length in use, keyed by the masked address,
//!   longest length first. While there are at most 16 such prefixes, a flat copy sorted
//!   longest first is scanned instead (one masked compare each, no hashing): a
//!   destination off the guests, e.g. toward the default route, costs one /32 probe plus
//!   a few compares. Past 16, a lookup probes each length's map in turn.
//! - Prefix length 0 needs no hash: it is a single slot.
//!
//! Alternatives considered: a binary trie costs up to 32 dependent loads per lookup; a
//! DIR-24-8 array is faster but needs 64 MiB per table. Per-length hashing keeps memory
//! proportional to the routes and lookup cost proportional to the number of distinct
//! lengths, which here is tiny.
//!
//! The maps use [`FastBuildHasher`]: a multiply-and-fold hasher written for small integer
//! keys (no new dependency). It is not resistant to hash flooding; that is acceptable
//! because entries are only inserted by the control plane, never from packet contents.

use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;

use ipnet::Ipv4Net;
use wire::Ipv4Addr;

mod hosts;

use hosts::HostMap;

/// Odd 64-bit constant (2^64 / golden ratio) used to spread key bits.
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Multiply to 128 bits and fold the halves: every input bit affects the low and high
/// bits of the result, so keys with many trailing zeros (masked prefixes) still spread
/// over hash buckets (which are picked by the low bits).
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// A fast, non-cryptographic hasher for small integer keys (IPv4 addresses, ids).
///
/// Not resistant to hash flooding: use it only for maps whose keys are chosen by the
/// control plane.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher {
    state: u64,
}

impl FastHasher {
    #[inline(always)]
    fn add(&mut self, word: u64) {
        self.state = fold_mul(self.state ^ word, MIX);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline(always)]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline(always)]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline(always)]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline(always)]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline(always)]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline(always)]
    fn finish(&self) -> u64 {
        self.state
    }
}

/// `BuildHasher` for [`FastHasher`], for `HashMap<K, V, FastBuildHasher>`.
pub type FastBuildHasher = BuildHasherDefault<FastHasher>;

/// The netmask of a prefix length as a host-order `u32` (`len` <= 32).
#[inline(always)]
const fn mask_of(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

/// All prefixes of one length.
#[derive(Clone, Debug)]
struct Level<V> {
    len: u8,
    mask: u32,
    map: HashMap<u32, V, FastBuildHasher>,
}

/// One prefix of length 1..=31 in the scan list.
#[derive(Clone, Copy, Debug)]
struct Short<V> {
    key: u32,
    mask: u32,
    len: u8,
    value: V,
}

/// Up to this many prefixes of length 1..=31, a lookup scans them (a masked compare
/// each) instead of probing one hash map per length: cheaper, and the typical table (a
/// connected subnet, a few extra prefixes) is far below it.
const SCAN_MAX: usize = 16;

/// A longest-prefix-match table from IPv4 prefixes to `V`.
///
/// Prefixes are normalised on every call (host bits cleared, as [`Ipv4Net::trunc`]), so
/// 192.0.2.7/24 and 192.0.2.0/24 are the same key.
#[derive(Clone, Debug)]
pub struct Lpm<V: Copy> {
    /// The /32s: one exact-match probe.
    hosts: HostMap<V>,
    /// Lengths 1..=31 in use, longest first. Never holds an empty level.
    levels: Vec<Level<V>>,
    /// Every prefix of length 1..=31, longest first, while there are at most
    /// [`SCAN_MAX`] of them (rebuilt from `levels` on each change); empty otherwise.
    short: Vec<Short<V>>,
    /// Number of prefixes of length 1..=31.
    short_len: usize,
    /// The /0 entry, if any.
    default: Option<V>,
    len: usize,
}

impl<V: Copy> Default for Lpm<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy> Lpm<V> {
    /// An empty table.
    pub fn new() -> Self {
        Lpm {
            hosts: HostMap::new(),
            levels: Vec::new(),
            short: Vec::new(),
            short_len: 0,
            default: None,
            len: 0,
        }
    }

    fn level_index(&self, len: u8) -> Result<usize, usize> {
        // Sorted by length, descending.
        self.levels.binary_search_by(|l| len.cmp(&l.len))
    }

    /// Rebuild the scan list after a change of the prefixes of length 1..=31.
    fn rebuild_short(&mut self) {
        self.short.clear();
        if self.short_len > SCAN_MAX {
            return;
        }
        for level in &self.levels {
            self.short
                .extend(level.map.iter().map(|(&key, &value)| Short {
                    key,
                    mask: level.mask,
                    len: level.len,
                    value,
                }));
        }
    }

    /// Insert or replace the value for `prefix`. Returns the value it replaced.
    pub fn insert(&mut self, prefix: Ipv4Net, value: V) -> Option<V> {
        let len = prefix.prefix_len();
        let key = u32::from(prefix.addr()) & mask_of(len);
        let old = match len {
            0 => self.default.replace(value),
            32 => self.hosts.insert(key, value),
            _ => {
                let i = match self.level_index(len) {
                    Ok(i) => i,
                    Err(i) => {
                        self.levels.insert(
                            i,
                            Level {
                                len,
                                mask: mask_of(len),
                                map: HashMap::default(),
                            },
                        );
                        i
                    }
                };
                let old = self.levels[i].map.insert(key, value);
                if old.is_none() {
                    self.short_len += 1;
                }
                self.rebuild_short();
                old
            }
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Remove `prefix` (exact match). Returns its value.
    pub fn remove(&mut self, prefix: Ipv4Net) -> Option<V> {
        let len = prefix.prefix_len();
        let key = u32::from(prefix.addr()) & mask_of(len);
        let old = match len {
            0 => self.default.take(),
            32 => self.hosts.remove(key),
            _ => {
                let i = self.level_index(len).ok()?;
                let old = self.levels[i].map.remove(&key);
                if self.levels[i].map.is_empty() {
                    self.levels.remove(i);
                }
                if old.is_some() {
                    self.short_len -= 1;
                    self.rebuild_short();
                }
                old
            }
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// The value stored for exactly `prefix`.
    pub fn get(&self, prefix: Ipv4Net) -> Option<V> {
        let len = prefix.prefix_len();
        let key = u32::from(prefix.addr()) & mask_of(len);
        match len {
            0 => self.default,
            32 => self.hosts.get(key),
            _ => {
                let i = self.level_index(len).ok()?;
                self.levels[i].map.get(&key).copied()
            }
        }
    }

    /// The longest match as (masked key, length, value).
    #[inline(always)]
    fn find(&self, a: u32) -> Option<(u32, u8, V)> {
        if let Some(v) = self.hosts.get(a) {
            return Some((a, 32, v));
        }
        if self.short.len() == self.short_len {
            for s in &self.short {
                if a & s.mask == s.key {
                    return Some((s.key, s.len, s.value));
                }
            }
        } else {
            for level in &self.levels {
                let key = a & level.mask;
                if let Some(&v) = level.map.get(&key) {
                    return Some((key, level.len, v));
                }
            }
        }
        self.default.map(|v| (0, 0, v))
    }

    /// Longest-prefix match for `addr`: the most specific prefix containing it and its
    /// value.
    #[inline]
    pub fn lookup(&self, addr: Ipv4Addr) -> Option<(Ipv4Net, V)> {
        self.find(u32::from(addr))
            .map(|(key, len, v)| (Ipv4Net::new_assert(Ipv4Addr::from(key), len), v))
    }

    /// The value of the longest-prefix match for `addr`, without the prefix. This is the
    /// per-packet call.
    #[inline(always)]
    pub fn lookup_value(&self, addr: Ipv4Addr) -> Option<V> {
        self.find(u32::from(addr)).map(|(_, _, v)| v)
    }

    /// Number of prefixes stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No prefixes stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Remove everything.
    pub fn clear(&mut self) {
        self.hosts.clear();
        self.levels.clear();
        self.short.clear();
        self.short_len = 0;
        self.default = None;
        self.len = 0;
    }

    /// All `(prefix, value)` pairs, longest prefix first, then by address. Allocates: for
    /// the control plane, not the packet path.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Net, V)> + '_ {
        let mut all: Vec<(Ipv4Net, V)> = Vec::with_capacity(self.len);
        all.extend(
            self.hosts
                .iter()
                .map(|(k, v)| (Ipv4Net::new_assert(Ipv4Addr::from(k), 32), v)),
        );
        all.sort_unstable_by_key(|(p, _)| p.addr());
        for level in &self.levels {
            let start = all.len();
            all.extend(
                level
                    .map
                    .iter()
                    .map(|(&k, &v)| (Ipv4Net::new_assert(Ipv4Addr::from(k), level.len), v)),
            );
            all[start..].sort_unstable_by_key(|(p, _)| p.addr());
        }
        if let Some(v) = self.default {
            all.push((Ipv4Net::new_assert(Ipv4Addr::UNSPECIFIED, 0), v));
        }
        all.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::BuildHasher;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_match_wins() {
        let mut t = Lpm::new();
        assert!(t.is_empty());
        assert_eq!(t.lookup(ip("192.0.2.1")), None);
        assert_eq!(t.insert(net("0.0.0.0/0"), 0), None);
        assert_eq!(t.insert(net("192.0.2.0/24"), 24), None);
        assert_eq!(t.insert(net("192.0.2.10/32"), 32), None);
        assert_eq!(t.insert(net("203.0.113.8/29"), 29), None);
        assert_eq!(t.len(), 4);
        assert_eq!(t.lookup(ip("192.0.2.10")), Some((net("192.0.2.10/32"), 32)));
        assert_eq!(t.lookup(ip("192.0.2.11")), Some((net("192.0.2.0/24"), 24)));
        assert_eq!(
            t.lookup(ip("203.0.113.15")),
            Some((net("203.0.113.8/29"), 29))
        );
        assert_eq!(t.lookup(ip("203.0.113.16")), Some((net("0.0.0.0/0"), 0)));
        assert_eq!(t.lookup(ip("198.51.100.1")), Some((net("0.0.0.0/0"), 0)));
    }

    #[test]
    fn normalises_replaces_and_removes() {
        let mut t = Lpm::new();
        assert_eq!(t.insert(net("192.0.2.77/24"), 1), None);
        assert_eq!(t.get(net("192.0.2.0/24")), Some(1));
        assert_eq!(t.insert(net("192.0.2.0/24"), 2), Some(1));
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(ip("192.0.2.200")), Some((net("192.0.2.0/24"), 2)));
        assert_eq!(t.remove(net("192.0.2.9/24")), Some(2));
        assert_eq!(t.remove(net("192.0.2.0/24")), None);
        assert!(t.is_empty());
        assert_eq!(t.lookup(ip("192.0.2.200")), None);
        assert_eq!(t.get(net("192.0.2.0/25")), None);
        assert_eq!(t.remove(net("0.0.0.0/0")), None);
        t.insert(net("0.0.0.0/0"), 5);
        assert_eq!(t.get(net("0.0.0.0/0")), Some(5));
        assert_eq!(t.insert(net("10.0.0.0/0"), 6), Some(5));
        assert_eq!(t.len(), 1);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.lookup(ip("192.0.2.1")), None);
    }

    #[test]
    fn scan_list_and_levels_agree_across_the_threshold() {
        // Grow past SCAN_MAX prefixes of length 1..=31 and shrink back, checking every
        // lookup against a linear scan over what is stored at each step.
        let prefixes: Vec<Ipv4Net> = (0..40u32)
            .map(|i| {
                let len = 8 + (i % 24) as u8;
                Ipv4Net::new_assert(Ipv4Addr::from(0xc000_0000 | (i << 12)), len).trunc()
            })
            .collect();
        let probes: Vec<Ipv4Addr> = (0..4096u32)
            .map(|i| Ipv4Addr::from(0xc000_0000 | (i * 0x9e37) & 0x00ff_ffff))
            .collect();
        let check = |t: &Lpm<u32>, stored: &[(Ipv4Net, u32)]| {
            for &a in &probes {
                let want = stored
                    .iter()
                    .filter(|(p, _)| p.contains(&a))
                    .max_by_key(|(p, _)| p.prefix_len())
                    .copied();
                assert_eq!(t.lookup(a), want, "lookup {a} with {} stored", stored.len());
                assert_eq!(t.lookup_value(a), want.map(|(_, v)| v));
            }
        };
        let mut t = Lpm::new();
        let mut stored: Vec<(Ipv4Net, u32)> = Vec::new();
        t.insert(net("192.0.2.77/32"), 999);
        stored.push((net("192.0.2.77/32"), 999));
        for (i, &p) in prefixes.iter().enumerate() {
            if t.insert(p, i as u32).is_none() {
                stored.push((p, i as u32));
            } else {
                stored.iter_mut().find(|(q, _)| *q == p).unwrap().1 = i as u32;
            }
            check(&t, &stored);
        }
        for &p in &prefixes {
            if t.remove(p).is_some() {
                stored.retain(|(q, _)| *q != p);
            }
            check(&t, &stored);
        }
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn iter_is_sorted() {
        let mut t = Lpm::new();
        for (p, v) in [
            ("0.0.0.0/0", 0),
            ("192.0.2.20/32", 3),
            ("192.0.2.0/24", 1),
            ("192.0.2.10/32", 2),
            ("203.0.113.0/29", 4),
        ] {
            t.insert(net(p), v);
        }
        let got: Vec<_> = t.iter().collect();
        assert_eq!(
            got,
            vec![
                (net("192.0.2.10/32"), 2),
                (net("192.0.2.20/32"), 3),
                (net("203.0.113.0/29"), 4),
                (net("192.0.2.0/24"), 1),
                (net("0.0.0.0/0"), 0),
            ]
        );
    }

    #[test]
    fn hasher_spreads_masked_keys() {
        // /24 keys have 8 trailing zero bits; their hashes must still differ in the low
        // bits that pick the bucket.
        let b = FastBuildHasher::default();
        let mut low = std::collections::HashSet::new();
        for i in 0..256u32 {
            low.insert(b.hash_one(0xc000_0000u32 | (i << 8)) & 0xff);
        }
        assert!(low.len() > 128, "only {} distinct low bytes", low.len());
    }
}
