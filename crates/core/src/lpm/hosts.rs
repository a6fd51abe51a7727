//! The host level (/32, /128) of [`super::PrefixTable`]: an open-addressing hash table
//! from address to value, probed once for every lookup (a hit for guest destinations, a
//! miss for everything else).
//!
//! Linear probing over a power-of-two array kept at most half full, Fibonacci hashing
//! (multiply by 2^64 / golden ratio, keep the top bits), and backward-shift deletion, so
//! there are no tombstones and a miss stops at the first empty slot. A lookup is a
//! multiply, a shift and, typically, one slot compare: cheaper than a general-purpose
//! map's group probe for an integer key (IPv6 keys folded to 64 bits). As with [`super::FastHasher`], keys are chosen by
//! the control plane only, so hash flooding is not a concern.

use super::family::Family;

/// 2^64 / golden ratio, odd.
const FIB: u64 = 0x9e37_79b9_7f4a_7c15;

/// Smallest non-empty capacity (512 bytes for 16-byte slots): the tables of a typical
/// node, tens of guests, stay well under half full, so most probes touch one slot.
const MIN_CAPACITY: usize = 32;

/// Exact-match table of addresses.
#[derive(Clone, Debug)]
pub(super) struct HostMap<F: Family, V> {
    /// Power-of-two length (or empty); `None` is a free slot.
    slots: Vec<Option<(F::Bits, V)>>,
    len: usize,
    /// 64 - log2(slots.len()): the hash keeps the top bits of the product.
    shift: u32,
}

impl<F: Family, V: Copy> HostMap<F, V> {
    pub(super) fn new() -> Self {
        HostMap {
            slots: Vec::new(),
            len: 0,
            shift: 64,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Home slot of `key` (the table must be non-empty).
    #[inline(always)]
    fn home(&self, key: F::Bits) -> usize {
        (F::fold(key).wrapping_mul(FIB) >> self.shift) as usize
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Slot holding `key`.
    #[inline(always)]
    fn find(&self, key: F::Bits) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        // At most half full: an empty slot ends every probe sequence.
        loop {
            match self.slots.get(i)? {
                Some((k, _)) if *k == key => return Some(i),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }

    /// The value of `key`. The per-packet call.
    #[inline(always)]
    pub(super) fn get(&self, key: F::Bits) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            match self.slots.get(i)? {
                Some((k, v)) if *k == key => return Some(*v),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }

    /// Insert or replace; returns the value replaced.
    pub(super) fn insert(&mut self, key: F::Bits, value: V) -> Option<V> {
        if let Some(i) = self.find(key) {
            return self.slots[i].replace((key, value)).map(|(_, v)| v);
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(key, value);
        self.len += 1;
        None
    }

    /// Put an absent key in the first free slot of its probe sequence.
    fn place(&mut self, key: F::Bits, value: V) {
        let mask = self.mask();
        let mut i = self.home(key);
        while self.slots[i].is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Some((key, value));
    }

    /// Double the capacity (at least [`MIN_CAPACITY`]) and re-place every entry.
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(MIN_CAPACITY);
        let old = std::mem::replace(&mut self.slots, vec![None; capacity]);
        self.shift = 64 - capacity.trailing_zeros();
        for (key, value) in old.into_iter().flatten() {
            self.place(key, value);
        }
    }

    /// Remove `key`; returns its value.
    pub(super) fn remove(&mut self, key: F::Bits) -> Option<V> {
        let i = self.find(key)?;
        let (_, value) = self.slots[i].take()?;
        self.len -= 1;
        // Backward-shift deletion: move later entries of the cluster into the hole when
        // the hole lies on their probe path (between their home slot and where they are).
        let mask = self.mask();
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let Some((k, _)) = self.slots[j] else {
                break;
            };
            let home = self.home(k);
            if hole.wrapping_sub(home) & mask < j.wrapping_sub(home) & mask {
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
        }
        Some(value)
    }

    pub(super) fn clear(&mut self) {
        self.slots = Vec::new();
        self.len = 0;
        self.shift = 64;
    }

    /// Every entry, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (F::Bits, V)> + '_ {
        self.slots.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lpm::family::{V4, V6};
    use std::collections::HashMap;

    /// Random inserts and removes over keys that collide a lot (few distinct high bits),
    /// checked against `HashMap` after every step, through several growths.
    #[test]
    fn agrees_with_hashmap() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut t: HostMap<V4, u32> = HostMap::new();
        let mut model: HashMap<u32, u32> = HashMap::new();
        for step in 0..20_000u32 {
            let r = next();
            let key = ((r >> 8) as u32 % 300) << 20 | (r as u32 & 3);
            if r % 3 == 0 {
                assert_eq!(t.remove(key), model.remove(&key), "remove {key:#x}");
            } else {
                assert_eq!(
                    t.insert(key, step),
                    model.insert(key, step),
                    "insert {key:#x}"
                );
            }
            assert_eq!(t.len(), model.len());
            if step % 97 == 0 {
                for (&k, &v) in &model {
                    assert_eq!(t.get(k), Some(v), "get {k:#x}");
                }
                let mut got: Vec<_> = t.iter().collect();
                got.sort_unstable();
                let mut want: Vec<_> = model.iter().map(|(&k, &v)| (k, v)).collect();
                want.sort_unstable();
                assert_eq!(got, want);
            }
            assert_eq!(t.get(key), model.get(&key).copied());
            assert_eq!(
                t.get(key ^ 0x8000_0000),
                model.get(&(key ^ 0x8000_0000)).copied()
            );
        }
        t.clear();
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(0), None);
        assert_eq!(t.remove(0), None);
    }

    #[test]
    fn empty_and_key_zero() {
        let mut t: HostMap<V4, u8> = HostMap::new();
        assert_eq!(t.get(0), None);
        assert_eq!(t.remove(7), None);
        assert_eq!(t.insert(0, 1), None);
        assert_eq!(t.get(0), Some(1));
        assert_eq!(t.insert(0, 2), Some(1));
        assert_eq!(t.remove(0), Some(2));
        assert_eq!(t.get(0), None);
        assert_eq!(t.len(), 0);
    }

    /// IPv6 guests of one /64 differ in their low bits only; they must still spread.
    #[test]
    fn ipv6_keys_of_one_prefix() {
        let mut t: HostMap<V6, u32> = HostMap::new();
        let base: u128 = 0x2001_0db8_0000_0001 << 64;
        for i in 0..2000u32 {
            assert_eq!(
                t.insert(base | (u128::from(i) << 3) | 0x0200_00ff_fe00_0000, i),
                None
            );
        }
        for i in 0..2000u32 {
            assert_eq!(
                t.get(base | (u128::from(i) << 3) | 0x0200_00ff_fe00_0000),
                Some(i)
            );
        }
        assert_eq!(t.get(base), None);
        for i in (0..2000u32).step_by(2) {
            assert_eq!(
                t.remove(base | (u128::from(i) << 3) | 0x0200_00ff_fe00_0000),
                Some(i)
            );
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(t.get(base | (1 << 3) | 0x0200_00ff_fe00_0000), Some(1));
    }
}
