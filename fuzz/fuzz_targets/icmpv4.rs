#![no_main]
//! ICMPv4: accessors never panic, the checksum agrees with a reference, fill_checksum
//! verifies, and parse -> emit -> parse gives the same repr.

use libfuzzer_sys::fuzz_target;
use wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, Message, HEADER_LEN};
use wire::Error;

mod common;

fuzz_target!(|data: &[u8]| {
    let p = match Icmpv4Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e, Error::Truncated);
            assert!(data.len() < HEADER_LEN);
            assert_eq!(
                Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(data)),
                Err(e)
            );
            return;
        }
    };
    let valid = common::reference_sum(data) == 0xffff;
    assert_eq!(p.verify_checksum(), valid);
    assert_eq!(u8::from(p.msg_type()), data[0]);
    assert_eq!(p.msg_code(), data[1]);
    assert_eq!(p.checksum(), common::be16(data, 2));
    assert_eq!(p.echo_ident(), common::be16(data, 4));
    assert_eq!(p.echo_seq_no(), common::be16(data, 6));
    assert_eq!(p.next_hop_mtu(), common::be16(data, 6));
    assert_eq!(p.data(), &data[HEADER_LEN..]);

    let mut copy = data.to_vec();
    let mut q = Icmpv4Packet::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum();
    assert!(q.verify_checksum());
    assert_eq!(q.data_mut().len(), data.len() - HEADER_LEN);

    match Icmpv4Repr::parse(&p) {
        Ok(repr) => {
            assert!(valid);
            assert_eq!(repr.buffer_len(), data.len());
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
            let o = Icmpv4Packet::new_checked(&out[..]).expect("8 bytes or more");
            assert!(o.verify_checksum());
            assert_eq!(Icmpv4Repr::parse(&o), Ok(repr));
            assert_eq!(out[..2], data[..2]);
            assert_eq!(out[HEADER_LEN..], data[HEADER_LEN..]);
        }
        Err(Error::Checksum) => assert!(!valid),
        Err(Error::Malformed) => {
            assert!(matches!(
                p.msg_type(),
                Message::EchoRequest | Message::EchoReply
            ));
            assert_ne!(p.msg_code(), 0);
        }
        Err(Error::Unsupported) => assert!(matches!(p.msg_type(), Message::Unknown(_))),
        Err(Error::Truncated) => panic!("check_len passed but parse says Truncated"),
    }
});
