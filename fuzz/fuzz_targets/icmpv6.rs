#![no_main]
//! ICMPv6: the first 32 bytes are the source and destination addresses, the rest the
//! message. The checksum with the pseudo-header agrees with a plain reference,
//! fill_checksum verifies, and parse -> emit -> parse gives the same repr.

use libfuzzer_sys::fuzz_target;
use wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, Message, HEADER_LEN};
use wire::{Error, Ipv6Addr};

mod common;

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (addrs, msg) = data.split_at(32);
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&addrs[..16]).expect("16 bytes"));
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&addrs[16..]).expect("16 bytes"));
    let p = match Icmpv6Packet::new_checked(msg) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e, Error::Truncated);
            assert!(msg.len() < HEADER_LEN);
            return;
        }
    };
    // Reference: RFC 8200 8.1 pseudo-header laid out in bytes, then summed.
    let mut ph = addrs.to_vec();
    ph.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    ph.extend_from_slice(&[0, 0, 0, 58]);
    ph.extend_from_slice(msg);
    let valid = common::reference_sum(&ph) == 0xffff;
    assert_eq!(p.verify_checksum(&src, &dst), valid);
    assert_eq!(u8::from(p.msg_type()), msg[0]);
    assert_eq!(p.msg_code(), msg[1]);
    assert_eq!(p.checksum(), common::be16(msg, 2));
    assert_eq!(p.echo_ident(), common::be16(msg, 4));
    assert_eq!(p.data(), &msg[HEADER_LEN..]);

    let mut copy = msg.to_vec();
    let mut q = Icmpv6Packet::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum(&src, &dst);
    assert!(q.verify_checksum(&src, &dst));

    match Icmpv6Repr::parse(&src, &dst, &p) {
        Ok(repr) => {
            assert!(valid);
            assert_eq!(repr.buffer_len(), msg.len());
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut out[..]));
            let o = Icmpv6Packet::new_checked(&out[..]).expect("8 bytes or more");
            assert_eq!(Icmpv6Repr::parse(&src, &dst, &o), Ok(repr));
            assert_eq!(out[0], msg[0]);
            // RFC 4443 3.2: Packet Too Big's code is "set to 0 by the originator and
            // ignored by the receiver"; every other code is kept.
            if p.msg_type() != Message::PacketTooBig {
                assert_eq!(out[1], msg[1]);
            }
            assert_eq!(out[HEADER_LEN..], msg[HEADER_LEN..]);
        }
        Err(Error::Checksum) => assert!(!valid),
        Err(Error::Malformed) => {
            assert!(matches!(
                p.msg_type(),
                Message::EchoRequest | Message::EchoReply
            ));
            assert_ne!(p.msg_code(), 0);
        }
        Err(Error::Unsupported) => {
            assert!(!p.msg_type().is_error() || matches!(p.msg_type(), Message::Unknown(_)))
        }
        Err(Error::Truncated) => panic!("check_len passed but parse says Truncated"),
    }
});
