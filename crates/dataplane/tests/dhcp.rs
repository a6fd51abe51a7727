//! The DHCP server on in-memory ports with a fake clock: every client state of RFC 2131
//! 4.3.2, INFORM, RELEASE, DECLINE, reply addressing (4.1), the rate limit, and what is
//! refused (spoofed chaddr, malformed options, rogue servers, other guests' addresses,
//! anything on the uplink).

#![allow(clippy::unwrap_used)]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use hvrouter_core::dhcp::{DhcpConfig, DhcpSettings, Outcome, RequestState};
use hvrouter_core::drop::DropReason;
use hvrouter_core::GuestId;
use support::*;
use wire::dhcp::{self, opt, DhcpPacket, LeaseTimes, MessageType, ReplyRepr, FLAG_BROADCAST};
use wire::{EthernetAddress, EthernetFrame, Ipv4Packet, Ipv4Repr, Protocol, UdpPacket};

const DNS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(198, 51, 100, 53),
    Ipv4Addr::new(198, 51, 100, 54),
];

/// A client message as a frame: Ethernet, IPv4, UDP 68 -> 67, BOOTP with `options`.
struct Msg {
    kind: u8,
    mac: EthernetAddress,
    eth_src: EthernetAddress,
    eth_dst: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ciaddr: Ipv4Addr,
    flags: u16,
    xid: u32,
    options: Vec<u8>,
    op: u8,
    sport: u16,
}

impl Msg {
    /// A broadcast message from guest 1 without an address.
    fn new(kind: MessageType) -> Msg {
        Msg {
            kind: kind.into(),
            mac: MAC1,
            eth_src: MAC1,
            eth_dst: EthernetAddress::BROADCAST,
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::BROADCAST,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            flags: 0,
            xid: 0x0bad_cafe,
            options: Vec::new(),
            op: 1,
            sport: dhcp::CLIENT_PORT,
        }
    }

    fn opt(mut self, code: u8, data: &[u8]) -> Msg {
        self.options.push(code);
        self.options.push(data.len() as u8);
        self.options.extend_from_slice(data);
        self
    }

    /// A unicast message from guest 1's address (renewing, inform).
    fn renewing_from_guest1(mut self) -> Msg {
        self.src = GUEST1;
        self.dst = GATEWAY;
        self.ciaddr = GUEST1;
        self.eth_dst = GUEST_SIDE_MAC;
        self
    }

    fn frame(&self) -> Vec<u8> {
        let mut bootp = vec![0u8; dhcp::MIN_LEN];
        bootp[0] = self.op;
        bootp[1] = 1;
        bootp[2] = 6;
        bootp[4..8].copy_from_slice(&self.xid.to_be_bytes());
        bootp[10..12].copy_from_slice(&self.flags.to_be_bytes());
        bootp[12..16].copy_from_slice(&self.ciaddr.octets());
        bootp[28..34].copy_from_slice(&self.mac.0);
        bootp[236..240].copy_from_slice(&dhcp::MAGIC_COOKIE);
        bootp.extend_from_slice(&[opt::MESSAGE_TYPE, 1, self.kind]);
        bootp.extend_from_slice(&self.options);
        bootp.push(opt::END);
        bootp.resize(bootp.len().max(dhcp::BOOTP_MIN_LEN), 0);
        udp_frame(
            self.eth_src,
            self.eth_dst,
            self.src,
            self.dst,
            self.sport,
            dhcp::SERVER_PORT,
            &bootp,
        )
    }
}

/// A client's UDP datagram (TTL 64, identification 1).
fn udp_frame(
    eth_src: EthernetAddress,
    eth_dst: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: Protocol::Udp,
        payload_len: 0,
        ttl: 64,
        dont_frag: false,
        ident: 1,
    };
    udp_datagram(eth_src, eth_dst, ip, (sport, dport), payload)
}

