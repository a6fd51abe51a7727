#![no_main]
//! The whole pipeline: an in-memory router (one VLAN uplink, three guests, one with a
//! routed prefix) fed random frames on random ports, with time moving and ports going
//! down and up. After every pass, what the router sent must hold the invariants the
//! router exists for:
//! - no panic;
//! - every frame leaves with the router's own source MAC (no guest frame is bridged:
//!   nothing reaches the VLAN or another guest at layer 2);
//! - an IPv4 datagram toward the VLAN has a source a guest owns (its addresses, its
//!   routed prefix) or the router's own ARP/ICMP source;
//! - an ARP reply on the uplink claims only a hosted guest's address; any ARP the router
//!   sends on the uplink has a guest's address or the router's ARP source as sender;
//! - an ARP reply to a guest never claims that guest's own address.
//!
//! Input: a sequence of records `[ctl, offset, len, bytes...]`. `ctl & 3` is the port,
//! `ctl >> 4` picks a valid template frame for that side (0: none, the bytes are the
//! frame) that the bytes overwrite from `offset`; `ctl & 4` refreshes the IPv4 header
//! checksum after the overwrite; `ctl & 8` advances time by 1.5 s before the pass (so
//! resolutions time out and rate limits refill). A `len` of 255 toggles the port's state
//! instead of sending.

use libfuzzer_sys::fuzz_target;

mod pipeline_lab;
mod pipeline_v4;
use pipeline_v4::{check, fix, template, ROUTER_SRC, THIRD_OWNS};

fuzz_target!(|input: &[u8]| {
    let lab = pipeline_lab::router(
        Some(std::net::Ipv4Addr::from(ROUTER_SRC)),
        &[THIRD_OWNS],
        |_, _, _| {},
    );
    pipeline_lab::run_records(input, lab, template, fix, check);
});
