#![no_main]
//! DHCP: the parser and the server's replies.
//!
//! 1. The bytes after the first four, as a DHCP message: `check_len` agrees with the
//!    240-byte header and the cookie; after it no accessor panics; the option walk
//!    never reads past the buffer; `ClientRepr::parse` keeps its promises (a message
//!    type, and options 50/54/57 of their exact lengths); `ReplyRepr::parse` does not
//!    panic, and emit -> parse gives back what it parsed.
//! 2. The same bytes as the BOOTP payload of a frame from one of two guests of an
//!    in-memory router (DHCP on): the first four bytes choose the guest, the frame's
//!    addresses and ports, and which header fields are forced to plausible values
//!    (`op`, `htype`/`hlen`, `chaddr`, the cookie, a message type option) so that the
//!    fuzzer gets past the first checks. The invariant the server exists for: no reply
//!    ever offers an address that is not the requesting guest's. Every frame the router
//!    sends in answer goes out of the asking guest's port only, from the router's MAC,
//!    to the guest's MAC or broadcast, from the gateway to the guest's address or
//!    255.255.255.255, UDP 67 -> 68, with `yiaddr` and `ciaddr` each 0 or the guest's
//!    own address (0 in a NAK), and parses as a reply with server identifier the
//!    gateway.

use std::net::Ipv4Addr;
use std::time::Duration;

use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::{MemPort, Pipeline};
use libfuzzer_sys::fuzz_target;
use wire::dhcp::{self, ClientRepr, DhcpPacket, MessageType, OptionIter, ReplyRepr};
use wire::{Error, EthernetAddress, EthernetFrame, Ipv4Packet, UdpPacket};

const UPLINK: PortId = PortId(0);
const GUEST_SIDE_MAC: [u8; 6] = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff];
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// (port, MAC, address) of each guest.
const GUESTS: [(u16, [u8; 6], Ipv4Addr); 2] = [
    (1, [0x02, 0, 0, 0, 1, 1], Ipv4Addr::new(192, 0, 2, 10)),
    (2, [0x02, 0, 0, 0, 2, 2], Ipv4Addr::new(192, 0, 2, 20)),
];

fn router() -> Pipeline<MemPort> {
    let now = Instant::from_secs(1000);
    let mut router = Router::new(RouterConfig::default(), now);
    let net = router
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().expect("prefix"),
                gateway: GATEWAY,
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
                guest_mac: EthernetAddress(GUEST_SIDE_MAC),
                arp_source: Some(Ipv4Addr::new(192, 0, 2, 254)),
            },
            now,
        )
        .expect("network");
    for (i, (port, mac, ip)) in GUESTS.iter().enumerate() {
        router
            .add_guest(GuestSpec {
                name: format!("tap{}", i + 1),
                port: PortId(*port),
                mac: EthernetAddress(*mac),
                ips: vec![*ip],
                network: net,
                extra_prefixes: vec![],
            })
            .expect("guest");
        router
            .set_guest_hostname(&format!("tap{}", i + 1), Some("vm"))
            .expect("hostname");
    }
    let mut pipe = Pipeline::new(router, 32);
    for p in 0..3 {
        pipe.attach(PortId(p), MemPort::new());
    }
    pipe
}

/// Part 1: the parser on its own.
fn parser(msg: &[u8]) {
    let p = match DhcpPacket::new_checked(msg) {
        Ok(p) => p,
        Err(e) => {
            let want = if msg.len() < dhcp::MIN_LEN {
                Error::Truncated
            } else {
                assert_ne!(msg[236..240], dhcp::MAGIC_COOKIE);
                Error::Malformed
            };
            assert_eq!(e, want);
            return;
        }
    };
    let _ = (p.op(), p.xid(), p.secs(), p.flags(), p.ciaddr(), p.yiaddr());
    let _ = (p.siaddr(), p.giaddr(), p.chaddr(), p.client_mac(), p.hops());
    let mut walked = 0usize;
    for o in OptionIter::new(p.options()) {
        match o {
            Ok(o) => walked += 2 + o.data.len(),
            Err(e) => assert_eq!(e, Error::Malformed),
        }
    }
    assert!(walked <= p.options().len());
    if let Ok(c) = ClientRepr::parse(&p) {
        let has_type = OptionIter::new(p.options())
            .flatten()
            .any(|o| o.code == dhcp::opt::MESSAGE_TYPE && o.data == [u8::from(c.message_type)]);
        assert!(has_type);
        assert_eq!(c.xid, p.xid());
    }
    if let Ok(r) = ReplyRepr::parse(&p) {
        let dns: Vec<Ipv4Addr> = ReplyRepr::dns_servers_in(&p).collect();
        let r = ReplyRepr {
            dns_servers: &dns,
            ..r
        };
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut DhcpPacket::new_unchecked(&mut out[..]));
        let q = DhcpPacket::new_checked(&out[..]).expect("emitted");
        // Values of up to 255 bytes fit one option and parse back as they were.
        if dns.len() <= 63 {
            let back = ReplyRepr::parse(&q).expect("round trip");
            assert_eq!(
                ReplyRepr {
                    dns_servers: &dns,
                    ..back
                },
                r
            );
        }
    }
}

