use wire::icmpv4::{self, DstUnreachable, Icmpv4Packet, Icmpv4Repr, Message, TimeExceeded};
use wire::ipv4::{Ipv4Packet, Ipv4Repr, Protocol};
use wire::{Error, Ipv4Addr};

use crate::ipv4::ICMP_HEADER;

/// Echo request id 0x1c46 seq 1 with 32 data bytes 0x10..0x2f (checksum 0xe9b6); it is
/// the payload of `ICMP_HEADER`.
fn echo_request() -> Vec<u8> {
    let mut m = vec![0x08, 0x00, 0xe9, 0xb6, 0x1c, 0x46, 0x00, 0x01];
    m.extend(0x10..0x30u8);
    m
}

fn echo_data() -> Vec<u8> {
    (0x10..0x30u8).collect()
}

#[test]
fn enums_round_trip() {
    for v in 0..=u8::MAX {
        assert_eq!(u8::from(Message::from(v)), v);
        assert_eq!(u8::from(DstUnreachable::from(v)), v);
        assert_eq!(u8::from(TimeExceeded::from(v)), v);
    }
    assert_eq!(Message::from(8), Message::EchoRequest);
    assert_eq!(Message::from(5), Message::Unknown(5));
    assert_eq!(DstUnreachable::from(4), DstUnreachable::FragRequired);
    assert_eq!(DstUnreachable::from(13), DstUnreachable::AdminProhibited);
    assert_eq!(DstUnreachable::from(16), DstUnreachable::Unknown(16));
    assert_eq!(TimeExceeded::from(0), TimeExceeded::TtlExpired);
    assert_eq!(TimeExceeded::from(1), TimeExceeded::FragExpired);
}

#[test]
fn parse_echo_request_in_datagram() {
    let mut d = ICMP_HEADER.to_vec();
    d.extend(echo_request());
    let ip = Ipv4Packet::new_checked(&d[..]).unwrap();
    assert_eq!(Ipv4Repr::parse(&ip).unwrap().protocol, Protocol::Icmp);
    let p = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(p.msg_type(), Message::EchoRequest);
    assert_eq!(p.msg_code(), 0);
    assert_eq!(p.checksum(), 0xe9b6);
    assert_eq!((p.echo_ident(), p.echo_seq_no()), (0x1c46, 1));
    assert!(p.verify_checksum());
    let data = echo_data();
    assert_eq!(p.data(), &data[..]);
    let repr = Icmpv4Repr::parse(&p).unwrap();
    assert_eq!(
        repr,
        Icmpv4Repr::EchoRequest {
            ident: 0x1c46,
            seq_no: 1,
            data: &data
        }
    );
    assert_eq!(repr.buffer_len(), 40);
    assert_eq!(Icmpv4Packet::HEADER_LEN, 8);
    assert_eq!(icmpv4::HEADER_LEN, 8);
}

#[test]
fn emit_echo_reply() {
    let data = echo_data();
    let reply = Icmpv4Repr::EchoReply {
        ident: 0x1c46,
        seq_no: 1,
        data: &data,
    };
    let mut buf = vec![0xffu8; reply.buffer_len()];
    reply.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    let mut expect = echo_request();
    expect[0] = 0;
    expect[2..4].copy_from_slice(&[0xf1, 0xb6]); // type 8 -> 0 adds 0x0800
    assert_eq!(buf, expect);
    let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(Icmpv4Repr::parse(&p), Ok(reply));

    let req = Icmpv4Repr::EchoRequest {
        ident: 0x1c46,
        seq_no: 1,
        data: &data,
    };
    let mut buf = vec![0u8; req.buffer_len()];
    req.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    assert_eq!(buf, echo_request());
}

