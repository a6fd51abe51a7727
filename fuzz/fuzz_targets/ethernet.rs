#![no_main]
//! Ethernet II: check_len agrees with the length rule, accessors match the bytes, and
//! parse -> emit reproduces the header exactly.

use libfuzzer_sys::fuzz_target;
use wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, HEADER_LEN};
use wire::Error;

mod common;

fuzz_target!(|data: &[u8]| {
    let frame = match EthernetFrame::new_checked(data) {
        Ok(f) => f,
        Err(e) => {
            assert_eq!(e, Error::Truncated);
            assert!(data.len() < HEADER_LEN);
            assert_eq!(
                EthernetRepr::parse(&EthernetFrame::new_unchecked(data)),
                Err(e)
            );
            return;
        }
    };
    assert!(data.len() >= HEADER_LEN);
    assert_eq!(frame.dst_addr().as_bytes()[..], data[0..6]);
    assert_eq!(frame.src_addr().as_bytes()[..], data[6..12]);
    let et = frame.ethertype();
    assert_eq!(u16::from(et), common::be16(data, 12));
    assert_eq!(EtherType::from(u16::from(et)), et);
    assert_eq!(frame.payload(), &data[HEADER_LEN..]);

    let repr = EthernetRepr::parse(&frame).expect("a checked frame always parses");
    let mut out = vec![0u8; repr.buffer_len()];
    let mut g = EthernetFrame::new_checked(&mut out[..]).expect("buffer_len is enough");
    repr.emit(&mut g);
    assert!(g.payload_mut().is_empty());
    assert_eq!(EthernetRepr::parse(&g), Ok(repr));
    assert_eq!(out[..], data[..HEADER_LEN]);
});