/// A reply as the guest sees it, copied out of the frame.
#[derive(Debug)]
struct Reply {
    eth_src: EthernetAddress,
    eth_dst: EthernetAddress,
    ip_src: Ipv4Addr,
    ip_dst: Ipv4Addr,
    kind: MessageType,
    xid: u32,
    ciaddr: Ipv4Addr,
    yiaddr: Ipv4Addr,
    server_id: Ipv4Addr,
    lease: Option<LeaseTimes>,
    mask: Option<Ipv4Addr>,
    router: Option<Ipv4Addr>,
    mtu: Option<u16>,
    dns: Vec<Ipv4Addr>,
    domain: Option<Vec<u8>>,
    search: Option<Vec<u8>>,
    hostname: Option<Vec<u8>>,
    message: Option<Vec<u8>>,
    /// Bytes of the DHCP message.
    len: usize,
}

fn parse(frame: &[u8]) -> Reply {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum());
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(ip.src_addr(), ip.dst_addr()));
    assert_eq!((udp.src_port(), udp.dst_port()), (67, 68));
    assert!(udp.payload().len() >= dhcp::BOOTP_MIN_LEN);
    // 576-byte datagrams unless the client said more (option 57); never above the MTU.
    assert!(udp.payload().len() <= 1500 - 28);
    let p = DhcpPacket::new_checked(udp.payload()).unwrap();
    let r = ReplyRepr::parse(&p).unwrap();
    Reply {
        eth_src: eth.src_addr(),
        eth_dst: eth.dst_addr(),
        ip_src: ip.src_addr(),
        ip_dst: ip.dst_addr(),
        kind: r.message_type,
        xid: r.xid,
        ciaddr: r.ciaddr,
        yiaddr: r.yiaddr,
        server_id: r.server_id,
        lease: r.lease,
        mask: r.subnet_mask,
        router: r.router,
        mtu: r.mtu,
        dns: ReplyRepr::dns_servers_in(&p).collect(),
        domain: r.domain_name.map(<[u8]>::to_vec),
        search: r.domain_search.map(<[u8]>::to_vec),
        hostname: r.hostname.map(<[u8]>::to_vec),
        message: r.message.map(<[u8]>::to_vec),
        len: udp.payload().len(),
    }
}

/// A lab whose network has DNS, domain, search list and a one-day lease, and guest 1
/// called vm1.example.org.
fn lab() -> Lab {
    let mut lab = Lab::new();
    let settings = DhcpSettings::new(
        true,
        DNS.to_vec(),
        Some("example.org".into()),
        vec!["example.org".into(), "lab.example.org".into()],
        86400,
    )
    .unwrap();
    let mut cfg = DhcpConfig::default();
    cfg.networks.insert("public_90".into(), settings);
    let r = lab.pipe.router_mut();
    r.set_dhcp_config(cfg);
    r.set_guest_hostname("tap1", Some("vm1.example.org"))
        .unwrap();
    lab
}

/// Send one message from guest 1 and take what came back on its port; nothing may go
/// anywhere else.
fn ask(lab: &mut Lab, msg: &Msg) -> Vec<Reply> {
    lab.inject(TAP1, &msg.frame());
    lab.run();
    let mut replies = Vec::new();
    for (port, f) in lab.sent_all() {
        assert_eq!(
            port, TAP1,
            "a DHCP reply leaves on the asking guest's port only"
        );
        replies.push(parse(&f));
    }
    replies
}

fn one(lab: &mut Lab, msg: &Msg) -> Reply {
    let mut r = ask(lab, msg);
    assert_eq!(r.len(), 1, "exactly one reply");
    r.remove(0)
}

/// Guest 1's id in the router's tables.
fn tap1_id(lab: &Lab) -> GuestId {
    lab.pipe
        .router()
        .tables()
        .guests()
        .by_name("tap1")
        .unwrap()
        .id
}

fn last_outcome(lab: &Lab) -> Outcome {
    let g = tap1_id(lab);
    lab.pipe
        .router()
        .dhcp()
        .guest(g)
        .unwrap()
        .last
        .unwrap()
        .outcome
}