/// A frame from guest `g` carrying `payload` as UDP `sport -> dport`.
fn frame(g: usize, sel: &[u8], payload: &[u8]) -> Vec<u8> {
    let (_, mac, ip) = GUESTS[g];
    let src = if sel[1] & 1 == 0 {
        Ipv4Addr::UNSPECIFIED
    } else {
        ip
    };
    let dst = match sel[1] >> 1 & 3 {
        0 => Ipv4Addr::BROADCAST,
        1 => GATEWAY,
        2 => GUESTS[1 - g].2,
        _ => Ipv4Addr::new(198, 51, 100, 67),
    };
    let (sport, dport): (u16, u16) = match sel[1] >> 3 & 3 {
        0 | 1 => (68, 67),
        2 => (67, 68),
        _ => (67, 67),
    };
    let eth_dst = if sel[1] & 0x20 == 0 {
        [0xff; 6]
    } else {
        GUEST_SIDE_MAC
    };
    let udp_len = 8 + payload.len();
    let mut f = Vec::with_capacity(14 + 20 + udp_len);
    f.extend(eth_dst);
    f.extend(mac);
    f.extend([0x08, 0x00]);
    let total = (20 + udp_len).min(usize::from(u16::MAX)) as u16;
    f.extend([0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend(src.octets());
    f.extend(dst.octets());
    let mut sum = 0u32;
    for c in f[14..34].chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend((udp_len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    f.extend([0, 0]);
    f.extend(payload);
    f
}

/// Force header fields to plausible values, as `sel[2]` says.
fn shape(sel: &[u8], g: usize, msg: &mut Vec<u8>) {
    let s = sel[2];
    if s & 1 != 0 && msg.len() < dhcp::MIN_LEN + 3 {
        msg.resize(dhcp::MIN_LEN + 3, 0);
    }
    if msg.len() < dhcp::MIN_LEN {
        return;
    }
    if s & 2 != 0 {
        msg[236..240].copy_from_slice(&dhcp::MAGIC_COOKIE);
    }
    if s & 4 != 0 {
        msg[0] = 1;
        msg[1] = 1;
        msg[2] = 6;
        msg[24..28].fill(0);
    }
    if s & 8 != 0 {
        msg[28..34].copy_from_slice(&GUESTS[g].1);
    }
    if s & 16 != 0 && msg.len() >= dhcp::MIN_LEN + 3 {
        // A message type option first, type from sel[3].
        msg[240..243].copy_from_slice(&[dhcp::opt::MESSAGE_TYPE, 1, sel[3] % 9]);
    }
}

fn check_reply(g: usize, port: PortId, f: &[u8]) {
    let (gport, gmac, gip) = GUESTS[g];
    assert_eq!(
        port,
        PortId(gport),
        "a reply leaves on the asking guest's port only"
    );
    let eth = EthernetFrame::new_checked(f).expect("ethernet");
    assert_eq!(eth.src_addr(), EthernetAddress(GUEST_SIDE_MAC));
    let to = eth.dst_addr();
    assert!(to == EthernetAddress(gmac) || to.is_broadcast(), "to {to}");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("ipv4");
    assert!(ip.verify_checksum());
    assert_eq!(ip.src_addr(), GATEWAY);
    let dst = ip.dst_addr();
    assert!(dst == gip || dst.is_broadcast(), "IPv4 destination {dst}");
    let udp = UdpPacket::new_checked(ip.payload()).expect("udp");
    assert!(udp.verify_checksum(ip.src_addr(), dst));
    assert_eq!((udp.src_port(), udp.dst_port()), (67, 68));
    let p = DhcpPacket::new_checked(udp.payload()).expect("dhcp");
    let r = ReplyRepr::parse(&p).expect("a reply parses");
    let ok = |a: Ipv4Addr| a.is_unspecified() || a == gip;
    assert!(ok(r.yiaddr), "offered {} to {gip}", r.yiaddr);
    assert!(ok(r.ciaddr), "ciaddr {} to {gip}", r.ciaddr);
    assert_eq!(r.server_id, GATEWAY);
    assert_eq!(r.chaddr[..6], gmac);
    match r.message_type {
        MessageType::Nak => {
            assert!(r.yiaddr.is_unspecified() && r.lease.is_none() && r.router.is_none())
        }
        MessageType::Offer | MessageType::Ack => {}
        other => panic!("the server sent {other}"),
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let (sel, msg) = input.split_at(4);
    parser(msg);

    let mut pipe = router();
    let g = usize::from(sel[0] & 1);
    let mut msg = msg.to_vec();
    shape(sel, g, &mut msg);
    if msg.len() > 1400 {
        msg.truncate(1400);
    }
    let f = frame(g, sel, &msg);
    let mut now = Instant::from_secs(1000);
    // Once, then (sel[0] bit 1) twelve more times to reach the rate limit.
    let times = if sel[0] & 2 != 0 { 13 } else { 1 };
    for _ in 0..times {
        pipe.port_mut(PortId(GUESTS[g].0)).expect("port").inject(&f);
        pipe.run_once(now);
        now = now + Duration::from_millis(if sel[0] & 4 != 0 { 600 } else { 1 });
        // Any UDP datagram from port 67 the router sends is the server's: the stage takes
        // every guest datagram to port 67 and from 67 to 68, so none is forwarded.
        for p in 0..3u16 {
            for out in pipe.port_mut(PortId(p)).expect("port").take_sent() {
                let is_udp = out.len() > 36 && out[12..14] == [8, 0] && out[23] == 17;
                if is_udp && out[34..36] == [0, 67] {
                    check_reply(g, PortId(p), &out);
                }
            }
        }
    }
});
