//! [`FrameSocket`]: an AF_XDP socket bound to a [`FramePool`], moving chunk ownership
//! between its four rings and [`UmemFrame`] handles (see the parent module's invariant).
//!
//! - receive: RX descriptors become frames; a multi-buffer chain is copied into one heap
//!   frame and its chunks go back to the pool;
//! - refill: free chunks go onto the fill ring, up to a target;
//! - transmit: chunk frames go onto the TX ring by address (no copy); heap frames are
//!   copied into a chunk, or into a descriptor chain when the socket is multi-buffer;
//!   what does not fit is dropped (its chunk returns to the pool) and counted;
//! - complete: completion-ring addresses go back onto the free stack;
//! - kick: `sendto` while the kernel holds unsent descriptors (copy mode sends at most
//!   32 per call).
//!
//! Closing a socket gives back the chunks on its fill ring (or taken from it and not
//! received: on the RX ring, in the kernel's cache): the socket tracks them in a bitmap,
//! and closing the descriptor unbinds the socket (`xsk_release`: `xsk_unbind_dev`, then
//! `synchronize_net`) before anyone can take them off the free stack again. Without it a
//! tap deleted and recreated (a VM restart) leaked a fill ring's worth of chunks each
//! time, and after a dozen restarts the pool ran dry and forwarding stopped
//! (tests/faults.rs). Chunks in flight on the TX ring stay with the kernel; they are
//! counted as stranded in the pool and not reused.
//!
//! Closing can wait (`synchronize_net`), so a socket can also be retired
//! ([`FrameSocket::retire`]) and closed on another thread: its fill chunks come back
//! ([`FramePool::reclaim`]) only once that close was the socket's last descriptor.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::{BoundSocket, FramePool, UmemFrame};
use crate::ring::XdpDesc;
use crate::umem::Umem;
use crate::xsk::{BindFlags, XskConfig, XskError, XskSocket};

/// Descriptors taken from the RX ring per call.
const RX_BATCH: usize = 64;
/// Addresses moved per fill or completion ring access.
const ADDR_BATCH: usize = 64;
/// Most descriptors one transmitted packet may span (the kernel's copy-mode TX builds
/// an skb with at most `MAX_SKB_FRAGS` = 17 fragments; stay below).
pub const MAX_TX_CHAIN: usize = 16;
/// Largest packet assembled from a receive chain; longer chains are dropped.
const MAX_RX_PACKET: usize = 2 * 65536;

/// What one transmit call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxReport {
    /// Packets queued on the TX ring.
    pub sent: usize,
    /// Bytes in those packets.
    pub bytes: usize,
    /// Packets dropped because the TX ring had no room.
    pub ring_full: usize,
    /// Packets dropped because they are larger than the socket can send (a chunk, or
    /// [`MAX_TX_CHAIN`] chunks with multi-buffer).
    pub too_big: usize,
    /// Packets dropped because no free chunk was left to copy them into.
    pub no_chunk: usize,
}

impl TxReport {
    /// All packets dropped, whatever the reason.
    pub fn dropped(&self) -> usize {
        self.ring_full + self.too_big + self.no_chunk
    }
}

/// Counters of one [`FrameSocket`] (the kernel's own are in [`XskSocket::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameSocketStats {
    /// Packets received (single-buffer and assembled multi-buffer).
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets assembled from a descriptor chain (copied into a heap frame).
    pub rx_multi_buffer: u64,
    /// Chains dropped (a bad descriptor, or longer than 128 KiB).
    pub rx_chains_dropped: u64,
    /// RX descriptors outside the UMEM or crossing a chunk (kernel bug; chunk lost).
    pub rx_bad_descs: u64,
    /// Packets queued for transmission.
    pub tx_packets: u64,
    /// Bytes queued for transmission.
    pub tx_bytes: u64,
    /// Frames copied into chunks to be sent (originated frames, heap frames).
    pub tx_copied: u64,
    /// Packets sent as descriptor chains.
    pub tx_multi_buffer: u64,
    /// Packets dropped: TX ring full.
    pub tx_ring_full: u64,
    /// Packets dropped: too large.
    pub tx_too_big: u64,
    /// Packets dropped: no free chunk.
    pub tx_no_chunk: u64,
    /// TX descriptors completed by the kernel.
    pub tx_completed: u64,
    /// `sendto` kicks.
    pub kicks: u64,
    /// Kicks that failed with a non-transient error (device gone?).
    pub kick_errors: u64,
    /// RX wakeups that failed with a non-transient error.
    pub wake_errors: u64,
    /// Refills that found the free stack empty.
    pub fill_starved: u64,
}

