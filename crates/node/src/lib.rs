//! A running hvrouter node: everything `hvrouter run` executes, from start-up to
//! shutdown. The binary keeps the command line, the control-socket client and the Ganeti
//! hooks, and calls [`run::run`].
//!
//! - [`run`]: start-up (configuration, uplinks, control socket, metrics) and the packet
//!   worker threads; [`run::machine_check`] for `check-config`;
//! - `ports`: the router's devices as AF_XDP ports on a shared UMEM, opened in two halves
//!   (slow part on the control thread), multi-queue taps, frame quotas, which worker
//!   owns each port, link events;
//! - `guests`, `guests6`: adding and removing guests at run time, and a runtime guest's
//!   IPv6 side;
//! - `ipv6`: the networks' and guests' IPv6 configuration and the uplink's IPv6 steering;
//! - `control`: the control thread: requests, reloads, link events, the answers of every
//!   worker merged into one, the worker's side of each job;
//! - `views`: the router's state as control-protocol payloads (`show`, `explain`,
//!   metrics);
//! - `capture`: the router's side of `hvrouter capture`;
//! - [`log`]: structured log lines on stderr (or the journal).

#![forbid(unsafe_code)]

mod capture;
mod control;
#[cfg(test)]
mod fixtures;
mod guests;
mod guests6;
mod ipv6;
pub mod log;
mod ports;
pub mod run;
mod views;
