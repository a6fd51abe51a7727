//! ICMPv6 control traffic (NDP, MLD) on guest ports and on the uplink: what the router
//! answers, learns, or consumes, and why. Pure: it decides, the router sends.
//!
//! Nothing of this is ever forwarded between links: NDP and MLD are link-scoped, and a
//! guest's RA, Redirect or forged NA would otherwise poison its neighbors (RFC 6105's RA
//! guard, RFC 6104's rogue RA problem).

use wire::icmpv6::{Icmpv6Packet, Message};
use wire::ipv6_ext::ExtWalk;
use wire::{EthernetAddress, Ipv6Addr, Ipv6Repr, NdpRepr, NextHeader};

use crate::drop::DropReason;
use crate::guests::Guest;
use crate::ipv6::guest6::Guest6;
use crate::ipv6::mld::{parse_query, MldQuery};
use crate::ipv6::nd_validate::validate;
use crate::ipv6::net6::Network6;
use crate::ipv6::proxy_ndp::{guest_decision, uplink_decision, NaPlan, NdpDecision};
use crate::ipv6::spoof6::check_ndp_source;
use crate::ipv6::tables6::Tables6;
use crate::network::Network;
use crate::tables::Tables;

/// A neighbor's link-layer address learned from the uplink (RFC 4861 7.2.3, 7.2.5).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Learn6 {
    /// The neighbor.
    pub addr: Ipv6Addr,
    /// Its MAC.
    pub mac: EthernetAddress,
    /// From a solicited advertisement (confirms reachability).
    pub solicited: bool,
    /// Override flag (or a solicitation's source option, which always updates).
    pub override_: bool,
}

/// What to do with a packet, as far as ICMPv6 control goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Control6 {
    /// Not NDP or MLD: continue on the forwarding path.
    NotControl,
    /// Send this Neighbor Advertisement; learn the solicitor, if it said its MAC.
    Answer(NaPlan, Option<Learn6>),
    /// A guest's Router Solicitation: schedule an advertisement for it.
    RouterSolicit,
    /// A Multicast Listener Query from the VLAN ([`crate::ipv6::mld`]).
    MldQuery(MldQuery),
    /// An advertisement (or a solicitation we do not answer) that teaches a neighbor.
    Learn(Learn6, DropReason),
    /// Consume the packet.
    Drop(DropReason),
}

/// The ICMPv6 message type of the packet, if its upper layer is ICMPv6 in this packet.
fn icmp_type(ext: &ExtWalk, payload: &[u8]) -> Option<Message> {
    if ext.upper != NextHeader::Icmpv6 || !ext.has_upper() {
        return None;
    }
    payload.get(ext.upper_offset).map(|&t| Message::from(t))
}

fn parse_ndp<'a>(
    ip: &Ipv6Repr,
    ext: &ExtWalk,
    payload: &'a [u8],
) -> Result<NdpRepr<'a>, DropReason> {
    let body = payload
        .get(ext.upper_offset..)
        .ok_or(DropReason::NdpMalformed)?;
    let p = Icmpv6Packet::new_checked(body).map_err(|_| DropReason::NdpMalformed)?;
    let ndp =
        NdpRepr::parse(&ip.src_addr, &ip.dst_addr, &p).map_err(|_| DropReason::NdpMalformed)?;
    validate(ip, ext, &ndp)?;
    Ok(ndp)
}

