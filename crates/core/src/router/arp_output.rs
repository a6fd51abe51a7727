//! ARP output: the requests the router sends on the VLAN to resolve next hops (RFC 826),
//! and the neighbor timers that repeat them.

use wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
};

use crate::counters::Counters;
use crate::drop::DropReason;
use crate::neighbor::{NeighborCache, Solicit};
use crate::network::Network;
use crate::outbox::Outbox;
use crate::time::Instant;

/// Shortest Ethernet frame without FCS: originated frames are padded to it.
const MIN_FRAME: usize = 60;

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
