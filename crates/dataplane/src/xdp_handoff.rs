//! Opening and closing AF_XDP ports away from the worker: the slow steps (loading the
//! program, binding the socket with its EBUSY retry, attaching; detaching and closing,
//! which wait for the kernel) run on a control thread, and the worker only adopts a
//! ready socket (fills its ring from the pool it owns) or lets go of one.
//!
//! - [`XdpPort::prepare`](crate::XdpPort::prepare) (any thread) gives a
//!   [`PreparedPort`]: its device loaded ([`XdpDevice`]: program, steering filled),
//!   socket bound on the pool's UMEM ([`SharedUmem`]) and in the XSKMAP, program
//!   attached. Its fill ring is empty until [`XdpPort::finish`](crate::XdpPort::finish)
//!   (the pool's thread) adopts it, so frames that arrive in between are dropped by the
//!   kernel and counted (`rx_dropped`, the router's `rx_no_frame`; see
//!   [`crate::rx_drops`]).
//! - [`XdpPort::retire`](crate::XdpPort::retire) (the pool's thread) gives a
//!   [`RetiredPort`] that keeps the device (attached) and the sockets alive after the
//!   port is dropped; [`RetiredPort::close`] (any thread) detaches and closes them, and
//!   returns the fill chunks for [`FramePool::reclaim`](sys::FramePool::reclaim) on the
//!   pool's thread.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use sys::{BoundSocket, Reclaim, RetiredSocket, SharedUmem};

use crate::gso_sender::GsoSender;
use crate::xdp_device::XdpDevice;

use crate::xdp_port::XdpPortConfig;

/// A port opened on a control thread, to be adopted by the worker that owns the pool
/// ([`crate::XdpPort::finish`]). Dropping it detaches and closes it.
#[derive(Debug)]
pub struct PreparedPort {
    // Declared first, dropped first: the program detaches before the socket closes.
    pub(crate) device: Arc<XdpDevice>,
    pub(crate) socket: BoundSocket,
    pub(crate) ifindex: u32,
    pub(crate) cfg: XdpPortConfig,
    pub(crate) gso: GsoSender,
}

impl PreparedPort {
    /// The device's interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Where the program ended up: native or generic.
    pub fn attach_mode(&self) -> sys::AttachMode {
        self.device.attach_mode()
    }

    /// Whether its socket was bound on `umem` (a port prepared before the pool was
    /// rebuilt cannot be adopted).
    pub fn is_on(&self, umem: &SharedUmem) -> bool {
        self.socket.umem().same(umem)
    }
}

/// What is left of a port the worker dropped: its device (the last reference detaches
/// it) and its sockets' descriptors, so that detaching and closing (the kernel waits for
/// receivers in flight) happen where [`RetiredPort::close`] is called.
#[derive(Debug)]
pub struct RetiredPort {
    pub(crate) device: Option<Arc<XdpDevice>>,
    pub(crate) gso: Option<OwnedFd>,
    pub(crate) sockets: Vec<RetiredSocket>,
}

impl RetiredPort {
    /// Detaches the program, closes the sockets, and returns the fill chunks of those
    /// it closed for the last time (the first socket of a UMEM stays open with it: its
    /// chunks are not reused).
    pub fn close(self) -> Vec<Reclaim> {
        drop(self.device);
        drop(self.gso);
        self.sockets
            .into_iter()
            .filter_map(|s| s.close().ok())
            .collect()
    }
}
