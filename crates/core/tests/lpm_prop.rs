//! Property test: `Lpm` agrees with a linear scan over a plain list of prefixes, under
//! random inserts, removes and lookups. Prefixes are biased to share bits (a few base
//! addresses from the documentation ranges, all lengths including /0 and /32) so that
//! nested matches, replacements and removals of existing prefixes actually happen.

use std::collections::BTreeMap;

use hvrouter_core::lpm::Lpm;
use ipnet::Ipv4Net;
use proptest::prelude::*;
use wire::Ipv4Addr;

/// 192.0.2.0, 198.51.100.0, 203.0.113.0, and 192.0.3.0 (shares 23 bits with the first).
const BASES: [u32; 4] = [0xc000_0200, 0xc633_6400, 0xcb00_7100, 0xc000_0300];

fn addr() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => (0..BASES.len(), any::<u8>()).prop_map(|(b, low)| BASES[b] | u32::from(low)),
        2 => (0..BASES.len(), any::<u16>()).prop_map(|(b, low)| (BASES[b] & 0xffff_0000) | u32::from(low)),
        1 => any::<u32>(),
    ]
}

fn prefix_len() -> impl Strategy<Value = u8> {
    prop_oneof![
        1 => Just(0u8),
        3 => Just(32u8),
        4 => 22..=32u8,
        2 => 0..=32u8,
    ]
}

/// A prefix, possibly with host bits set (the table must normalise it).
fn prefix() -> impl Strategy<Value = Ipv4Net> {
    (addr(), prefix_len()).prop_map(|(a, l)| Ipv4Net::new_assert(Ipv4Addr::from(a), l))
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Ipv4Net, u32),
    Remove(Ipv4Net),
    Lookup(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prefix(), any::<u32>()).prop_map(|(p, v)| Op::Insert(p, v)),
        2 => prefix().prop_map(Op::Remove),
        4 => addr().prop_map(Op::Lookup),
    ]
}

/// The reference: normalised prefixes in a map, lookups by scanning all of them.
#[derive(Default)]
struct Model {
    entries: BTreeMap<(u32, u8), u32>,
}

impl Model {
    fn key(p: Ipv4Net) -> (u32, u8) {
        (u32::from(p.trunc().addr()), p.prefix_len())
    }
    fn lookup(&self, a: u32) -> Option<(Ipv4Net, u32)> {
        self.entries
            .iter()
            .filter(|(&(net, len), _)| {
                let mask = if len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(len))
                };
                a & mask == net
            })
            .max_by_key(|(&(_, len), _)| len)
            .map(|(&(net, len), &v)| (Ipv4Net::new_assert(Ipv4Addr::from(net), len), v))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lpm_matches_linear_scan(ops in proptest::collection::vec(op(), 1..200)) {
        let mut lpm = Lpm::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Insert(p, v) => {
                    let want = model.entries.insert(Model::key(p), v);
                    prop_assert_eq!(lpm.insert(p, v), want, "insert {}", p);
                }
                Op::Remove(p) => {
                    let want = model.entries.remove(&Model::key(p));
                    prop_assert_eq!(lpm.remove(p), want, "remove {}", p);
                }
                Op::Lookup(a) => {
                    let a4 = Ipv4Addr::from(a);
                    prop_assert_eq!(lpm.lookup(a4), model.lookup(a), "lookup {}", a4);
                }
            }
            prop_assert_eq!(lpm.len(), model.entries.len());
            prop_assert_eq!(lpm.is_empty(), model.entries.is_empty());
        }
        // Every stored prefix: exact get, and a lookup of its first and last address.
        for (&(net, len), &v) in &model.entries {
            let p = Ipv4Net::new_assert(Ipv4Addr::from(net), len);
            prop_assert_eq!(lpm.get(p), Some(v));
            for a in [p.network(), p.broadcast()] {
                prop_assert_eq!(lpm.lookup(a), model.lookup(u32::from(a)), "lookup {}", a);
            }
        }
        // iter: longest prefix first, then by address.
        let mut want: Vec<(Ipv4Net, u32)> = model
            .entries
            .iter()
            .map(|(&(net, len), &v)| (Ipv4Net::new_assert(Ipv4Addr::from(net), len), v))
            .collect();
        want.sort_by_key(|(p, _)| (std::cmp::Reverse(p.prefix_len()), p.addr()));
        prop_assert_eq!(lpm.iter().collect::<Vec<_>>(), want);
        lpm.clear();
        prop_assert!(lpm.is_empty());
        prop_assert_eq!(lpm.lookup(Ipv4Addr::new(192, 0, 2, 1)), None);
    }

    /// Many /32s plus a few short prefixes, the shape of a real table.
    #[test]
    fn guest_shaped_table(hosts in proptest::collection::btree_set(any::<u8>(), 0..200),
                          probes in proptest::collection::vec(addr(), 50)) {
        let mut lpm = Lpm::new();
        let mut model = Model::default();
        let mut put = |p: Ipv4Net, v: u32| {
            lpm.insert(p, v);
            model.entries.insert(Model::key(p), v);
        };
        put(Ipv4Net::new_assert(Ipv4Addr::UNSPECIFIED, 0), 0);
        put(Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24), 1);
        put(Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 8), 29), 2);
        for h in hosts {
            put(Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, h), 32), 100 + u32::from(h));
        }
        for a in probes {
            prop_assert_eq!(lpm.lookup(Ipv4Addr::from(a)), model.lookup(a));
        }
    }
}
