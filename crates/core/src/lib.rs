//! hvrouter's routing core: every decision the router makes, as pure logic.
//!
//! Depends on `wire` only. No I/O, no clock (time is a parameter, see [`time::Instant`]),
//! no locks. The dataplane runs frames through [`router`] stages and does the I/O.

#![forbid(unsafe_code)]

pub mod announce;
pub mod counters;
pub mod dhcp;
pub mod drop;
pub mod fastpath;
pub mod fragment;
pub mod guests;
pub mod icmp_error;
pub mod ids;
pub mod ipv6;
pub mod lpm;
pub mod neighbor;
pub mod network;
pub mod offload;
pub mod outbox;
pub mod proxy_arp;
pub mod ratelimit;
pub mod router;
pub mod routes;
pub mod spoof;
pub mod tables;
#[cfg(test)]
mod testkit;
pub mod time;
pub mod trace;

pub use ids::{GuestId, NetworkId, PortId};
pub use time::Instant;
