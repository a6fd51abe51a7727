//! IP output toward a resolved next hop: the MAC rewrite and TTL decrement every
//! forwarded datagram gets, and the transmission of datagrams that waited in a
//! neighbor's queue for its MAC (both the IPv4 forwarding stage and the ARP input stage,
//! which learns the MACs, use it).

use wire::{EthernetAddress, Ipv4Addr, Ipv4Packet};

use super::{guest_offload, ip_fragment};
use crate::counters::Counters;
use crate::drop::DropReason;
use crate::neighbor::NeighborCache;
use crate::network::Network;
use crate::outbox::Outbox;

/// Ethernet header length.
const ETH_HEADER: usize = 14;

/// Decrement TTL (incremental checksum, RFC 1624) and rewrite the MACs for the next hop.
/// `frame` holds a validated datagram; a frame too short for the two headers is left
/// alone (it cannot have passed `ip_forward::validate`).
#[inline(always)]
pub(super) fn rewrite(frame: &mut [u8], src: EthernetAddress, dst: EthernetAddress) {
    let Some(h) = frame.first_chunk_mut::<{ ETH_HEADER + Ipv4Packet::HEADER_LEN }>() else {
        return;
    };
    h[..6].copy_from_slice(&dst.0);
    h[6..12].copy_from_slice(&src.0);
    Ipv4Packet::new_unchecked(&mut h[ETH_HEADER..]).decrement_ttl();
}

/// Transmit the frames that waited for `ip` now that its MAC is known.
pub(super) fn release(
    network: &Network,
    cache: &mut NeighborCache,
    ip: Ipv4Addr,
    mac: EthernetAddress,
    counters: &mut Counters,
    out: &mut Outbox,
) {
    let max_frame = 14 + usize::from(network.mtu);
    cache.drain_queue(ip, |queued: &mut [u8]| {
        // Queued frames were validated before they were queued: a full IPv4 datagram.
        if queued.len() >= 14 + 20 {
            rewrite(queued, network.uplink_mac, mac);
            if queued.len() <= max_frame {
                out.push_copy(network.uplink, queued);
            } else {
                release_oversized(network, queued, counters, out);
            }
        }
    });
}

/// A released frame above the MTU: a guest's TCP super-frame is segmented; anything
/// else was queued with DF clear (DF set was refused before queueing) and is fragmented
/// (RFC 1812 5.2.6). Failures count on the uplink: the ingress port is not known here.
#[cold]
#[inline(never)]
fn release_oversized(network: &Network, frame: &[u8], counters: &mut Counters, out: &mut Outbox) {
    const FLAGS_AT: usize = 14 + 6;
    const PROTOCOL_AT: usize = 14 + 9;
    let ip_len = frame.len() - 14;
    let (mtu, port) = (network.mtu, network.uplink);
    let dont_frag = frame.get(FLAGS_AT).is_some_and(|f| f & 0x40 != 0);
    let mut sent = Err(DropReason::TooBig);
    if frame.get(PROTOCOL_AT) == Some(&6) {
        sent = guest_offload::segment(frame, ip_len, mtu, port, out);
    }
    // Not TCP, or a TCP datagram that is no super-frame (a fragment, say), DF clear.
    if sent.is_err() && !dont_frag {
        sent = ip_fragment::fragment(frame, ip_len, mtu, port, counters, out);
    }
    if let Err(reason) = sent {
        counters.count_drop(port, reason);
    }
}