#[test]
fn discover_gets_an_offer_of_its_own_address_with_every_option() {
    let mut lab = lab();
    let offer = one(
        &mut lab,
        &Msg {
            flags: FLAG_BROADCAST,
            ..Msg::new(MessageType::Discover)
        },
    );
    assert_eq!(offer.kind, MessageType::Offer);
    assert_eq!(offer.xid, 0x0bad_cafe);
    assert_eq!(offer.yiaddr, GUEST1);
    assert_eq!(offer.ciaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(offer.server_id, GATEWAY);
    assert_eq!(offer.ip_src, GATEWAY);
    assert_eq!(offer.eth_src, GUEST_SIDE_MAC);
    // Broadcast flag: to 255.255.255.255 (RFC 2131 4.1).
    assert_eq!(offer.ip_dst, Ipv4Addr::BROADCAST);
    assert_eq!(offer.eth_dst, EthernetAddress::BROADCAST);
    assert_eq!(offer.mask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(offer.router, Some(GATEWAY));
    assert_eq!(offer.mtu, Some(1500));
    assert_eq!(offer.dns, DNS.to_vec());
    assert_eq!(offer.domain.as_deref(), Some(&b"example.org"[..]));
    assert_eq!(
        offer.search.as_deref(),
        Some(&b"\x07example\x03org\x00\x03lab\x07example\x03org\x00"[..])
    );
    assert_eq!(offer.hostname.as_deref(), Some(&b"vm1.example.org"[..]));
    assert_eq!(
        offer.lease,
        Some(LeaseTimes {
            lease: 86400,
            renewal: 600,
            rebinding: 75600
        })
    );
    assert_eq!(last_outcome(&lab), Outcome::Offered(GUEST1));
    assert!(
        offer.len <= dhcp::DEFAULT_MAX_MESSAGE,
        "fits 576-byte datagrams"
    );
    assert_eq!(lab.pipe.router().dhcp().counters().offer, 1);
}

#[test]
fn without_the_broadcast_flag_the_offer_is_unicast_to_the_guest() {
    let mut lab = lab();
    let offer = one(&mut lab, &Msg::new(MessageType::Discover));
    assert_eq!(offer.ip_dst, GUEST1);
    assert_eq!(offer.eth_dst, MAC1);
    // A made-up ciaddr (found by the fuzz target): the offer still goes to the guest's
    // own address, never to the ciaddr.
    for ciaddr in [Ipv4Addr::new(10, 0, 0, 0), GUEST2] {
        let offer = one(
            &mut lab,
            &Msg {
                ciaddr,
                ..Msg::new(MessageType::Discover)
            },
        );
        assert_eq!(
            (offer.ip_dst, offer.ciaddr, offer.yiaddr),
            (GUEST1, Ipv4Addr::UNSPECIFIED, GUEST1)
        );
    }
}

#[test]
fn request_is_acked_in_selecting_and_init_reboot() {
    let mut lab = lab();
    let selecting = Msg::new(MessageType::Request)
        .opt(opt::SERVER_ID, &GATEWAY.octets())
        .opt(opt::REQUESTED_IP, &GUEST1.octets());
    let ack = one(&mut lab, &selecting);
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(ack.yiaddr, GUEST1);
    assert_eq!(ack.mask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(ack.router, Some(GATEWAY));
    assert!(ack.lease.is_some());
    assert_eq!(
        last_outcome(&lab),
        Outcome::Acked(GUEST1, RequestState::Selecting)
    );
    let reboot = Msg::new(MessageType::Request).opt(opt::REQUESTED_IP, &GUEST1.octets());
    let ack = one(&mut lab, &reboot);
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(
        last_outcome(&lab),
        Outcome::Acked(GUEST1, RequestState::InitReboot)
    );
    let g = tap1_id(&lab);
    let lease = lab.pipe.router().dhcp().guest(g).unwrap().lease.unwrap();
    assert_eq!(lease.address, GUEST1);
    assert_eq!(
        lease.expires.saturating_duration_since(lease.acked_at),
        Duration::from_secs(86400)
    );
}

#[test]
fn renewing_is_unicast_and_rebinding_broadcast_both_acked_to_ciaddr() {
    let mut lab = lab();
    let renew = Msg::new(MessageType::Request).renewing_from_guest1();
    let ack = one(&mut lab, &renew);
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!((ack.ip_dst, ack.eth_dst), (GUEST1, MAC1));
    assert_eq!(ack.ciaddr, GUEST1);
    assert_eq!(
        last_outcome(&lab),
        Outcome::Acked(GUEST1, RequestState::Renewing)
    );
    let rebind = Msg {
        dst: Ipv4Addr::BROADCAST,
        eth_dst: EthernetAddress::BROADCAST,
        ..Msg::new(MessageType::Request).renewing_from_guest1()
    };
    let ack = one(&mut lab, &rebind);
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(ack.ip_dst, GUEST1);
    assert_eq!(
        last_outcome(&lab),
        Outcome::Acked(GUEST1, RequestState::Rebinding)
    );
    // A lease from nfdhcpd names its dummy server 1.2.3.4: the renewal goes there, is
    // taken all the same (any UDP to port 67 from a guest is the server's), and acked.
    let ack = one(
        &mut lab,
        &Msg {
            dst: Ipv4Addr::new(1, 2, 3, 4),
            ..Msg::new(MessageType::Request).renewing_from_guest1()
        },
    );
    assert_eq!((ack.kind, ack.server_id), (MessageType::Ack, GATEWAY));
    // Some clients also send the server identifier when renewing: accepted.
    let ack = one(
        &mut lab,
        &Msg::new(MessageType::Request)
            .renewing_from_guest1()
            .opt(opt::SERVER_ID, &GATEWAY.octets()),
    );
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(
        last_outcome(&lab),
        Outcome::Acked(GUEST1, RequestState::Renewing)
    );
}

#[test]
fn a_request_for_another_address_gets_a_broadcast_nak() {
    let mut lab = lab();
    // Guest 2's address, in init-reboot: NAK, broadcast, no configuration options.
    let nak = one(
        &mut lab,
        &Msg::new(MessageType::Request).opt(opt::REQUESTED_IP, &GUEST2.octets()),
    );
    assert_eq!(nak.kind, MessageType::Nak);
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        (nak.ip_dst, nak.eth_dst),
        (Ipv4Addr::BROADCAST, EthernetAddress::BROADCAST)
    );
    assert_eq!(nak.server_id, GATEWAY);
    assert!(nak.lease.is_none() && nak.mask.is_none() && nak.router.is_none());
    assert!(nak.hostname.is_none() && nak.dns.is_empty() && nak.mtu.is_none());
    assert!(nak.message.is_some());
    assert!(matches!(
        last_outcome(&lab),
        Outcome::Refused { requested, state: RequestState::InitReboot, .. } if requested == GUEST2
    ));
    // Selecting our offer but asking for an unused address; renewing with another
    // guest's ciaddr.
    let nak = one(
        &mut lab,
        &Msg::new(MessageType::Request)
            .opt(opt::SERVER_ID, &GATEWAY.octets())
            .opt(opt::REQUESTED_IP, &[192, 0, 2, 77]),
    );
    assert_eq!(nak.kind, MessageType::Nak);
    let nak = one(
        &mut lab,
        &Msg {
            ciaddr: GUEST2,
            ..Msg::new(MessageType::Request).renewing_from_guest1()
        },
    );
    assert_eq!(nak.kind, MessageType::Nak);
    assert_eq!(lab.pipe.router().dhcp().counters().nak, 3);
}

#[test]
fn a_request_that_selected_another_server_is_ignored() {
    let mut lab = lab();
    let r = ask(
        &mut lab,
        &Msg::new(MessageType::Request)
            .opt(opt::SERVER_ID, &[198, 51, 100, 67])
            .opt(opt::REQUESTED_IP, &GUEST1.octets()),
    );
    assert!(r.is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::DhcpOtherServer), 1);
}

#[test]
fn inform_gets_options_without_address_or_lease() {
    let mut lab = lab();
    let ack = one(
        &mut lab,
        &Msg::new(MessageType::Inform).renewing_from_guest1(),
    );
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(ack.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(ack.lease, None);
    assert_eq!((ack.ip_dst, ack.eth_dst), (GUEST1, MAC1));
    assert_eq!(ack.dns, DNS.to_vec());
    assert_eq!(last_outcome(&lab), Outcome::Informed);
}

#[test]
fn release_and_decline_are_recorded_and_not_answered() {
    let mut lab = lab();
    one(
        &mut lab,
        &Msg::new(MessageType::Request).opt(opt::REQUESTED_IP, &GUEST1.octets()),
    );
    let g = tap1_id(&lab);
    assert!(lab.pipe.router().dhcp().guest(g).unwrap().lease.is_some());
    let r = ask(
        &mut lab,
        &Msg::new(MessageType::Release)
            .renewing_from_guest1()
            .opt(opt::SERVER_ID, &GATEWAY.octets()),
    );
    assert!(r.is_empty());
    assert_eq!(last_outcome(&lab), Outcome::Released);
    assert!(lab.pipe.router().dhcp().guest(g).unwrap().lease.is_none());
    let r = ask(
        &mut lab,
        &Msg::new(MessageType::Decline)
            .opt(opt::SERVER_ID, &GATEWAY.octets())
            .opt(opt::REQUESTED_IP, &GUEST1.octets()),
    );
    assert!(r.is_empty());
    assert_eq!(last_outcome(&lab), Outcome::Declined(GUEST1));
    let d = lab.pipe.router().dhcp();
    assert_eq!(d.guest(g).unwrap().declines, 1);
    assert_eq!((d.counters().release, d.counters().decline), (1, 1));
    // Handed to the control side once, for the log.
    let r = lab.pipe.router_mut();
    assert_eq!(r.take_dhcp_declines(), vec![("tap1".to_string(), GUEST1)]);
    assert!(r.take_dhcp_declines().is_empty());
}

#[test]
fn requests_are_rate_limited_per_guest() {
    let mut lab = lab();
    let discover = Msg::new(MessageType::Discover);
    let mut answered = 0;
    for _ in 0..15 {
        answered += ask(&mut lab, &discover).len();
    }
    assert_eq!(answered, 10, "the burst");
    assert_eq!(lab.drops(TAP1, DropReason::DhcpRateLimited), 5);
    // Guest 2 has its own bucket.
    let g2 = Msg {
        mac: MAC2,
        eth_src: MAC2,
        ..Msg::new(MessageType::Discover)
    };
    lab.inject(TAP2, &g2.frame());
    lab.run();
    assert_eq!(lab.sent(TAP2).len(), 1);
    // Two per second come back.
    lab.advance(Duration::from_secs(1));
    answered = 0;
    for _ in 0..4 {
        answered += ask(&mut lab, &discover).len();
    }
    assert_eq!(answered, 2);
}

#[test]
fn spoofed_chaddr_and_source_are_refused() {
    let mut lab = lab();
    // chaddr of guest 2 from guest 1's port and MAC.
    let r = ask(
        &mut lab,
        &Msg {
            mac: MAC2,
            ..Msg::new(MessageType::Discover)
        },
    );
    assert!(r.is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::DhcpSpoofedChaddr), 1);
    assert_eq!(
        last_outcome(&lab),
        Outcome::Dropped(DropReason::DhcpSpoofedChaddr)
    );
    // Guest 2's MAC as the frame's source: the anti-spoofing check comes first.
    let r = ask(
        &mut lab,
        &Msg {
            mac: MAC2,
            eth_src: MAC2,
            ..Msg::new(MessageType::Discover)
        },
    );
    assert!(r.is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedSourceMac), 1);
    // From guest 2's address.
    let r = ask(
        &mut lab,
        &Msg {
            src: GUEST2,
            ..Msg::new(MessageType::Inform).renewing_from_guest1()
        },
    );
    assert!(r.is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedSourceIp), 1);
}

