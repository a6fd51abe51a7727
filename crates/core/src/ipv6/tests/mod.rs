//! Scenario tests of the IPv6 model and decisions: real frames built with `wire`, a fake
//! clock, no I/O.

use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
use wire::icmpv6::Icmpv6Packet;
use wire::ipv6_addr::{eui64_address, link_local_from_mac, solicited_node, ALL_NODES};
use wire::ndp::neighbor_flags as nf;
use wire::ndp_option::{prefix_flags, rdnss_servers, NdpOptionRepr, NdpOptions};
use wire::{
    EtherType, EthernetAddress, EthernetFrame, Ipv4Addr, Ipv6Addr, Ipv6Packet, Ipv6Repr, NdpRepr,
    NextHeader,
};

use super::control6::{guest_control, uplink_control, Control6};
use super::forward6::{decide, parse, Egress6, Forward6};
use super::icmp6_error::{may_send_error, push_error, Icmp6Error};
use super::proxy_ndp::{explain, NdpDecision};
use super::ra::{push_ra, RaScheduler, MIN_DELAY_BETWEEN_RAS};
use super::*;
use crate::drop::DropReason;
use crate::guests::GuestSpec;
use crate::ids::{GuestId, NetworkId, PortId};
use crate::network::NetworkSpec;
use crate::outbox::Outbox;
use crate::tables::Tables;
use crate::time::Instant;

pub(super) const NET: NetworkId = NetworkId(0);
pub(super) const UPLINK: PortId = PortId(0);
pub(super) const UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
pub(super) const GUEST_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);
pub(super) const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);

pub(super) fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

pub(super) fn mac(port: u16) -> EthernetAddress {
    EthernetAddress([0x52, 0x54, 0, 0, 0, port as u8])
}

pub(super) fn gw6() -> Ipv6Addr {
    a6("2001:db8:90::1")
}

/// public_90: 192.0.2.0/24 and 2001:db8:90::/64 (gateway ::1), uplink port 0; guests
/// tap1 (port 1, EUI-64, routed 2001:db8:ff::/48) and tap2 (port 2, explicit ::20).
pub(super) fn setup() -> (Tables, Tables6) {
    let mut t = Tables::new();
    t.add_network(NetworkSpec {
        name: "public_90".into(),
        subnet: "192.0.2.0/24".parse::<Ipv4Net>().unwrap(),
        gateway: "192.0.2.1".parse().unwrap(),
        uplink: UPLINK,
        mtu: 1500,
        uplink_mac: UPLINK_MAC,
        guest_mac: GUEST_MAC,
        arp_source: None,
    })
    .unwrap();
    for (port, ip) in [(1u16, "192.0.2.10"), (2, "192.0.2.20")] {
        t.add_guest(GuestSpec {
            name: format!("tap{port}"),
            port: PortId(port),
            mac: mac(port),
            ips: vec![ip.parse::<Ipv4Addr>().unwrap()],
            network: NET,
            extra_prefixes: vec![],
        })
        .unwrap();
    }
    let mut t6 = Tables6::new();
    let dns = vec![a6("2001:db8:53::53")];
    let ra = RaSettings {
        dns_servers: dns,
        ..RaSettings::default()
    };
    let spec = Network6Spec {
        subnet6: "2001:db8:90::/64".parse().unwrap(),
        gateway6: gw6(),
        ra,
        source6: Some(a6("2001:db8:90::fe")),
    };
    assert!(t6.set_network6(&t, NET, spec).unwrap().is_empty());
    let g1 = t.guest("tap1").unwrap().id;
    let g2 = t.guest("tap2").unwrap().id;
    t6.set_guest6(
        &t,
        g1,
        Guest6Spec {
            addrs: vec![],
            eui64: true,
            prefixes: vec!["2001:db8:ff::/48".parse().unwrap()],
        },
    )
    .unwrap();
    t6.set_guest6(
        &t,
        g2,
        Guest6Spec {
            addrs: vec![a6("2001:db8:90::20")],
            eui64: false,
            prefixes: vec![],
        },
    )
    .unwrap();
    (t, t6)
}

pub(super) fn tap1_addr() -> Ipv6Addr {
    eui64_address(a6("2001:db8:90::"), mac(1))
}

/// An Ethernet frame carrying IPv6 + an NDP message.
pub(super) fn ndp_frame(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, ndp: &NdpRepr<'_>) -> Vec<u8> {
    let icmp_len = ndp.buffer_len();
    let mut f = vec![0u8; 14 + 40 + icmp_len];
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: NextHeader::Icmpv6,
        payload_len: icmp_len as u16,
        hop_limit,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]));
    ndp.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut f[54..]));
    f
}

pub(super) fn ns(src: Ipv6Addr, target: Ipv6Addr, sll: Option<EthernetAddress>) -> Vec<u8> {
    let mut opt = [0u8; 8];
    let n = match sll {
        Some(m) => NdpOptionRepr::SourceLinkLayerAddr(m).emit(&mut opt),
        None => 0,
    };
    let dst = solicited_node(&target);
    ndp_frame(
        src,
        dst,
        255,
        &NdpRepr::NeighborSolicit {
            target,
            options: &opt[..n],
        },
    )
}

pub(super) fn uplink(t: &Tables, t6: &Tables6, frame: &[u8]) -> Control6 {
    let (ip, ext) = parse(&frame[14..]).unwrap();
    let p = Ipv6Packet::new_checked(&frame[14..]).unwrap();
    let net = t.network(NET).unwrap();
    uplink_control(
        t,
        t6,
        net,
        &t6.network6(NET).unwrap().net,
        &ip,
        &ext,
        p.payload(),
    )
}

pub(super) fn from_guest(t: &Tables, t6: &Tables6, name: &str, frame: &[u8]) -> Control6 {
    let (ip, ext) = parse(&frame[14..]).unwrap();
    let p = Ipv6Packet::new_checked(&frame[14..]).unwrap();
    let net = t.network(NET).unwrap();
    let g = t.guest(name).unwrap();
    guest_control(
        net,
        &t6.network6(NET).unwrap().net,
        g,
        t6.guest6(g.id),
        &ip,
        &ext,
        p.payload(),
    )
}

mod follower;
mod forward;
mod mld;
mod ndp;
mod neighbor;
mod ra;
mod router;
mod services;
mod tables;
