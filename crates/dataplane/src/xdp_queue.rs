//! The receive queues of a multi-queue device beyond its first.
//!
//! A KVM guest with several virtio-net queues (Ganeti's `virtio_net_queues`) has a tap
//! opened with `IFF_MULTI_QUEUE`: QEMU holds one file descriptor per queue, and a frame
//! the guest sends on queue `i` reaches XDP with `rx_queue_index = i`. AF_XDP delivers a
//! frame only to a socket bound to the queue it arrived on (`xsk_rcv` checks the queue),
//! and the steering program redirects by queue index, so every queue needs its own
//! socket in the program's XSKMAP; without one, the guest's frames on that queue never
//! reach the router. The guest enables its queues after boot (QEMU attaches them as the
//! driver asks), so queues are added to a live port ([`crate::xdp_port::XdpPort::add_queue`],
//! or bound off the worker and adopted: [`crate::xdp_port::XdpPort::adopt_queue`]).
//!
//! Each extra queue has its own fill ring and quota, shares the port's UMEM, and only
//! receives: the port transmits on its first queue (the tap hands every queue's frames
//! to QEMU, which reads all of them).

use hvrouter_core::Instant;
use sys::{BoundSocket, FramePool, FrameSocket, UmemFrame, XskConfig, XskError};

use crate::fill::{FillBounds, FillEvent, FillPolicy, TickInput};
use crate::rx_drops::{RxDropAccount, RxDrops};
use crate::xdp_port::read_rx_drops;

/// Tops `socket`'s fill ring up to what `fill` allows now, keeping the pool's `lent`
/// figure in step (`lent`: this ring's share of it).
#[inline]
pub(crate) fn refill(socket: &mut FrameSocket, fill: &mut FillPolicy, lent: &mut u32) {
    let pool = socket.pool();
    let others = pool.lent().get().saturating_sub(*lent);
    let to = fill.plan(socket.in_fill(), pool.free_count(), others);
    socket.refill(to);
    let now_lent = fill.lent(socket.in_fill());
    socket.pool().lent().set(others + now_lent);
    *lent = now_lent;
}

/// One extra receive queue: its socket and fill quota.
#[derive(Debug)]
pub(crate) struct ExtraQueue {
    queue: u32,
    socket: FrameSocket,
    fill: FillPolicy,
    lent: u32,
    rx_drops: RxDropAccount,
}

impl ExtraQueue {
    /// Binds a socket on `ifindex`/`queue` sharing `pool`'s UMEM, its fill ring filled.
    pub(crate) fn bind(
        pool: &FramePool,
        ifindex: u32,
        queue: u32,
        xsk: &XskConfig,
        bounds: FillBounds,
    ) -> Result<ExtraQueue, XskError> {
        let socket = FrameSocket::bind(pool, ifindex, queue, xsk)?;
        Ok(ExtraQueue::filled(queue, socket, bounds))
    }

    /// Adopts a socket bound on `pool`'s UMEM on another thread
    /// ([`crate::xdp_handoff::QueueBind::bind`]) and fills its ring; gives it back if it
    /// was bound on another pool's UMEM.
    pub(crate) fn adopt(
        pool: &FramePool,
        queue: u32,
        bound: BoundSocket,
        bounds: FillBounds,
    ) -> Result<ExtraQueue, Box<BoundSocket>> {
        let socket = FrameSocket::adopt(pool, bound)?;
        Ok(ExtraQueue::filled(queue, socket, bounds))
    }

    /// The queue around its bound `socket`, its fill ring topped up.
    fn filled(queue: u32, socket: FrameSocket, bounds: FillBounds) -> ExtraQueue {
        let mut q = ExtraQueue {
            queue,
            socket,
            fill: FillPolicy::new(bounds),
            lent: 0,
            rx_drops: RxDropAccount::default(),
        };
        q.refill();
        q
    }

    /// The device queue.
    pub(crate) fn queue(&self) -> u32 {
        self.queue
    }

    /// The socket (for the XSKMAP and `poll`).
    pub(crate) fn retire(&mut self) -> sys::RetiredSocket {
        self.socket.retire()
    }

    pub(crate) fn socket(&self) -> &FrameSocket {
        &self.socket
    }

    /// Takes up to `max` frames off the RX ring, then refills.
    #[inline]
    pub(crate) fn receive(&mut self, out: &mut Vec<UmemFrame>, max: usize) -> usize {
        let n = self.socket.receive(out, max);
        self.fill.on_rx(n, max);
        self.refill();
        n
    }

    #[inline]
    fn refill(&mut self) {
        refill(&mut self.socket, &mut self.fill, &mut self.lent);
    }

    /// Chunks on the fill ring.
    pub(crate) fn in_fill(&self) -> u32 {
        self.socket.in_fill()
    }

    /// The quota's target now.
    pub(crate) fn target(&self) -> u32 {
        self.fill.target()
    }

    /// The kernel's receive drops read since the last call.
    pub(crate) fn take_rx_drops(&mut self) -> RxDrops {
        self.rx_drops.take()
    }

    /// Quota housekeeping (see `XdpPort::fill_tick`; the kernel's counters are read
    /// when `read_kernel`).
    pub(crate) fn tick(&mut self, now: Instant, read_kernel: bool) -> FillEvent {
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
        self.refill();
        event
    }
}

impl Drop for ExtraQueue {
    fn drop(&mut self) {
        // The socket gives its fill ring's chunks back when it closes.
        let lent = self.socket.pool().lent();
        lent.set(lent.get().saturating_sub(self.lent));
    }
}