#[test]
fn malformed_messages_are_counted_not_answered() {
    let mut lab = lab();
    let good = Msg::new(MessageType::Discover).frame();
    let mut frames = Vec::new();
    // An option whose length runs past the end of the message.
    let mut overrun = good.clone();
    let at = 14 + 20 + 8 + dhcp::MIN_LEN + 3;
    overrun[at..at + 2].copy_from_slice(&[opt::HOSTNAME, 250]);
    frames.push(overrun);
    // No magic cookie.
    let mut no_cookie = good.clone();
    no_cookie[14 + 20 + 8 + 236] = 0;
    frames.push(no_cookie);
    // Truncated BOOTP (UDP length says 100 bytes).
    let short = udp_frame(
        MAC1,
        EthernetAddress::BROADCAST,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        68,
        67,
        &[1; 100],
    );
    frames.push(short);
    // Requested address of 3 bytes; no message type (plain BOOTP); unknown type 99.
    frames.push(
        Msg::new(MessageType::Request)
            .opt(opt::REQUESTED_IP, &[192, 0, 2])
            .frame(),
    );
    let mut bootp = good.clone();
    bootp[14 + 20 + 8 + dhcp::MIN_LEN] = opt::PAD;
    bootp[14 + 20 + 8 + dhcp::MIN_LEN + 1] = opt::PAD;
    bootp[14 + 20 + 8 + dhcp::MIN_LEN + 2] = opt::PAD;
    frames.push(bootp);
    frames.push(Msg::new(MessageType::Unknown(99)).frame());
    let n = frames.len() as u64;
    for f in &frames {
        lab.inject(TAP1, f);
    }
    lab.run();
    assert!(lab.sent_all().is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::DhcpMalformed), n);
}

