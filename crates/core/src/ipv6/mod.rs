//! IPv6 for routed guests: the model and the pure decisions.
//!
//! - [`net6`]: a network's subnet6, gateway6 and Router Advertisement settings.
//! - [`guest6`]: a guest's addresses (explicit or EUI-64 of its MAC) and routed prefixes.
//! - longest-prefix match over IPv6 is [`crate::lpm::Lpm6`], the IPv4 table's code.
//! - [`tables6`]: per-network routes and the (network, address) -> guest index.
//! - [`proxy_ndp`]: fail-closed answers to Neighbor Solicitations, from the guest list only.
//! - [`nd_validate`]: RFC 4861's IP-level validity checks, RFC 6980.
//! - [`control6`]: NDP and MLD on guest ports and the uplink (answer, learn, consume).
//! - [`spoof6`]: the source-address rule for guest frames.
//! - [`neighbor6`]: the uplink neighbor cache for the gateway and on-link hosts (NUD).
//! - [`forward6`]: header walk, scope, hop limit, LPM, MTU.
//! - [`icmp6_error`]: ICMPv6 errors and when not to send them (RFC 4443 2.4).
//! - [`mld`]: MLDv2 reports on the VLAN for the guests' solicited-node groups, and
//!   the VLAN's queries they answer.
//! - [`dhcp6`]: stateless DHCPv6 (Information-request -> DNS servers, RFC 8415 6.1).
//! - [`ra`]: Router Advertisements and their per-guest timers (RFC 4861 6.2, RFC 8106).
//! - [`offload6`]: partial checksums and TSO6 segmentation of guest frames.
//! - [`router6`]: the stages for IPv6 frames and the IPv6 timers, held by the router.
//! - [`describe`]: IPv6 frames in words for traces.
//! - [`frames6`]: building the frames the router originates.
//!
//! [`crate::tables::Tables`] stays the source of truth for guests, ports and whether they
//! are up; [`tables6::Tables6`] only adds their IPv6 side.

pub mod control6;
pub mod describe;
pub mod dhcp6;
pub mod forward6;
pub mod frames6;
pub mod guest6;
pub mod icmp6_error;
pub mod mld;
pub mod nd_validate;
pub mod neighbor6;
pub mod net6;
pub mod offload6;
pub mod proxy_ndp;
pub mod ra;
pub mod router6;
pub mod spoof6;
pub mod tables6;

#[cfg(test)]
mod tests;

pub use guest6::{Guest6, Guest6Error, Guest6Spec};
pub use net6::{Network6, Network6Error, Network6Spec, RaSettings};
pub use tables6::{NextHop6, Tables6, Tables6Error};