/// An AF_XDP socket whose chunks come from, and return to, a [`FramePool`].
#[derive(Debug)]
pub struct FrameSocket {
    sock: XskSocket,
    pool: FramePool,
    tx_size: u32,
    fill_size: u32,
    multi_buffer: bool,
    /// Chunks given to the fill ring and not yet back on RX.
    in_fill: u32,
    /// Descriptors given to the TX ring and not yet back on completion.
    in_flight: u32,
    /// One bit per chunk of the UMEM: given to the fill ring and not yet received.
    fill_owned: Vec<u64>,
    descs: Vec<XdpDesc>,
    staged: Vec<XdpDesc>,
    addrs: Vec<u64>,
    /// A multi-buffer packet being assembled, and whether it is already bad.
    partial: Option<Vec<u8>>,
    partial_bad: bool,
    stats: FrameSocketStats,
}

impl FrameSocket {
    /// Binds a socket on `ifindex`/`queue` to `pool`'s UMEM (the pool's first socket
    /// normally, later ones with `XDP_SHARED_UMEM`, which inherit the first one's flags).
    /// Nothing is on the fill ring yet: call [`Self::refill`].
    pub fn bind(
        pool: &FramePool,
        ifindex: u32,
        queue: u32,
        cfg: &XskConfig,
    ) -> Result<Self, XskError> {
        let sock = XskSocket::bind(pool.umem(), ifindex, queue, cfg)?;
        Ok(Self::wrap(pool, sock, cfg))
    }

    /// Adopts a socket bound on this pool's UMEM on another thread
    /// ([`crate::frame::SharedUmem::bind`]); gives it back if it was bound on another
    /// pool's UMEM. Nothing is on the fill ring yet: call [`Self::refill`].
    pub fn adopt(pool: &FramePool, bound: BoundSocket) -> Result<Self, Box<BoundSocket>> {
        if !bound.umem.is_of(pool) {
            return Err(Box::new(bound));
        }
        let BoundSocket { sock, cfg, .. } = bound;
        Ok(Self::wrap(pool, *sock, &cfg))
    }

    fn wrap(pool: &FramePool, sock: XskSocket, cfg: &XskConfig) -> Self {
        let flags = match (sock.is_shared(), pool.first_flags()) {
            (true, Some(first)) => first,
            _ => {
                pool.set_first_flags(cfg.flags);
                cfg.flags
            }
        };
        Self {
            sock,
            pool: pool.clone(),
            tx_size: cfg.tx_size,
            fill_size: cfg.fill_size,
            multi_buffer: flags.contains(BindFlags::SG),
            in_fill: 0,
            in_flight: 0,
            fill_owned: vec![0; (pool.config().frame_count as usize).div_ceil(64)],
            descs: vec![XdpDesc::default(); RX_BATCH],
            staged: Vec::with_capacity(cfg.tx_size as usize),
            addrs: Vec::with_capacity(ADDR_BATCH),
            partial: None,
            partial_bad: false,
            stats: FrameSocketStats::default(),
        }
    }

