//! AF_XDP ports: the [`Port`] trait over real devices (the VLAN uplink and guests'
//! taps or veths), all sharing one UMEM per worker so that forwarding hands over frame
//! addresses and copies nothing.
//!
//! Ownership of UMEM chunks is enforced in `sys` (`sys::frame`): a chunk is on the
//! pool's free stack, with the kernel (fill/TX rings), or in exactly one live
//! [`UmemFrame`]. This module only decides *when* to move chunks:
//! - `rx_burst` takes packets off the RX ring, then tops the fill ring up to the port's
//!   quota ([`crate::fill`]: a floor always, more while the port is busy and the pool's
//!   growth budget allows) from the shared free stack (and wakes the kernel if it asks,
//!   `XDP_USE_NEED_WAKEUP`); [`XdpPort::fill_tick`] shrinks the quota when the port goes
//!   quiet and reports a port that cannot get its floor;
//! - `tx_burst` queues frames on the TX ring by address; what does not fit is dropped,
//!   its chunk returned, and reported in [`TxResult::dropped`];
//! - `tx_copy` copies an originated frame into a free chunk and queues it;
//! - `recycle` drops the frame, which returns its chunk to the free stack;
//! - `flush` kicks the kernel (`sendto`; copy mode sends at most 32 frames per kick, so
//!   it kicks until the ring is empty, no progress is made, or
//!   [`XdpPortConfig::max_kicks`]) and reaps the completion ring into the free stack.
//!
//! Multi-buffer (`XDP_USE_SG`, on by default): a packet spanning several descriptors
//! (a tap guest's GSO frame, up to 64 KB) reaches the pipeline as one heap frame (a copy;
//! its chunks go back at once). Sending a heap frame copies it into one chunk, or into a
//! descriptor chain of at most `sys::frame::MAX_TX_CHAIN` chunks. No segmentation is done
//! here: frames above the egress MTU must be segmented before they are sent.
//!
//! A port is one queue's AF_XDP socket (plus receive-only sockets on a multi-queue
//! tap's other queues) in front of an [`XdpDevice`]: the device's steering program, its
//! maps and BPF link, shared (`Arc`) by every port bound on that device. The uplink
//! program only steers ARP and IPv4 addressed to the IPs in its exact-address map or
//! inside a prefix of its prefix trie, so the map must hold every guest IP hosted here
//! *and* the network's `arp_source` (the target of the ARP replies to the router's own
//! requests; `0.0.0.0` when requests are sent in probe form), and the trie every routed
//! prefix of a guest hosted here (any length). Keep them in sync with
//! [`XdpDevice::insert_guest_ip`] / [`XdpDevice::remove_guest_ip`] and
//! [`XdpDevice::insert_guest_prefix`] / [`XdpDevice::remove_guest_prefix`] (also
//! reachable through the port).
//!
//! Two ways to open: [`XdpPort::open`] loads, binds and attaches in one call; or a
//! control thread loads (and attaches) the [`XdpDevice`] and the thread that owns the
//! frame pool binds sockets on it with [`XdpPort::bind`].

use std::io;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use hvrouter_core::Instant;
pub use sys::{AttachMode, FramePool, SharedUmem, Steering, UmemConfig, UmemFrame};
use sys::{FrameSocket, FrameSocketStats, XskConfig, XskError, XskStats};

use crate::fill::{FillBounds, FillEvent, FillPolicy, TickInput};
use crate::gso_sender::{GsoSender, GsoStatus};
use crate::port::{Frame, Port, TxResult};
use crate::rx_drops::{RxDropAccount, RxDrops};
use crate::xdp_device::XdpDevice;
pub use crate::xdp_error::XdpPortError;
pub use crate::xdp_handoff::{PreparedPort, PreparedQueue, QueueBind, RetiredPort};
use crate::xdp_queue::{self, ExtraQueue};
pub use crate::xdp_spec::{PortSpec, XdpPortConfig};

