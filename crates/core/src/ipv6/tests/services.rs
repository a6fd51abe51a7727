//! Services of the IPv6 side inside [`Router`]: guests added later get their IPv6 side,
//! reload re-applies it, stateless DHCPv6.

use super::router::{ip6_frame, router, tap2_addr, with_macs, TAP1};
use super::*;
use crate::router::{Action, Router};

#[test]
fn guests_added_later_get_their_ipv6_side() {
    let mut r = router();
    let (_, v6) = r.ipv6_mut();
    v6.set_guest6_override(
        "tap4",
        Some(Guest6Spec {
            addrs: vec![a6("2001:db8:90::44")],
            eui64: false,
            prefixes: vec![],
        }),
    );
    // Default: the EUI-64 address of its MAC; override by name; a clash is refused and
    // kept for `show`, the IPv4 side stays.
    for (port, ip, m) in [
        (3u16, "192.0.2.30", mac(3)),
        (4, "192.0.2.40", mac(4)),
        (5, "192.0.2.50", mac(1)),
    ] {
        r.add_guest(GuestSpec {
            name: format!("tap{port}"),
            port: PortId(port),
            mac: m,
            ips: vec![ip.parse().unwrap()],
            network: NET,
            extra_prefixes: vec![],
        })
        .unwrap();
    }
    let id = |r: &Router, n: &str| r.tables().guest(n).unwrap().id;
    let t6 = r.ipv6().tables6();
    assert_eq!(
        t6.guest6(id(&r, "tap3")).unwrap().addrs,
        vec![eui64_address(a6("2001:db8:90::"), mac(3))]
    );
    assert_eq!(
        t6.guest6(id(&r, "tap4")).unwrap().addrs,
        vec![a6("2001:db8:90::44")]
    );
    assert!(
        t6.guest6(id(&r, "tap5")).is_none(),
        "tap1's EUI-64 address is taken"
    );
    assert!(matches!(
        r.ipv6().refusal(id(&r, "tap5")),
        Some(Tables6Error::InUse { .. })
    ));
    // The new guest is answered for on the VLAN at once.
    let mut out = Outbox::new();
    let target = eui64_address(a6("2001:db8:90::"), mac(3));
    let mut f = with_macs(
        ns(gw6(), target, Some(GW_MAC)),
        EthernetAddress([0x33, 0x33, 0xff, 0, 0, 3]),
        GW_MAC,
    );
    assert_eq!(
        r.process(UPLINK, &mut f, Instant::from_secs(1), &mut out),
        Action::Consumed
    );
}

/// A DHCPv6 message from tap1's link-local address to All_DHCP_Relay_Agents_and_Servers.
fn dhcp6(msg_type: u8, options: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![msg_type, 0x12, 0x34, 0x56];
    for (code, data) in options {
        let mut o = [0u8; 64];
        let n = wire::ipv6_dhcp::emit_option(&mut o, *code, data);
        body.extend_from_slice(&o[..n]);
    }
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&546u16.to_be_bytes());
    udp[2..4].copy_from_slice(&547u16.to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + body.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&body);
    let ll = link_local_from_mac(mac(1));
    ip6_frame(
        EthernetAddress([0x33, 0x33, 0, 1, 0, 2]),
        mac(1),
        ll,
        a6("ff02::1:2"),
        1,
        NextHeader::Udp,
        &udp,
    )
}