#[test]
fn rogue_server_messages_from_guests_are_dropped() {
    let mut lab = lab();
    // An OFFER from a guest's DHCP server (67 -> 68), broadcast and to guest 2.
    for dst in [Ipv4Addr::BROADCAST, GUEST2] {
        let mut m = Msg::new(MessageType::Offer);
        m.op = 2;
        m.sport = 67;
        m.src = GUEST1;
        m.dst = dst;
        let mut f = m.frame();
        // Destination port 68.
        let udp = 14 + 20;
        f[udp + 2..udp + 4].copy_from_slice(&68u16.to_be_bytes());
        let len = f.len() - udp;
        UdpPacket::new_unchecked(&mut f[udp..]).set_len(len as u16);
        UdpPacket::new_unchecked(&mut f[udp..]).fill_checksum(GUEST1, dst);
        lab.inject(TAP1, &f);
    }
    // A BOOTREPLY, and an ACK, sent to the server port.
    let mut reply = Msg::new(MessageType::Ack);
    reply.op = 2;
    lab.inject(TAP1, &reply.frame());
    lab.inject(TAP1, &Msg::new(MessageType::Ack).frame());
    lab.run();
    assert!(
        lab.sent_all().is_empty(),
        "nothing reaches guest 2 or the VLAN"
    );
    assert_eq!(lab.drops(TAP1, DropReason::DhcpRogueServer), 4);
}

