//! A lab on in-memory ports: one VLAN uplink (port 0) and guests, plus frame builders
//! and parsers for the scenario tests. Addresses are documentation prefixes only.

#![allow(dead_code, clippy::unwrap_used, clippy::new_without_default)]

pub mod two_workers;

use std::net::Ipv4Addr;

use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, NetworkId, PortId};
use hvrouter_dataplane::{MemPort, Pipeline};
use ipnet::Ipv4Net;
use wire::icmpv4::Message;
use wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Icmpv4Packet, Ipv4Packet, Ipv4Repr, Protocol, UdpPacket, UdpRepr,
};

pub const UPLINK: PortId = PortId(0);
pub const TAP1: PortId = PortId(1);
pub const TAP2: PortId = PortId(2);
pub const TAP3: PortId = PortId(3);

pub const SUBNET: &str = "192.0.2.0/24";
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const GUEST1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const GUEST2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
/// Guest 3 owns a routed extra prefix.
pub const GUEST3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 30);
pub const GUEST3_PREFIX: &str = "203.0.113.0/28";
pub const VLAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);
pub const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub const ROUTER_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

pub const UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
pub const GUEST_SIDE_MAC: EthernetAddress = EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
pub const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xfe]);
pub const VLAN_HOST_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);
pub const MAC1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 1, 0x01]);
pub const MAC2: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 2, 0x02]);
pub const MAC3: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 3, 0x03]);

pub struct Lab {
    pub pipe: Pipeline<MemPort>,
    pub net: NetworkId,
    pub now: Instant,
}

pub fn network_spec(arp_source: Option<Ipv4Addr>) -> NetworkSpec {
    NetworkSpec {
        name: "public_90".into(),
        subnet: SUBNET.parse().unwrap(),
        gateway: GATEWAY,
        uplink: UPLINK,
        mtu: 1500,
        uplink_mac: UPLINK_MAC,
        guest_mac: GUEST_SIDE_MAC,
        arp_source,
    }
}

pub fn guest_spec(
    net: NetworkId,
    name: &str,
    port: PortId,
    mac: EthernetAddress,
    ip: Ipv4Addr,
) -> GuestSpec {
    GuestSpec {
        name: name.into(),
        port,
        mac,
        ips: vec![ip],
        network: net,
        extra_prefixes: vec![],
    }
}

impl Lab {
    /// Uplink plus three guests (tap1, tap2, tap3 with an extra prefix).
    pub fn new() -> Lab {
        Lab::with_source(Some(ROUTER_SRC))
    }

    pub fn with_source(arp_source: Option<Ipv4Addr>) -> Lab {
        let now = Instant::from_secs(1000);
        let mut router = Router::new(RouterConfig::default(), now);
        let net = router.add_network(network_spec(arp_source), now).unwrap();
        router
            .add_guest(guest_spec(net, "tap1", TAP1, MAC1, GUEST1))
            .unwrap();
        router
            .add_guest(guest_spec(net, "tap2", TAP2, MAC2, GUEST2))
            .unwrap();
        let mut g3 = guest_spec(net, "tap3", TAP3, MAC3, GUEST3);
        g3.extra_prefixes = vec![GUEST3_PREFIX.parse().unwrap()];
        router.add_guest(g3).unwrap();
        let mut pipe = Pipeline::new(router, 32);
        for p in [UPLINK, TAP1, TAP2, TAP3] {
            pipe.attach(p, MemPort::new());
        }
        Lab { pipe, net, now }
    }

    pub fn set_burst(&mut self, burst: usize) {
        self.pipe.set_burst(burst);
    }

    pub fn inject(&mut self, port: PortId, frame: &[u8]) {
        self.pipe.port_mut(port).unwrap().inject(frame);
    }

    /// Run passes until nothing is received any more; time advances by 1 ms per pass.
    pub fn run(&mut self) {
        for _ in 0..16 {
            let s = self.pipe.run_once(self.now);
            self.now = self.now + std::time::Duration::from_millis(1);
            if s.rx == 0 {
                break;
            }
        }
    }

    pub fn advance(&mut self, d: std::time::Duration) {
        self.now = self.now + d;
        self.pipe.run_once(self.now);
    }

    pub fn sent(&mut self, port: PortId) -> Vec<Vec<u8>> {
        self.pipe.port_mut(port).unwrap().take_sent()
    }

    /// `frame` received on `port`, the pipeline run: what was sent on `out`.
    pub fn through(&mut self, port: PortId, frame: &[u8], out: PortId) -> Vec<Vec<u8>> {
        self.inject(port, frame);
        self.run();
        self.sent(out)
    }

    /// Everything sent on every port, drained.
    pub fn sent_all(&mut self) -> Vec<(PortId, Vec<u8>)> {
        let mut all = vec![];
        for p in [UPLINK, TAP1, TAP2, TAP3] {
            for f in self.sent(p) {
                all.push((p, f));
            }
        }
        all
    }

