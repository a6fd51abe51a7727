//! IPv6 anti-spoofing for guest frames: the source must be one of the guest's addresses,
//! its link-local address, or inside a prefix routed to it. The unspecified source is
//! allowed only for the messages that need it (RFC 4862 5.4.2 duplicate address
//! detection probes, RFC 3810 5.2.13 MLD reports before an address is configured), which
//! the NDP/MLD stage consumes and never forwards.

use wire::Ipv6Addr;

use crate::drop::DropReason;
use crate::ipv6::guest6::Guest6;

/// `Ok` if `guest` may send from `src` (frames that are forwarded).
#[inline]
pub fn check_source(guest: Option<&Guest6>, src: &Ipv6Addr) -> Result<(), DropReason> {
    match guest {
        Some(g) if g.owns_source(src) => Ok(()),
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