#[test]
fn with_dhcp_off_frames_take_the_old_path() {
    let mut lab = Lab::new();
    let mut cfg = DhcpConfig::default();
    cfg.networks
        .insert("public_90".into(), DhcpSettings::disabled());
    lab.pipe.router_mut().set_dhcp_config(cfg);
    lab.inject(TAP1, &Msg::new(MessageType::Discover).frame());
    let unicast_mac = Msg {
        eth_dst: GUEST_SIDE_MAC,
        ..Msg::new(MessageType::Discover)
    };
    lab.inject(TAP1, &unicast_mac.frame());
    lab.run();
    assert!(lab.sent_all().is_empty());
    // As before the server existed (README's hostile table): broadcast MAC, then the
    // source 0.0.0.0, are martians.
    assert_eq!(lab.drops(TAP1, DropReason::MartianDestination), 1);
    assert_eq!(lab.drops(TAP1, DropReason::MartianSource), 1);
    assert_eq!(lab.pipe.router().dhcp().counters().discover, 0);
}

#[test]
fn dhcp_on_the_uplink_is_never_answered() {
    let mut lab = lab();
    let m = Msg {
        mac: VLAN_HOST_MAC,
        eth_src: VLAN_HOST_MAC,
        ..Msg::new(MessageType::Discover)
    };
    lab.inject(UPLINK, &m.frame());
    let unicast = Msg {
        eth_dst: UPLINK_MAC,
        ..m
    };
    lab.inject(UPLINK, &unicast.frame());
    lab.run();
    assert!(lab.sent_all().is_empty());
    let d = lab.pipe.router().dhcp().counters();
    assert_eq!(d.discover, 0, "the server never saw them");
}

#[test]
fn reload_and_hostname_changes_reach_the_next_reply_and_removal_forgets() {
    let mut lab = lab();
    let settings = DhcpSettings::new(true, vec![DNS[1]], None, vec![], 3600).unwrap();
    let mut cfg = DhcpConfig::default();
    cfg.networks.insert("public_90".into(), settings);
    lab.pipe.router_mut().set_dhcp_config(cfg);
    lab.pipe
        .router_mut()
        .set_guest_hostname("tap1", None)
        .unwrap();
    let offer = one(&mut lab, &Msg::new(MessageType::Discover));
    assert_eq!(offer.dns, vec![DNS[1]]);
    assert_eq!(
        (offer.domain, offer.search, offer.hostname),
        (None, None, None)
    );
    assert_eq!(offer.lease.unwrap().lease, 3600);
    assert!(lab
        .pipe
        .router_mut()
        .set_guest_hostname("tap1", Some("bad name"))
        .is_err());
    let g = tap1_id(&lab);
    lab.pipe.router_mut().remove_guest("tap1").unwrap();
    assert!(lab.pipe.router().dhcp().guest(g).is_none());
}

