//! Longest-prefix-match tables over IPv4 ([`Lpm`]) and IPv6 ([`Lpm6`]), generic over a
//! small `Copy` value: one implementation, [`PrefixTable`], for both address families.
//!
//! # Structure
//! The tables this router holds have up to a few thousand host routes (guests) and a
//! handful of shorter prefixes (extra prefixes, the connected subnet, the default route),
//! so:
//! - Host routes (/32, /128) live in one open-addressing table keyed by address
//!   (`hosts.rs`): a guest destination costs one probe, usually one slot compare.
//! - Other non-zero lengths have one hash map per length in use, keyed by the masked
//!   address, longest length first. While there are at most 16 such prefixes, a flat copy
//!   sorted longest first is scanned instead (one masked compare each, no hashing): a
//!   destination off the guests, e.g. toward the default route, costs one host probe plus
//!   a few compares. Past 16, a lookup probes each length's map in turn.
//! - Prefix length 0 needs no hash: it is a single slot.
//!
//! Alternatives considered: a binary trie costs up to 32 (128) dependent loads per
//! lookup; a DIR-24-8 array is faster but needs 64 MiB per IPv4 table. Per-length
//! hashing keeps memory proportional to the routes and lookup cost proportional to the
//! number of distinct lengths, which here is tiny.
//!
//! The maps use [`FastBuildHasher`]: a multiply-and-fold hasher written for small integer
//! keys (no new dependency). It is not resistant to hash flooding; that is acceptable
//! because entries are only inserted by the control plane, never from packet contents.

use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;

mod family;
mod hosts;

pub use family::{Family, V4, V6};
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

/// All prefixes of one length.
#[derive(Clone, Debug)]
struct Level<F: Family, V> {
    len: u8,
    mask: F::Bits,
    map: HashMap<F::Bits, V, FastBuildHasher>,
}

/// One prefix of a length between 0 and the host length, in the scan list.
#[derive(Clone, Copy, Debug)]
struct Short<F: Family, V> {
    key: F::Bits,
    mask: F::Bits,
    len: u8,
    value: V,
}

/// Up to this many prefixes of lengths other than 0 and the host length, a lookup scans
/// them (a masked compare each) instead of probing one hash map per length: cheaper, and
/// the typical table (a connected subnet, a few extra prefixes) is far below it.
const SCAN_MAX: usize = 16;

/// A longest-prefix-match table from IPv4 prefixes to `V`.
pub type Lpm<V> = PrefixTable<V4, V>;

/// A longest-prefix-match table from IPv6 prefixes to `V`.
pub type Lpm6<V> = PrefixTable<V6, V>;

/// A longest-prefix-match table from prefixes of family `F` to `V`.
///
/// Prefixes are normalised on every call (host bits cleared, as `Ipv4Net::trunc`), so
/// 192.0.2.7/24 and 192.0.2.0/24 are the same key.
#[derive(Clone, Debug)]
pub struct PrefixTable<F: Family, V: Copy> {
    /// The host routes: one exact-match probe.
    hosts: HostMap<F, V>,
    /// Other non-zero lengths in use, longest first. Never holds an empty level.
    levels: Vec<Level<F, V>>,
    /// Every prefix of `levels`, longest first, while there are at most [`SCAN_MAX`] of
    /// them (rebuilt from `levels` on each change); empty otherwise.
    short: Vec<Short<F, V>>,
    /// Number of prefixes in `levels`.
    short_len: usize,
    /// The /0 entry, if any.
    default: Option<V>,
    len: usize,
}

impl<F: Family, V: Copy> Default for PrefixTable<F, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Family, V: Copy> PrefixTable<F, V> {
    /// An empty table.
    pub fn new() -> Self {
        PrefixTable {
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

    /// Rebuild the scan list after a change of `levels`.
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

    /// The key and length of `prefix`, host bits cleared.
    #[inline(always)]
    fn key_of(prefix: F::Net) -> (F::Bits, u8) {
        let (bits, len) = F::split(prefix);
        (bits & F::mask(len), len)
    }

    /// Insert or replace the value for `prefix`. Returns the value it replaced.
    pub fn insert(&mut self, prefix: F::Net, value: V) -> Option<V> {
        let (key, len) = Self::key_of(prefix);
        let old = if len == 0 {
            self.default.replace(value)
        } else if len >= F::HOST_LEN {
            self.hosts.insert(key, value)
        } else {
            let i = match self.level_index(len) {
                Ok(i) => i,
                Err(i) => {
                    self.levels.insert(
                        i,
                        Level {
                            len,
                            mask: F::mask(len),
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
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Remove `prefix` (exact match). Returns its value.
    pub fn remove(&mut self, prefix: F::Net) -> Option<V> {
        let (key, len) = Self::key_of(prefix);
        let old = if len == 0 {
            self.default.take()
        } else if len >= F::HOST_LEN {
            self.hosts.remove(key)
        } else {
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
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// The value stored for exactly `prefix`.
    pub fn get(&self, prefix: F::Net) -> Option<V> {
        let (key, len) = Self::key_of(prefix);
        if len == 0 {
            self.default
        } else if len >= F::HOST_LEN {
            self.hosts.get(key)
        } else {
            let i = self.level_index(len).ok()?;
            self.levels[i].map.get(&key).copied()
        }
    }

    /// The longest match as (masked key, length, value).
    #[inline(always)]
    fn find(&self, a: F::Bits) -> Option<(F::Bits, u8, V)> {
        if let Some(v) = self.hosts.get(a) {
            return Some((a, F::HOST_LEN, v));
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
        self.default.map(|v| (F::ZERO, 0, v))
    }

    /// Longest-prefix match for `addr`: the most specific prefix containing it and its
    /// value.
    #[inline]
    pub fn lookup(&self, addr: F::Addr) -> Option<(F::Net, V)> {
        self.find(F::bits(addr))
            .map(|(key, len, v)| (F::join(key, len), v))
    }

    /// The value of the longest-prefix match for `addr`, without the prefix. This is the
    /// per-packet call.
    #[inline(always)]
    pub fn lookup_value(&self, addr: F::Addr) -> Option<V> {
        self.find(F::bits(addr)).map(|(_, _, v)| v)
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
    pub fn iter(&self) -> impl Iterator<Item = (F::Net, V)> + '_ {
        let mut all: Vec<(F::Bits, u8, V)> = Vec::with_capacity(self.len);
        all.extend(self.hosts.iter().map(|(k, v)| (k, F::HOST_LEN, v)));
        all.sort_unstable_by_key(|&(k, _, _)| k);
        for level in &self.levels {
            let start = all.len();
            all.extend(level.map.iter().map(|(&k, &v)| (k, level.len, v)));
            all[start..].sort_unstable_by_key(|&(k, _, _)| k);
        }
        if let Some(v) = self.default {
            all.push((F::ZERO, 0, v));
        }
        all.into_iter().map(|(k, len, v)| (F::join(k, len), v))
    }
}

#[cfg(test)]
mod tests;