    /// Retires the socket so that it can be closed on another thread: its fill ring's
    /// chunks are no longer tracked here (dropping the socket gives none back); the
    /// returned handle gives them back once it closes the socket's last descriptor.
    /// Use the socket no more; drop it, then close the handle.
    pub fn retire(&mut self) -> RetiredSocket {
        self.complete();
        let size = u64::from(self.pool.frame_size());
        let mut addrs = Vec::new();
        for (w, word) in self.fill_owned.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                addrs.push(((w as u64) * 64 + u64::from(bits.trailing_zeros())) * size);
                bits &= bits - 1;
            }
        }
        self.in_fill = 0;
        RetiredSocket {
            fd: self.sock.shared_fd(),
            addrs,
            umem: Arc::clone(&self.pool.inner.umem),
        }
    }

    /// The socket (for the XSKMAP, statistics, `poll`).
    pub fn socket(&self) -> &XskSocket {
        &self.sock
    }

    /// The pool.
    pub fn pool(&self) -> &FramePool {
        &self.pool
    }

    /// Whether packets may span several descriptors (`XDP_USE_SG`).
    pub fn multi_buffer(&self) -> bool {
        self.multi_buffer
    }

    /// Chunks on the fill ring (or taken from it and not yet received).
    pub fn in_fill(&self) -> u32 {
        self.in_fill
    }

    /// TX descriptors not yet completed.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Free TX ring slots: how many frames [`Self::transmit`] could queue now.
    pub fn tx_room(&mut self) -> usize {
        self.free_tx_slots()
    }

    /// Counters.
    pub fn stats(&self) -> FrameSocketStats {
        self.stats
    }

    /// Tops the fill ring up to `target` chunks (at most its size) from the free
    /// stack, then wakes the kernel if it asked for it. Returns how many were added.
    pub fn refill(&mut self, target: u32) -> usize {
        let want = target.min(self.fill_size).saturating_sub(self.in_fill) as usize;
        let mut filled = 0;
        while filled < want {
            self.addrs.clear();
            self.pool
                .pop_free_addrs((want - filled).min(ADDR_BATCH), &mut self.addrs);
            if self.addrs.is_empty() {
                self.stats.fill_starved += 1;
                break;
            }
            let n = self.sock.fill(&self.addrs);
            for &addr in &self.addrs[..n] {
                mark_chunk(&mut self.fill_owned, self.pool.frame_size(), addr, true);
            }
            for &addr in &self.addrs[n..] {
                // SAFETY: popped off the free stack just above and not accepted by the
                // fill ring: still ours.
                unsafe { self.pool.release_addr(addr) };
            }
            filled += n;
            if n < self.addrs.len() {
                break;
            }
        }
        self.in_fill += filled as u32;
        if self.sock.fill_needs_wakeup() && self.sock.wake_rx().is_err() {
            self.stats.wake_errors += 1;
        }
        filled
    }

    /// Records that the chunk holding `addr` is (or no longer is) on the fill ring.
    fn mark_fill(&mut self, addr: u64, on: bool) {
        mark_chunk(&mut self.fill_owned, self.pool.frame_size(), addr, on);
    }

    /// Appends up to `max` received packets to `out`; returns how many.
    pub fn receive(&mut self, out: &mut Vec<UmemFrame>, max: usize) -> usize {
        let want = max.min(RX_BATCH);
        let n = self.sock.rx_burst(&mut self.descs[..want]);
        self.in_fill = self.in_fill.saturating_sub(n as u32);
        let mut got = 0;
        for i in 0..n {
            let d = self.descs[i];
            self.mark_fill(d.addr, false);
            // SAFETY: `d` was just taken off this socket's RX ring, and the socket is
            // bound to the pool's UMEM: the kernel gave the chunk back to us.
            let frame = unsafe { self.pool.frame_from_rx(d.addr, d.len) };
            if frame.is_none() {
                self.stats.rx_bad_descs += 1;
            }
            if self.partial.is_none() && !d.is_continued() {
                if let Some(f) = frame {
                    self.stats.rx_bytes += f.len() as u64;
                    self.stats.rx_packets += 1;
                    out.push(f);
                    got += 1;
                }
                continue;
            }
            // A fragment of a multi-buffer packet: copy it out, free the chunk.
            let pool = &self.pool;
            let buf = self.partial.get_or_insert_with(|| pool.heap_buf());
            match frame {
                Some(f) if buf.len() + f.len() <= MAX_RX_PACKET => buf.extend_from_slice(f.data()),
                _ => self.partial_bad = true,
            }
            if d.is_continued() {
                continue;
            }
            if let Some(buf) = self.partial.take() {
                let frame = self.pool.heap_frame_from(buf);
                if std::mem::take(&mut self.partial_bad) {
                    self.stats.rx_chains_dropped += 1;
                } else {
                    self.stats.rx_bytes += frame.len() as u64;
                    self.stats.rx_packets += 1;
                    self.stats.rx_multi_buffer += 1;
                    out.push(frame);
                    got += 1;
                }
            }
        }
        got
    }

    /// Queues `frames` (drained) on the TX ring. Chunk frames go by address; heap frames
    /// are copied. Frames that do not fit are dropped (chunks back to the pool) and
    /// counted. Call [`Self::kick`] afterwards.
    pub fn transmit(&mut self, frames: &mut Vec<UmemFrame>) -> TxReport {
        let mut r = TxReport::default();
        let mut slots = self.free_tx_slots();
        self.staged.clear();
        for frame in frames.drain(..) {
            if slots == 0 {
                r.ring_full += 1;
                continue; // dropped: the chunk returns to the pool
            }
            match frame.into_chunk() {
                Ok((addr, len)) => {
                    self.staged.push(XdpDesc {
                        addr,
                        len,
                        options: 0,
                    });
                    slots -= 1;
                }
                Err(heap) => self.stage_copy(heap.data(), &mut slots, &mut r),
            }
        }
        self.push_staged(&mut r);
        r
    }

    /// Queues a copy of `data` (a frame the router originates). False if it was
    /// dropped (no ring slot, no free chunk, too large).
    pub fn transmit_copy(&mut self, data: &[u8]) -> bool {
        let mut r = TxReport::default();
        let mut slots = self.free_tx_slots();
        self.staged.clear();
        self.stage_copy(data, &mut slots, &mut r);
        self.push_staged(&mut r);
        r.sent == 1
    }

    /// Returns completed TX chunks to the pool; returns how many.
    pub fn complete(&mut self) -> usize {
        let mut done = [0u64; ADDR_BATCH];
        let mut total = 0;
        loop {
            let m = self.sock.complete(&mut done);
            for &addr in &done[..m] {
                // SAFETY: taken off this socket's completion ring: the kernel is done
                // with the chunk and gave it back.
                unsafe { self.pool.release_addr(addr) };
            }
            total += m;
            if m < ADDR_BATCH {
                break;
            }
        }
        self.in_flight = self.in_flight.saturating_sub(total as u32);
        self.stats.tx_completed += total as u64;
        total
    }

    /// Kicks the kernel (`sendto`) while it holds unsent descriptors and says it needs
    /// a kick, at most `max_kicks` times or until a kick makes no progress, reaping
    /// completions in between. Returns the number of kicks.
    pub fn kick(&mut self, max_kicks: u32) -> u32 {
        let mut kicks = 0;
        let mut outstanding = self.sock.tx_outstanding();
        while kicks < max_kicks && outstanding > 0 && self.sock.tx_needs_kick() {
            kicks += 1;
            if self.sock.kick_tx().is_err() {
                self.stats.kick_errors += 1;
                break;
            }
            self.complete();
            let now = self.sock.tx_outstanding();
            if now >= outstanding {
                break;
            }
            outstanding = now;
        }
        self.stats.kicks += u64::from(kicks);
        kicks
    }

    fn free_tx_slots(&mut self) -> usize {
        self.tx_size.saturating_sub(self.sock.tx_outstanding()) as usize
    }

    /// Copies `data` into one chunk, or a chain of chunks on a multi-buffer socket, and
    /// stages the descriptors.
    fn stage_copy(&mut self, data: &[u8], slots: &mut usize, r: &mut TxReport) {
        let size = self.pool.max_frame_len();
        let pieces = data.len().div_ceil(size).max(1);
        if pieces > 1 && (!self.multi_buffer || pieces > MAX_TX_CHAIN) {
            r.too_big += 1;
            return;
        }
        if pieces > *slots {
            r.ring_full += 1;
            return;
        }
        let first = self.staged.len();
        let mut rest = data;
        for i in 0..pieces {
            let (piece, tail) = rest.split_at(rest.len().min(size));
            rest = tail;
            let Some(Ok((addr, len))) = self.pool.alloc(piece).map(UmemFrame::into_chunk) else {
                for d in self.staged.drain(first..) {
                    // SAFETY: staged just above from chunks off the free stack, not
                    // given to the kernel yet.
                    unsafe { self.pool.release_addr(d.addr) };
                }
                r.no_chunk += 1;
                return;
            };
            let options = if i + 1 < pieces {
                libc::XDP_PKT_CONTD
            } else {
                0
            };
            self.staged.push(XdpDesc { addr, len, options });
        }
        *slots -= pieces;
        self.stats.tx_copied += 1;
        if pieces > 1 {
            self.stats.tx_multi_buffer += 1;
        }
    }

    /// Puts the staged descriptors on the TX ring and accounts for the result.
    fn push_staged(&mut self, r: &mut TxReport) {
        let queued = self.sock.tx_burst(&self.staged);
        for d in &self.staged[..queued] {
            r.bytes += d.len as usize;
            r.sent += usize::from(!d.is_continued());
        }
        for d in &self.staged[queued..] {
            r.ring_full += usize::from(!d.is_continued());
            // SAFETY: staged chunks stay ours until the kernel accepts them; these
            // were not accepted.
            unsafe { self.pool.release_addr(d.addr) };
        }
        self.staged.clear();
        self.in_flight += queued as u32;
        let s = &mut self.stats;
        s.tx_packets += r.sent as u64;
        s.tx_bytes += r.bytes as u64;
        s.tx_ring_full += r.ring_full as u64;
        s.tx_too_big += r.too_big as u64;
        s.tx_no_chunk += r.no_chunk as u64;
    }
}