#[test]
fn a_trace_says_what_the_server_did() {
    let mut lab = lab();
    lab.pipe.router_mut().start_trace(2);
    ask(&mut lab, &Msg::new(MessageType::Discover));
    ask(
        &mut lab,
        &Msg {
            mac: MAC2,
            ..Msg::new(MessageType::Discover)
        },
    );
    let records = lab.pipe.router_mut().take_trace();
    assert_eq!(records.len(), 2);
    assert!(
        records[0]
            .steps
            .iter()
            .any(|s| s == "dhcp: DHCPDISCOVER xid 0x0badcafe: offered 192.0.2.10"),
        "{:?}",
        records[0]
    );
    assert!(
        records[1]
            .steps
            .iter()
            .any(|s| s == "dhcp: DHCPDISCOVER xid 0x0badcafe: not answered: dhcp_spoofed_chaddr"),
        "{:?}",
        records[1]
    );
    assert_eq!(records[1].decision, "dropped: dhcp_spoofed_chaddr");
}

#[test]
fn a_long_host_name_pushes_the_search_list_out_of_a_576_byte_reply() {
    let mut lab = lab();
    // 203 characters: with the DNS servers, domain and search list the offer would take
    // 550 bytes, 2 more than a 576-byte datagram holds.
    let fqdn = vec!["n".repeat(50); 4].join(".");
    lab.pipe
        .router_mut()
        .set_guest_hostname("tap1", Some(&fqdn))
        .unwrap();
    // A client that accepts only 576-byte datagrams: the search list is left out.
    let small = one(&mut lab, &Msg::new(MessageType::Discover));
    assert_eq!(small.hostname.as_deref(), Some(fqdn.as_bytes()));
    assert_eq!(small.search, None);
    assert!(small.domain.is_some() && small.dns.len() == 2);
    assert!(small.len <= dhcp::DEFAULT_MAX_MESSAGE);
    // One that accepts 1500 (option 57) gets everything.
    let big = one(
        &mut lab,
        &Msg::new(MessageType::Discover).opt(opt::MAX_MESSAGE_SIZE, &1500u16.to_be_bytes()),
    );
    assert!(big.search.is_some());
    assert!(big.len > dhcp::DEFAULT_MAX_MESSAGE);
    assert_eq!(big.hostname.as_deref(), Some(fqdn.as_bytes()));
}

#[test]
fn a_guest_without_ipv4_gets_no_dhcp_no_arp_and_sends_no_ipv4() {
    let mut lab = lab();
    // The same guest as an IPv6-only NIC (Ganeti's routed NIC without IP).
    let r = lab.pipe.router_mut();
    let g = r.remove_guest("tap1").unwrap();
    r.add_guest(hvrouter_core::guests::GuestSpec {
        ips: vec![],
        ..g.spec()
    })
    .unwrap();
    lab.run();
    let _ = lab.sent_all();
    // DHCP: nothing to offer, counted.
    assert!(ask(&mut lab, &Msg::new(MessageType::Discover)).is_empty());
    assert_eq!(lab.drops(TAP1, DropReason::DhcpNoAddress), 1);
    // Proxy ARP on the VLAN: its former address is nobody's.
    lab.inject(UPLINK, &who_has(GW_MAC, GATEWAY, GUEST1));
    lab.run();
    assert!(lab.sent_all().is_empty(), "answered for 192.0.2.10");
    // Its own ARP and IPv4 claiming that address are spoofing.
    lab.inject(TAP1, &who_has(MAC1, GUEST1, GATEWAY));
    lab.inject(
        TAP1,
        &support::udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GATEWAY, 64, 10, false),
    );
    lab.run();
    assert!(lab.sent_all().is_empty(), "something left");
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedArpSender), 1);
    assert_eq!(lab.drops(TAP1, DropReason::SpoofedSourceIp), 1);
}
