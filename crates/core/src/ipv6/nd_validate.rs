//! The IP-level validity checks of received Neighbor Discovery messages (RFC 4861 6.1.1,
//! 6.1.2, 7.1.1, 7.1.2, 8.1) and RFC 6980's rule against fragmented NDP. The message-level
//! checks (checksum, code, length, options) are [`wire::ndp::NdpRepr::parse`]'s.

use wire::ipv6_addr::{is_link_local, is_solicited_node};
use wire::ipv6_ext::ExtWalk;
use wire::ndp::neighbor_flags;
use wire::{Ipv6Repr, NdpRepr};

use crate::drop::DropReason;

/// `Ok` if `ndp`, carried in `ip` after the extension headers `ext`, may be processed.
///
/// - Hop limit 255: "The IP Hop Limit field has a value of 255, i.e., the packet could not
///   possibly have been forwarded by a router" (each of the sections above).
/// - RFC 6980 5: "nodes MUST silently ignore NDP messages if the packet carrying them
///   includes a Fragment Header".
/// - RS and NS from the unspecified address carry no Source Link-Layer Address option;
///   a DAD NS goes to a solicited-node multicast address (7.1.1).
/// - An NA to a multicast address has the Solicited flag clear (7.1.2).
/// - RAs and Redirects come from a link-local address (6.1.2, 8.1).
pub fn validate(ip: &Ipv6Repr, ext: &ExtWalk, ndp: &NdpRepr<'_>) -> Result<(), DropReason> {
    if ip.hop_limit != 255 {
        return Err(DropReason::NdpInvalid);
    }
    if ext.fragment.is_some() {
        return Err(DropReason::NdpInvalid);
    }
    let unspecified = ip.src_addr.is_unspecified();
    let ok = match ndp {
        NdpRepr::RouterSolicit { .. } => !unspecified || ndp.source_lladdr().is_none(),
        NdpRepr::NeighborSolicit { .. } => {
            !unspecified || (is_solicited_node(&ip.dst_addr) && ndp.source_lladdr().is_none())
        }
        NdpRepr::NeighborAdvert { flags, .. } => {
            let solicited = flags & neighbor_flags::SOLICITED != 0;
            !(unspecified || (ip.dst_addr.is_multicast() && solicited))
        }
        NdpRepr::RouterAdvert { .. } | NdpRepr::Redirect { .. } => is_link_local(&ip.src_addr),
    };
    if ok {
        Ok(())
    } else {
        Err(DropReason::NdpInvalid)
    }
}