    pub fn drops(&self, port: PortId, reason: hvrouter_core::drop::DropReason) -> u64 {
        self.pipe.router().port_counters(port).drop_count(reason)
    }

    pub fn delete_route(&mut self, prefix: &str) {
        let p: Ipv4Net = prefix.parse().unwrap();
        let net = self.net;
        self.pipe
            .router_mut()
            .tables_mut()
            .routes_mut(net)
            .unwrap()
            .remove(p)
            .unwrap();
    }
}

pub fn arp_frame(
    op: ArpOperation,
    eth_src: EthernetAddress,
    eth_dst: EthernetAddress,
    sha: EthernetAddress,
    spa: Ipv4Addr,
    tha: EthernetAddress,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: eth_src,
        dst_addr: eth_dst,
        ethertype: EtherType::Arp,
    };
    let arp = ArpRepr {
        operation: op,
        source_hardware_addr: sha,
        source_protocol_addr: spa,
        target_hardware_addr: tha,
        target_protocol_addr: tpa,
    };
    let mut buf = vec![0u8; 60];
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut f);
    arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
    buf
}

/// who-has `target` tell `sender`, broadcast.
pub fn who_has(src_mac: EthernetAddress, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    arp_frame(
        ArpOperation::Request,
        src_mac,
        EthernetAddress::BROADCAST,
        src_mac,
        sender,
        EthernetAddress::ZERO,
        target,
    )
}

/// `sender` is-at `src_mac`, unicast to `dst_mac` / `target`.
pub fn is_at(
    src_mac: EthernetAddress,
    sender: Ipv4Addr,
    dst_mac: EthernetAddress,
    target: Ipv4Addr,
) -> Vec<u8> {
    arp_frame(
        ArpOperation::Reply,
        src_mac,
        dst_mac,
        src_mac,
        sender,
        dst_mac,
        target,
    )
}

pub fn parse_arp(frame: &[u8]) -> (EthernetRepr, ArpRepr) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let e = EthernetRepr::parse(&eth).unwrap();
    assert_eq!(e.ethertype, EtherType::Arp);
    let a = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    (e, a)
}

/// An Ethernet frame carrying `ip`'s IPv4 header, then `ip.payload_len` zero bytes (from
/// offset 34) for the caller to fill.
pub fn ipv4_frame(src_mac: EthernetAddress, dst_mac: EthernetAddress, ip: &Ipv4Repr) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EtherType::Ipv4,
    };
    let mut buf = vec![0u8; 14 + 20 + ip.payload_len];
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut f);
    ip.emit(&mut Ipv4Packet::new_unchecked(f.payload_mut()));
    buf
}

/// An Ethernet/IPv4/UDP frame from port `ports.0` to `ports.1` carrying `payload`, with
/// `ip`'s addresses, TTL, DF and identification (its protocol and length are set here)
/// and correct header and UDP checksums.
pub fn udp_datagram(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    ip: Ipv4Repr,
    ports: (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr {
        protocol: Protocol::Udp,
        payload_len: 8 + payload.len(),
        ..ip
    };
    let mut buf = ipv4_frame(src_mac, dst_mac, &ip);
    let udp = UdpRepr {
        src_port: ports.0,
        dst_port: ports.1,
    };
    udp.emit(
        &mut UdpPacket::new_unchecked(&mut buf[34..]),
        ip.src_addr,
        ip.dst_addr,
        payload.len(),
        |b| b.copy_from_slice(payload),
    );
    buf
}

/// An Ethernet/IPv4/UDP frame (40000 -> 5201, `payload_len` bytes counting up) with a
/// correct header and UDP checksum.
pub fn udp_frame(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    payload_len: usize,
    dont_frag: bool,
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Udp,
        payload_len: 0,
        ttl,
        dont_frag,
        ident: 0x1234,
    };
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    udp_datagram(src_mac, dst_mac, ip, (40000, 5201), &payload)
}

/// A plain datagram from a guest (`mac`, `src`) to `dst` through the router: UDP, TTL
/// 64, 18 bytes of data.
pub fn guest_udp(mac: EthernetAddress, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    udp_frame(mac, GUEST_SIDE_MAC, src, dst, 64, 18, false)
}

/// A plain datagram from the VLAN's gateway to `dst` through the router: UDP, TTL 64,
/// 18 bytes of data.
pub fn vlan_udp(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    udp_frame(GW_MAC, UPLINK_MAC, src, dst, 64, 18, false)
}

/// Parsed view of a forwarded IPv4 frame, with checks that every checksum verifies.
#[derive(Debug)]
pub struct Ip {
    pub eth: EthernetRepr,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub protocol: Protocol,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    pub payload: Vec<u8>,
}

