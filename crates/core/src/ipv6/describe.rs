//! IPv6 frames in words, for `hvrouter trace`.

use core::fmt::Write as _;

use wire::icmpv6::Message;
use wire::ipv6_ext::{walk, DEFAULT_MAX_HEADERS};
use wire::{Ipv6Addr, Ipv6Packet, NextHeader};

use crate::ids::NetworkId;
use crate::ipv6::tables6::{NextHop6, Tables6};

/// One line about an IPv6 packet (the Ethernet payload): addresses, upper layer, hop
/// limit, length; for ICMPv6 its type, and the target of NDP solicitations and
/// advertisements.
pub fn summary(payload: &[u8]) -> String {
    let Ok(ip) = Ipv6Packet::new_checked(payload) else {
        return " IPv6 (malformed)".into();
    };
    let mut s = format!(" IPv6 {} > {}", ip.src_addr(), ip.dst_addr());
    match walk(ip.next_header(), ip.payload(), DEFAULT_MAX_HEADERS) {
        Ok(w) => {
            let _ = write!(s, " {}", w.upper);
            if w.upper == NextHeader::Icmpv6 && w.has_upper() {
                let body = &ip.payload()[w.upper_offset..];
                if let Some(&t) = body.first() {
                    let _ = write!(s, " {:?}", Message::from(t));
                    if matches!(t, 135 | 136) && body.len() >= 24 {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(&body[8..24]);
                        let _ = write!(s, " target {}", Ipv6Addr::from(o));
                    }
                }
            }
            if w.count > 0 {
                let _ = write!(s, " ({} extension headers)", w.count);
            }
        }
        Err(e) => {
            let _ = write!(s, " ({e})");
        }
    }
    let _ = write!(s, " hlim {} len {}", ip.hop_limit(), ip.total_len());
    s
}

/// The IPv6 route step of a trace: where `payload`'s destination goes in `network`.
pub fn route_step(tables6: &Tables6, network: NetworkId, payload: &[u8]) -> Option<String> {
    let ip = Ipv6Packet::new_checked(payload).ok()?;
    let dst = ip.dst_addr();
    if dst.is_multicast() || wire::ipv6_addr::is_link_local(&dst) {
        return Some(format!(
            "route6 {dst}: link-scoped, never routed (NDP, MLD, DHCPv6 and echo to the router \
             are handled, the rest dropped)"
        ));
    }
    Some(match tables6.next_hop(network, dst) {
        None => format!("route6 {dst}: none (no IPv6 on this network)"),
        Some(NextHop6::Gateway) => format!("route6 {dst}: default via the gateway"),
        Some(NextHop6::OnLink) => format!("route6 {dst}: on-link on the VLAN"),
        Some(NextHop6::Guest(g)) => format!("route6 {dst}: to {g}"),
    })
}