impl Frame for UmemFrame {
    fn data(&self) -> &[u8] {
        UmemFrame::data(self)
    }
    fn data_mut(&mut self) -> &mut [u8] {
        UmemFrame::data_mut(self)
    }
}

/// An AF_XDP port: one queue's socket in front of its device's [`XdpDevice`].
#[derive(Debug)]
pub struct XdpPort {
    // Declared first, dropped first: if this is the device's last port, the program
    // detaches before the socket closes.
    device: Arc<XdpDevice>,
    socket: FrameSocket,
    ifindex: u32,
    fill: FillPolicy,
    /// Chunks of this port's fill ring counted in the pool's `lent` figure.
    lent: u32,
    /// The kernel's receive drops by cause: last read, and those not yet taken.
    rx_drops: RxDropAccount,
    max_kicks: u32,
    /// The queue of `socket` (the one the port transmits on).
    queue: u32,
    /// Receive-only sockets on the device's other queues (a multi-queue tap).
    extra: Vec<ExtraQueue>,
    /// How extra queues are bound and filled.
    xsk: XskConfig,
    fill_bounds: FillBounds,
    /// GSO sends (an AF_PACKET socket with virtio-net headers), or why not.
    gso: GsoSender,
}

/// A port's fill ring and quota, for `show ports` and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FillStatus {
    /// Chunks on the fill ring now.
    pub in_fill: u32,
    /// Chunks the quota asks for now.
    pub target: u32,
    /// Chunks always kept.
    pub floor: u32,
    /// Most chunks ever kept.
    pub max: u32,
    /// The port could not get its floor from the pool.
    pub starved: bool,
    /// Times growth was held back by the pool's budget or reserve.
    pub held_back: u64,
}

impl XdpPort {
    /// Opens the ports of one worker on a new UMEM shaped by `umem`: the first spec's
    /// socket registers the UMEM, the others share it. Ports come back in `specs`
    /// order. If one fails, those already opened are closed (and detached).
    pub fn open_set(
        umem: UmemConfig,
        specs: &[PortSpec],
        cfg: &XdpPortConfig,
    ) -> Result<(FramePool, Vec<XdpPort>), XdpPortError> {
        let need = u64::from(cfg.fill.floor) * specs.len() as u64;
        if need >= u64::from(umem.frame_count) {
            return Err(XdpPortError::InvalidConfig(
                "fill rings would hold every chunk: raise frame_count or lower the fill floor",
            ));
        }
        let pool = FramePool::with_config(umem).map_err(XdpPortError::CreatePool)?;
        let ports = specs
            .iter()
            .map(|spec| XdpPort::open(&pool, spec, cfg))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((pool, ports))
    }

    /// Opens one port on `pool` (the pool's first socket registers the UMEM; later
    /// ones share it): loads the device's steering program ([`XdpDevice::load`]: steers
    /// `spec.steered_ips` and `spec.steered_prefixes`), binds and fills the socket, puts
    /// it in the XSKMAP, and attaches.
    pub fn open(
        pool: &FramePool,
        spec: &PortSpec,
        cfg: &XdpPortConfig,
    ) -> Result<XdpPort, XdpPortError> {
        check_fill(cfg)?;
        let device = Arc::new(XdpDevice::load(spec, cfg)?);
        let port = XdpPort::bind(pool, device, cfg)?;
        // Attach last: from here on frames flow, and the socket is ready for them.
        port.device.attach()?;
        Ok(port)
    }

