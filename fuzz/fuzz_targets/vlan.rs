#![no_main]
//! 802.1Q: field ranges hold, setters change only their bits, parse -> emit is exact.

use libfuzzer_sys::fuzz_target;
use wire::vlan::{VlanPacket, VlanRepr, HEADER_LEN};
use wire::Error;

mod common;

fuzz_target!(|data: &[u8]| {
    let tag = match VlanPacket::new_checked(data) {
        Ok(t) => t,
        Err(e) => {
            assert_eq!(e, Error::Truncated);
            assert!(data.len() < HEADER_LEN);
            return;
        }
    };
    let tci = common::be16(data, 0);
    assert!(tag.pcp() <= 7);
    assert!(tag.vlan_id() <= 4095);
    assert_eq!(
        (u16::from(tag.pcp()) << 13) | (u16::from(tag.dei()) << 12) | tag.vlan_id(),
        tci
    );
    assert_eq!(u16::from(tag.ethertype()), common::be16(data, 2));
    assert_eq!(tag.payload(), &data[HEADER_LEN..]);

    let repr = VlanRepr::parse(&tag).expect("a checked tag always parses");
    let mut out = [0u8; HEADER_LEN];
    repr.emit(&mut VlanPacket::new_unchecked(&mut out[..]));
    assert_eq!(out[..], data[..HEADER_LEN]);
    assert_eq!(
        VlanRepr::parse(&VlanPacket::new_unchecked(&out[..])),
        Ok(repr)
    );

    // Setters touch only their own bits.
    let mut copy = data.to_vec();
    let mut t = VlanPacket::new_checked(&mut copy[..]).expect("same length");
    let vid = tci.rotate_left(5);
    t.set_vlan_id(vid);
    assert_eq!(t.vlan_id(), vid & 0x0fff);
    assert_eq!((t.pcp(), t.dei()), (repr.pcp, repr.dei));
    t.set_pcp(data[0]);
    assert_eq!(t.pcp(), data[0] & 7);
    assert_eq!((t.vlan_id(), t.dei()), (vid & 0x0fff, repr.dei));
    t.set_dei(!repr.dei);
    assert_eq!(t.dei(), !repr.dei);
    assert_eq!(t.payload_mut().len(), data.len() - HEADER_LEN);
});
