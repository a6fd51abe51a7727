//! The IPv6 forwarding decision (RFC 8200, RFC 4291 2.5.6): header and extension-header
//! checks, scope, hop limit, longest-prefix match, MTU. Pure: it decides, the router
//! rewrites and transmits.

use wire::ipv6_addr::is_link_local;
use wire::ipv6_ext::{walk, ExtError, ExtWalk, DEFAULT_MAX_HEADERS};
use wire::{Ipv6Addr, Ipv6Packet, Ipv6Repr};

use crate::drop::DropReason;
use crate::ids::{GuestId, NetworkId, PortId};
use crate::ipv6::icmp6_error::Icmp6Error;
use crate::ipv6::tables6::{NextHop6, Tables6};
use crate::tables::Tables;

/// Parse the fixed header and walk the extension headers with the default bound; every
/// refusal is a named drop reason.
pub fn parse(frame_payload: &[u8]) -> Result<(Ipv6Repr, ExtWalk), DropReason> {
    let p = Ipv6Packet::new_checked(frame_payload).map_err(|_| DropReason::Ipv6Malformed)?;
    let repr = Ipv6Repr::parse(&p).map_err(|_| DropReason::Ipv6Malformed)?;
    let ext = walk(p.next_header(), p.payload(), DEFAULT_MAX_HEADERS).map_err(|e| match e {
        ExtError::Truncated => DropReason::Ipv6ExtTruncated,
        ExtError::TooMany => DropReason::Ipv6ExtTooMany,
        ExtError::MisplacedHopByHop => DropReason::Ipv6HopByHopMisplaced,
    })?;
    Ok((repr, ext))
}

/// Where a forwarded packet goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Egress6 {
    /// To a guest's port.
    Guest {
        /// The guest.
        guest: GuestId,
        /// Its port.
        port: PortId,
    },
    /// Out of the uplink, to `next_hop` (resolved by the neighbor cache).
    Uplink {
        /// The gateway or the on-link destination.
        next_hop: Ipv6Addr,
    },
}

/// The decision about one packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Forward6 {
    /// Forward it (decrement the hop limit first).
    Forward(Egress6),
    /// Drop it, and send this ICMPv6 error if allowed (RFC 4443 2.4 (e)) and within the
    /// rate limit.
    Error(DropReason, Icmp6Error),
    /// Drop it silently.
    Drop(DropReason),
}

/// Decide where `ip` (arrived on `ingress`, in `network`; `len` bytes of IPv6 datagram)
/// goes. `mtu` is the network's IP MTU. Anti-spoofing of guest sources happens before.
pub fn decide(
    tables: &Tables,
    tables6: &Tables6,
    network: NetworkId,
    ingress: PortId,
    ip: &Ipv6Repr,
    len: usize,
    mtu: u16,
) -> Forward6 {
    let dst = ip.dst_addr;
    // RFC 4291 2.5.6: "Routers must not forward any packets with Link-Local source or
    // destination addresses to other links." Multicast is not routed between links here.
    if dst.is_multicast()
        || dst.is_unspecified()
        || dst.is_loopback()
        || is_link_local(&dst)
        || is_link_local(&ip.src_addr)
    {
        return Forward6::Drop(DropReason::Ipv6NotForwarded);
    }
    // RFC 8200 3 / RFC 4443 3.3: a router discards a packet whose hop limit would reach
    // zero and sends Time Exceeded.
    if ip.hop_limit <= 1 {
        return Forward6::Error(DropReason::HopLimitExceeded, Icmp6Error::HopLimitExceeded);
    }
    let Some(hop) = tables6.next_hop(network, dst) else {
        return Forward6::Error(DropReason::NoRoute, Icmp6Error::NoRoute);
    };
    let egress = match hop {
        NextHop6::Guest(g) => match tables.guest(g) {
            Some(guest) if guest.port == ingress => return Forward6::Drop(DropReason::Hairpin),
            Some(guest) if guest.up => Egress6::Guest {
                guest: g,
                port: guest.port,
            },
            _ => {
                return Forward6::Error(
                    DropReason::DestinationGuestDown,
                    Icmp6Error::AddrUnreachable,
                )
            }
        },
        NextHop6::OnLink | NextHop6::Gateway => {
            let Some(n) = tables.network(network) else {
                return Forward6::Drop(DropReason::NoRoute);
            };
            if n.uplink == ingress {
                return Forward6::Drop(DropReason::Hairpin);
            }
            let next_hop = match (hop, tables6.network6(network)) {
                (NextHop6::OnLink, _) => dst,
                (_, Some(st)) => st.net.spec.gateway6,
                (_, None) => return Forward6::Drop(DropReason::NoRoute),
            };
            Egress6::Uplink { next_hop }
        }
    };
    // RFC 8200 5: routers do not fragment; RFC 4443 3.2: Packet Too Big with the MTU.
    if len > usize::from(mtu) {
        return Forward6::Error(
            DropReason::PacketTooBig,
            Icmp6Error::PacketTooBig {
                mtu: u32::from(mtu),
            },
        );
    }
    Forward6::Forward(egress)
}