    /// Binds a socket on `device`'s queue `cfg.queue`, sharing `pool`'s UMEM (the pool's
    /// first socket registers it), fills it and puts it in the device's XSKMAP. The
    /// device may be attached already (frames for the queue are dropped until now) or
    /// not (attach it once its queues are bound). Runs where the pool lives: the pool
    /// is the worker's, and not `Send`.
    pub fn bind(
        pool: &FramePool,
        device: Arc<XdpDevice>,
        cfg: &XdpPortConfig,
    ) -> Result<XdpPort, XdpPortError> {
        check_fill(cfg)?;
        let ifindex = device.ifindex();
        let mut socket = FrameSocket::bind(pool, ifindex, cfg.queue, &cfg.xsk)
            .map_err(|source| XdpPortError::BindSocket { ifindex, source })?;
        let mut fill = FillPolicy::new(cfg.fill);
        let to = fill.plan(0, pool.free_count(), pool.lent().get());
        socket.refill(to);
        let lent = fill.lent(socket.in_fill());
        pool.lent().set(pool.lent().get() + lent);
        // From here on `Drop` gives the lent chunks back, also on the error below.
        let port = XdpPort {
            device,
            socket,
            ifindex,
            fill,
            lent,
            rx_drops: RxDropAccount::default(),
            max_kicks: cfg.max_kicks,
            queue: cfg.queue,
            extra: Vec::new(),
            xsk: cfg.xsk,
            fill_bounds: cfg.fill,
            gso: GsoSender::open(cfg.gso, ifindex),
        };
        port.device.register(cfg.queue, port.socket.socket())?;
        Ok(port)
    }

    /// The slow part of opening a port, on any thread (see [`crate::xdp_handoff`]):
    /// loads the device's program ([`XdpDevice::load`]), binds the socket on `umem`
    /// (retrying EBUSY), puts it in the XSKMAP, attaches, and opens the GSO sender.
    pub fn prepare(
        umem: &SharedUmem,
        spec: &PortSpec,
        cfg: &XdpPortConfig,
    ) -> Result<PreparedPort, XdpPortError> {
        check_fill(cfg)?;
        let device = Arc::new(XdpDevice::load(spec, cfg)?);
        let ifindex = device.ifindex();
        let socket = umem
            .bind(ifindex, cfg.queue, &cfg.xsk)
            .map_err(|source| XdpPortError::BindSocket { ifindex, source })?;
        device.register(cfg.queue, socket.socket())?;
        device.attach()?;
        Ok(PreparedPort {
            device,
            socket,
            ifindex,
            cfg: cfg.clone(),
            gso: GsoSender::open(cfg.gso, ifindex),
        })
    }

    /// Adopts a prepared port on the thread that owns `pool`: fills its ring. Gives it
    /// back if it was bound on another pool's UMEM.
    pub fn finish(pool: &FramePool, prepared: PreparedPort) -> Result<XdpPort, Box<PreparedPort>> {
        let PreparedPort {
            device,
            socket,
            ifindex,
            cfg,
            gso,
        } = prepared;
        let mut socket = match FrameSocket::adopt(pool, socket) {
            Ok(s) => s,
            Err(socket) => {
                return Err(Box::new(PreparedPort {
                    device,
                    socket: *socket,
                    ifindex,
                    cfg,
                    gso,
                }))
            }
        };
        let mut fill = FillPolicy::new(cfg.fill);
        let to = fill.plan(0, pool.free_count(), pool.lent().get());
        socket.refill(to);
        let lent = fill.lent(socket.in_fill());
        pool.lent().set(pool.lent().get() + lent);
        Ok(XdpPort {
            device,
            socket,
            ifindex,
            fill,
            lent,
            rx_drops: RxDropAccount::default(),
            max_kicks: cfg.max_kicks,
            queue: cfg.queue,
            extra: Vec::new(),
            xsk: cfg.xsk,
            fill_bounds: cfg.fill,
            gso,
        })
    }

    /// Hands the port's kernel objects over for closing on another thread (see
    /// [`crate::xdp_handoff`]): drop the port next (cheap: its device and sockets stay
    /// open through the returned handle), then [`RetiredPort::close`] it.
    pub fn retire(&mut self) -> io::Result<RetiredPort> {
        let gso = match self.gso.socket_fd() {
            Some(fd) => Some(fd.try_clone_to_owned()?),
            None => None,
        };
        let mut sockets = vec![self.socket.retire()];
        sockets.extend(self.extra.iter_mut().map(ExtraQueue::retire));
        Ok(RetiredPort {
            device: Some(Arc::clone(&self.device)),
            gso,
            sockets,
        })
    }

