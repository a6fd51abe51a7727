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
//! - A queue a multi-queue tap's guest enables later goes the same way:
//!   [`XdpPort::queue_to_bind`](crate::XdpPort::queue_to_bind) (the pool's thread) says
//!   what to bind, [`QueueBind::bind`] (any thread) binds its socket on the pool's UMEM
//!   and puts it in the device's XSKMAP, and
//!   [`XdpPort::adopt_queue`](crate::XdpPort::adopt_queue) (the pool's thread) fills its
//!   ring and receives from it.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use sys::{BoundSocket, Reclaim, RetiredSocket, SharedUmem, XskConfig};

use crate::gso_sender::GsoSender;
use crate::xdp_device::XdpDevice;

use crate::xdp_error::XdpPortError;
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

    /// Whether its socket was bound on `umem` (a port bound on another pool's UMEM
    /// cannot be adopted).
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
    /// it closed for the last time.
    pub fn close(self) -> Vec<Reclaim> {
        drop(self.device);
        drop(self.gso);
        self.sockets
            .into_iter()
            .filter_map(|s| s.close().ok())
            .collect()
    }
}

/// A queue of a port's device to serve, to be bound away from the worker (see
/// [`crate::XdpPort::queue_to_bind`]).
#[derive(Debug)]
pub struct QueueBind {
    pub(crate) device: Arc<XdpDevice>,
    pub(crate) umem: SharedUmem,
    pub(crate) ifindex: u32,
    pub(crate) queue: u32,
    pub(crate) xsk: XskConfig,
}

impl QueueBind {
    /// The device queue.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The slow part, on any thread: binds a receive socket on the queue, sharing the
    /// port's UMEM (retrying EBUSY), and puts it in the device's XSKMAP. Its fill ring is
    /// empty until the worker adopts it ([`crate::XdpPort::adopt_queue`]): frames the
    /// guest sends on the queue meanwhile are dropped by the kernel, as before the bind.
    pub fn bind(self) -> Result<PreparedQueue, XdpPortError> {
        let ifindex = self.ifindex;
        let socket = self
            .umem
            .bind(ifindex, self.queue, &self.xsk)
            .map_err(|source| XdpPortError::BindSocket { ifindex, source })?;
        self.device.register(self.queue, socket.socket())?;
        Ok(PreparedQueue {
            device: self.device,
            socket,
            queue: self.queue,
        })
    }
}

/// A device queue's socket bound away from the worker, to be adopted by the port it
/// serves. Dropping it closes the socket (the kernel takes it out of the XSKMAP): do
/// that off the worker too, it waits for receivers in flight.
#[derive(Debug)]
pub struct PreparedQueue {
    pub(crate) device: Arc<XdpDevice>,
    pub(crate) socket: BoundSocket,
    pub(crate) queue: u32,
}

impl PreparedQueue {
    /// The device queue.
    pub fn queue(&self) -> u32 {
        self.queue
    }
}
