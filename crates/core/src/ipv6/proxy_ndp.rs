//! Proxy NDP policy: whether the router answers a Neighbor Solicitation, and why.
//!
//! The IPv6 form of [`crate::proxy_arp`]'s fail-closed rule. Linux answers a proxied NS
//! from its `ip -6 neigh proxy` list or, with `proxy_ndp` and routes, from whatever the
//! routes say; here the uplink decision never consults a route table: it answers only
//! for the own addresses of guests hosted on this node whose port is up
//! ([`Tables6::owner_of`], which also checks [`Tables`]), and for the router's own
//! link-local address on the VLAN. Empty or missing state answers nothing.
//!
//! Both functions are pure. The caller has validated the message
//! ([`crate::ipv6::nd_validate`]).

use wire::ipv6_addr::{is_link_local, ALL_NODES};
use wire::ndp::neighbor_flags;
use wire::{EthernetAddress, Ipv6Addr};

use crate::drop::DropReason;
use crate::guests::Guest;
use crate::ipv6::guest6::Guest6;
use crate::ipv6::net6::Network6;
use crate::ipv6::tables6::Tables6;
use crate::network::Network;
use crate::tables::Tables;

/// The Neighbor Advertisement that answers a solicitation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NaPlan {
    /// The address advertised.
    pub target: Ipv6Addr,
    /// Our MAC, in the Target Link-Layer Address option and as the frame's source.
    pub lladdr: EthernetAddress,
    /// R, S, O flags.
    pub flags: u8,
    /// Where the NA goes: the solicitation's source, or all-nodes for a DAD probe
    /// (RFC 4861 7.2.4: "If the source of the solicitation is the unspecified address,
    /// the node MUST set the Solicited flag to zero and multicast the advertisement to
    /// the all-nodes address").
    pub dst_ip: Ipv6Addr,
}

/// What to do with a Neighbor Solicitation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NdpDecision {
    /// Answer with this advertisement.
    Answer(NaPlan),
    /// Stay silent; the reason is counted.
    Ignore(DropReason),
}

impl NdpDecision {
    /// True if the router answers.
    pub fn is_answer(self) -> bool {
        matches!(self, NdpDecision::Answer(_))
    }
}

fn plan(target: Ipv6Addr, src: Ipv6Addr, lladdr: EthernetAddress, router: bool) -> NaPlan {
    let r = if router { neighbor_flags::ROUTER } else { 0 };
    // Override set: on the VLAN this node is the only place the address lives (the
    // guest is behind it, not on the link), and toward a guest the router is the only
    // other node of the link; RFC 4861 7.2.8's "proxies clear Override" protects a real
    // owner on the same link, which neither case has.
    if src.is_unspecified() {
        NaPlan {
            target,
            lladdr,
            flags: r | neighbor_flags::OVERRIDE,
            dst_ip: ALL_NODES,
        }
    } else {
        NaPlan {
            target,
            lladdr,
            flags: r | neighbor_flags::SOLICITED | neighbor_flags::OVERRIDE,
            dst_ip: src,
        }
    }
}

/// A Neighbor Solicitation for `target` from `src` received on the uplink of `network`.
///
/// Answers for an own address of a guest hosted here whose port is up, including a
/// duplicate-address-detection probe (source unspecified) for it: the owner defends its
/// address (RFC 4862 5.4.3). Answers for the router's own VLAN link-local address.
/// Never for anything else: not for routed prefixes, not for the gateway, not from
/// routes.
pub fn uplink_decision(
    tables: &Tables,
    tables6: &Tables6,
    network: &Network,
    net6: &Network6,
    src: Ipv6Addr,
    target: Ipv6Addr,
) -> NdpDecision {
    if target == crate::ipv6::net6::uplink_ll(network) || Some(target) == net6.spec.source6 {
        return NdpDecision::Answer(plan(target, src, network.uplink_mac, true));
    }
    match tables6.owner_of(tables, network.id, &target) {
        Some(guest) if guest.up => {
            NdpDecision::Answer(plan(target, src, network.uplink_mac, false))
        }
        Some(_) => NdpDecision::Ignore(DropReason::NdpGuestDown),
        None if !net6.spec.subnet6.contains(&target) => {
            NdpDecision::Ignore(DropReason::NdpOutsideSubnet)
        }
        None => NdpDecision::Ignore(DropReason::NdpNotHostedGuest),
    }
}