    /// The device this port's sockets serve.
    pub fn device(&self) -> &Arc<XdpDevice> {
        &self.device
    }

    /// Serves device queue `queue` too (a multi-queue tap whose guest enabled another
    /// queue): binds a receive socket on it, sharing the UMEM, and puts it in the
    /// program's XSKMAP, all on this thread (the bind can wait on the kernel: a worker
    /// uses [`Self::queue_to_bind`] and [`Self::adopt_queue`] instead). Returns false if
    /// the queue is served already.
    pub fn add_queue(&mut self, queue: u32) -> Result<bool, XdpPortError> {
        if self.serves_queue(queue) {
            return Ok(false);
        }
        let ifindex = self.ifindex;
        let q = ExtraQueue::bind(
            self.socket.pool(),
            ifindex,
            queue,
            &self.xsk,
            self.fill_bounds,
        )
        .map_err(|source| XdpPortError::BindSocket { ifindex, source })?;
        self.device.register(queue, q.socket().socket())?;
        self.extra.push(q);
        Ok(true)
    }

    /// What to bind to serve device queue `queue` too, away from the worker
    /// ([`QueueBind::bind`], then [`Self::adopt_queue`]); `None` if it is served already.
    pub fn queue_to_bind(&self, queue: u32) -> Option<QueueBind> {
        if self.serves_queue(queue) {
            return None;
        }
        Some(QueueBind {
            device: Arc::clone(&self.device),
            umem: self.socket.pool().shared_umem(),
            ifindex: self.ifindex,
            queue,
            xsk: self.xsk,
        })
    }

    /// Serves the queue a [`QueueBind`] of this port bound: fills its ring (from the
    /// pool, on this thread) and receives from it. Gives it back, for closing away from
    /// the worker, if it is not this port's (the port was closed and opened again since:
    /// another device object), its queue is served already, or it was bound on another
    /// pool's UMEM.
    pub fn adopt_queue(&mut self, prepared: PreparedQueue) -> Result<(), Box<PreparedQueue>> {
        if !Arc::ptr_eq(&prepared.device, &self.device) || self.serves_queue(prepared.queue) {
            return Err(Box::new(prepared));
        }
        let PreparedQueue {
            device,
            socket,
            queue,
        } = prepared;
        match ExtraQueue::adopt(self.socket.pool(), queue, socket, self.fill_bounds) {
            Ok(q) => {
                self.extra.push(q);
                Ok(())
            }
            Err(socket) => Err(Box::new(PreparedQueue {
                device,
                socket: *socket,
                queue,
            })),
        }
    }

    fn serves_queue(&self, queue: u32) -> bool {
        queue == self.queue || self.extra.iter().any(|q| q.queue() == queue)
    }

    /// The device queues this port serves.
    pub fn queues(&self) -> Vec<u32> {
        std::iter::once(self.queue)
            .chain(self.extra.iter().map(ExtraQueue::queue))
            .collect()
    }

    /// The sockets of the extra queues, readable when frames wait (for `poll(2)`).
    pub fn extra_fds(&self) -> impl Iterator<Item = std::os::fd::BorrowedFd<'_>> + '_ {
        use std::os::fd::AsFd;
        self.extra.iter().map(|q| q.socket().socket().as_fd())
    }

    /// Whether its socket shares the UMEM through another socket (`XDP_SHARED_UMEM`);
    /// false if it registered it (the first socket, or one bound when no other socket
    /// of the UMEM was left bound).
    pub fn shares_umem(&self) -> bool {
        self.socket.socket().is_shared()
    }

    /// The device's interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Uplink or guest steering.
    pub fn steering(&self) -> Steering {
        self.device.steering()
    }

