use wire::ethernet::{self, EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use wire::Error;

/// An Ethernet broadcast carrying an ARP request (60 bytes: padded to the minimum size).
pub const ARP_REQUEST_FRAME: [u8; 60] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst: broadcast
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
    0x08, 0x06, // ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // Ethernet/IPv4, request
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01, // 02:..:01 192.0.2.1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x0a, // ? 192.0.2.10
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
];

#[test]
fn ethertype_round_trip() {
    for v in 0..=u16::MAX {
        assert_eq!(u16::from(EtherType::from(v)), v);
    }
    assert_eq!(EtherType::from(0x0800), EtherType::Ipv4);
    assert_eq!(EtherType::from(0x0806), EtherType::Arp);
    assert_eq!(EtherType::from(0x8100), EtherType::Vlan);
    assert_eq!(EtherType::from(0x86dd), EtherType::Ipv6);
    assert_eq!(EtherType::from(0x88cc), EtherType::Unknown(0x88cc));
}

#[test]
fn parse_arp_request_frame() {
    let frame = EthernetFrame::new_checked(&ARP_REQUEST_FRAME[..]).unwrap();
    assert_eq!(frame.dst_addr(), EthernetAddress::BROADCAST);
    assert_eq!(frame.src_addr(), EthernetAddress([2, 0, 0, 0, 0, 1]));
    assert_eq!(frame.ethertype(), EtherType::Arp);
    assert_eq!(frame.payload().len(), 46);
    assert_eq!(frame.payload(), &ARP_REQUEST_FRAME[14..]);
    let repr = EthernetRepr::parse(&frame).unwrap();
    assert_eq!(
        repr,
        EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
        }
    );
    assert_eq!(EthernetFrame::HEADER_LEN, 14);
    assert_eq!(ethernet::HEADER_LEN, 14);
}

#[test]
fn emit_header() {
    let repr = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    };
    let mut buf = ARP_REQUEST_FRAME;
    buf[..14].fill(0xaa);
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
    repr.emit(&mut frame);
    assert_eq!(repr.buffer_len(), 14);
    assert_eq!(buf, ARP_REQUEST_FRAME);
}

#[test]
fn setters_and_unknown_ethertype_round_trip() {
    let mut buf = [0u8; 20];
    let mut frame = EthernetFrame::new_checked(&mut buf[..]).unwrap();
    frame.set_dst_addr(EthernetAddress([2, 0, 0, 0, 0, 9]));
    frame.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 8]));
    frame.set_ethertype(EtherType::Unknown(0x88b5));
    frame.payload_mut().copy_from_slice(&[1, 2, 3, 4, 5, 6]);
    let repr = EthernetRepr::parse(&frame).unwrap();
    assert_eq!(repr.ethertype, EtherType::Unknown(0x88b5));
    let mut out = [0u8; 14];
    repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    assert_eq!(out[..], buf[..14]);
    assert_eq!(&buf[12..14], &[0x88, 0xb5]);
}

#[test]
fn truncated() {
    for len in 0..14 {
        assert_eq!(
            EthernetFrame::new_checked(&ARP_REQUEST_FRAME[..len]).unwrap_err(),
            Error::Truncated
        );
    }
    let frame = EthernetFrame::new_checked(&ARP_REQUEST_FRAME[..14]).unwrap();
    assert!(frame.payload().is_empty());
    let short = EthernetFrame::new_unchecked(&ARP_REQUEST_FRAME[..5]);
    assert_eq!(EthernetRepr::parse(&short), Err(Error::Truncated));
}

#[test]
fn no_accessor_panics_after_check_len() {
    crate::sweep(&ARP_REQUEST_FRAME, |b| {
        if let Ok(f) = EthernetFrame::new_checked(b) {
            let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
            let repr = EthernetRepr::parse(&f).unwrap();
            let mut copy = b.to_vec();
            let mut g = EthernetFrame::new_checked(&mut copy[..]).unwrap();
            repr.emit(&mut g);
            g.payload_mut().fill(0);
            assert_eq!(EthernetRepr::parse(&g).unwrap(), repr);
        }
    });
}
