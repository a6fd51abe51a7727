//! `hvrouter capture`: what ports receive and send, with the router's decisions, as
//! pcapng. AF_XDP takes the guests' frames before the kernel's stack, so tcpdump on a
//! tap or on the uplink no longer sees them; the router copies them itself while a
//! capture runs (see `hvrouter_dataplane::capture`).
//!
//! - [`cli`]: the command, a client that reads the capture and writes pcapng.
//! - [`pcapng`]: the file format.
//!
//! The router's side, run by the control tick between bursts, is `hvrouter_node`'s.

pub mod cli;
pub mod pcapng;