    /// Whether it sends TCP super-frames whole (GSO), and why not.
    pub fn gso_status(&self) -> &GsoStatus {
        self.gso.status()
    }

    /// The mode the program ended up in ([`AttachMode::Native`] or `Generic`).
    pub fn attach_mode(&self) -> AttachMode {
        self.device.attach_mode()
    }

    /// The shared pool.
    pub fn pool(&self) -> &FramePool {
        self.socket.pool()
    }

    /// This port's socket counters (drops by reason, multi-buffer copies, kicks).
    pub fn socket_stats(&self) -> FrameSocketStats {
        self.socket.stats()
    }

    /// Chunks this port has given to the kernel and not got back yet (fill ring and
    /// TX in flight). With the pool's free chunks and the frames the pipeline holds,
    /// they add up to the UMEM's frame count.
    pub fn chunks_in_kernel(&self) -> u32 {
        self.socket.in_fill()
            + self.socket.in_flight()
            + self.extra.iter().map(ExtraQueue::in_fill).sum::<u32>()
    }

    /// Housekeeping for the fill quota (every few ms, never per packet): shrinks it after
    /// a quiet window, grows it if the kernel dropped frames for want of fill entries,
    /// and says whether the port starves or recovered. With `read_kernel` it reads the
    /// kernel's counters of each of the port's sockets (`XDP_STATISTICS`: one system
    /// call each) and records their receive drops by cause ([`crate::rx_drops`]).
    pub fn fill_tick(&mut self, now: Instant, read_kernel: bool) -> FillEvent {
        let stats = self.socket.stats();
        let fill_drops = if read_kernel {
            read_rx_drops(&self.socket, &mut self.rx_drops)
        } else {
            None
        };
        let event = self.fill.tick(
            now,
            TickInput {
                in_fill: self.socket.in_fill(),
                refill_starved: stats.fill_starved,
                fill_drops,
                large_frames: stats.rx_multi_buffer > 0,
            },
        );
        // A starved port retries here too, not only when frames arrive.
        self.refill();
        let mut event = event;
        for q in &mut self.extra {
            if let (FillEvent::None, e @ FillEvent::Starved) = (event, q.tick(now, read_kernel)) {
                event = e;
            }
        }
        event
    }

    /// Frames the kernel dropped on this port's sockets before the router saw them, by
    /// cause (no fill entry, RX ring full, invalid descriptor), read by
    /// [`Self::fill_tick`] since the last call, for the router's drop counters.
    pub fn take_kernel_drops(&mut self) -> RxDrops {
        let mut d = self.rx_drops.take();
        for q in &mut self.extra {
            d.add(q.take_rx_drops());
        }
        d
    }

    /// The fill ring and its quota.
    pub fn fill_status(&self) -> FillStatus {
        FillStatus {
            in_fill: self.socket.in_fill()
                + self.extra.iter().map(ExtraQueue::in_fill).sum::<u32>(),
            target: self.fill.target() + self.extra.iter().map(ExtraQueue::target).sum::<u32>(),
            floor: self.fill.floor(),
            max: self.fill.bounds().max,
            starved: self.fill.starved(),
            held_back: self.fill.held_back(),
        }
    }

    /// Tops the fill ring up to what the quota allows now, and keeps the pool's `lent`
    /// figure in step.
    #[inline]
    fn refill(&mut self) {
        xdp_queue::refill(&mut self.socket, &mut self.fill, &mut self.lent);
    }

    /// The kernel's counters for the socket (`XDP_STATISTICS`).
    pub fn kernel_stats(&self) -> Result<XskStats, XskError> {
        self.socket.socket().stats()
    }

    /// Waits up to `timeout` for received frames (`poll`), for an idle worker.
    pub fn wait_rx(&self, timeout: Duration) -> io::Result<bool> {
        self.socket.socket().poll_rx(timeout)
    }
}

