//! Router Advertisement contents and timers (fake clock).

use super::*;

#[test]
fn router_advertisement_contents() {
    let (t, t6) = setup();
    let mut out = Outbox::new();
    push_ra(
        &mut out,
        PortId(1),
        t.network(NET).unwrap(),
        &t6.network6(NET).unwrap().net,
    );
    let f = &out.frames()[0].data;
    let eth = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(eth.ethertype(), EtherType::Ipv6);
    assert_eq!(eth.dst_addr(), EthernetAddress([0x33, 0x33, 0, 0, 0, 1]));
    let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr(), ip.hop_limit()),
        (link_local_from_mac(GUEST_MAC), ALL_NODES, 255)
    );
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    let NdpRepr::RouterAdvert {
        router_lifetime,
        flags,
        options,
        ..
    } = NdpRepr::parse(&ip.src_addr(), &ip.dst_addr(), &icmp).unwrap()
    else {
        panic!("not an RA");
    };
    assert_eq!(
        (router_lifetime, flags),
        (1800, wire::ndp::router_flags::OTHER),
        "O: DNS by DHCPv6"
    );
    let opts: Vec<_> = NdpOptions::new(options).map(|o| o.unwrap()).collect();
    assert_eq!(opts[0], NdpOptionRepr::SourceLinkLayerAddr(GUEST_MAC));
    assert_eq!(opts[1], NdpOptionRepr::Mtu(1500));
    let NdpOptionRepr::PrefixInfo(p) = opts[2] else {
        panic!()
    };
    assert_eq!((p.prefix, p.prefix_len), (a6("2001:db8:90::"), 64));
    assert_eq!(p.flags, prefix_flags::ON_LINK | prefix_flags::AUTONOMOUS);
    let NdpOptionRepr::Rdnss { lifetime, servers } = opts[3] else {
        panic!()
    };
    assert_eq!(lifetime, 1800);
    assert_eq!(
        rdnss_servers(servers).collect::<Vec<_>>(),
        vec![a6("2001:db8:53::53")]
    );
}

#[test]
fn ra_timers_with_a_fake_clock() {
    let (mut t, t6) = setup();
    let g1 = t.guest("tap1").unwrap().id;
    let mut s = RaScheduler::new();
    let mut out = Outbox::new();
    let t0 = Instant::from_secs(100);
    s.guest_up(g1, t0);
    assert_eq!(s.next_due(), Some(t0));
    assert_eq!(s.poll(&t, &t6, t0, &mut out), 1);
    assert_eq!(out.frames()[0].port, PortId(1));
    // Initial advertisements come within MAX_INITIAL_RTR_ADVERT_INTERVAL.
    let due = s.next_due().unwrap();
    assert!(due > t0 && due <= t0 + Duration::from_secs(16), "{due:?}");
    // A solicitation right after an advertisement waits MIN_DELAY_BETWEEN_RAS.
    let at = s.solicited(g1, t0 + Duration::from_millis(100));
    assert_eq!(at, (t0 + MIN_DELAY_BETWEEN_RAS).min(due));
    // Later ones come within MAX_RA_DELAY_TIME.
    let t1 = t0 + Duration::from_secs(60);
    out.clear();
    assert_eq!(s.poll(&t, &t6, t1, &mut out), 1);
    let at = s.solicited(g1, t1 + Duration::from_secs(10));
    assert!(at <= t1 + Duration::from_secs(10) + Duration::from_millis(500));
    // Steady state: between Min (200 s) and Max (600 s) after a few adverts.
    let mut now = t1;
    for _ in 0..5 {
        now = s.next_due().unwrap();
        out.clear();
        s.poll(&t, &t6, now, &mut out);
    }
    let gap = s.next_due().unwrap().saturating_duration_since(now);
    assert!(
        gap >= Duration::from_secs(200) && gap <= Duration::from_secs(600),
        "{gap:?}"
    );
    // A down guest gets none; a removed guest loses its timer.
    let port = t.guest(g1).unwrap().port;
    t.set_port_up(port, false);
    let now = s.next_due().unwrap();
    out.clear();
    assert_eq!(s.poll(&t, &t6, now, &mut out), 0);
    t.remove_guest(g1).unwrap();
    let now = s.next_due().unwrap();
    assert_eq!(s.poll(&t, &t6, now, &mut out), 0);
    assert_eq!(s.next_due(), None);
}
