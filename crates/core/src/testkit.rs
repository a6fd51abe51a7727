//! The unit tests' shared fixture: network public_90 (192.0.2.0/24, gateway 192.0.2.1
//! behind the uplink, ARP source 192.0.2.254) with two guests, and hand-built frames.
//! Documentation prefixes only (RFC 5737).

use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr, Ipv4Packet, Protocol};

use crate::guests::GuestSpec;
use crate::ids::PortId;
use crate::network::NetworkSpec;
use crate::router::{Router, RouterConfig};
use crate::time::Instant;

pub const UPLINK: PortId = PortId(0);
pub const TAP1: PortId = PortId(1);
pub const TAP2: PortId = PortId(2);
pub const UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
/// The router's MAC on the guest side (the default `guest_mac`).
pub const GUEST_SIDE_MAC: EthernetAddress = EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
pub const MAC1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 1, 0x01]);
pub const MAC2: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 2, 0x02]);
pub const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xfe]);
pub const GW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const ARP_SOURCE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
pub const GUEST1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const GUEST2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
/// A host beyond the gateway.
pub const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// Another host on the VLAN (not a guest).
pub const VLAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);

/// A router with network public_90 and guests tap1 (port [`TAP1`], [`MAC1`], [`GUEST1`],
/// also routing `tap1_prefixes`) and tap2 ([`TAP2`], [`MAC2`], [`GUEST2`]); with
/// `ports_up`, both guests' ports are up.
pub fn two_guests(tap1_prefixes: Vec<Ipv4Net>, ports_up: bool) -> Router {
    let now = Instant::ZERO;
    let mut r = Router::new(RouterConfig::default(), now);
    let net = r
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().unwrap(),
                gateway: GW,
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: UPLINK_MAC,
                guest_mac: GUEST_SIDE_MAC,
                arp_source: Some(ARP_SOURCE),
            },
            now,
        )
        .unwrap();
    for (name, port, mac, ip, extra) in [
        ("tap1", TAP1, MAC1, GUEST1, tap1_prefixes),
        ("tap2", TAP2, MAC2, GUEST2, vec![]),
    ] {
        r.add_guest(GuestSpec {
            name: name.into(),
            port,
            mac,
            ips: vec![ip],
            network: net,
            extra_prefixes: extra,
        })
        .unwrap();
        if ports_up {
            r.set_port_up(port, true);
        }
    }
    r
}

/// An Ethernet + IPv4 (`protocol`) + 8-byte payload frame with a valid header checksum.
pub fn ipv4(
    dst_mac: EthernetAddress,
    src_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    protocol: Protocol,
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28];
    f[..6].copy_from_slice(&dst_mac.0);
    f[6..12].copy_from_slice(&src_mac.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
    ip.set_version(4);
    ip.set_header_len(20);
    ip.set_total_len(28);
    ip.set_ttl(ttl);
    ip.set_protocol(protocol);
    ip.set_src_addr(src);
    ip.set_dst_addr(dst);
    ip.fill_checksum();
    f
}

/// An Ethernet ARP frame (RFC 826, Ethernet/IPv4) of 60 bytes: operation `op` (1 request,
/// 2 reply) from `sha`/`spa` to `tha`/`tpa`, sent from `src_mac` to `dst_mac`.
pub fn arp(
    dst_mac: EthernetAddress,
    src_mac: EthernetAddress,
    op: u8,
    sha: EthernetAddress,
    spa: Ipv4Addr,
    tha: EthernetAddress,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&dst_mac.0);
    f[6..12].copy_from_slice(&src_mac.0);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, op]);
    f[22..28].copy_from_slice(&sha.0);
    f[28..32].copy_from_slice(&spa.octets());
    f[32..38].copy_from_slice(&tha.0);
    f[38..42].copy_from_slice(&tpa.octets());
    f
}