/// ICMPv6 control from `guest` (whose MAC was checked), with its IPv6 side `g6` if it
/// has one. `payload` is the IPv6 payload.
pub fn guest_control(
    network: &Network,
    net6: &Network6,
    guest: &Guest,
    g6: Option<&Guest6>,
    ip: &Ipv6Repr,
    ext: &ExtWalk,
    payload: &[u8],
) -> Control6 {
    let Some(ty) = icmp_type(ext, payload) else {
        return Control6::NotControl;
    };
    if ty.is_mld() {
        return Control6::Drop(DropReason::MldConsumed);
    }
    match ty {
        // Counted as rogue whatever their validity: a guest has no business sending them.
        Message::RouterAdvert => return Control6::Drop(DropReason::RogueRouterAdvert),
        Message::Redirect => return Control6::Drop(DropReason::RogueRedirect),
        t if !t.is_ndp() => return Control6::NotControl,
        _ => {}
    }
    let ndp = match parse_ndp(ip, ext, payload) {
        Ok(n) => n,
        Err(r) => return Control6::Drop(r),
    };
    if let Err(r) = check_ndp_source(g6, &ip.src_addr) {
        return Control6::Drop(r);
    }
    match (ndp, g6) {
        (NdpRepr::RouterSolicit { .. }, Some(_)) => Control6::RouterSolicit,
        (NdpRepr::NeighborSolicit { .. }, _) if ip.src_addr.is_unspecified() => {
            Control6::Drop(DropReason::NdpDadProbe)
        }
        (NdpRepr::NeighborSolicit { target, .. }, Some(g6)) => {
            match guest_decision(network, net6, g6, ip.src_addr, target) {
                NdpDecision::Answer(na) => Control6::Answer(na, None),
                NdpDecision::Ignore(r) => Control6::Drop(r),
            }
        }
        (NdpRepr::NeighborAdvert { target, .. }, Some(g6)) => {
            let own = g6.has_addr(&target) || target == g6.link_local;
            let mac_ok = ndp.target_lladdr().is_none_or(|m| m == guest.mac);
            if own && mac_ok {
                Control6::Drop(DropReason::NdpConsumed)
            } else {
                Control6::Drop(DropReason::ForgedNeighborAdvert)
            }
        }
        (NdpRepr::NeighborAdvert { .. }, None) => Control6::Drop(DropReason::ForgedNeighborAdvert),
        _ => Control6::Drop(DropReason::NdpConsumed),
    }
}

/// ICMPv6 control received on the uplink of `network`.
pub fn uplink_control(
    tables: &Tables,
    tables6: &Tables6,
    network: &Network,
    net6: &Network6,
    ip: &Ipv6Repr,
    ext: &ExtWalk,
    payload: &[u8],
) -> Control6 {
    let Some(ty) = icmp_type(ext, payload) else {
        return Control6::NotControl;
    };
    if ty == Message::MldQuery {
        let body = payload.get(ext.upper_offset..).unwrap_or_default();
        return match parse_query(ip, body) {
            Some(q) => Control6::MldQuery(q),
            None => Control6::Drop(DropReason::MldConsumed),
        };
    }
    if ty.is_mld() {
        return Control6::Drop(DropReason::MldConsumed);
    }
    if !ty.is_ndp() {
        return Control6::NotControl;
    }
    let ndp = match parse_ndp(ip, ext, payload) {
        Ok(n) => n,
        Err(r) => return Control6::Drop(r),
    };
    match ndp {
        NdpRepr::NeighborSolicit { target, .. } => {
            // RFC 4861 7.2.3: a solicitation with a source option updates the solicitor's
            // entry (STALE), whether or not we answer.
            let learn = ndp
                .source_lladdr()
                .filter(|_| !ip.src_addr.is_unspecified())
                .map(|mac| Learn6 {
                    addr: ip.src_addr,
                    mac,
                    solicited: false,
                    override_: true,
                });
            match uplink_decision(tables, tables6, network, net6, ip.src_addr, target) {
                NdpDecision::Answer(na) => Control6::Answer(na, learn),
                NdpDecision::Ignore(r) => match learn {
                    Some(l) => Control6::Learn(l, r),
                    None => Control6::Drop(r),
                },
            }
        }
        NdpRepr::NeighborAdvert { flags, target, .. } => match ndp.target_lladdr() {
            Some(mac) => Control6::Learn(
                Learn6 {
                    addr: target,
                    mac,
                    solicited: flags & wire::ndp::neighbor_flags::SOLICITED != 0,
                    override_: flags & wire::ndp::neighbor_flags::OVERRIDE != 0,
                },
                DropReason::NdpConsumed,
            ),
            None => Control6::Drop(DropReason::NdpConsumed),
        },
        // The router is configured, not autoconfigured: RAs, RSs and Redirects from the
        // VLAN change nothing (RFC 4861 8.1: a router does not act on Redirects).
        _ => Control6::Drop(DropReason::NdpConsumed),
    }
}
