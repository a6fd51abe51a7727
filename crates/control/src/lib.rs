//! hvrouter's control plane, everything except the dataplane integration:
//!
//! - [`protocol`]: requests and responses, one JSON object per line, versioned;
//! - [`server`]: the control socket, handing validated requests to the dataplane through
//!   a bounded channel;
//! - [`client`]: what the CLI uses to talk to the socket;
//! - [`render`]: human tables and JSON for every response;
//! - [`state`]: the runtime guest set, persisted atomically;
//! - [`metrics`]: Prometheus text exposition and a tiny HTTP server for it.

#![forbid(unsafe_code)]

pub mod client;
pub mod protocol;
pub mod render;
pub mod server;
pub mod state;
