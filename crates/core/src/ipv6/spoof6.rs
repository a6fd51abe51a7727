//! IPv6 anti-spoofing for guest frames: the source must be one of the guest's addresses,
//! a link-local address, or inside a prefix routed to it. The unspecified source is
//! allowed only for the messages that need it (RFC 4862 5.4.2 duplicate address
//! detection probes, RFC 3810 5.2.13 MLD reports before an address is configured), which
//! the NDP/MLD stage consumes and never forwards.
//!
//! Any link-local source, not only the EUI-64 of the guest's MAC: a guest may form its
//! link-local address otherwise (RFC 7217 stable privacy addresses, NetworkManager's
//! default), and its router solicitations, neighbor solicitations for the router and
//! DHCPv6 requests come from it. This lets nothing out: the guest's tap is its link,
//! nothing else is on it, and a link-local source is never forwarded to another link
//! (RFC 4291 2.5.6: [`crate::ipv6::forward6`] drops it as `ipv6_not_forwarded`).

use wire::ipv6_addr::is_link_local;
use wire::Ipv6Addr;

use crate::drop::DropReason;
use crate::ipv6::guest6::Guest6;

/// `Ok` if `guest` may send from `src` (frames that are forwarded).
#[inline]
pub fn check_source(guest: Option<&Guest6>, src: &Ipv6Addr) -> Result<(), DropReason> {
    match guest {
        Some(g) if g.owns_source(src) || is_link_local(src) => Ok(()),
        // A guest without an IPv6 side owns nothing: fail closed.
        _ => Err(DropReason::SpoofedSourceIpv6),
    }
}

/// `Ok` if `guest` may send an NDP or MLD message from `src`: as [`check_source`], plus
/// the unspecified address.
#[inline]
pub fn check_ndp_source(guest: Option<&Guest6>, src: &Ipv6Addr) -> Result<(), DropReason> {
    if src.is_unspecified() {
        return Ok(());
    }
    check_source(guest, src)
}
