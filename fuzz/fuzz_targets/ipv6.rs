#![no_main]
//! IPv6: check_len agrees with RFC 8200 length rules, accessors read the right bytes,
//! parse -> emit -> parse gives the same repr, and the extension-header walk stays in
//! bounds, respects its bound and agrees with a plain reference walk.

use libfuzzer_sys::fuzz_target;
use wire::ipv6::{Ipv6Packet, Ipv6Repr, NextHeader, HEADER_LEN};
use wire::ipv6_ext::{walk, ExtError, DEFAULT_MAX_HEADERS};
use wire::Error;

mod common;

/// Reference walk: the same rules written the obvious way.
fn reference_walk(first: u8, p: &[u8], max: usize) -> Result<(u8, usize), ExtError> {
    let ext = [0u8, 43, 44, 51, 60, 135, 139, 140, 253, 254];
    let (mut nh, mut at, mut n) = (first, 0usize, 0usize);
    while ext.contains(&nh) {
        if n >= max {
            return Err(ExtError::TooMany);
        }
        if nh == 0 && n != 0 {
            return Err(ExtError::MisplacedHopByHop);
        }
        if p.len() < at + 8 {
            return Err(ExtError::Truncated);
        }
        let len = match nh {
            44 => 8,
            51 => (usize::from(p[at + 1]) + 2) * 4,
            _ => (usize::from(p[at + 1]) + 1) * 8,
        };
        if p.len() < at + len {
            return Err(ExtError::Truncated);
        }
        let next = p[at];
        n += 1;
        let nonfirst = nh == 44 && (common::be16(p, at + 2) >> 3) != 0;
        at += len;
        nh = next;
        if nonfirst {
            break;
        }
    }
    Ok((nh, at))
}

fuzz_target!(|data: &[u8]| {
    let expected = if data.len() < HEADER_LEN
        || data.len() < HEADER_LEN + usize::from(common::be16(data, 4))
    {
        Err(Error::Truncated)
    } else {
        Ok(())
    };
    let p = match Ipv6Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(Err(e), expected);
            return;
        }
    };
    assert_eq!(expected, Ok(()));
    assert_eq!(p.version(), data[0] >> 4);
    assert_eq!(p.hop_limit(), data[7]);
    assert_eq!(u8::from(p.next_header()), data[6]);
    assert_eq!(p.src_addr().octets()[..], data[8..24]);
    assert_eq!(p.dst_addr().octets()[..], data[24..40]);
    assert_eq!(p.payload().len(), usize::from(common::be16(data, 4)));
    let tc_flow = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    assert_eq!(u32::from(p.traffic_class()), (tc_flow >> 20) & 0xff);
    assert_eq!(p.flow_label(), tc_flow & 0xfffff);

    match Ipv6Repr::parse(&p) {
        Ok(repr) => {
            let mut out = vec![0u8; HEADER_LEN + usize::from(repr.payload_len)];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
            let o = Ipv6Packet::new_checked(&out[..]).expect("sized from the repr");
            assert_eq!(Ipv6Repr::parse(&o), Ok(repr));
        }
        Err(e) => {
            assert_eq!(e, Error::Malformed);
            assert_ne!(p.version(), 6);
        }
    }

    for max in [0, 1, DEFAULT_MAX_HEADERS] {
        let got = walk(p.next_header(), p.payload(), max);
        let want = reference_walk(data[6], p.payload(), max);
        match (got, want) {
            (Ok(w), Ok((nh, at))) => {
                assert_eq!((u8::from(w.upper), w.upper_offset), (nh, at));
                assert!(w.upper_offset <= p.payload().len());
                assert!(usize::from(w.count) <= max);
                assert!(!w.upper.is_extension() || !w.has_upper());
                if w.hop_by_hop {
                    assert_eq!(p.next_header(), NextHeader::HopByHop);
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("walk {a:?} reference {b:?}"),
        }
    }

    let mut copy = data.to_vec();
    let mut q = Ipv6Packet::new_checked(&mut copy[..]).expect("same bytes");
    let h = q.hop_limit();
    assert_eq!(q.decrement_hop_limit(), h.saturating_sub(1));
    assert_eq!(copy[..7], data[..7]);
    assert_eq!(copy[8..], data[8..]);
});
