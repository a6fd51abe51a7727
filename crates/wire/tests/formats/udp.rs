use wire::udp::{self, UdpPacket, UdpRepr};
use wire::{Error, Ipv4Addr};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

/// 192.0.2.1:40000 -> 203.0.113.5:53, payload "hvrouter". Checksum 0xaf84: pseudo-header
/// c000+0201+cb00+7105+0011+0010 plus header 9c40+0035+0010 plus payload
/// 6876+726f+7574+6572, folded and complemented.
const DATAGRAM: [u8; 16] = [
    0x9c, 0x40, 0x00, 0x35, 0x00, 0x10, 0xaf, 0x84, b'h', b'v', b'r', b'o', b'u', b't', b'e', b'r',
];

#[test]
fn hand_checked_checksum() {
    let words: [u32; 13] = [
        0xc000, 0x0201, 0xcb00, 0x7105, 0x0011, 0x0010, 0x9c40, 0x0035, 0x0010, 0x6876, 0x726f,
        0x7574, 0x6572,
    ];
    let mut s: u32 = words.iter().sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    assert_eq!(!(s as u16), 0xaf84);
}

#[test]
fn parse_datagram() {
    let p = UdpPacket::new_checked(&DATAGRAM[..]).unwrap();
    assert_eq!((p.src_port(), p.dst_port()), (40000, 53));
    assert_eq!(p.len(), 16);
    assert_eq!(p.checksum(), 0xaf84);
    assert_eq!(p.payload(), b"hvrouter");
    assert!(p.verify_checksum(SRC, DST));
    assert!(!p.verify_checksum(DST, Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(
        UdpRepr::parse(&p, SRC, DST),
        Ok(UdpRepr {
            src_port: 40000,
            dst_port: 53
        })
    );
    assert_eq!(UdpPacket::HEADER_LEN, 8);
    assert_eq!(udp::HEADER_LEN, 8);
}

#[test]
fn emit_datagram() {
    let repr = UdpRepr {
        src_port: 40000,
        dst_port: 53,
    };
    assert_eq!(repr.buffer_len(), 8);
    let mut buf = [0u8; 16];
    let mut p = UdpPacket::new_unchecked(&mut buf[..]);
    repr.emit(&mut p, SRC, DST, 8, |payload| {
        payload.copy_from_slice(b"hvrouter")
    });
    assert_eq!(buf, DATAGRAM);
}

#[test]
fn zero_checksum_means_none_and_computed_zero_is_sent_as_ffff() {
    let mut buf = DATAGRAM;
    buf[6] = 0;
    buf[7] = 0;
    let p = UdpPacket::new_checked(&buf[..]).unwrap();
    assert!(p.verify_checksum(SRC, DST));
    assert!(p.verify_checksum(DST, DST));
    // Pick a payload word so that the computed checksum is 0x0000.
    let mut buf = DATAGRAM;
    buf[8] = 0;
    buf[9] = 0;
    let mut p = UdpPacket::new_checked(&mut buf[..]).unwrap();
    p.fill_checksum(SRC, DST);
    let ck = p.checksum();
    // ck = !sum, so adding ck to the sum makes it 0xffff: a computed checksum of 0.
    let word = ck;
    p.payload_mut()[..2].copy_from_slice(&word.to_be_bytes());
    p.fill_checksum(SRC, DST);
    assert_eq!(p.checksum(), 0xffff);
    assert!(p.verify_checksum(SRC, DST));
}

#[test]
fn padding_after_len_is_ignored() {
    let mut buf = DATAGRAM.to_vec();
    buf.extend([0xee; 6]);
    let p = UdpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(p.payload(), b"hvrouter");
    assert!(p.verify_checksum(SRC, DST));
}

#[test]
fn errors() {
    for len in 0..8 {
        assert_eq!(
            UdpPacket::new_checked(&DATAGRAM[..len]).unwrap_err(),
            Error::Truncated
        );
    }
    for len in 8..16 {
        assert_eq!(
            UdpPacket::new_checked(&DATAGRAM[..len]).unwrap_err(),
            Error::Truncated,
            "len field 16 beyond buffer {len}"
        );
    }
    let mut bad = DATAGRAM;
    bad[5] = 7;
    assert_eq!(
        UdpPacket::new_checked(&bad[..]).unwrap_err(),
        Error::Malformed
    );
    let mut bad = DATAGRAM;
    bad[15] ^= 1;
    let p = UdpPacket::new_checked(&bad[..]).unwrap();
    assert_eq!(UdpRepr::parse(&p, SRC, DST), Err(Error::Checksum));
    assert_eq!(
        UdpRepr::parse(&UdpPacket::new_unchecked(&bad[..4]), SRC, DST),
        Err(Error::Truncated)
    );
}

#[test]
fn no_accessor_panics_after_check_len() {
    crate::sweep(&DATAGRAM, |b| {
        let Ok(p) = UdpPacket::new_checked(b) else {
            return;
        };
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.len(),
            p.checksum(),
            p.payload(),
        );
        let _ = p.verify_checksum(SRC, DST);
        let mut copy = b.to_vec();
        let mut q = UdpPacket::new_checked(&mut copy[..]).unwrap();
        q.payload_mut().fill(1);
        q.fill_checksum(SRC, DST);
        assert!(q.verify_checksum(SRC, DST));
        if let Ok(repr) = UdpRepr::parse(&p, SRC, DST) {
            let n = p.payload().len();
            let mut out = vec![0u8; repr.buffer_len() + n];
            let mut o = UdpPacket::new_unchecked(&mut out[..]);
            repr.emit(&mut o, SRC, DST, n, |d| d.copy_from_slice(p.payload()));
            assert_eq!(UdpRepr::parse(&o, SRC, DST), Ok(repr));
        }
    });
}