/// A Neighbor Solicitation for `target` from `guest` (source already checked by
/// anti-spoofing).
///
/// The guest sees the router as every other node of its link: answer for the router's
/// link-local address, the gateway and any other address of subnet6 with the guest-side
/// MAC, so all its traffic is routed. Never for the guest's own addresses, never a
/// duplicate-address-detection probe (its DAD must succeed), never for another link-local
/// address (nothing else is on the guest's link).
pub fn guest_decision(
    network: &Network,
    net6: &Network6,
    guest: &Guest6,
    src: Ipv6Addr,
    target: Ipv6Addr,
) -> NdpDecision {
    if src.is_unspecified() {
        return NdpDecision::Ignore(DropReason::NdpDadProbe);
    }
    if guest.has_addr(&target) || target == guest.link_local {
        return NdpDecision::Ignore(DropReason::NdpOwnAddress);
    }
    let answer = target == net6.guest_ll
        || target == net6.spec.gateway6
        || (net6.spec.subnet6.contains(&target) && !is_link_local(&target));
    if answer {
        return NdpDecision::Answer(plan(target, src, network.guest_mac, true));
    }
    if is_link_local(&target) {
        return NdpDecision::Ignore(DropReason::NdpNotOnLink);
    }
    NdpDecision::Ignore(DropReason::NdpOutsideSubnet)
}

/// Everything the router would decide about solicitations for one address, for
/// `hvrouter explain ndp`: the same pure functions the packet path calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NdpExplanation {
    /// The address asked about.
    pub addr: Ipv6Addr,
    /// The network it was evaluated in.
    pub network: String,
    /// Whether the address is inside subnet6.
    pub in_subnet: bool,
    /// The guest that owns the address, and whether its port is up.
    pub owner: Option<(String, bool)>,
    /// An NS from the gateway on the uplink.
    pub uplink: NdpDecision,
    /// A DAD probe (source unspecified) on the uplink.
    pub uplink_dad: NdpDecision,
    /// An NS from another guest of the network, if there is one.
    pub from_other_guest: Option<NdpDecision>,
    /// An NS from the owner itself, if there is an owner.
    pub from_owner: Option<NdpDecision>,
}

/// Explain the decisions about `addr` in `network`, by running the real decision
/// functions on hypothetical solicitations. `None` if the network has no IPv6 side.
pub fn explain(
    tables: &Tables,
    tables6: &Tables6,
    network: &Network,
    addr: Ipv6Addr,
) -> Option<NdpExplanation> {
    let net6 = &tables6.network6(network.id)?.net;
    let owner: Option<&Guest> = tables6.owner_of(tables, network.id, &addr);
    let vlan_src = if addr == net6.spec.gateway6 {
        crate::ipv6::net6::uplink_ll(network)
    } else {
        net6.spec.gateway6
    };
    let uplink = uplink_decision(tables, tables6, network, net6, vlan_src, addr);
    let uplink_dad = uplink_decision(tables, tables6, network, net6, Ipv6Addr::UNSPECIFIED, addr);
    let decide = |g6: &Guest6| {
        let src = g6.addrs.first().copied().unwrap_or(g6.link_local);
        guest_decision(network, net6, g6, src, addr)
    };
    let from_owner = owner.and_then(|g| tables6.guest6(g.id)).map(decide);
    let from_other_guest = tables6
        .guests6()
        .filter(|g6| g6.network == network.id && !g6.has_addr(&addr))
        .filter(|g6| tables.guest(g6.guest).is_some())
        .min_by_key(|g6| g6.guest)
        .map(decide);
    Some(NdpExplanation {
        addr,
        network: network.name.clone(),
        in_subnet: net6.spec.subnet6.contains(&addr),
        owner: owner.map(|g| (g.name.clone(), g.up)),
        uplink,
        uplink_dad,
        from_other_guest,
        from_owner,
    })
}
