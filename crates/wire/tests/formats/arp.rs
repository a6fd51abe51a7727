use wire::arp::{self, ArpHardware, ArpOperation, ArpPacket, ArpRepr};
use wire::ethernet::{EtherType, EthernetAddress, EthernetFrame};
use wire::{Error, Ipv4Addr};

use crate::ethernet::ARP_REQUEST_FRAME;

const MAC1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
const MAC2: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);

/// 192.0.2.10 is-at 02:00:00:00:00:0a, to 192.0.2.1.
const ARP_REPLY: [u8; 28] = [
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, // Ethernet/IPv4, reply
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xc0, 0x00, 0x02, 0x0a, // sender
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01, // target
];

fn request_body() -> &'static [u8] {
    &ARP_REQUEST_FRAME[14..]
}

#[test]
fn parse_request() {
    let frame = EthernetFrame::new_checked(&ARP_REQUEST_FRAME[..]).unwrap();
    let p = ArpPacket::new_checked(frame.payload()).unwrap();
    assert_eq!(p.hardware_type(), ArpHardware::Ethernet);
    assert_eq!(p.protocol_type(), EtherType::Ipv4);
    assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
    assert_eq!(p.operation(), ArpOperation::Request);
    assert_eq!(p.source_hardware_addr(), MAC1);
    assert_eq!(p.source_protocol_addr(), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(p.target_hardware_addr(), EthernetAddress::ZERO);
    assert_eq!(p.target_protocol_addr(), Ipv4Addr::new(192, 0, 2, 10));
    let repr = ArpRepr::parse(&p).unwrap();
    assert_eq!(
        repr,
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: MAC1,
            source_protocol_addr: Ipv4Addr::new(192, 0, 2, 1),
            target_hardware_addr: EthernetAddress::ZERO,
            target_protocol_addr: Ipv4Addr::new(192, 0, 2, 10),
        }
    );
    assert_eq!(
        repr.to_string(),
        "ARP who-has 192.0.2.10 tell 192.0.2.1 (02:00:00:00:00:01)"
    );
}

#[test]
fn emit_request_and_reply() {
    let req = ArpRepr::parse(&ArpPacket::new_checked(request_body()).unwrap()).unwrap();
    assert_eq!(req.buffer_len(), 28);
    assert_eq!(ArpPacket::HEADER_LEN, 28);
    assert_eq!(arp::HEADER_LEN, 28);
    let mut buf = [0xeeu8; 28];
    req.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
    assert_eq!(buf[..], request_body()[..28]);

    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: MAC2,
        source_protocol_addr: Ipv4Addr::new(192, 0, 2, 10),
        target_hardware_addr: req.source_hardware_addr,
        target_protocol_addr: req.source_protocol_addr,
    };
    let mut buf = [0u8; 28];
    reply.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
    assert_eq!(buf, ARP_REPLY);
    assert_eq!(
        ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()),
        Ok(reply)
    );
}

#[test]
fn setters() {
    let mut buf = ARP_REPLY;
    let mut p = ArpPacket::new_checked(&mut buf[..]).unwrap();
    p.set_operation(ArpOperation::Unknown(9));
    p.set_source_hardware_addr(MAC1);
    p.set_source_protocol_addr(Ipv4Addr::new(198, 51, 100, 1));
    p.set_target_hardware_addr(MAC2);
    p.set_target_protocol_addr(Ipv4Addr::new(203, 0, 113, 1));
    assert_eq!(p.operation(), ArpOperation::Unknown(9));
    assert_eq!(p.source_hardware_addr(), MAC1);
    assert_eq!(p.source_protocol_addr(), Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(p.target_hardware_addr(), MAC2);
    assert_eq!(p.target_protocol_addr(), Ipv4Addr::new(203, 0, 113, 1));
    p.set_hardware_type(ArpHardware::Unknown(6));
    p.set_protocol_type(EtherType::Ipv6);
    assert_eq!(p.hardware_type(), ArpHardware::Unknown(6));
    assert_eq!(ArpRepr::parse(&p), Err(Error::Unsupported));
    assert_eq!(&buf[..8], &[0, 6, 0x86, 0xdd, 6, 4, 0, 9]);
}

#[test]
fn unsupported_kinds() {
    for (at, value) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
        let mut buf = [0u8; 64];
        buf[..28].copy_from_slice(&ARP_REPLY);
        buf[at] = value;
        let p = ArpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), Err(Error::Unsupported), "byte {at}");
    }
}

#[test]
fn truncated() {
    for len in 0..28 {
        assert_eq!(
            ArpPacket::new_checked(&ARP_REPLY[..len]).unwrap_err(),
            Error::Truncated,
            "len {len}"
        );
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&ARP_REPLY[..len])),
            Err(Error::Truncated)
        );
    }
    // Lengths decide how much must be present: hlen 8, plen 4 needs 32 bytes.
    let mut buf = [0u8; 32];
    buf[..28].copy_from_slice(&ARP_REPLY);
    buf[4] = 8;
    assert_eq!(
        ArpPacket::new_checked(&buf[..31]).unwrap_err(),
        Error::Truncated
    );
    let p = ArpPacket::new_checked(&buf[..]).unwrap();
    // Fields move: target protocol address is bytes 28..32 now.
    assert_eq!(p.target_protocol_addr(), Ipv4Addr::new(0, 0, 0, 0));
    // Zero-length addresses are zero-padded, not out of bounds.
    let tiny = [0, 1, 8, 0, 0, 0, 0, 1];
    let p = ArpPacket::new_checked(&tiny[..]).unwrap();
    assert_eq!(p.source_hardware_addr(), EthernetAddress::ZERO);
    assert_eq!(p.target_protocol_addr(), Ipv4Addr::UNSPECIFIED);
}

#[test]
fn no_accessor_panics_after_check_len() {
    crate::sweep(request_body(), |b| {
        if let Ok(p) = ArpPacket::new_checked(b) {
            let _ = (p.hardware_type(), p.protocol_type(), p.operation());
            let _ = (p.source_hardware_addr(), p.source_protocol_addr());
            let _ = (p.target_hardware_addr(), p.target_protocol_addr());
            let mut copy = b.to_vec();
            let mut q = ArpPacket::new_checked(&mut copy[..]).unwrap();
            q.set_source_hardware_addr(MAC2);
            q.set_source_protocol_addr(Ipv4Addr::new(192, 0, 2, 99));
            q.set_target_hardware_addr(MAC2);
            q.set_target_protocol_addr(Ipv4Addr::new(192, 0, 2, 98));
            if let Ok(repr) = ArpRepr::parse(&p) {
                let mut out = [0u8; 28];
                repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
                assert_eq!(out[..], b[..28]);
            }
        }
    });
}
