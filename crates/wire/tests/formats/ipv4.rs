use wire::ipv4::{self, Ipv4Packet, Ipv4Repr, Protocol};
use wire::{checksum, Error, Ipv4Addr};

/// 192.0.2.1 -> 198.51.100.7, ICMP, 60 bytes, DF, TTL 64, ident 0xbeef (checksum 0x8f95).
pub const ICMP_HEADER: [u8; 20] = [
    0x45, 0x00, 0x00, 0x3c, 0xbe, 0xef, 0x40, 0x00, 0x40, 0x01, 0x8f, 0x95, 0xc0, 0x00, 0x02, 0x01,
    0xc6, 0x33, 0x64, 0x07,
];

/// IHL 6 with a Router Alert option (RFC 2113: 94 04 00 00), UDP, no payload, TTL 1,
/// 203.0.113.9 -> 192.0.2.10 (checksum 0x25bb), followed by 4 bytes of link padding.
const WITH_OPTIONS: [u8; 28] = [
    0x46, 0x00, 0x00, 0x18, 0x01, 0x02, 0x00, 0x00, 0x01, 0x11, 0x25, 0xbb, 0xcb, 0x00, 0x71, 0x09,
    0xc0, 0x00, 0x02, 0x0a, 0x94, 0x04, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
];

fn icmp_datagram() -> Vec<u8> {
    let mut d = ICMP_HEADER.to_vec();
    d.extend((0..40).map(|i| i as u8));
    d
}

fn icmp_repr() -> Ipv4Repr {
    Ipv4Repr {
        src_addr: Ipv4Addr::new(192, 0, 2, 1),
        dst_addr: Ipv4Addr::new(198, 51, 100, 7),
        protocol: Protocol::Icmp,
        payload_len: 40,
        ttl: 64,
        dont_frag: true,
        ident: 0xbeef,
    }
}

#[test]
fn protocol_round_trip() {
    for v in 0..=u8::MAX {
        assert_eq!(u8::from(Protocol::from(v)), v);
    }
    assert_eq!(Protocol::from(1), Protocol::Icmp);
    assert_eq!(Protocol::from(6), Protocol::Tcp);
    assert_eq!(Protocol::from(17), Protocol::Udp);
    assert_eq!(Protocol::from(47), Protocol::Unknown(47));
}

#[test]
fn parse_header() {
    let d = icmp_datagram();
    let p = Ipv4Packet::new_checked(&d[..]).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.header_len(), 20);
    assert_eq!((p.dscp(), p.ecn()), (0, 0));
    assert_eq!(p.total_len(), 60);
    assert_eq!(p.ident(), 0xbeef);
    assert!(p.dont_frag() && !p.more_frags());
    assert_eq!(p.frag_offset(), 0);
    assert!(!p.is_fragment() && p.is_first_fragment());
    assert_eq!(p.ttl(), 64);
    assert_eq!(p.protocol(), Protocol::Icmp);
    assert_eq!(p.checksum(), 0x8f95);
    assert_eq!(p.src_addr(), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(p.dst_addr(), Ipv4Addr::new(198, 51, 100, 7));
    assert!(p.options().is_empty());
    assert_eq!(p.payload(), &d[20..]);
    assert!(p.verify_checksum());
    assert_eq!(Ipv4Repr::parse(&p), Ok(icmp_repr()));
    assert_eq!(Ipv4Packet::HEADER_LEN, 20);
    assert_eq!(ipv4::HEADER_LEN, 20);
}

#[test]
fn parse_with_options_and_padding() {
    let p = Ipv4Packet::new_checked(&WITH_OPTIONS[..]).unwrap();
    assert_eq!(p.header_len(), 24);
    assert_eq!(p.total_len(), 24);
    assert_eq!(p.options(), &[0x94, 0x04, 0x00, 0x00]);
    assert!(
        p.payload().is_empty(),
        "padding after total_len is not payload"
    );
    assert!(p.verify_checksum());
    assert!(!p.dont_frag());
    let repr = Ipv4Repr::parse(&p).unwrap();
    assert_eq!(
        repr,
        Ipv4Repr {
            src_addr: Ipv4Addr::new(203, 0, 113, 9),
            dst_addr: Ipv4Addr::new(192, 0, 2, 10),
            protocol: Protocol::Udp,
            payload_len: 0,
            ttl: 1,
            dont_frag: false,
            ident: 0x0102,
        }
    );
    // Emitting drops the options: a 20-byte header that still verifies.
    let mut out = [0u8; 20];
    let mut q = Ipv4Packet::new_unchecked(&mut out[..]);
    repr.emit(&mut q);
    assert!(q.verify_checksum());
    assert_eq!(Ipv4Repr::parse(&q), Ok(repr));
}

