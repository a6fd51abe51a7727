//! Building a reply frame: where it goes (RFC 2131 section 4.1) and its bytes.

use wire::dhcp::{self, ClientRepr, DhcpPacket, MessageType, ReplyRepr};
use wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Ipv4Addr, Ipv4Packet, Ipv4Repr,
    Protocol, UdpPacket, UdpRepr,
};

use super::settings::DhcpSettings;
use crate::guests::Guest;
use crate::ids::PortId;
use crate::network::Network;
use crate::outbox::Outbox;

/// Headers before the DHCP message: Ethernet, IPv4 without options, UDP.
const HEADERS: usize = 14 + 20 + 8;

/// The IPv4 and Ethernet destination of a reply, RFC 2131 section 4.1 with `giaddr` 0
/// (a guest's port has no relay agent):
///
/// "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server
/// unicasts DHCPOFFER and DHCPACK messages to the address in 'ciaddr'. If 'giaddr' is
/// zero and 'ciaddr' is zero, and the broadcast bit is set, then the server broadcasts
/// DHCPOFFER and DHCPACK messages to 0xffffffff. If the broadcast bit is not set and
/// 'giaddr' is zero and 'ciaddr' is zero, then the server unicasts DHCPOFFER and DHCPACK
/// messages to the client's hardware address and 'yiaddr' address. In all cases, when
/// 'giaddr' is zero, the server broadcasts any DHCPNAK messages to 0xffffffff."
///
/// A unicast reply goes to the guest's MAC (which `chaddr` was checked to be); a
/// broadcast one to ff:ff:ff:ff:ff:ff, which on a guest's port reaches that guest only.
/// A `ciaddr` that is not one of the guest's addresses (a DISCOVER must carry 0, RFC
/// 2131 table 5) is taken as 0: a reply never goes to an address that is not the
/// guest's (the fuzz target found an OFFER sent to a made-up `ciaddr`).
pub(super) fn destination(
    req: &ClientRepr<'_>,
    kind: MessageType,
    yiaddr: Ipv4Addr,
    guest: &Guest,
) -> (Ipv4Addr, EthernetAddress) {
    let broadcast = (Ipv4Addr::BROADCAST, EthernetAddress::BROADCAST);
    if kind == MessageType::Nak {
        broadcast
    } else if guest.has_ip(req.ciaddr) {
        (req.ciaddr, guest.mac)
    } else if req.broadcast() || yiaddr.is_unspecified() {
        broadcast
    } else {
        (yiaddr, guest.mac)
    }
}

/// What goes into a reply besides its type and address.
pub(super) struct ReplyContent<'a> {
    pub(super) kind: MessageType,
    pub(super) yiaddr: Ipv4Addr,
    /// Whether to send the lease times (not to an INFORM, RFC 2131 4.3.5: "The server
    /// MUST NOT send a lease expiration time to the client").
    pub(super) lease: bool,
    /// Whether to send the configuration options (not in a NAK, RFC 2131 table 3: all
    /// but 53, 54, 56 and 61 "MUST NOT").
    pub(super) options: bool,
    pub(super) hostname: Option<&'a str>,
    pub(super) message: Option<&'a str>,
}

/// Queue the reply to `req` on `out`, for `port`. The server identifier and IPv4 source
/// is the network's gateway: the address the guest already reaches through the router
/// (nfdhcpd's `dhcp_server_on_link` choice; its default, a dummy 1.2.3.4, would send
/// renewals off-link). Returns the reply's IPv4 destination.
pub(super) fn queue(
    out: &mut Outbox,
    port: PortId,
    network: &Network,
    settings: &DhcpSettings,
    guest: &Guest,
    req: &ClientRepr<'_>,
    content: &ReplyContent<'_>,
) -> Ipv4Addr {
    let server = network.gateway;
    let full = content.options;
    let subnet = network.subnet;
    let mut repr = ReplyRepr {
        message_type: content.kind,
        htype: req.htype,
        hlen: req.hlen,
        xid: req.xid,
        flags: req.flags,
        // RFC 2131 table 3: 'ciaddr' is 0 in an OFFER and a NAK, the client's in an ACK.
        ciaddr: match content.kind {
            MessageType::Ack => req.ciaddr,
            _ => Ipv4Addr::UNSPECIFIED,
        },
        yiaddr: content.yiaddr,
        giaddr: req.giaddr,
        chaddr: req.chaddr,
        server_id: server,
        lease: (full && content.lease).then(|| settings.lease_times()),
        subnet_mask: full.then(|| subnet.netmask()),
        router: full.then_some(network.gateway),
        dns_servers: if full { &settings.dns_servers } else { &[] },
        domain_name: settings
            .domain
            .as_deref()
            .filter(|_| full)
            .map(str::as_bytes),
        domain_search: Some(settings.search_wire()).filter(|s| full && !s.is_empty()),
        hostname: content.hostname.filter(|_| full).map(str::as_bytes),
        mtu: full.then_some(network.mtu),
        broadcast_address: full.then(|| subnet.broadcast()),
        message: content.message.map(str::as_bytes),
    };
    fit(&mut repr, max_message(req, network));
    let (dst_ip, dst_mac) = destination(req, content.kind, content.yiaddr, guest);
    let dhcp_len = repr.buffer_len();
    let ip = Ipv4Repr {
        src_addr: server,
        dst_addr: dst_ip,
        protocol: Protocol::Udp,
        payload_len: 8 + dhcp_len,
        ttl: 64,
        dont_frag: false,
        ident: 0,
    };
    let eth = EthernetRepr {
        src_addr: network.guest_mac,
        dst_addr: dst_mac,
        ethertype: EtherType::Ipv4,
    };
    let udp = UdpRepr {
        src_port: dhcp::SERVER_PORT,
        dst_port: dhcp::CLIENT_PORT,
    };
    out.push_with(port, HEADERS + dhcp_len, |buf| {
        eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[14..]));
        udp.emit(
            &mut UdpPacket::new_unchecked(&mut buf[34..]),
            server,
            dst_ip,
            dhcp_len,
            |payload| repr.emit(&mut DhcpPacket::new_unchecked(payload)),
        );
    });
    dst_ip
}

/// IPv4 and UDP headers, which option 57 counts and the DHCP message does not.
const IP_UDP: usize = 20 + 8;

/// The largest DHCP message the client accepts: RFC 2131 section 2, "A DHCP client
/// must be prepared to receive DHCP messages with an 'options' field of at least length
/// 312 octets" (576-byte datagrams), or more if it said so with option 57 (RFC 2132
/// 9.10, counted here as the whole IP datagram); never more than the network's MTU.
fn max_message(req: &ClientRepr<'_>, network: &Network) -> usize {
    let said = req
        .max_message_size
        .map_or(0, |m| usize::from(m).saturating_sub(IP_UDP));
    said.max(dhcp::DEFAULT_MAX_MESSAGE)
        .min(usize::from(network.mtu).saturating_sub(IP_UDP))
}

/// Leave options out, least needed first (search list, domain, host name, DNS servers),
/// until the reply fits `max` bytes. The configuration check makes this happen only for
/// host names longer than one label.
pub(super) fn fit(repr: &mut ReplyRepr<'_>, max: usize) {
    if repr.buffer_len() > max {
        repr.domain_search = None;
    }
    if repr.buffer_len() > max {
        repr.domain_name = None;
    }
    if repr.buffer_len() > max {
        repr.hostname = None;
    }
    if repr.buffer_len() > max {
        repr.dns_servers = &[];
    }
}
