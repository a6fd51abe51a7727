//! Tests of the prefix tables, IPv4 then IPv6.

use super::*;
use core::hash::BuildHasher;
use ipnet::Ipv4Net;
use ipnet::Ipv6Net;
use proptest::prelude::*;
use wire::Ipv4Addr;
use wire::Ipv6Addr;

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

// IPv6

fn p6(s: &str) -> Ipv6Net {
    s.parse().unwrap()
}

#[test]
fn longest_wins_and_remove() {
    let mut t = Lpm6::new();
    t.insert(p6("::/0"), 0);
    t.insert(p6("2001:db8::/64"), 1);
    t.insert(p6("2001:db8::5/128"), 2);
    t.insert(p6("2001:db8:0:0:8000::/65"), 3);
    let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    assert_eq!(t.lookup_value(a("2001:db8::5")), Some(2));
    assert_eq!(t.lookup_value(a("2001:db8::6")), Some(1));
    assert_eq!(t.lookup_value(a("2001:db8::8000:0:0:1")), Some(3));
    assert_eq!(t.lookup(a("2001:db9::1")), Some((p6("::/0"), 0)));
    assert_eq!(t.len(), 4);
    assert_eq!(
        t.insert(p6("2001:db8::77/64"), 9),
        Some(1),
        "host bits ignored"
    );
    assert_eq!(t.remove(p6("2001:db8::/64")), Some(9));
    assert_eq!(t.lookup_value(a("2001:db8::6")), Some(0));
    assert_eq!(t.iter().count(), 3);
    assert_eq!(t.get(p6("2001:db8::5/128")), Some(2));
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
