//! hvrouter's control plane, everything except the dataplane integration:
//!
//! - [`protocol`]: requests and responses, one JSON object per line, versioned;
//! - [`server`]: the control socket, handing validated requests to the dataplane through
//!   a bounded channel as [`server::Command`]s;
//! - [`client`]: what the CLI uses to talk to the socket;
//! - [`render`]: human tables and JSON for every response;
//! - [`state`]: the runtime guest set, persisted atomically, saved off the dataplane;
//! - [`metrics`]: Prometheus text exposition and a tiny HTTP server for it.
//!
//! How the router uses it (the dataplane thread never blocks on any of it):
//!
//! ```no_run
//! use std::path::Path;
//! use hvrouter_control::metrics::{http::MetricsServer, MetricsSnapshot};
//! use hvrouter_control::protocol::{Request, Response};
//! use hvrouter_control::server::ControlServer;
//! use hvrouter_control::state::{StateSaver, StateStore};
//!
//! # fn handle(r: &Request) -> (Response, bool) { (Response::error("x"), false) }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = StateStore::new("/var/lib/hvrouter");
//! let loaded = store.load(); // log loaded.warnings; start from loaded.state.apply(config)
//! let mut state = loaded.state;
//! let saver = StateSaver::spawn(store, |e| eprintln!("{e}"))?;
//! let (_control, commands) = ControlServer::start(Path::new("/run/hvrouter/control.sock"), 64)?;
//! let (_metrics, metrics) = MetricsServer::start("127.0.0.1:9477".parse()?)?;
//! loop {
//!     // ... a burst of packets ...
//!     while let Ok(cmd) = commands.try_recv() {
//!         if cmd.is_expired() {
//!             continue; // already answered "router busy"
//!         }
//!         let (answer, state_changed) = handle(cmd.request()); // updates `state` too
//!         if state_changed {
//!             saver.submit(state.clone(), Some((cmd, answer))); // answered once on disk
//!         } else {
//!             cmd.reply(answer);
//!         }
//!     }
//!     // About once a second:
//!     metrics.publish(MetricsSnapshot::default());
//! #   break;
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod client;
pub mod metrics;
pub mod protocol;
pub mod render;
pub mod server;
pub mod state;
