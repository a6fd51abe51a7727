//! Forwarding decisions, extension headers, ICMPv6 errors.

use super::*;

fn ip_repr(src: &str, dst: &str, hop_limit: u8) -> Ipv6Repr {
    Ipv6Repr {
        src_addr: a6(src),
        dst_addr: a6(dst),
        next_header: NextHeader::Udp,
        payload_len: 8,
        hop_limit,
    }
}

#[test]
fn forwarding_decisions() {
    let (mut t, t6) = setup();
    let g1 = t.guest("tap1").unwrap().id;
    let g2 = t.guest("tap2").unwrap().id;
    let tap1 = tap1_addr().to_string();
    let d = |t: &Tables, ingress: u16, r: &Ipv6Repr, len: usize| {
        decide(t, &t6, NET, PortId(ingress), r, len, 1500)
    };
    // VLAN -> guest, guest -> guest, guest -> gateway, guest -> on-link VLAN host.
    assert_eq!(
        d(&t, 0, &ip_repr("2001:db8:1::1", &tap1, 64), 100),
        Forward6::Forward(Egress6::Guest {
            guest: g1,
            port: PortId(1)
        })
    );
    assert_eq!(
        d(
            &t,
            0,
            &ip_repr("2001:db8:1::1", "2001:db8:ff:3::1", 64),
            100
        ),
        Forward6::Forward(Egress6::Guest {
            guest: g1,
            port: PortId(1)
        })
    );
    assert_eq!(
        d(&t, 1, &ip_repr(&tap1, "2001:db8:90::20", 64), 100),
        Forward6::Forward(Egress6::Guest {
            guest: g2,
            port: PortId(2)
        })
    );
    assert_eq!(
        d(&t, 1, &ip_repr(&tap1, "2001:db8:1::1", 64), 100),
        Forward6::Forward(Egress6::Uplink { next_hop: gw6() })
    );
    assert_eq!(
        d(&t, 1, &ip_repr(&tap1, "2001:db8:90::77", 64), 100),
        Forward6::Forward(Egress6::Uplink {
            next_hop: a6("2001:db8:90::77")
        })
    );
    // Refusals.
    assert_eq!(
        d(&t, 0, &ip_repr("2001:db8:1::1", &tap1, 1), 100),
        Forward6::Error(DropReason::HopLimitExceeded, Icmp6Error::HopLimitExceeded)
    );
    assert_eq!(
        d(&t, 0, &ip_repr("2001:db8:1::1", &tap1, 64), 1501),
        Forward6::Error(
            DropReason::PacketTooBig,
            Icmp6Error::PacketTooBig { mtu: 1500 }
        )
    );
    assert_eq!(
        d(&t, 0, &ip_repr("2001:db8:1::1", "2001:db8:90::77", 64), 100),
        Forward6::Drop(DropReason::Hairpin)
    );
    assert_eq!(
        d(&t, 1, &ip_repr(&tap1, &tap1, 64), 100),
        Forward6::Drop(DropReason::Hairpin)
    );
    assert_eq!(
        d(&t, 1, &ip_repr(&tap1, "fe80::1", 64), 100),
        Forward6::Drop(DropReason::Ipv6NotForwarded)
    );
    assert_eq!(
        d(&t, 1, &ip_repr("fe80::1", "2001:db8:1::1", 64), 100),
        Forward6::Drop(DropReason::Ipv6NotForwarded)
    );
    assert_eq!(
        d(&t, 1, &ip_repr(&tap1, "ff0e::1", 64), 100),
        Forward6::Drop(DropReason::Ipv6NotForwarded)
    );
    t.set_port_up(PortId(2), false);
    assert_eq!(
        d(&t, 0, &ip_repr("2001:db8:1::1", "2001:db8:90::20", 64), 100),
        Forward6::Error(
            DropReason::DestinationGuestDown,
            Icmp6Error::AddrUnreachable
        )
    );
    // Anti-spoofing: own addresses, link-local (its EUI-64 one or another: RFC 7217),
    // routed prefix; nothing else.
    let g6 = t6.guest6(g1);
    assert!(spoof6::check_source(g6, &tap1_addr()).is_ok());
    assert!(spoof6::check_source(g6, &link_local_from_mac(mac(1))).is_ok());
    assert!(spoof6::check_source(g6, &a6("fe80::7cf9:b2ff:fe59:6927")).is_ok());
    // ... which is never forwarded.
    assert_eq!(
        d(
            &t,
            1,
            &ip_repr("fe80::7cf9:b2ff:fe59:6927", "2001:db8:1::1", 64),
            100
        ),
        Forward6::Drop(DropReason::Ipv6NotForwarded)
    );
    assert!(spoof6::check_source(g6, &a6("2001:db8:ff:9::9")).is_ok());
    assert_eq!(
        spoof6::check_source(g6, &a6("2001:db8:90::20")),
        Err(DropReason::SpoofedSourceIpv6)
    );
    assert_eq!(
        spoof6::check_source(None, &tap1_addr()),
        Err(DropReason::SpoofedSourceIpv6)
    );
}

