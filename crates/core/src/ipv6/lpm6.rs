//! Longest-prefix match over IPv6: the IPv6 twin of [`crate::lpm::Lpm`].
//!
//! Same design, sized for the tables a node holds (a few thousand guest /128s, a few
//! routed prefixes per guest, the connected /64 and a default route):
//! - /128s live in one hash map keyed by the address: a guest destination is one probe.
//! - Lengths 1..=127 have one hash map per length in use, keyed by the masked address,
//!   longest length first; a lookup probes each length in use (few distinct lengths:
//!   /64 for the subnet, /56../64 for routed prefixes).
//! - Length 0 is a single slot.
//!
//! Keys are `u128`s hashed with [`FastBuildHasher`]; entries come from the control plane
//! only, never from packet contents, so hash flooding is not a concern (as for IPv4).

use std::collections::HashMap;

use ipnet::Ipv6Net;
use wire::Ipv6Addr;

use crate::lpm::FastBuildHasher;

/// Mask of the first `len` bits (`len` <= 128).
#[inline(always)]
pub fn mask6(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

#[derive(Clone, Debug)]
struct Level<V> {
    len: u8,
    mask: u128,
    map: HashMap<u128, V, FastBuildHasher>,
}

/// A longest-prefix-match table from IPv6 prefixes to `V`. Prefixes are normalised on
/// every call (host bits cleared), so 2001:db8::7/64 and 2001:db8::/64 are the same key.
#[derive(Clone, Debug)]
pub struct Lpm6<V: Copy> {
    hosts: HashMap<u128, V, FastBuildHasher>,
    /// Lengths 1..=127 in use, longest first. Never holds an empty level.
    levels: Vec<Level<V>>,
    default: Option<V>,
    len: usize,
}

impl<V: Copy> Default for Lpm6<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy> Lpm6<V> {
    /// An empty table.
    pub fn new() -> Self {
        Lpm6 {
            hosts: HashMap::default(),
            levels: Vec::new(),
            default: None,
            len: 0,
        }
    }

    fn level_index(&self, len: u8) -> Result<usize, usize> {
        self.levels.binary_search_by(|l| len.cmp(&l.len))
    }

    /// Insert or replace the value for `prefix`. Returns the value it replaced.
    pub fn insert(&mut self, prefix: Ipv6Net, value: V) -> Option<V> {
        let len = prefix.prefix_len();
        let key = u128::from(prefix.addr()) & mask6(len);
        let old = match len {
            0 => self.default.replace(value),
            128 => self.hosts.insert(key, value),
            _ => {
                let i = match self.level_index(len) {
                    Ok(i) => i,
                    Err(i) => {
                        self.levels.insert(
                            i,
                            Level {
                                len,
                                mask: mask6(len),
                                map: HashMap::default(),
                            },
                        );
                        i
                    }
                };
                self.levels[i].map.insert(key, value)
            }
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Remove `prefix`. Returns its value.
    pub fn remove(&mut self, prefix: Ipv6Net) -> Option<V> {
        let len = prefix.prefix_len();
        let key = u128::from(prefix.addr()) & mask6(len);
        let old = match len {
            0 => self.default.take(),
            128 => self.hosts.remove(&key),
            _ => {
                let i = self.level_index(len).ok()?;
                let old = self.levels[i].map.remove(&key);
                if self.levels[i].map.is_empty() {
                    self.levels.remove(i);
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
    pub fn get(&self, prefix: Ipv6Net) -> Option<V> {
        let len = prefix.prefix_len();
        let key = u128::from(prefix.addr()) & mask6(len);
        match len {
            0 => self.default,
            128 => self.hosts.get(&key).copied(),
            _ => {
                let i = self.level_index(len).ok()?;
                self.levels[i].map.get(&key).copied()
            }
        }
    }

    /// The longest prefix containing `addr`, and its value.
    pub fn lookup(&self, addr: Ipv6Addr) -> Option<(Ipv6Net, V)> {
        let a = u128::from(addr);
        if let Some(&v) = self.hosts.get(&a) {
            return Some((net(a, 128), v));
        }
        for l in &self.levels {
            let k = a & l.mask;
            if let Some(&v) = l.map.get(&k) {
                return Some((net(k, l.len), v));
            }
        }
        self.default.map(|v| (net(0, 0), v))
    }

    /// The value of the longest prefix containing `addr`.
    #[inline]
    pub fn lookup_value(&self, addr: Ipv6Addr) -> Option<V> {
        self.lookup(addr).map(|(_, v)| v)
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every prefix and value (hosts first, then longest to shortest, then the default).
    pub fn iter(&self) -> impl Iterator<Item = (Ipv6Net, V)> + '_ {
        self.hosts
            .iter()
            .map(|(&k, &v)| (net(k, 128), v))
            .chain(
                self.levels
                    .iter()
                    .flat_map(|l| l.map.iter().map(move |(&k, &v)| (net(k, l.len), v))),
            )
            .chain(self.default.map(|v| (net(0, 0), v)))
    }
}

#[inline]
fn net(key: u128, len: u8) -> Ipv6Net {
    // `len` <= 128 by construction, so this never fails; fall back to the host route.
    Ipv6Net::new(Ipv6Addr::from(key), len).unwrap_or_else(|_| Ipv6Net::from(Ipv6Addr::from(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    #[test]
    fn longest_wins_and_remove() {
        let mut t = Lpm6::new();
        t.insert(p("::/0"), 0);
        t.insert(p("2001:db8::/64"), 1);
        t.insert(p("2001:db8::5/128"), 2);
        t.insert(p("2001:db8:0:0:8000::/65"), 3);
        let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(t.lookup_value(a("2001:db8::5")), Some(2));
        assert_eq!(t.lookup_value(a("2001:db8::6")), Some(1));
        assert_eq!(t.lookup_value(a("2001:db8::8000:0:0:1")), Some(3));
        assert_eq!(t.lookup(a("2001:db9::1")), Some((p("::/0"), 0)));
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.insert(p("2001:db8::77/64"), 9),
            Some(1),
            "host bits ignored"
        );
        assert_eq!(t.remove(p("2001:db8::/64")), Some(9));
        assert_eq!(t.lookup_value(a("2001:db8::6")), Some(0));
        assert_eq!(t.iter().count(), 3);
        assert_eq!(t.get(p("2001:db8::5/128")), Some(2));
    }

    fn arb_net() -> impl Strategy<Value = Ipv6Net> {
        // Few distinct top bits so prefixes overlap often.
        (0u128..8, any::<u64>(), 0u8..=128).prop_map(|(hi, lo, len)| {
            let a = (hi << 125) | u128::from(lo);
            Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc()
        })
    }

    proptest! {
        /// The table agrees with a linear scan for the longest matching prefix.
        #[test]
        fn matches_linear_scan(
            nets in proptest::collection::vec(arb_net(), 0..40),
            probes in proptest::collection::vec((0u128..8, any::<u64>()), 1..40),
        ) {
            let mut t = Lpm6::new();
            let mut all: Vec<(Ipv6Net, usize)> = Vec::new();
            for (i, n) in nets.iter().enumerate() {
                t.insert(*n, i);
                all.retain(|(m, _)| m != n);
                all.push((*n, i));
            }
            prop_assert_eq!(t.len(), all.len());
            for (hi, lo) in probes {
                let a = Ipv6Addr::from((hi << 125) | u128::from(lo));
                let want = all
                    .iter()
                    .filter(|(n, _)| n.contains(&a))
                    .max_by_key(|(n, _)| n.prefix_len())
                    .copied();
                prop_assert_eq!(t.lookup(a), want);
            }
        }
    }
}
