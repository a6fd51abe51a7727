//! Proxy ARP policy: whether the router answers a who-has, and why.
//!
//! This is the heart of the fail-closed design. Linux answers a proxied request whenever
//! the route to the target leaves through another device than the request came in on
//! (`arp_process` in net/ipv4/arp.c), so when the per-VLAN routes vanished after a link
//! bounce it answered for every address on the VLAN. Here the decision never consults a
//! route table: on the uplink it answers only for addresses of guests hosted on this node
//! whose port is up. Empty or missing state answers nothing.
//!
//! Both functions are pure: same inputs, same decision, no state changes. ARP from a guest
//! never changes the router's state.

use wire::{ArpOperation, ArpRepr, EthernetAddress, Ipv4Addr};

use crate::drop::DropReason;
use crate::guests::Guest;
use crate::network::Network;
use crate::tables::Tables;

/// What to do with an ARP request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArpDecision {
    /// Answer with this hardware address.
    Answer(EthernetAddress),
    /// Stay silent; the reason is counted.
    Ignore(DropReason),
}

impl ArpDecision {
    /// True if the router answers.
    pub fn is_answer(self) -> bool {
        matches!(self, ArpDecision::Answer(_))
    }
}

/// A who-has received on the uplink of `network`.
///
/// Answers only when the target is an address of a guest hosted here whose port is up.
/// RFC 5227 probes (sender 0.0.0.0) for such an address are answered too: the owner
/// defends its address. A gratuitous ARP (sender == target) is an announcement, never
/// answered.
pub fn uplink_decision(tables: &Tables, network: &Network, arp: &ArpRepr) -> ArpDecision {
    if arp.operation != ArpOperation::Request {
        return ArpDecision::Ignore(DropReason::ArpReplyIgnored);
    }
    if arp.source_protocol_addr == arp.target_protocol_addr {
        return ArpDecision::Ignore(DropReason::ArpGratuitous);
    }
    match tables
        .guests()
        .owner_of(network.id, arp.target_protocol_addr)
    {
        Some(guest) if guest.up => ArpDecision::Answer(network.uplink_mac),
        Some(_) => ArpDecision::Ignore(DropReason::ArpGuestDown),
        None if !network.subnet.contains(&arp.target_protocol_addr) => {
            ArpDecision::Ignore(DropReason::ArpOutsideSubnet)
        }
        None => ArpDecision::Ignore(DropReason::ArpNotHostedGuest),
    }
}

/// A who-has received from `guest` (its sender fields already checked by anti-spoofing).
///
/// The guest sees the router as every other host of its subnet: answer for the gateway
/// and any other subnet address with the guest-side MAC, so all its traffic is routed.
/// Never for the guest's own addresses (that would break its duplicate address
/// detection), never an RFC 5227 probe (sender 0.0.0.0, RFC 5227 section 2.1.1), never a
/// gratuitous announcement, never the subnet's network or broadcast address.
pub fn guest_decision(network: &Network, guest: &Guest, arp: &ArpRepr) -> ArpDecision {
    if arp.operation != ArpOperation::Request {
        return ArpDecision::Ignore(DropReason::ArpReplyIgnored);
    }
    let target = arp.target_protocol_addr;
    if arp.source_protocol_addr == Ipv4Addr::UNSPECIFIED {
        return ArpDecision::Ignore(DropReason::ArpProbe);
    }
    if arp.source_protocol_addr == target {
        return ArpDecision::Ignore(DropReason::ArpGratuitous);
    }
    if guest.ips.contains(&target) {
        return ArpDecision::Ignore(DropReason::ArpOwnAddress);
    }
    if !network.subnet.contains(&target) {
        return ArpDecision::Ignore(DropReason::ArpOutsideSubnet);
    }
    if target == network.subnet.network() || target == network.subnet.broadcast() {
        return ArpDecision::Ignore(DropReason::ArpReservedTarget);
    }
    ArpDecision::Answer(network.guest_mac)
}

/// Rewrite an ARP request frame in place into the reply that answers it with `mac`
/// (RFC 826: swap sender and target, set our hardware address, opcode reply). The
/// Ethernet header is addressed back to the requester.
pub fn write_reply_in_place(frame: &mut [u8], request: &ArpRepr, mac: EthernetAddress) {
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: mac,
        source_protocol_addr: request.target_protocol_addr,
        target_hardware_addr: request.source_hardware_addr,
        target_protocol_addr: request.source_protocol_addr,
    };
    let mut eth = wire::EthernetFrame::new_unchecked(frame);
    eth.set_dst_addr(request.source_hardware_addr);
    eth.set_src_addr(mac);
    let mut arp = wire::ArpPacket::new_unchecked(eth.payload_mut());
    reply.emit(&mut arp);
}
