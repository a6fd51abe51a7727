#![no_main]
//! ARP: check_len is exactly "8 + 2*hlen + 2*plen bytes present", accessors never panic
//! for any lengths, Ethernet/IPv4 packets always parse, and parse -> emit is exact.

use libfuzzer_sys::fuzz_target;
use wire::arp::{ArpHardware, ArpPacket, ArpRepr, HEADER_LEN};
use wire::ethernet::{EtherType, EthernetAddress};
use wire::{Error, Ipv4Addr};

mod common;

fuzz_target!(|data: &[u8]| {
    let need = (data.len() >= 6).then(|| 8 + 2 * usize::from(data[4]) + 2 * usize::from(data[5]));
    let p = match ArpPacket::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e, Error::Truncated);
            assert!(data.len() < 8 || data.len() < need.unwrap_or(usize::MAX));
            assert_eq!(ArpRepr::parse(&ArpPacket::new_unchecked(data)), Err(e));
            return;
        }
    };
    assert!(data.len() >= 8 && data.len() >= need.unwrap_or(0));
    let (h, pl) = (usize::from(p.hardware_len()), usize::from(p.protocol_len()));
    let sha = p.source_hardware_addr();
    let spa = p.source_protocol_addr();
    let tha = p.target_hardware_addr();
    let tpa = p.target_protocol_addr();
    // Typed getters return the field's first bytes, zero-padded.
    let n = h.min(6);
    assert_eq!(sha.as_bytes()[..n], data[8..8 + n]);
    assert!(sha.as_bytes()[n..].iter().all(|&b| b == 0));
    let m = pl.min(4);
    assert_eq!(tpa.octets()[..m], data[8 + 2 * h + pl..8 + 2 * h + pl + m]);
    let _ = (spa, tha, p.operation());

    let ethernet_ipv4 = p.hardware_type() == ArpHardware::Ethernet
        && p.protocol_type() == EtherType::Ipv4
        && h == 6
        && pl == 4;
    match ArpRepr::parse(&p) {
        Ok(repr) => {
            assert!(ethernet_ipv4);
            let mut out = [0u8; HEADER_LEN];
            repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
            assert_eq!(out[..], data[..HEADER_LEN]);
            let again = ArpRepr::parse(&ArpPacket::new_checked(&out[..]).expect("28 bytes"));
            assert_eq!(again, Ok(repr));
        }
        Err(e) => {
            assert!(!ethernet_ipv4);
            assert_eq!(e, Error::Unsupported);
        }
    }

    // Setters stay in bounds for any lengths, and read back when the fields are full size.
    let mut copy = data.to_vec();
    let mut q = ArpPacket::new_checked(&mut copy[..]).expect("same bytes");
    let mac = EthernetAddress([2, 0, 0, 0, 0, 0x42]);
    let ip = Ipv4Addr::new(192, 0, 2, 42);
    q.set_source_hardware_addr(mac);
    q.set_source_protocol_addr(ip);
    q.set_target_hardware_addr(mac);
    q.set_target_protocol_addr(ip);
    if h >= 6 && pl >= 4 {
        assert_eq!(q.source_hardware_addr(), mac);
        assert_eq!(q.source_protocol_addr(), ip);
        assert_eq!(q.target_hardware_addr(), mac);
        assert_eq!(q.target_protocol_addr(), ip);
    }
});
