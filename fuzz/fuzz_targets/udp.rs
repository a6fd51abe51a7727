#![no_main]
//! UDP: the first 8 input bytes are the IPv4 source and destination, the rest the
//! datagram. check_len agrees with RFC 768 lengths, verify_checksum agrees with a plain
//! reference, fill_checksum never writes 0, and parse -> emit reproduces the datagram.

use libfuzzer_sys::fuzz_target;
use wire::udp::{UdpPacket, UdpRepr, HEADER_LEN};
use wire::{Error, Ipv4Addr};

mod common;

fn reference_verify(src: Ipv4Addr, dst: Ipv4Addr, d: &[u8]) -> bool {
    let mut pseudo = Vec::with_capacity(12 + d.len());
    pseudo.extend(src.octets());
    pseudo.extend(dst.octets());
    pseudo.extend([0, 17]);
    pseudo.extend((d.len() as u16).to_be_bytes());
    pseudo.extend(d);
    common::be16(d, 6) == 0 || common::reference_sum(&pseudo) == 0xffff
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 8 {
        return;
    }
    let src = Ipv4Addr::new(input[0], input[1], input[2], input[3]);
    let dst = Ipv4Addr::new(input[4], input[5], input[6], input[7]);
    let data = &input[8..];
    let p = match UdpPacket::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            let expected = if data.len() < HEADER_LEN {
                Error::Truncated
            } else if usize::from(common::be16(data, 4)) < HEADER_LEN {
                Error::Malformed
            } else {
                assert!(usize::from(common::be16(data, 4)) > data.len());
                Error::Truncated
            };
            assert_eq!(e, expected);
            assert_eq!(
                UdpRepr::parse(&UdpPacket::new_unchecked(data), src, dst),
                Err(e)
            );
            return;
        }
    };
    let len = usize::from(p.len());
    assert!((HEADER_LEN..=data.len()).contains(&len));
    assert_eq!(p.payload(), &data[HEADER_LEN..len]);
    assert_eq!(
        (p.src_port(), p.dst_port()),
        (common::be16(data, 0), common::be16(data, 2))
    );
    let valid = reference_verify(src, dst, &data[..len]);
    assert_eq!(p.verify_checksum(src, dst), valid);

    let mut copy = data.to_vec();
    let mut q = UdpPacket::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum(src, dst);
    assert_ne!(q.checksum(), 0);
    assert!(q.verify_checksum(src, dst));
    assert!(reference_verify(src, dst, &copy[..len]));

    match UdpRepr::parse(&p, src, dst) {
        Ok(repr) => {
            assert!(valid);
            let n = len - HEADER_LEN;
            let mut out = vec![0u8; repr.buffer_len() + n];
            let mut o = UdpPacket::new_unchecked(&mut out[..]);
            repr.emit(&mut o, src, dst, n, |b| b.copy_from_slice(p.payload()));
            assert_eq!(UdpRepr::parse(&o, src, dst), Ok(repr));
            assert_eq!(out[..6], data[..6]);
            assert_eq!(out[HEADER_LEN..], data[HEADER_LEN..len]);
            if p.checksum() != 0 {
                // A computed 0 is sent as 0xffff (RFC 768), so a valid non-zero checksum
                // has exactly one encoding.
                assert_eq!(common::be16(&out, 6), p.checksum());
            }
        }
        Err(e) => {
            assert_eq!(e, Error::Checksum);
            assert!(!valid);
        }
    }
});
