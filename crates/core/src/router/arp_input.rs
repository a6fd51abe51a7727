//! ARP input stage (RFC 826) on both sides: proxy ARP answers, and learning the MACs of
//! next hops on the VLAN (which releases the datagrams that waited for them).

use wire::{ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetRepr, Ipv4Addr};

use super::ip_output::release;
use super::{Action, Router};
use crate::drop::DropReason;
use crate::ids::{GuestId, NetworkId, PortId};
use crate::neighbor::{ArpKind, LearnOutcome};
use crate::network::Network;
use crate::outbox::Outbox;
use crate::proxy_arp::{self, ArpDecision};
use crate::spoof;
use crate::tables::Tables;
use crate::time::Instant;

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