/// The device's steering methods ([`XdpDevice::insert_guest_ip`] and the others) are
/// reachable through the port.
impl Deref for XdpPort {
    type Target = XdpDevice;

    fn deref(&self) -> &XdpDevice {
        &self.device
    }
}

/// Reads `socket`'s kernel counters into `account`; gives the socket's total of drops
/// for want of fill entries, for its fill quota (`None` if the read failed).
pub(crate) fn read_rx_drops(socket: &FrameSocket, account: &mut RxDropAccount) -> Option<u64> {
    let k = socket.socket().stats().ok()?;
    account.record(RxDrops::from_stats(&k));
    Some(account.seen().no_fill)
}

/// The fill quota must fit the ring: 1 <= floor <= large_floor <= max <= fill ring.
fn check_fill(cfg: &XdpPortConfig) -> Result<(), XdpPortError> {
    let b = cfg.fill;
    if b.floor == 0 || b.floor > b.large_floor || b.large_floor > b.max {
        return Err(XdpPortError::InvalidConfig(
            "fill quota: 1 <= floor <= large_floor <= max required",
        ));
    }
    if b.max > cfg.xsk.fill_size {
        return Err(XdpPortError::InvalidConfig(
            "fill quota: max must not exceed the fill ring size",
        ));
    }
    Ok(())
}

impl std::os::fd::AsFd for XdpPort {
    /// The AF_XDP socket: readable when frames wait on the RX ring (for `poll(2)`).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.socket().as_fd()
    }
}

impl Port for XdpPort {
    type Frame = UmemFrame;

    fn rx_burst(&mut self, out: &mut Vec<UmemFrame>, max: usize) -> usize {
        let mut n = self.socket.receive(out, max);
        // An idle port whose ring is full has nothing to do here (hundreds of idle
        // guests are polled every pass).
        if n > 0 || self.socket.in_fill() < self.fill.target() {
            self.fill.on_rx(n, max);
            self.refill();
        }
        for q in &mut self.extra {
            if n >= max {
                break;
            }
            n += q.receive(out, max - n);
        }
        n
    }

    fn tx_burst(&mut self, frames: &mut Vec<UmemFrame>) -> TxResult {
        let r = self.socket.transmit(frames);
        TxResult {
            sent: r.sent,
            bytes: r.bytes,
            dropped: r.dropped(),
        }
    }

    fn tx_copy(&mut self, data: &[u8]) -> bool {
        self.socket.transmit_copy(data)
    }

    fn frame_from(&mut self, data: &[u8]) -> Option<UmemFrame> {
        let pool = self.socket.pool();
        // A chunk from the pool; a frame larger than a chunk (a super-frame) in a heap
        // buffer, as the GSO transmit takes it.
        if data.len() > pool.frame_size() as usize {
            return Some(pool.heap_frame(data));
        }
        pool.alloc(data)
    }

    fn tx_room(&mut self) -> usize {
        self.socket.tx_room()
    }

    fn recycle(&mut self, frame: UmemFrame) {
        // Dropping the handle returns its chunk (or heap buffer) to the pool.
        drop(frame);
    }

    fn takes_gso(&self) -> bool {
        self.gso.ready()
    }

    fn fast_path_ifindex(&self) -> Option<u32> {
        self.device.has_fast_path().then_some(self.ifindex)
    }

    fn tx_gso(&mut self, vnet: &[u8; 10], pieces: &[&[u8]]) -> bool {
        self.gso.send(vnet, pieces)
    }

    fn flush(&mut self) {
        if self.socket.in_flight() == 0 {
            return; // nothing queued or unreaped: skip the ring reads
        }
        self.socket.kick(self.max_kicks);
        self.socket.complete();
    }
}

impl Drop for XdpPort {
    fn drop(&mut self) {
        // The socket gives its fill ring's chunks back to the pool when it closes: they
        // are no longer lent.
        let lent = self.socket.pool().lent();
        lent.set(lent.get().saturating_sub(self.lent));
    }
}
