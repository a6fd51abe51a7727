//! ARP input stage (RFC 826) on both sides, and the ARP requests the router sends to
//! resolve next hops on the VLAN.

use wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Ipv4Addr,
};

use super::{Action, Router};
use crate::counters::Counters;
use crate::drop::DropReason;
use crate::ids::{GuestId, NetworkId, PortId};
use crate::neighbor::{ArpKind, LearnOutcome, NeighborCache, Solicit};
use crate::network::Network;
use crate::outbox::Outbox;
use crate::proxy_arp::{self, ArpDecision};
use crate::spoof;
use crate::tables::Tables;
use crate::time::Instant;

/// Shortest Ethernet frame without FCS: originated frames are padded to it.
pub(crate) const MIN_FRAME: usize = 60;

fn parse_arp(frame: &[u8]) -> Result<(EthernetRepr, ArpRepr), DropReason> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| DropReason::Truncated)?;
    let eth_repr = EthernetRepr::parse(&eth).map_err(|_| DropReason::Truncated)?;
    let packet = ArpPacket::new_checked(eth.payload()).map_err(|_| DropReason::ArpMalformed)?;
    let arp = ArpRepr::parse(&packet).map_err(|_| DropReason::ArpMalformed)?;
    match arp.operation {
        ArpOperation::Request | ArpOperation::Reply => Ok((eth_repr, arp)),
        ArpOperation::Unknown(_) => Err(DropReason::ArpUnsupportedOp),
    }
}

/// May the uplink's neighbor cache learn `ip` at all? Only on-link VLAN hosts: inside
/// the subnet, not a guest of ours (a VLAN host claiming a guest's address must never
/// divert its traffic), not our own source address, not a reserved address.
fn learnable(tables: &Tables, network: &Network, ip: Ipv4Addr) -> bool {
    network.subnet.contains(&ip)
        && !network.is_network_addr(ip)
        && !network.is_subnet_broadcast(ip)
        && network.arp_source != Some(ip)
        && tables.guests().owner_of(network.id, ip).is_none()
}

/// ARP received on the uplink of `net`.
pub(super) fn from_uplink(
    router: &mut Router,
    net: NetworkId,
    port: PortId,
    frame: &mut [u8],
    now: Instant,
    out: &mut Outbox,
) -> Action {
    let parts = router.parts();
    let tables = parts.tables;
    let Some(network) = tables.network(net) else {
        return Action::Drop(DropReason::UnknownPort);
    };
    let (eth, arp) = match parse_arp(frame) {
        Ok(v) => v,
        Err(reason) => return Action::Drop(reason),
    };
    if eth.dst_addr != network.uplink_mac && !eth.dst_addr.is_broadcast() {
        return Action::Drop(DropReason::NotForUs);
    }
    let Some(Some(cache)) = parts.neighbors.get_mut(net.0 as usize) else {
        return Action::Drop(DropReason::UnknownPort);
    };
    let sender = arp.source_protocol_addr;
    match arp.operation {
        ArpOperation::Request => {
            let decision = proxy_arp::uplink_decision(parts.tables, network, &arp);
            // RFC 826 merge: a request tells us its sender's binding. Learn it only if
            // it is an on-link VLAN host; create an entry only if it asked for us.
            if learnable(parts.tables, network, sender) {
                let outcome = cache.handle_arp(
                    sender,
                    arp.source_hardware_addr,
                    ArpKind::Request,
                    decision.is_answer(),
                    now,
                );
                if let LearnOutcome::Resolved { mac, .. } = outcome {
                    release(network, cache, sender, mac, parts.counters, out);
                }
            }
            match decision {
                ArpDecision::Answer(mac) => {
                    proxy_arp::write_reply_in_place(frame, &arp, mac);
                    parts.counters.port_mut(port).arp_answered += 1;
                    Action::Forward(port)
                }
                ArpDecision::Ignore(reason) => Action::Drop(reason),
            }
        }
        _ => {
            if !learnable(parts.tables, network, sender) {
                return Action::Drop(DropReason::ArpReplyIgnored);
            }
            // A reply unicast to our MAC for our requests' source address answers a
            // request of ours: the neighbor is confirmed reachable (RFC 1122 2.3.2.1).
            let for_us = eth.dst_addr == network.uplink_mac
                && arp.target_protocol_addr == network.arp_request_source();
            let outcome = cache.handle_arp(
                sender,
                arp.source_hardware_addr,
                ArpKind::Reply,
                for_us,
                now,
            );
            match outcome {
                LearnOutcome::Resolved { mac, .. } => {
                    release(network, cache, sender, mac, parts.counters, out);
                    Action::Consumed
                }
                LearnOutcome::Created | LearnOutcome::Updated { .. } => Action::Consumed,
                _ => Action::Drop(DropReason::ArpReplyIgnored),
            }
        }
    }
}