#[test]
fn time_exceeded_and_frag_required() {
    // Quote the IPv4 header of the echo datagram plus 8 bytes (RFC 792).
    let mut original = ICMP_HEADER.to_vec();
    original.extend(echo_request());
    let invoking = &original[..28];
    let te = Icmpv4Repr::TimeExceeded {
        reason: TimeExceeded::TtlExpired,
        invoking,
    };
    let mut buf = vec![0xaau8; te.buffer_len()];
    te.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    assert_eq!(&buf[..2], &[11, 0]);
    assert_eq!(&buf[4..8], &[0, 0, 0, 0]);
    assert_eq!(&buf[8..], invoking);
    let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(Icmpv4Repr::parse(&p), Ok(te));
    let quoted = Ipv4Packet::new_unchecked(p.data());
    assert_eq!(quoted.src_addr(), Ipv4Addr::new(192, 0, 2, 1));

    let fr = Icmpv4Repr::DstUnreachable {
        reason: DstUnreachable::FragRequired,
        next_hop_mtu: 1400,
        invoking,
    };
    let mut buf = vec![0xaau8; fr.buffer_len()];
    fr.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    assert_eq!(&buf[..2], &[3, 4]);
    assert_eq!(&buf[4..8], &[0, 0, 0x05, 0x78]);
    let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(p.next_hop_mtu(), 1400);
    assert_eq!(Icmpv4Repr::parse(&p), Ok(fr));

    // Unknown codes survive a round trip.
    let odd = Icmpv4Repr::DstUnreachable {
        reason: DstUnreachable::Unknown(99),
        next_hop_mtu: 0,
        invoking,
    };
    let mut buf = vec![0u8; odd.buffer_len()];
    odd.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    assert_eq!(
        Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&buf[..]).unwrap()),
        Ok(odd)
    );
}

#[test]
fn setters() {
    let mut buf = echo_request();
    let mut p = Icmpv4Packet::new_checked(&mut buf[..]).unwrap();
    p.set_msg_type(Message::DstUnreachable);
    p.set_msg_code(DstUnreachable::AdminProhibited.into());
    p.set_echo_ident(0xffff);
    p.set_next_hop_mtu(576);
    p.data_mut()[0] = 0x45;
    p.payload_mut()[1] = 0;
    p.fill_checksum();
    assert!(p.verify_checksum());
    assert_eq!(p.echo_ident(), 0, "set_next_hop_mtu zeroes the unused half");
    assert_eq!(p.echo_seq_no(), 576);
    match Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&buf[..]).unwrap()).unwrap() {
        Icmpv4Repr::DstUnreachable {
            reason,
            next_hop_mtu,
            invoking,
        } => {
            assert_eq!(reason, DstUnreachable::AdminProhibited);
            assert_eq!(next_hop_mtu, 576);
            assert_eq!(&invoking[..2], &[0x45, 0]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn errors() {
    let m = echo_request();
    for len in 0..8 {
        assert_eq!(
            Icmpv4Packet::new_checked(&m[..len]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&m[..len])),
            Err(Error::Truncated)
        );
    }
    // A truncated message fails its checksum.
    let p = Icmpv4Packet::new_checked(&m[..20]).unwrap();
    assert_eq!(Icmpv4Repr::parse(&p), Err(Error::Checksum));
    let mut bad = m.clone();
    bad[10] ^= 0x40;
    let p = Icmpv4Packet::new_checked(&bad[..]).unwrap();
    assert!(!p.verify_checksum());
    assert_eq!(Icmpv4Repr::parse(&p), Err(Error::Checksum));
    // Echo with a non-zero code.
    let mut bad = m.clone();
    bad[1] = 1;
    let mut p = Icmpv4Packet::new_checked(&mut bad[..]).unwrap();
    p.fill_checksum();
    // (A repr borrows its data, so parse wants a shared view.)
    let view = Icmpv4Packet::new_unchecked(p.as_ref());
    assert_eq!(Icmpv4Repr::parse(&view), Err(Error::Malformed));
    // Redirect (5) is not modelled.
    p.set_msg_type(Message::Unknown(5));
    p.fill_checksum();
    let view = Icmpv4Packet::new_unchecked(p.as_ref());
    assert_eq!(Icmpv4Repr::parse(&view), Err(Error::Unsupported));
}

#[test]
fn no_accessor_panics_after_check_len() {
    let mut te = vec![0u8; 8 + 28];
    let invoking = {
        let mut o = ICMP_HEADER.to_vec();
        o.extend(&echo_request()[..8]);
        o
    };
    Icmpv4Repr::TimeExceeded {
        reason: TimeExceeded::TtlExpired,
        invoking: &invoking,
    }
    .emit(&mut Icmpv4Packet::new_unchecked(&mut te[..]));
    for input in [echo_request(), te] {
        crate::sweep(&input, |b| {
            let Ok(p) = Icmpv4Packet::new_checked(b) else {
                return;
            };
            let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident());
            let _ = (
                p.echo_seq_no(),
                p.next_hop_mtu(),
                p.data(),
                p.verify_checksum(),
            );
            if let Ok(repr) = Icmpv4Repr::parse(&p) {
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
                assert_eq!(
                    Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&out[..])),
                    Ok(repr)
                );
            }
        });
    }
}
