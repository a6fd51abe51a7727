use wire::ethernet::{EtherType, EthernetFrame};
use wire::vlan::{self, VlanPacket, VlanRepr};
use wire::Error;

/// A tagged frame: VLAN 100, PCP 3, carrying the start of an IPv4 header.
const TAGGED_FRAME: [u8; 24] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // dst
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // src
    0x81, 0x00, // 802.1Q
    0x60, 0x64, // PCP 3, DEI 0, VID 100
    0x08, 0x00, // inner: IPv4
    0x45, 0x00, 0x00, 0x14, 0x00, 0x00,
];

#[test]
fn parse_tagged_frame() {
    let frame = EthernetFrame::new_checked(&TAGGED_FRAME[..]).unwrap();
    assert_eq!(frame.ethertype(), EtherType::Vlan);
    let tag = VlanPacket::new_checked(frame.payload()).unwrap();
    assert_eq!(tag.pcp(), 3);
    assert!(!tag.dei());
    assert_eq!(tag.vlan_id(), 100);
    assert_eq!(tag.ethertype(), EtherType::Ipv4);
    assert_eq!(tag.payload(), &TAGGED_FRAME[18..]);
    let repr = VlanRepr::parse(&tag).unwrap();
    assert_eq!(
        repr,
        VlanRepr {
            pcp: 3,
            dei: false,
            vlan_id: 100,
            ethertype: EtherType::Ipv4
        }
    );
    assert_eq!(VlanPacket::HEADER_LEN, 4);
    assert_eq!(vlan::HEADER_LEN, 4);
}

#[test]
fn emit_tag() {
    let repr = VlanRepr {
        pcp: 5,
        dei: true,
        vlan_id: 4095,
        ethertype: EtherType::Arp,
    };
    let mut buf = [0u8; 4];
    repr.emit(&mut VlanPacket::new_unchecked(&mut buf[..]));
    assert_eq!(repr.buffer_len(), 4);
    assert_eq!(buf, [0xbf, 0xff, 0x08, 0x06]);
    assert_eq!(
        VlanRepr::parse(&VlanPacket::new_checked(&buf[..]).unwrap()),
        Ok(repr)
    );

    let mut buf = [0x60, 0x64, 0x08, 0x00];
    repr.emit(&mut VlanPacket::new_unchecked(&mut buf[..]));
    assert_eq!(buf, [0xbf, 0xff, 0x08, 0x06]);
}

#[test]
fn setters_touch_only_their_bits() {
    let mut buf = [0x60, 0x64, 0x08, 0x00, 0xaa];
    let mut tag = VlanPacket::new_checked(&mut buf[..]).unwrap();
    tag.set_dei(true);
    assert_eq!((tag.pcp(), tag.dei(), tag.vlan_id()), (3, true, 100));
    tag.set_vlan_id(0x0abc);
    assert_eq!((tag.pcp(), tag.dei(), tag.vlan_id()), (3, true, 0x0abc));
    tag.set_pcp(7);
    assert_eq!((tag.pcp(), tag.dei(), tag.vlan_id()), (7, true, 0x0abc));
    tag.set_vlan_id(0xffff); // masked to 12 bits
    assert_eq!((tag.pcp(), tag.dei(), tag.vlan_id()), (7, true, 0x0fff));
    tag.set_dei(false);
    tag.set_ethertype(EtherType::Unknown(0x1234));
    tag.payload_mut()[0] = 0xbb;
    assert_eq!(buf, [0xef, 0xff, 0x12, 0x34, 0xbb]);
}

#[test]
fn truncated() {
    for len in 0..4 {
        assert_eq!(
            VlanPacket::new_checked(&TAGGED_FRAME[14..14 + len]).unwrap_err(),
            Error::Truncated
        );
    }
    let short = VlanPacket::new_unchecked(&TAGGED_FRAME[14..16]);
    assert_eq!(VlanRepr::parse(&short), Err(Error::Truncated));
}

#[test]
fn no_accessor_panics_after_check_len() {
    crate::sweep(&TAGGED_FRAME[14..], |b| {
        if let Ok(t) = VlanPacket::new_checked(b) {
            let _ = (
                t.pcp(),
                t.dei(),
                t.vlan_id(),
                t.ethertype(),
                t.payload().len(),
            );
            let repr = VlanRepr::parse(&t).unwrap();
            assert!(repr.vlan_id <= 4095 && repr.pcp <= 7);
            let mut out = [0u8; 4];
            repr.emit(&mut VlanPacket::new_unchecked(&mut out[..]));
            assert_eq!(out[..], b[..4]);
        }
    });
}
