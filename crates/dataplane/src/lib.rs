//! The dataplane: the [`Port`] trait, an in-memory port, and the burst [`Pipeline`]
//! that runs frames through the router's stages and fills transmit bursts.

#![forbid(unsafe_code)]

pub mod capture;
pub mod fast_path;
pub mod fill;
pub mod gso_sender;
mod gso_tx;
pub mod handoff;
pub mod mem_port;
pub mod pipeline;
pub mod port;
pub mod rx_drops;
pub mod worker;
pub mod xdp_device;
mod xdp_error;
pub mod xdp_handoff;
pub mod xdp_port;
mod xdp_queue;
mod xdp_spec;

pub use capture::{Capture, CaptureBatch, CaptureConfig, CaptureRecord, Direction, Verdict};
pub use fast_path::FastPath;
pub use gso_sender::{GsoSender, GsoStatus};
pub use handoff::{mesh, Batch, HandoffEnds, HandoffKind, HandoffStats, PeerStats};
pub use mem_port::{MemPool, MemPort};
pub use pipeline::{PassStats, Pipeline, DEFAULT_BURST};
pub use port::{Frame, Port, TxResult};
pub use rx_drops::{RxDropAccount, RxDrops};
pub use worker::{MonotonicClock, PollMode, WorkerConfig, WorkerStats};
pub use xdp_device::XdpDevice;
pub use xdp_handoff::{PreparedPort, RetiredPort};
pub use xdp_port::{FillStatus, PortSpec, XdpPort, XdpPortConfig, XdpPortError};