#[test]
fn emit_header() {
    let repr = icmp_repr();
    assert_eq!(repr.buffer_len(), 20);
    let mut d = icmp_datagram();
    d[..20].fill(0x55);
    let mut p = Ipv4Packet::new_unchecked(&mut d[..]);
    repr.emit(&mut p);
    assert_eq!(d[..20], ICMP_HEADER);
}

#[test]
fn setters_and_fill_checksum() {
    let mut d = icmp_datagram();
    let mut p = Ipv4Packet::new_checked(&mut d[..]).unwrap();
    p.set_dscp(46);
    p.set_ecn(1);
    p.set_ident(7);
    p.set_dont_frag(false);
    p.set_more_frags(true);
    p.set_frag_offset(1480);
    p.set_ttl(9);
    p.set_protocol(Protocol::Unknown(253));
    p.set_src_addr(Ipv4Addr::new(203, 0, 113, 1));
    p.set_dst_addr(Ipv4Addr::new(203, 0, 113, 2));
    assert!(!p.verify_checksum());
    p.fill_checksum();
    assert!(p.verify_checksum());
    assert_eq!((p.dscp(), p.ecn(), p.ident(), p.ttl()), (46, 1, 7, 9));
    assert!(!p.dont_frag() && p.more_frags());
    assert_eq!(p.frag_offset(), 1480);
    assert!(p.is_fragment() && !p.is_first_fragment());
    assert_eq!(p.protocol(), Protocol::Unknown(253));
    assert_eq!(Ipv4Repr::parse(&p), Err(Error::Unsupported), "fragment");
    p.set_more_frags(false);
    p.set_frag_offset(0);
    p.set_dont_frag(true);
    p.fill_checksum();
    assert!(!p.is_fragment() && p.is_first_fragment());
    p.payload_mut()[0] = 0x99;
    p.set_total_len(20);
    p.set_header_len(20);
    p.set_version(4);
    assert_eq!(d[20], 0x99);
    assert_eq!(&d[..8], &[0x45, 0xb9, 0x00, 0x14, 0x00, 0x07, 0x40, 0x00]);
}

#[test]
fn decrement_ttl_rfc1624() {
    let mut d = icmp_datagram();
    let mut p = Ipv4Packet::new_checked(&mut d[..]).unwrap();
    assert_eq!(p.decrement_ttl(), 63);
    assert_eq!(p.ttl(), 63);
    // TTL is the high byte of its word: the checksum goes up by 0x0100.
    assert_eq!(p.checksum(), 0x9095);
    assert!(p.verify_checksum());
    while p.ttl() > 0 {
        let ttl = p.decrement_ttl();
        assert!(p.verify_checksum(), "ttl {ttl}");
    }
    assert_eq!(p.decrement_ttl(), 0, "TTL 0 is left alone");
    assert!(p.verify_checksum());
}

#[test]
fn decrement_ttl_equals_recomputation() {
    // Deterministic sweep over many headers (varying every field that feeds the checksum,
    // including ones that make the result 0x0000 or 0xffff-adjacent) and all TTLs.
    let mut x: u32 = 0x2545_f491;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for i in 0..2000u32 {
        let mut h = [0u8; 24];
        for b in h.iter_mut() {
            *b = next() as u8;
        }
        h[0] = if i % 2 == 0 { 0x45 } else { 0x46 };
        let hl = usize::from(h[0] & 0xf) * 4;
        h[2..4].copy_from_slice(&(hl as u16).to_be_bytes());
        let mut p = Ipv4Packet::new_checked(&mut h[..]).unwrap();
        p.fill_checksum();
        for ttl in (1..=255u8).rev() {
            p.set_ttl(ttl);
            p.fill_checksum();
            p.decrement_ttl();
            let incremental = p.checksum();
            p.fill_checksum();
            assert_eq!(incremental, p.checksum(), "header {i} ttl {ttl}");
        }
    }
    // Construct the RFC 1624 corner case directly: a header whose recomputed checksum after
    // the decrement is 0x0000.
    let mut h = [
        0x45, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x02, 0x11, 0x00, 0x00, 0xc0, 0x00, 0x02,
        0x01, 0xc0, 0x00, 0x02, 0x02,
    ];
    // Choose the ident so the post-decrement sum is 0xffff (checksum 0x0000).
    let rest = checksum::data(&{
        let mut t = h;
        t[8] = 1;
        t
    });
    let ident = !rest;
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    let mut p = Ipv4Packet::new_checked(&mut h[..]).unwrap();
    p.fill_checksum();
    p.decrement_ttl();
    assert_eq!(p.checksum(), 0x0000);
    assert!(p.verify_checksum());
}

