//! hvrouter's system layer: AF_XDP sockets (UMEM, rings, bind, wakeups), the XDP
//! steering program (built in Rust, loaded with `bpf(2)`, attached by BPF link) and the
//! few namespace/netdev helpers they need. This is the only hvrouter crate with
//! `unsafe`; every block says why it holds. It knows nothing about routing.
//!
//! Typical use, one port:
//! ```no_run
//! use hvrouter_sys::{netdev, AttachMode, Steering, Umem, XdpProgram, XskConfig, XskSocket};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ifindex = netdev::ifindex("veth0")?;
//! let mut umem = Umem::new(4096, 2048)?;
//! let mut sock = XskSocket::bind(&umem, ifindex, 0, &XskConfig::default())?;
//! let prog = XdpProgram::load(Steering::Guest)?;
//! prog.insert_socket(0, &sock)?;
//! let _link = prog.attach(ifindex, AttachMode::NativeOrGeneric)?;
//! let frames: Vec<u64> = (0..2048).map(|i| umem.frame_addr(i)).collect();
//! sock.fill(&frames);
//! let mut descs = [hvrouter_sys::XdpDesc::default(); 64];
//! let n = sock.rx_burst(&mut descs);
//! for d in &descs[..n] {
//!     let _bytes = umem.frame(d.addr, d.len);
//! }
//! # let _ = &mut umem; Ok(()) }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod affinity;
mod bpf;
pub mod doorbell;
pub mod frame;
mod insn;
mod mmap;
pub mod netdev;
pub mod netlink;
pub mod netns;
pub mod packet;
pub mod poll;
mod ring;
pub mod rusage;
pub mod signal;
mod sockopt;
pub mod sysctl;
pub mod tap;
pub mod umem;
pub mod xdp;
pub mod xdp_fast;
mod xdp_fast_prog;
pub mod xsk;

pub use frame::{
    BoundSocket, FramePool, FrameSocket, FrameSocketStats, PoolStats, Reclaim, RetiredSocket,
    SharedUmem, TxReport, UmemFrame,
};
pub use netlink::{Link, LinkChange, LinkEvent, LinkEventKind, LinkMonitor, NetlinkError, Rtnl};
pub use packet::{PacketError, PacketSocket};
pub use ring::XdpDesc;
pub use tap::{Tap, TapError, TapFlags};
pub use umem::{Umem, UmemConfig, UmemError};
pub use xdp::{AttachMode, Steering, XdpAction, XdpError, XdpLink, XdpProgram};
pub use xdp_fast::{FastPathMaps, FpHop, FpPort, FpStats};
pub use xsk::{BindFlags, XskConfig, XskError, XskSocket, XskStats};