pub fn parse_ip(frame: &[u8]) -> Ip {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let e = EthernetRepr::parse(&eth).unwrap();
    assert_eq!(e.ethertype, EtherType::Ipv4);
    let p = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(p.verify_checksum(), "IPv4 header checksum must verify");
    // A fragment's transport checksum covers the reassembled datagram: see reassemble.
    if p.is_fragment() {
    } else if p.protocol() == Protocol::Udp {
        let u = UdpPacket::new_checked(p.payload()).unwrap();
        assert!(
            u.verify_checksum(p.src_addr(), p.dst_addr()),
            "UDP checksum must verify"
        );
    }
    if p.protocol() == Protocol::Icmp {
        let i = Icmpv4Packet::new_checked(p.payload()).unwrap();
        assert!(i.verify_checksum(), "ICMP checksum must verify");
    }
    Ip {
        eth: e,
        src: p.src_addr(),
        dst: p.dst_addr(),
        ttl: p.ttl(),
        protocol: p.protocol(),
        ident: p.ident(),
        dont_frag: p.dont_frag(),
        more_frags: p.more_frags(),
        frag_offset: p.frag_offset(),
        payload: p.payload().to_vec(),
    }
}

/// Reassemble IPv4 fragments (any order) of one datagram into its payload, checking that
/// they agree on addresses and identification, that every piece but the last carries a
/// multiple of 8 bytes with MF, that no byte is missing or covered twice, and that the
/// reassembled UDP checksum verifies.
pub fn reassemble(frames: &[Vec<u8>]) -> (Ip, Vec<u8>) {
    let mut parts: Vec<Ip> = frames.iter().map(|f| parse_ip(f)).collect();
    parts.sort_by_key(|p| p.frag_offset);
    let mut data = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(usize::from(p.frag_offset), data.len(), "contiguous offsets");
        assert_eq!(
            (p.src, p.dst, p.ident),
            (parts[0].src, parts[0].dst, parts[0].ident)
        );
        assert!(!p.dont_frag);
        if i + 1 < parts.len() {
            assert!(p.more_frags, "MF on every fragment but the last");
            assert_eq!(p.payload.len() % 8, 0, "a multiple of 8 bytes but the last");
        } else {
            assert!(!p.more_frags, "MF clear on the last fragment");
        }
        data.extend_from_slice(&p.payload);
    }
    let first = parts.remove(0);
    if first.protocol == Protocol::Udp {
        let u = UdpPacket::new_checked(&data[..]).unwrap();
        assert!(
            u.verify_checksum(first.src, first.dst),
            "reassembled UDP checksum must verify"
        );
    }
    (first, data)
}

/// (type, code, next-hop MTU, quoted bytes) of an ICMP message frame.
pub fn parse_icmp(frame: &[u8]) -> (Message, u8, u16, Vec<u8>) {
    let ip = parse_ip(frame);
    assert_eq!(ip.protocol, Protocol::Icmp);
    let i = Icmpv4Packet::new_checked(&ip.payload[..]).unwrap();
    (
        i.msg_type(),
        i.msg_code(),
        i.next_hop_mtu(),
        i.data().to_vec(),
    )
}

/// An Ethernet/IPv4/TCP frame (PSH|ACK) with `payload_len` bytes of data, DF set, and the
/// TCP checksum left *partial* (pseudo-header sum only), as a veth or virtio guest hands
/// it over with checksum offload.
pub fn tcp_partial_frame(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload_len: usize,
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Tcp,
        payload_len: 20 + payload_len,
        ttl: 64,
        dont_frag: true,
        ident: 0x2000,
    };
    let mut buf = ipv4_frame(src_mac, dst_mac, &ip);
    let mut t = wire::TcpPacket::new_unchecked(&mut buf[34..]);
    t.set_src_port(40000);
    t.set_dst_port(5201);
    t.set_seq_number(1_000_000);
    t.set_ack_number(7);
    t.set_header_len(20);
    t.set_flags(wire::tcp::flags::PSH | wire::tcp::flags::ACK);
    t.set_window_len(512);
    for (i, b) in t.payload_mut().iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let partial = wire::checksum::pseudo_header(src, dst, 6, (20 + payload_len) as u32);
    t.set_checksum(partial);
    buf
}

/// UDP frame whose checksum is left partial (pseudo-header sum only).
pub fn udp_partial_frame(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload_len: usize,
) -> Vec<u8> {
    let mut f = udp_frame(src_mac, dst_mac, src, dst, 64, payload_len, false);
    let partial = wire::checksum::pseudo_header(src, dst, 17, (8 + payload_len) as u32);
    f[40..42].copy_from_slice(&partial.to_be_bytes());
    f
}

/// (seq, flags, payload) of a TCP segment frame, after checking every checksum.
pub fn parse_tcp(frame: &[u8]) -> (u32, u8, Vec<u8>) {
    let ip = parse_ip(frame);
    assert_eq!(ip.protocol, Protocol::Tcp);
    let t = wire::TcpPacket::new_checked(&ip.payload[..]).unwrap();
    assert!(
        t.verify_checksum(ip.src, ip.dst),
        "TCP checksum must verify"
    );
    (t.seq_number(), t.flags(), t.payload().to_vec())
}
