#![no_main]
//! IPv4: check_len agrees with RFC 791 length rules, the fast checksum agrees with a plain
//! reference, decrement_ttl keeps a valid checksum valid (and equals recomputation), and
//! parse -> emit -> parse gives the same repr.

use libfuzzer_sys::fuzz_target;
use wire::ipv4::{Ipv4Packet, Ipv4Repr, HEADER_LEN};
use wire::{checksum, Error};

mod common;

fn expected_check(data: &[u8]) -> Result<(), Error> {
    if data.len() < HEADER_LEN {
        return Err(Error::Truncated);
    }
    let hl = usize::from(data[0] & 0x0f) * 4;
    let tl = usize::from(common::be16(data, 2));
    if hl < HEADER_LEN || tl < hl {
        return Err(Error::Malformed);
    }
    if data.len() < tl {
        return Err(Error::Truncated);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(checksum::data(data), common::reference_sum(data));
    let p = match Ipv4Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(expected_check(data), Err(e));
            assert_eq!(Ipv4Repr::parse(&Ipv4Packet::new_unchecked(data)), Err(e));
            return;
        }
    };
    assert_eq!(expected_check(data), Ok(()));
    let hl = usize::from(p.header_len());
    let tl = usize::from(p.total_len());
    assert_eq!(p.options(), &data[HEADER_LEN..hl]);
    assert_eq!(p.payload(), &data[hl..tl]);
    let _ = (
        p.version(),
        p.dscp(),
        p.ecn(),
        p.ident(),
        p.dont_frag(),
        p.more_frags(),
    );
    let _ = (p.ttl(), p.protocol(), p.src_addr(), p.dst_addr());
    assert_eq!(p.frag_offset() % 8, 0);
    assert_eq!(p.is_fragment(), p.more_frags() || p.frag_offset() != 0);
    assert_eq!(p.is_first_fragment(), p.frag_offset() == 0);
    let valid = common::reference_sum(&data[..hl]) == 0xffff;
    assert_eq!(p.verify_checksum(), valid);

    // RFC 1624 / RFC 1812 5.3.1: the incremental update keeps a valid header valid.
    let mut copy = data.to_vec();
    let mut q = Ipv4Packet::new_checked(&mut copy[..]).expect("same bytes");
    let ttl = q.ttl();
    let new_ttl = q.decrement_ttl();
    assert_eq!(new_ttl, ttl.saturating_sub(1));
    assert_eq!(q.ttl(), new_ttl);
    if valid {
        assert!(q.verify_checksum());
        // And equals a full recomputation when the original checksum was canonical.
        let mut orig = data[..hl].to_vec();
        let mut o = Ipv4Packet::new_unchecked(&mut orig[..]);
        o.fill_checksum();
        if o.checksum() == p.checksum() {
            let incremental = q.checksum();
            q.fill_checksum();
            assert_eq!(incremental, q.checksum());
        }
    }
    q.fill_checksum();
    assert!(q.verify_checksum());
    q.options_mut().fill(0);
    q.payload_mut().fill(0);

    match Ipv4Repr::parse(&p) {
        Ok(repr) => {
            assert!(valid && p.version() == 4 && !p.is_fragment());
            assert_eq!(repr.payload_len, tl - hl);
            let mut out = vec![0u8; repr.buffer_len() + repr.payload_len];
            let mut o = Ipv4Packet::new_unchecked(&mut out[..]);
            repr.emit(&mut o);
            assert!(o.verify_checksum());
            o.payload_mut().copy_from_slice(p.payload());
            let o = Ipv4Packet::new_checked(&out[..]).expect("emitted lengths are consistent");
            assert_eq!(Ipv4Repr::parse(&o), Ok(repr));
            assert_eq!(o.payload(), p.payload());
        }
        Err(Error::Malformed) => assert_ne!(p.version(), 4),
        Err(Error::Checksum) => assert!(p.version() == 4 && !valid),
        Err(Error::Unsupported) => assert!(valid && p.is_fragment()),
        Err(Error::Truncated) => panic!("check_len passed but parse says Truncated"),
    }
});