#[test]
fn errors() {
    let d = icmp_datagram();
    for len in 0..20 {
        assert_eq!(
            Ipv4Packet::new_checked(&d[..len]).unwrap_err(),
            Error::Truncated
        );
    }
    for len in 20..60 {
        assert_eq!(
            Ipv4Packet::new_checked(&d[..len]).unwrap_err(),
            Error::Truncated,
            "total_len 60 beyond buffer {len}"
        );
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&d[..len])),
            Err(Error::Truncated)
        );
    }
    // IHL < 5.
    let mut bad = d.clone();
    bad[0] = 0x44;
    assert_eq!(
        Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
        Error::Malformed
    );
    // total_len < header_len.
    let mut bad = d.clone();
    bad[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
        Error::Malformed
    );
    // IHL 15 (60 bytes) with total_len 60 is fine for check_len...
    let mut opt = d.clone();
    opt[0] = 0x4f;
    let p = Ipv4Packet::new_checked(&opt[..]).unwrap();
    assert_eq!(p.options().len(), 40);
    assert!(p.payload().is_empty());
    // ... but IHL 15 with total_len 40 is not.
    opt[2..4].copy_from_slice(&40u16.to_be_bytes());
    assert_eq!(
        Ipv4Packet::new_checked(&opt[..]).unwrap_err(),
        Error::Malformed
    );
    // Version 6 -> Malformed, bad checksum -> Checksum.
    let mut bad = d.clone();
    bad[0] = 0x65;
    assert_eq!(
        Ipv4Repr::parse(&Ipv4Packet::new_checked(&bad[..]).unwrap()),
        Err(Error::Malformed)
    );
    let mut bad = d.clone();
    bad[11] ^= 1;
    assert_eq!(
        Ipv4Repr::parse(&Ipv4Packet::new_checked(&bad[..]).unwrap()),
        Err(Error::Checksum)
    );
}

#[test]
fn no_accessor_panics_after_check_len() {
    let mut inputs = vec![icmp_datagram(), WITH_OPTIONS.to_vec()];
    for ihl in 0..16u8 {
        let mut d = icmp_datagram();
        d[0] = 0x40 | ihl;
        inputs.push(d);
    }
    for input in inputs {
        crate::sweep(&input, |b| {
            let Ok(p) = Ipv4Packet::new_checked(b) else {
                return;
            };
            let _ = (
                p.version(),
                p.header_len(),
                p.dscp(),
                p.ecn(),
                p.total_len(),
            );
            let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
            let _ = (
                p.is_fragment(),
                p.is_first_fragment(),
                p.ttl(),
                p.protocol(),
            );
            let _ = (
                p.checksum(),
                p.src_addr(),
                p.dst_addr(),
                p.options(),
                p.payload(),
            );
            let valid = p.verify_checksum();
            let mut copy = b.to_vec();
            let mut q = Ipv4Packet::new_checked(&mut copy[..]).unwrap();
            q.options_mut().fill(1);
            q.payload_mut().fill(2);
            if valid {
                let mut q = Ipv4Packet::new_checked(b.to_vec()).unwrap();
                q.decrement_ttl();
                assert!(q.verify_checksum());
            }
            if let Ok(repr) = Ipv4Repr::parse(&p) {
                let mut out = vec![0u8; repr.buffer_len() + repr.payload_len];
                let mut o = Ipv4Packet::new_unchecked(&mut out[..]);
                repr.emit(&mut o);
                assert_eq!(Ipv4Repr::parse(&o), Ok(repr));
            }
        });
    }
}
