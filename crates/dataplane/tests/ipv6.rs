//! IPv6 through the whole pipeline on in-memory ports, with a fake clock: a
//! guest's router solicitation is answered, the VLAN's solicitations are answered only
//! for the guest, and a guest's ping reaches the gateway once the router resolved it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hvrouter_core::guests::GuestSpec;
use hvrouter_core::ipv6::{Network6Spec, RaSettings};
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::{MemPort, Pipeline};
use wire::icmpv6::Icmpv6Packet;
use wire::ipv6_addr::{eui64_address, link_local_from_mac, solicited_node};
use wire::ndp::neighbor_flags;
use wire::ndp_option::NdpOptionRepr;
use wire::{EthernetAddress, Icmpv6Repr, Ipv6Packet, Ipv6Repr, NdpRepr, NextHeader};

const UPLINK: PortId = PortId(0);
const TAP: PortId = PortId(1);
const UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const GUEST_SIDE_MAC: EthernetAddress = EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
const GUEST_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 1, 1]);

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn gw6() -> Ipv6Addr {
    a6("2001:db8:90::1")
}

fn guest6() -> Ipv6Addr {
    eui64_address(a6("2001:db8:90::"), GUEST_MAC)
}

fn pipeline() -> Pipeline<MemPort> {
    let now = Instant::ZERO;
    let mut r = Router::new(RouterConfig::default(), now);
    let net = r
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().unwrap(),
                gateway: Ipv4Addr::new(192, 0, 2, 1),
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: UPLINK_MAC,
                guest_mac: GUEST_SIDE_MAC,
                arp_source: None,
            },
            now,
        )
        .unwrap();
    let (t, v6) = r.ipv6_mut();
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: gw6(),
        ra: RaSettings::default(),
        source6: None,
    };
    v6.set_network6(t, net, spec, now).unwrap();
    r.add_guest(GuestSpec {
        name: "tap1".into(),
        port: TAP,
        mac: GUEST_MAC,
        ips: vec![Ipv4Addr::new(192, 0, 2, 10)],
        network: net,
        extra_prefixes: vec![],
    })
    .unwrap();
    let mut pipe = Pipeline::new(r, 32);
    pipe.attach(UPLINK, MemPort::new());
    pipe.attach(TAP, MemPort::new());
    pipe
}

fn frame(
    dst: EthernetAddress,
    src: EthernetAddress,
    ip: Ipv6Repr,
    body: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + usize::from(ip.payload_len)];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]));
    body(&mut f[54..]);
    f
}

fn ndp(
    dst_mac: EthernetAddress,
    src_mac: EthernetAddress,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    m: &NdpRepr<'_>,
) -> Vec<u8> {
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: NextHeader::Icmpv6,
        payload_len: m.buffer_len() as u16,
        hop_limit: 255,
    };
    frame(dst_mac, src_mac, ip, |b| {
        m.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(b))
    })
}

fn icmp_type(f: &[u8]) -> Option<u8> {
    let ip = Ipv6Packet::new_checked(&f[14..]).ok()?;
    (ip.next_header() == NextHeader::Icmpv6).then(|| ip.payload()[0])
}

fn run(pipe: &mut Pipeline<MemPort>, now: Instant) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    pipe.run_once(now);
    let up = pipe.port_mut(UPLINK).unwrap().take_sent();
    let tap = pipe.port_mut(TAP).unwrap().take_sent();
    (up, tap)
}

#[test]
fn ipv6_through_the_pipeline() {
    let mut pipe = pipeline();
    let t0 = Instant::from_secs(1);
    // At start: an RA to the guest, announcements on the VLAN.
    let (up, tap) = run(&mut pipe, t0);
    assert!(
        tap.iter().any(|f| icmp_type(f) == Some(134)),
        "no RA toward the guest"
    );
    assert!(
        up.iter().any(|f| icmp_type(f) == Some(136)),
        "no unsolicited NA on the VLAN"
    );

    // The VLAN solicits the guest and a stranger: only the guest is answered.
    let mut opt = [0u8; 8];
    NdpOptionRepr::SourceLinkLayerAddr(GW_MAC).emit(&mut opt);
    for (target, answered) in [(guest6(), true), (a6("2001:db8:90::4242"), false)] {
        let ns = NdpRepr::NeighborSolicit {
            target,
            options: &opt,
        };
        let g = solicited_node(&target);
        let f = ndp(wire::ipv6_addr::multicast_mac(&g), GW_MAC, gw6(), g, &ns);
        pipe.port_mut(UPLINK).unwrap().inject(&f);
        let (up, _) = run(&mut pipe, t0 + Duration::from_millis(10));
        let nas: Vec<_> = up.iter().filter(|f| icmp_type(f) == Some(136)).collect();
        assert_eq!(!nas.is_empty(), answered, "{target}");
    }

    // The guest pings the gateway: resolution, then the echo leaves with its MACs.
    let me = guest6();
    let echo = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"ping",
    };
    let ip = Ipv6Repr {
        src_addr: me,
        dst_addr: gw6(),
        next_header: NextHeader::Icmpv6,
        payload_len: echo.buffer_len() as u16,
        hop_limit: 64,
    };
    let f = frame(GUEST_SIDE_MAC, GUEST_MAC, ip, |b| {
        echo.emit(&me, &gw6(), &mut Icmpv6Packet::new_unchecked(b))
    });
    pipe.port_mut(TAP).unwrap().inject(&f);
    let (up, _) = run(&mut pipe, t0 + Duration::from_millis(20));
    assert!(
        up.iter().any(|f| icmp_type(f) == Some(135)),
        "no NS for the gateway"
    );
    let mut opt = [0u8; 8];
    NdpOptionRepr::TargetLinkLayerAddr(GW_MAC).emit(&mut opt);
    let na = NdpRepr::NeighborAdvert {
        flags: neighbor_flags::SOLICITED | neighbor_flags::ROUTER,
        target: gw6(),
        options: &opt,
    };
    let ll = link_local_from_mac(UPLINK_MAC);
    pipe.port_mut(UPLINK)
        .unwrap()
        .inject(&ndp(UPLINK_MAC, GW_MAC, gw6(), ll, &na));
    let (up, _) = run(&mut pipe, t0 + Duration::from_millis(30));
    let echo_out = up
        .iter()
        .find(|f| icmp_type(f) == Some(128))
        .expect("the echo left");
    assert_eq!(&echo_out[0..6], &GW_MAC.0);
    assert_eq!(&echo_out[6..12], &UPLINK_MAC.0);
    assert_eq!(echo_out[14 + 7], 63);
}
