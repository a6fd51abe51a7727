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

/// Everything the router would decide about who-has for one address, for
/// `hvrouter explain arp`: the same pure functions the packet path calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpExplanation {
    /// The address asked about.
    pub ip: Ipv4Addr,
    /// The network it was evaluated in.
    pub network: String,
    /// Whether the address is inside the network's subnet.
    pub in_subnet: bool,
    /// The guest that owns the address, and whether its port is up.
    pub owner: Option<(String, bool)>,
    /// A who-has from a VLAN host (the gateway) on the uplink.
    pub uplink: ArpDecision,
    /// A who-has from a guest of this network other than the owner.
    pub from_other_guest: ArpDecision,
    /// A who-has from the owner itself (its own address), if there is an owner.
    pub from_owner: Option<ArpDecision>,
}

fn request_for(sender_mac: EthernetAddress, sender: Ipv4Addr, target: Ipv4Addr) -> ArpRepr {
    ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: sender_mac,
        source_protocol_addr: sender,
        target_hardware_addr: EthernetAddress::ZERO,
        target_protocol_addr: target,
    }
}

/// Explain the decisions about `ip` in `network`, by running the real decision
/// functions on hypothetical requests.
pub fn explain(tables: &Tables, network: &Network, ip: Ipv4Addr) -> ArpExplanation {
    let owner = tables.guests().owner_of(network.id, ip);
    // The gateway asking, the usual requester on the VLAN (another on-link address if
    // the question is about the gateway itself, so it is not read as gratuitous).
    let vlan_sender = if ip == network.gateway {
        network.subnet.broadcast()
    } else {
        network.gateway
    };
    let uplink = uplink_decision(
        tables,
        network,
        &request_for(EthernetAddress::ZERO, vlan_sender, ip),
    );
    let other = tables
        .guests()
        .iter()
        .find(|g| g.network == network.id && !g.ips.contains(&ip));
    let from_other_guest = match other {
        Some(g) => match g.ips.first() {
            Some(&src) => guest_decision(network, g, &request_for(g.mac, src, ip)),
            None => ArpDecision::Ignore(DropReason::GuestDown),
        },
        // No other guest: evaluate for a hypothetical one with no addresses of its own.
        None => {
            let probe_guest = Guest {
                id: crate::ids::GuestId(u32::MAX),
                name: String::new(),
                port: crate::ids::PortId(u16::MAX),
                mac: EthernetAddress::ZERO,
                ips: Vec::new(),
                network: network.id,
                extra_prefixes: Vec::new(),
                up: true,
            };
            guest_decision(
                network,
                &probe_guest,
                &request_for(EthernetAddress::ZERO, vlan_sender, ip),
            )
        }
    };
    let from_owner = owner.map(|g| {
        let src = g.ips.iter().copied().find(|&a| a != ip).unwrap_or(ip);
        guest_decision(network, g, &request_for(g.mac, src, ip))
    });
    ArpExplanation {
        ip,
        network: network.name.clone(),
        in_subnet: network.subnet.contains(&ip),
        owner: owner.map(|g| (g.name.clone(), g.up)),
        uplink,
        from_other_guest,
        from_owner,
    }
}