/// ARP received from a guest: answered per policy, never learned from.
pub(super) fn from_guest(router: &mut Router, guest: GuestId, frame: &mut [u8]) -> Action {
    let parts = router.parts();
    let Some(g) = parts.tables.guests().by_id(guest) else {
        return Action::Drop(DropReason::GuestDown);
    };
    if !g.up {
        return Action::Drop(DropReason::GuestDown);
    }
    let (eth, arp) = match parse_arp(frame) {
        Ok(v) => v,
        Err(reason) => return Action::Drop(reason),
    };
    if let Err(reason) = spoof::check_source_mac(g, eth.src_addr) {
        return Action::Drop(reason);
    }
    if let Err(reason) = spoof::check_arp_sender(g, &arp) {
        return Action::Drop(reason);
    }
    let Some(network) = parts.tables.network(g.network) else {
        return Action::Drop(DropReason::GuestDown);
    };
    // Point-to-point port: a unicast ARP frame from the guest is ours whatever its
    // destination MAC (e.g. a refresh sent to the MAC it cached before the cutover).
    if eth.dst_addr.is_multicast() && !eth.dst_addr.is_broadcast() {
        return Action::Drop(DropReason::NotForUs);
    }
    match proxy_arp::guest_decision(network, g, &arp) {
        ArpDecision::Answer(mac) => {
            proxy_arp::write_reply_in_place(frame, &arp, mac);
            parts.counters.port_mut(g.port).arp_answered += 1;
            Action::Forward(g.port)
        }
        ArpDecision::Ignore(reason) => Action::Drop(reason),
    }
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
            super::ip_forward::rewrite(queued, network.uplink_mac, mac);
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
        sent = super::guest_offload::segment(frame, ip_len, mtu, port, out);
    }
    // Not TCP, or a TCP datagram that is no super-frame (a fragment, say), DF clear.
    if sent.is_err() && !dont_frag {
        sent = super::ip_fragment::fragment(frame, ip_len, mtu, port, counters, out);
    }
    if let Err(reason) = sent {
        counters.count_drop(port, reason);
    }
}

/// Queue an ARP request for `solicit` on the uplink of `network`.
pub(super) fn send_request(
    network: &Network,
    solicit: Solicit,
    counters: &mut Counters,
    out: &mut Outbox,
) {
    let dst = solicit.unicast.unwrap_or(EthernetAddress::BROADCAST);
    let eth = EthernetRepr {
        src_addr: network.uplink_mac,
        dst_addr: dst,
        ethertype: EtherType::Arp,
    };
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: network.uplink_mac,
        source_protocol_addr: network.arp_request_source(),
        target_hardware_addr: EthernetAddress::ZERO,
        target_protocol_addr: solicit.target,
    };
    out.push_with(network.uplink, MIN_FRAME, |buf| {
        let mut frame = EthernetFrame::new_unchecked(buf);
        eth.emit(&mut frame);
        arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    });
    counters.port_mut(network.uplink).arp_sent += 1;
}

/// Run one network's neighbor timers.
pub(super) fn poll_neighbors(
    network: &Network,
    cache: &mut NeighborCache,
    counters: &mut Counters,
    now: Instant,
    out: &mut Outbox,
) {
    let stats = cache.poll(now, &mut |s: Solicit| {
        send_request(network, s, counters, out)
    });
    let lost = stats.frames_dropped;
    if lost > 0 {
        counters.port_mut(network.uplink).drops[DropReason::NeighborUnresolved.index()] +=
            lost as u64;
    }
}