#[test]
fn extension_header_refusals_are_named() {
    let mut f = vec![0u8; 40 + 16];
    Ipv6Repr {
        src_addr: a6("2001:db8::1"),
        dst_addr: a6("2001:db8::2"),
        next_header: NextHeader::DestOptions,
        payload_len: 16,
        hop_limit: 64,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[..]));
    f[40] = 0; // DestOptions -> HopByHop
    assert_eq!(parse(&f).unwrap_err(), DropReason::Ipv6HopByHopMisplaced);
    f[41] = 5; // claims 48 bytes
    assert_eq!(parse(&f).unwrap_err(), DropReason::Ipv6ExtTruncated);
    assert_eq!(parse(&f[..39]).unwrap_err(), DropReason::Ipv6Malformed);
    let mut chain = f[..40].to_vec();
    chain[4..6].copy_from_slice(&(8u16 * 10).to_be_bytes());
    for _ in 0..10 {
        chain.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
    }
    assert_eq!(parse(&chain).unwrap_err(), DropReason::Ipv6ExtTooMany);
}

#[test]
fn icmpv6_errors() {
    let mut pkt = vec![0u8; 40 + 8];
    ip_repr("2001:db8:1::1", "2001:db8:90::20", 1)
        .emit(&mut Ipv6Packet::new_unchecked(&mut pkt[..]));
    let (_, ext) = parse(&pkt).unwrap();
    let p = Ipv6Packet::new_checked(&pkt[..]).unwrap();
    assert!(may_send_error(
        &p,
        &ext,
        false,
        Icmp6Error::HopLimitExceeded
    ));
    assert!(
        !may_send_error(&p, &ext, true, Icmp6Error::HopLimitExceeded),
        "link multicast"
    );
    assert!(
        may_send_error(&p, &ext, true, Icmp6Error::PacketTooBig { mtu: 1280 }),
        "PTB exception"
    );
    // About an ICMPv6 error: never.
    let mut err = vec![0u8; 40 + 8];
    Ipv6Repr {
        next_header: NextHeader::Icmpv6,
        ..ip_repr("2001:db8:1::1", "2001:db8:90::20", 64)
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut err[..]));
    err[40] = 1;
    let (_, ext2) = parse(&err).unwrap();
    assert!(!may_send_error(
        &Ipv6Packet::new_checked(&err[..]).unwrap(),
        &ext2,
        false,
        Icmp6Error::NoRoute
    ));

    let mut out = Outbox::new();
    let a = frames6::Addressing {
        port: UPLINK,
        src_mac: UPLINK_MAC,
        dst_mac: GW_MAC,
        src_ip: link_local_from_mac(UPLINK_MAC),
        dst_ip: a6("2001:db8:1::1"),
        hop_limit: 64,
    };
    let big = vec![0x60u8; 2000];
    push_error(&mut out, &a, &big, Icmp6Error::PacketTooBig { mtu: 1500 });
    let f = &out.frames()[0].data;
    assert_eq!(f.len(), 14 + 1280, "quoted up to the minimum MTU");
    let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum(&ip.src_addr(), &ip.dst_addr()));
    assert_eq!(icmp.mtu(), 1500);
}
