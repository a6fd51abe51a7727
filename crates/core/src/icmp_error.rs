//! ICMP error messages the router originates (RFC 1812 4.3.2), with the rules for when
//! it must not send one, and the quoting of the invoking datagram.

use wire::icmpv4::{DstUnreachable, Message, TimeExceeded};
use wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, Ipv4Addr,
    Ipv4Packet, Ipv4Repr, Protocol,
};

use crate::ids::PortId;
use crate::outbox::Outbox;

/// An ICMP error the forwarding stages can raise.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IcmpError {
    /// Time exceeded in transit (RFC 1812 5.3.1).
    TtlExceeded,
    /// No route to the destination network (RFC 1812 5.2.7.1).
    NetUnreachable,
    /// The destination host is known but not reachable (a guest that is down).
    HostUnreachable,
    /// Fragmentation needed and DF set, with the next-hop MTU (RFC 1191).
    FragmentationNeeded {
        /// MTU of the link the datagram could not enter.
        mtu: u16,
    },
}

/// Length of an ICMP error datagram we send: RFC 1812 4.3.2.3 says to quote as much of
/// the original datagram as fits without the error exceeding 576 bytes.
const MAX_ERROR_DATAGRAM: usize = 576;
const IPV4_HEADER: usize = 20;
const ICMP_HEADER: usize = 8;

/// RFC 1812 4.3.2.7: no ICMP error about an ICMP error, about a datagram to a broadcast
/// or multicast destination (IP or link layer), about a non-initial fragment, or about a
/// datagram whose source does not define a single host.
pub fn may_send_error(ip: &Ipv4Packet<&[u8]>, link_broadcast: bool) -> bool {
    if link_broadcast || ip.frag_offset() != 0 {
        return false;
    }
    let dst = ip.dst_addr();
    let src = ip.src_addr();
    if dst.is_broadcast() || dst.is_multicast() {
        return false;
    }
    if src.is_unspecified()
        || src.is_broadcast()
        || src.is_multicast()
        || src.is_loopback()
        || src.octets()[0] == 0
    {
        return false;
    }
    if ip.protocol() == Protocol::Icmp {
        let payload = ip.payload();
        // An ICMP message whose type we cannot read is treated as an error message.
        let Some(&ty) = payload.first() else {
            return false;
        };
        return matches!(Message::from(ty), Message::EchoRequest | Message::EchoReply)
            || matches!(ty, 13..=18);
    }
    true
}

/// Where an ICMP error goes at layer 2 and 3.
#[derive(Clone, Copy, Debug)]
pub struct ErrorRoute {
    /// Port the error leaves on (the port the invoking frame came in on).
    pub port: PortId,
    /// Our MAC on that port.
    pub src_mac: EthernetAddress,
    /// The previous hop's MAC (the invoking frame's source MAC).
    pub dst_mac: EthernetAddress,
    /// Source address of the error.
    pub src_ip: Ipv4Addr,
}

/// Build the error about `invoking` (its IPv4 header first) and queue it on `out`.
/// The caller has checked [`may_send_error`] and the rate limit.
pub fn emit_error(out: &mut Outbox, route: ErrorRoute, invoking: &[u8], error: IcmpError) {
    let quote_len = invoking
        .len()
        .min(MAX_ERROR_DATAGRAM - IPV4_HEADER - ICMP_HEADER);
    let quoted = &invoking[..quote_len];
    let icmp = match error {
        IcmpError::TtlExceeded => Icmpv4Repr::TimeExceeded {
            reason: TimeExceeded::TtlExpired,
            invoking: quoted,
        },
        IcmpError::NetUnreachable => Icmpv4Repr::DstUnreachable {
            reason: DstUnreachable::NetUnreachable,
            next_hop_mtu: 0,
            invoking: quoted,
        },
        IcmpError::HostUnreachable => Icmpv4Repr::DstUnreachable {
            reason: DstUnreachable::HostUnreachable,
            next_hop_mtu: 0,
            invoking: quoted,
        },
        IcmpError::FragmentationNeeded { mtu } => Icmpv4Repr::DstUnreachable {
            reason: DstUnreachable::FragRequired,
            next_hop_mtu: mtu,
            invoking: quoted,
        },
    };
    // The invoking datagram's source is where the error goes.
    let orig_src = Ipv4Packet::new_unchecked(invoking).src_addr();
    let ip = Ipv4Repr {
        src_addr: route.src_ip,
        dst_addr: orig_src,
        protocol: Protocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
        dont_frag: false,
        ident: 0,
    };
    let eth = EthernetRepr {
        src_addr: route.src_mac,
        dst_addr: route.dst_mac,
        ethertype: EtherType::Ipv4,
    };
    let total = EthernetFrame::<&[u8]>::HEADER_LEN + ip.buffer_len() + icmp.buffer_len();
    out.push_with(route.port, total, |buf| {
        let mut frame = EthernetFrame::new_unchecked(buf);
        eth.emit(&mut frame);
        let mut ipp = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut ipp);
        let mut icmpp = Icmpv4Packet::new_unchecked(ipp.payload_mut());
        icmp.emit(&mut icmpp);
    });
}