#[test]
fn stateless_dhcpv6_gives_dns_and_nothing_else() {
    let mut r = router();
    let (t, v6) = r.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: gw6(),
        ra: RaSettings {
            dns_servers: vec![a6("2001:db8:53::53")],
            ..RaSettings::default()
        },
        source6: None,
    };
    v6.set_network6(t, NET, spec, Instant::ZERO).unwrap();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    let client_id: &[u8] = &[0, 3, 0, 1, 0x52, 0x54, 0, 0, 0, 1];
    let mut f = dhcp6(11, &[(1, client_id), (6, &[0, 23])]);
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    let reply = &out.frames()[0];
    assert_eq!(reply.port, TAP1);
    assert_eq!(&reply.data[0..6], &mac(1).0);
    let ip = Ipv6Packet::new_checked(&reply.data[14..]).unwrap();
    assert_eq!(ip.src_addr(), link_local_from_mac(GUEST_MAC));
    assert_eq!(ip.dst_addr(), link_local_from_mac(mac(1)));
    let udp = ip.payload();
    let ph = wire::ipv6::pseudo_header(
        &ip.src_addr(),
        &ip.dst_addr(),
        NextHeader::Udp,
        udp.len() as u32,
    );
    assert_eq!(
        wire::checksum::combine(&[ph, wire::checksum::data(udp)]),
        0xffff,
        "UDP checksum"
    );
    assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 546);
    let m = wire::ipv6_dhcp::Dhcpv6Packet::new_checked(&udp[8..]).unwrap();
    assert_eq!((m.msg_type(), m.transaction_id()), (7, 0x12_3456));
    assert_eq!(m.option(1), Some(client_id));
    assert_eq!(
        m.option(2),
        Some(&super::super::dhcp6::server_duid(GUEST_MAC)[..])
    );
    assert_eq!(m.option(23), Some(&a6("2001:db8:53::53").octets()[..]));

    let other_server: &[u8] = &[0, 3, 0, 1, 9, 9, 9, 9, 9, 9];
    for (mut f, want) in [
        (dhcp6(1, &[(1, client_id)]), DropReason::Dhcp6NotServed),
        (dhcp6(11, &[(2, other_server)]), DropReason::Dhcp6NotServed),
        (dhcp6(11, &[(3, &[0; 12])]), DropReason::Dhcp6Malformed),
        (dhcp6(7, &[]), DropReason::Dhcp6RogueServer),
    ] {
        out.clear();
        assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Drop(want));
        assert!(out.is_empty());
    }
    let mut f = dhcp6(11, &[]);
    f.truncate(f.len() - 1);
    assert_eq!(
        r.process(TAP1, &mut f, now, &mut out),
        Action::Drop(DropReason::Ipv6Malformed)
    );
}

#[test]
fn reapply_follows_changed_overrides() {
    let mut r = router();
    let id = r.tables().guest("tap2").unwrap().id;
    let (t, v6) = r.ipv6_mut();
    let spec = Guest6Spec {
        addrs: vec![a6("2001:db8:90::22")],
        eui64: false,
        prefixes: vec![],
    };
    v6.set_guest6_override("tap2", Some(spec.clone()));
    assert_eq!(v6.wanted_guest6(t, id), Some(spec));
    v6.reapply_guest6(t, id);
    assert_eq!(
        v6.tables6().guest6(id).unwrap().addrs,
        vec![a6("2001:db8:90::22")]
    );
    assert_eq!(
        v6.tables6().owner_of(t, NET, &tap2_addr()).map(|g| g.id),
        None,
        "the EUI-64 address is released"
    );
    v6.clear_guest6_overrides();
    v6.reapply_guest6(t, id);
    assert_eq!(
        v6.tables6().guest6(id).unwrap().addrs,
        vec![tap2_addr()],
        "back to the default"
    );
}

#[test]
fn a_dhcpv6_server_in_a_guest_is_dropped() {
    let mut r = router();
    let mut out = Outbox::new();
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&547u16.to_be_bytes());
    udp[2..4].copy_from_slice(&546u16.to_be_bytes());
    udp[4..6].copy_from_slice(&12u16.to_be_bytes());
    udp.extend_from_slice(&[2, 0, 0, 1]);
    let ll = link_local_from_mac(mac(1));
    let mut f = ip6_frame(
        GUEST_MAC,
        mac(1),
        ll,
        link_local_from_mac(mac(2)),
        64,
        NextHeader::Udp,
        &udp,
    );
    assert_eq!(
        r.process(TAP1, &mut f, Instant::from_secs(1), &mut out),
        Action::Drop(DropReason::Dhcp6RogueServer)
    );
    assert!(out.is_empty());
}

