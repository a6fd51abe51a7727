//! ICMPv6 error messages the router originates (RFC 4443 3), with the rules for when it
//! must not send one (2.4 (e)) and the quoting of the invoking packet (2.4 (c)).
//! The caller applies the rate limit (2.4 (f), a [`crate::ratelimit::TokenBucket`]).

use wire::icmpv6::{DstUnreachable, Message, TimeExceeded, MAX_ERROR_QUOTE};
use wire::ipv6_ext::ExtWalk;
use wire::{Icmpv6Repr, Ipv6Packet, NextHeader};

use crate::ipv6::frames6::{push_icmpv6, Addressing};
use crate::outbox::Outbox;

/// An ICMPv6 error the forwarding stages can raise.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Icmp6Error {
    /// Hop limit exceeded in transit (RFC 4443 3.3, code 0).
    HopLimitExceeded,
    /// No route to destination (RFC 4443 3.1, code 0).
    NoRoute,
    /// Address unreachable (RFC 4443 3.1, code 3): a guest that is down.
    AddrUnreachable,
    /// Packet too big, with the MTU of the next link (RFC 4443 3.2).
    PacketTooBig {
        /// The MTU.
        mtu: u32,
    },
}

/// RFC 4443 2.4 (e): no error about an ICMPv6 error or a Redirect (e.1, e.2); about a
/// packet to a multicast address or sent as link-layer multicast or broadcast, except
/// Packet Too Big (e.3-e.5); about a packet whose source does not identify a single node
/// (e.6: unspecified, multicast). `ext` is the packet's extension-header walk.
pub fn may_send_error(
    ip: &Ipv6Packet<&[u8]>,
    ext: &ExtWalk,
    link_multicast: bool,
    error: Icmp6Error,
) -> bool {
    let src = ip.src_addr();
    if src.is_unspecified() || src.is_multicast() || src.is_loopback() {
        return false;
    }
    let ptb = matches!(error, Icmp6Error::PacketTooBig { .. });
    if (ip.dst_addr().is_multicast() || link_multicast) && !ptb {
        return false;
    }
    if ext.upper == NextHeader::Icmpv6 && ext.has_upper() {
        // A message whose type cannot be read is taken as an error.
        let Some(&ty) = ip.payload().get(ext.upper_offset) else {
            return false;
        };
        let ty = Message::from(ty);
        if ty.is_error() || ty == Message::Redirect {
            return false;
        }
    }
    true
}

/// Queue the error about `invoking` (its IPv6 header first), addressed by `a` (to the
/// invoking packet's source). Quotes "as much of invoking packet as possible without the
/// ICMPv6 packet exceeding the minimum IPv6 MTU" (2.4 (c)).
pub fn push_error(out: &mut Outbox, a: &Addressing, invoking: &[u8], error: Icmp6Error) {
    let quoted = &invoking[..invoking.len().min(MAX_ERROR_QUOTE)];
    let repr = match error {
        Icmp6Error::HopLimitExceeded => Icmpv6Repr::TimeExceeded {
            reason: TimeExceeded::HopLimitExceeded,
            invoking: quoted,
        },
        Icmp6Error::NoRoute => Icmpv6Repr::DstUnreachable {
            reason: DstUnreachable::NoRoute,
            invoking: quoted,
        },
        Icmp6Error::AddrUnreachable => Icmpv6Repr::DstUnreachable {
            reason: DstUnreachable::AddrUnreachable,
            invoking: quoted,
        },
        Icmp6Error::PacketTooBig { mtu } => Icmpv6Repr::PacketTooBig {
            mtu,
            invoking: quoted,
        },
    };
    push_icmpv6(out, a, &repr);
}