impl Drop for FrameSocket {
    fn drop(&mut self) {
        self.complete();
        // Every chunk given to the fill ring and not received is back in the pool. The
        // kernel may write one only while the socket is bound, and `self.sock` (dropped
        // right after this body, before anything can pop the free stack again: one
        // thread owns the pool) closes the descriptor, which unbinds the socket and waits
        // for receivers in flight (`xsk_release`).
        let size = u64::from(self.pool.frame_size());
        for (w, word) in self.fill_owned.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let index = (w as u64) * 64 + u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                // SAFETY: the chunk was given to this socket's fill ring and never came
                // back on its RX ring; see above for why no one touches it until the
                // socket is closed.
                unsafe { self.pool.release_addr(index * size) };
            }
        }
        self.pool.strand(u64::from(self.in_flight));
    }
}

/// Sets or clears the bit of the chunk holding `addr` in `bits` (chunks of `size` bytes).
fn mark_chunk(bits: &mut [u64], size: u32, addr: u64, on: bool) {
    let index = addr / u64::from(size.max(1));
    let Some(word) = bits.get_mut((index / 64) as usize) else {
        return;
    };
    let bit = 1u64 << (index % 64);
    if on {
        *word |= bit;
    } else {
        *word &= !bit;
    }
}

/// A retired socket's descriptor and the chunks its fill ring held (see
/// [`FrameSocket::retire`]). May cross threads: closing it can wait for the kernel.
#[derive(Debug)]
pub struct RetiredSocket {
    fd: Arc<OwnedFd>,
    addrs: Vec<u64>,
    umem: Arc<Umem>,
}

impl RetiredSocket {
    /// Closes the socket if this handle holds its last descriptor (the socket it came
    /// from was dropped), which unbinds it and waits for receivers in flight; then its
    /// fill chunks may go back to the pool. Gives the handle back while the descriptor
    /// is still held elsewhere (the socket not dropped yet, or a bind on another thread
    /// sharing the UMEM through it at this moment: its chunks are then not reused).
    pub fn close(self) -> Result<Reclaim, RetiredSocket> {
        match Arc::try_unwrap(self.fd) {
            Ok(fd) => {
                drop(fd);
                Ok(Reclaim {
                    addrs: self.addrs,
                    umem: self.umem,
                })
            }
            Err(fd) => Err(RetiredSocket { fd, ..self }),
        }
    }

    /// Chunks its fill ring held.
    pub fn chunks(&self) -> usize {
        self.addrs.len()
    }
}

/// Chunks of a closed socket's fill ring, for [`FramePool::reclaim`] on the pool's
/// thread.
#[derive(Debug)]
pub struct Reclaim {
    pub(super) addrs: Vec<u64>,
    pub(super) umem: Arc<Umem>,
}