#[test]
fn source6_answers_and_carries_errors_beyond_the_vlan() {
    let mut r = router();
    let (t, v6) = r.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: gw6(),
        ra: RaSettings::default(),
        source6: Some(a6("2001:db8:90::fe")),
    };
    v6.set_network6(t, NET, spec, Instant::ZERO).unwrap();
    let mut out = Outbox::new();
    let now = Instant::from_secs(1);
    // Solicited on the VLAN: answered (the router's own).
    let mut f = with_macs(
        ns(gw6(), a6("2001:db8:90::fe"), Some(GW_MAC)),
        EthernetAddress([0x33, 0x33, 0xff, 0, 0, 0xfe]),
        GW_MAC,
    );
    assert_eq!(r.process(UPLINK, &mut f, now, &mut out), Action::Consumed);
    // A packet from beyond the gateway whose hop limit runs out here: Time Exceeded
    // from source6, back through the gateway.
    let remote = a6("2001:db8:1::7");
    let udp = [0x9c, 0x40, 0, 9, 0, 8, 0, 0];
    let mut f = ip6_frame(
        UPLINK_MAC,
        GW_MAC,
        remote,
        tap2_addr(),
        1,
        NextHeader::Udp,
        &udp,
    );
    out.clear();
    assert_eq!(
        r.process(UPLINK, &mut f, now, &mut out),
        Action::Drop(DropReason::HopLimitExceeded)
    );
    let e = &out.frames()[0];
    assert_eq!((e.port, &e.data[0..6]), (UPLINK, &GW_MAC.0[..]));
    let ip = Ipv6Packet::new_checked(&e.data[14..]).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr(), ip.payload()[0]),
        (a6("2001:db8:90::fe"), remote, 3)
    );
    // Ping the router at source6.
    let repr = wire::Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"x",
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(
        &remote,
        &a6("2001:db8:90::fe"),
        &mut Icmpv6Packet::new_unchecked(&mut b[..]),
    );
    let mut f = ip6_frame(
        UPLINK_MAC,
        GW_MAC,
        remote,
        a6("2001:db8:90::fe"),
        60,
        NextHeader::Icmpv6,
        &b,
    );
    out.clear();
    assert_eq!(r.process(UPLINK, &mut f, now, &mut out), Action::Consumed);
    let ip = Ipv6Packet::new_checked(&out.frames()[0].data[14..]).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.payload()[0]),
        (a6("2001:db8:90::fe"), 129)
    );
    // Without source6, an error toward a sender beyond the VLAN is not sent.
    let (t, v6) = r.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: gw6(),
        ra: RaSettings::default(),
        source6: None,
    };
    v6.set_network6(t, NET, spec, Instant::ZERO).unwrap();
    let mut f = ip6_frame(
        UPLINK_MAC,
        GW_MAC,
        remote,
        tap2_addr(),
        1,
        NextHeader::Udp,
        &udp,
    );
    out.clear();
    assert_eq!(
        r.process(UPLINK, &mut f, now, &mut out),
        Action::Drop(DropReason::HopLimitExceeded)
    );
    assert!(
        out.frames().iter().all(|f| f.data[14 + 40] != 3),
        "no time exceeded"
    );
}

/// A guest whose link-local address is not its MAC's EUI-64 (RFC 7217 stable privacy, as
/// NetworkManager forms it) gets its router solicitation and echo answered; nothing from
/// that source leaves its link.
#[test]
fn a_guest_with_a_stable_privacy_link_local_address_is_served_on_its_link() {
    use super::router::echo;
    let mut r = router();
    let mut out = Outbox::new();
    r.poll(Instant::ZERO, &mut out);
    let ll = a6("fe80::7cf9:b2ff:fe59:6927");
    let mut rs = with_macs(
        ndp_frame(
            ll,
            a6("ff02::2"),
            255,
            &NdpRepr::RouterSolicit { options: &[] },
        ),
        EthernetAddress([0x33, 0x33, 0, 0, 0, 2]),
        mac(1),
    );
    let t = Instant::from_secs(100);
    assert_eq!(r.process(TAP1, &mut rs, t, &mut out), Action::Consumed);
    out.clear();
    r.poll(t + Duration::from_millis(500), &mut out);
    assert_eq!(
        out.frames().iter().filter(|f| f.port == TAP1).count(),
        1,
        "an RA"
    );
    let router_ll = link_local_from_mac(GUEST_MAC);
    let mut ping = ip6_frame(
        GUEST_MAC,
        mac(1),
        ll,
        router_ll,
        64,
        NextHeader::Icmpv6,
        &echo(ll, router_ll),
    );
    out.clear();
    assert_eq!(r.process(TAP1, &mut ping, t, &mut out), Action::Consumed);
    let reply = &out.frames()[0];
    assert_eq!(reply.port, TAP1);
    let ip = Ipv6Packet::new_checked(&reply.data[14..]).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (router_ll, ll));
    let mut out_of_link = ip6_frame(
        GUEST_MAC,
        mac(1),
        ll,
        gw6(),
        64,
        NextHeader::Icmpv6,
        &echo(ll, gw6()),
    );
    assert_eq!(
        r.process(TAP1, &mut out_of_link, t, &mut out),
        Action::Drop(DropReason::Ipv6NotForwarded)
    );
}
