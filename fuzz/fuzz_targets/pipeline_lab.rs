//! The in-memory router and the record loop shared by the `pipeline` and `pipeline6`
//! targets: one VLAN uplink (port 0, network public_90, 192.0.2.0/24) and three guests
//! on ports 1..=3; input records `[ctl, offset, len, bytes...]` (see each target's doc)
//! fed to random ports, and every frame the router sends handed to the target's check.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::Duration;

use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, NetworkId, PortId};
use hvrouter_dataplane::{MemPort, Pipeline};
use wire::EthernetAddress;

pub const UPLINK: PortId = PortId(0);
pub const UPLINK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const GUEST_SIDE_MAC: [u8; 6] = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff];
pub const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
pub const GATEWAY: [u8; 4] = [192, 0, 2, 1];
/// (port, MAC, address) of each guest.
pub const GUESTS: [(u16, [u8; 6], [u8; 4]); 3] = [
    (1, [0x02, 0, 0, 0, 1, 1], [192, 0, 2, 10]),
    (2, [0x02, 0, 0, 0, 2, 2], [192, 0, 2, 20]),
    (3, [0x02, 0, 0, 0, 3, 3], [192, 0, 2, 30]),
];

/// The router: the network (ARP requests from `arp_source`), then `setup` (IPv6 sides,
/// which must exist before the guests), then the guests, guest 3 owning `third_owns`.
pub fn router(
    arp_source: Option<Ipv4Addr>,
    third_owns: &[&str],
    setup: impl FnOnce(&mut Router, NetworkId, Instant),
) -> (Pipeline<MemPort>, Instant) {
    let now = Instant::from_secs(1000);
    let mut router = Router::new(RouterConfig::default(), now);
    let net = router
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().expect("prefix"),
                gateway: Ipv4Addr::from(GATEWAY),
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: EthernetAddress(UPLINK_MAC),
                guest_mac: EthernetAddress(GUEST_SIDE_MAC),
                arp_source,
            },
            now,
        )
        .expect("network");
    setup(&mut router, net, now);
    for (i, (port, mac, ip)) in GUESTS.iter().enumerate() {
        router
            .add_guest(GuestSpec {
                name: format!("tap{}", i + 1),
                port: PortId(*port),
                mac: EthernetAddress(*mac),
                ips: vec![Ipv4Addr::from(*ip)],
                network: net,
                extra_prefixes: if i == 2 {
                    third_owns
                        .iter()
                        .map(|p| p.parse().expect("prefix"))
                        .collect()
                } else {
                    vec![]
                },
            })
            .expect("guest");
    }
    let mut pipe = Pipeline::new(router, 32);
    for p in 0..4 {
        pipe.attach(PortId(p), MemPort::new());
    }
    (pipe, now)
}

/// An Ethernet header.
pub fn eth(dst: [u8; 6], src: [u8; 6], ty: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend(dst);
    f.extend(src);
    f.extend(ty.to_be_bytes());
    f
}

/// Every frame leaves with the router's own source MAC on its side (nothing bridged).
pub fn check_source_mac(port: u16, f: &[u8]) {
    assert!(f.len() >= 14, "runt frame sent on port {port}: {f:02x?}");
    let own = if port == 0 {
        UPLINK_MAC
    } else {
        GUEST_SIDE_MAC
    };
    assert_eq!(
        f[6..12],
        own,
        "port {port}: frame with a foreign source MAC: {f:02x?}"
    );
}

/// Feed the records of `input` to the router: `ctl & 3` the port, `ctl >> 4` the
/// template (`template(port, kind)`, empty: the bytes are the frame) the bytes overwrite
/// from `offset`, `ctl & 4` calls `fix` on the result, `ctl & 8` advances time by 1.5 s,
/// a `len` of 255 toggles the port. After every pass each sent frame goes to `check`.
pub fn run_records(
    input: &[u8],
    (mut pipe, mut now): (Pipeline<MemPort>, Instant),
    template: impl Fn(u16, u8) -> Vec<u8>,
    fix: impl Fn(&mut Vec<u8>),
    check: impl Fn(u16, &[u8]),
) {
    let mut up = [true; 4];
    let mut rest = input;
    while rest.len() >= 3 {
        let (ctl, offset, len) = (rest[0], usize::from(rest[1]), rest[2]);
        rest = &rest[3..];
        let port = u16::from(ctl & 3);
        if ctl & 8 != 0 {
            now = now + Duration::from_millis(1500);
        }
        if len == 255 {
            let p = usize::from(port);
            up[p] = !up[p];
            pipe.router_mut().set_port_up(PortId(port), up[p]);
        } else {
            let n = usize::from(len).min(rest.len());
            let (bytes, tail) = rest.split_at(n);
            rest = tail;
            let mut frame = template(port, ctl >> 4);
            if frame.is_empty() {
                frame = bytes.to_vec();
            } else {
                let end = offset + n;
                frame.resize(frame.len().max(end), 0);
                frame[offset..offset + n].copy_from_slice(bytes);
                if ctl & 4 != 0 {
                    fix(&mut frame);
                }
            }
            if let Some(p) = pipe.port_mut(PortId(port)) {
                p.inject(&frame);
            }
        }
        pipe.run_once(now);
        now = now + Duration::from_millis(1);
        for p in 0..4u16 {
            if let Some(port) = pipe.port_mut(PortId(p)) {
                for f in port.take_sent() {
                    check(p, &f);
                }
            }
        }
    }
}
