//! Frames: safe handles over UMEM chunks, and the free-chunk pool one worker's sockets
//! share. Forwarding a frame from one device to another hands over its chunk address;
//! nothing is copied.
//!
//! # Ownership invariant
//!
//! Every chunk of a [`FramePool`]'s UMEM is owned by exactly one of:
//! 1. the pool's free stack;
//! 2. the kernel, from the moment its address is put on a fill or TX ring of a
//!    [`FrameSocket`] until it comes back on that socket's RX or completion ring;
//! 3. one live [`UmemFrame`] (or, between two lines of this module, a [`FrameSocket`]
//!    moving it between a ring and a handle).
//!
//! Only (3) gives access to the bytes, so the slices a frame hands out never alias each
//! other nor memory the kernel writes. The API upholds this without `unsafe` at the call
//! site: a [`UmemFrame`] is not `Clone`; it is created only from a chunk popped off the
//! free stack ([`FramePool::alloc`]) or, crate-privately and `unsafe`, from an RX
//! descriptor; giving it to the kernel consumes it; dropping it (the dataplane's
//! "recycle") pushes the chunk back onto the free stack. Chunk addresses enter the free
//! stack only from a consumed handle or from a completion ring (`unsafe`, crate-private).
//!
//! A frame whose packet spanned several descriptors (multi-buffer, `XDP_USE_SG`: a tap's
//! 64 KB GSO frames) is copied into a heap buffer by [`FrameSocket`]; its chunks go back
//! to the pool at once. Heap buffers are cached by the pool, so a steady stream of large
//! frames does not allocate either.
//!
//! One pool serves one worker thread: it is reference counted with `Rc`, and every frame
//! keeps it (and so the UMEM mapping) alive.

mod socket;

pub use socket::{FrameSocket, FrameSocketStats, Reclaim, RetiredSocket, TxReport, MAX_TX_CHAIN};

use crate::umem::{Umem, UmemConfig, UmemError};
use crate::xsk::BindFlags;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;

/// Heap buffers kept for reuse by multi-buffer frames.
const HEAP_CACHE: usize = 16;
/// Initial capacity of a heap buffer: the largest GSO frame plus an Ethernet header.
const HEAP_CAPACITY: usize = 65536 + 64;

/// The free-chunk pool over one UMEM, shared (`Rc`) by the sockets of one worker.
/// Cloning gives another handle to the same pool.
#[derive(Clone)]
pub struct FramePool {
    inner: Rc<PoolInner>,
}

struct PoolInner {
    /// Start of each chunk, derived once from `Umem::frame_mut` over the whole chunk,
    /// so each pointer may access exactly its chunk.
    chunks: Box<[NonNull<u8>]>,
    /// Indices of the chunks on the free stack (capacity = chunk count: pushes never
    /// allocate).
    free: RefCell<Vec<u32>>,
    heap_cache: RefCell<Vec<Vec<u8>>>,
    /// Chunks that could not be returned (free stack borrowed during a drop: a bug).
    lost: Cell<u64>,
    /// Chunks left in the rings of sockets that were closed (see [`FrameSocket`]).
    stranded: Cell<u64>,
    /// Bind flags of the first socket; shared sockets inherit them.
    first_flags: Cell<Option<BindFlags>>,
    /// See [`FramePool::lent`].
    lent: Cell<u32>,
    frame_size: u32,
    rx_offset: u32,
    // Last: the mapping outlives nothing that points into it (all of the above are
    // plain values or raw pointers that are never used after drop). Shared with
    // [`SharedUmem`] handles, which bind sockets on other threads and never touch the
    // area.
    umem: Arc<Umem>,
}

/// A handle to a pool's UMEM that may cross threads: sockets can be bound on it (the
/// slow part, with its EBUSY retry) away from the thread that owns the pool, then
/// adopted by it ([`FrameSocket::adopt`]).
#[derive(Clone, Debug)]
pub struct SharedUmem(pub(crate) Arc<Umem>);

impl SharedUmem {
    /// Binds a socket on `ifindex`/`queue` to this UMEM (see [`crate::XskSocket::bind`]).
    pub fn bind(
        &self,
        ifindex: u32,
        queue: u32,
        cfg: &crate::XskConfig,
    ) -> Result<BoundSocket, crate::XskError> {
        let sock = crate::XskSocket::bind(&self.0, ifindex, queue, cfg)?;
        Ok(BoundSocket {
            sock: Box::new(sock),
            umem: self.clone(),
            cfg: *cfg,
        })
    }

    /// Whether this is the UMEM of `pool`.
    pub fn is_of(&self, pool: &FramePool) -> bool {
        Arc::ptr_eq(&self.0, &pool.inner.umem)
    }

    /// Whether both handles name the same UMEM.
    pub fn same(&self, other: &SharedUmem) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A socket bound on a [`SharedUmem`], not yet adopted by the pool's thread (its fill
/// ring is empty: no frame can arrive into it).
#[derive(Debug)]
pub struct BoundSocket {
    pub(crate) sock: Box<crate::XskSocket>,
    pub(crate) umem: SharedUmem,
    pub(crate) cfg: crate::XskConfig,
}

impl BoundSocket {
    /// The socket (for the XSKMAP).
    pub fn socket(&self) -> &crate::XskSocket {
        &self.sock
    }

    /// The UMEM it is bound on.
    pub fn umem(&self) -> &SharedUmem {
        &self.umem
    }
}

/// Counters of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Chunks in the UMEM.
    pub frame_count: u32,
    /// Chunks on the free stack now.
    pub free: usize,
    /// Chunks stranded in the rings of closed sockets (not reusable until the pool is
    /// dropped).
    pub stranded: u64,
    /// Chunks lost to a re-entrant drop (always 0 unless there is a bug).
    pub lost: u64,
    /// Heap buffers cached for multi-buffer frames.
    pub heap_cached: usize,
}

impl fmt::Debug for FramePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramePool")
            .field("config", &self.inner.umem.config())
            .field("stats", &self.stats())
            .finish()
    }
}

impl FramePool {
    /// A pool over a new UMEM of `frame_count` chunks of `frame_size` (2048 or 4096)
    /// bytes; every chunk starts on the free stack.
    pub fn new(frame_count: u32, frame_size: u32) -> Result<Self, UmemError> {
        Self::with_config(UmemConfig {
            frame_count,
            frame_size,
            headroom: 0,
        })
    }

    /// A pool over a new UMEM with an explicit configuration.
    pub fn with_config(config: UmemConfig) -> Result<Self, UmemError> {
        let mut umem = Umem::with_config(config)?;
        let mut chunks = Vec::with_capacity(config.frame_count as usize);
        for i in 0..config.frame_count {
            let addr = umem.frame_addr(i);
            let chunk = umem
                .frame_mut(addr, config.frame_size)
                .ok_or(UmemError::InvalidConfig("chunk outside the UMEM area"))?;
            chunks.push(NonNull::from(chunk).cast::<u8>());
        }
        // Pop order: chunk 0 first (only cosmetic).
        let free = (0..config.frame_count).rev().collect();
        Ok(Self {
            inner: Rc::new(PoolInner {
                chunks: chunks.into_boxed_slice(),
                free: RefCell::new(free),
                heap_cache: RefCell::new(Vec::with_capacity(HEAP_CACHE)),
                lost: Cell::new(0),
                stranded: Cell::new(0),
                first_flags: Cell::new(None),
                lent: Cell::new(0),
                frame_size: config.frame_size,
                rx_offset: umem.rx_data_offset(),
                umem: Arc::new(umem),
            }),
        })
    }

    /// The UMEM's configuration.
    pub fn config(&self) -> UmemConfig {
        self.inner.umem.config()
    }

    /// Chunk size in bytes.
    pub fn frame_size(&self) -> u32 {
        self.inner.frame_size
    }

    /// Where received data starts inside a chunk (headroom + `XDP_PACKET_HEADROOM`).
    pub fn rx_offset(&self) -> u32 {
        self.inner.rx_offset
    }

    /// Largest frame [`Self::alloc`] accepts (a whole chunk).
    pub fn max_frame_len(&self) -> usize {
        self.inner.frame_size as usize
    }

    /// Counters.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            frame_count: self.inner.umem.frame_count(),
            free: self.inner.free.try_borrow().map_or(0, |f| f.len()),
            stranded: self.inner.stranded.get(),
            lost: self.inner.lost.get(),
            heap_cached: self.inner.heap_cache.try_borrow().map_or(0, |c| c.len()),
        }
    }

    /// Chunks on the free stack now (cheap: for refill decisions on the packet path).
    pub fn free_count(&self) -> u32 {
        self.inner
            .free
            .try_borrow()
            .map_or(0, |f| u32::try_from(f.len()).unwrap_or(u32::MAX))
    }

    /// Chunks the pool's sockets hold on their fill rings above their guaranteed quotas,
    /// all sockets together. The dataplane's fill policy keeps this figure here so that
    /// every port of the pool sees the same one; the pool itself never reads it.
    pub fn lent(&self) -> &Cell<u32> {
        &self.inner.lent
    }

    /// A frame holding a copy of `data`, in a chunk taken from the free stack. `None`
    /// if the stack is empty or `data` is longer than a chunk. The data starts at
    /// [`Self::rx_offset`] when it fits there, as received frames do.
    pub fn alloc(&self, data: &[u8]) -> Option<UmemFrame> {
        let size = self.inner.frame_size as usize;
        if data.len() > size {
            return None;
        }
        let index = self.pop_free()?;
        let rx = self.inner.rx_offset as usize;
        let offset = if data.len() <= size - rx { rx } else { 0 };
        let mut frame = self.chunk_frame(index, offset as u32, data.len() as u32);
        frame.data_mut().copy_from_slice(data);
        Some(frame)
    }

    /// A frame in a heap buffer holding a copy of `data` (any length). Used for
    /// packets that do not fit one chunk.
    pub fn heap_frame(&self, data: &[u8]) -> UmemFrame {
        let mut buf = self.heap_buf();
        buf.extend_from_slice(data);
        self.heap_frame_from(buf)
    }

    // ---- crate-private: the transfers FrameSocket makes between rings and handles ----

    /// The UMEM, to bind sockets to. Never exposed: `Umem::frame` would alias frames.
    pub(crate) fn umem(&self) -> &Umem {
        &self.inner.umem
    }

    /// A handle to the UMEM for binding sockets on another thread.
    pub fn shared_umem(&self) -> SharedUmem {
        SharedUmem(Arc::clone(&self.inner.umem))
    }

    /// Gives back the chunks of a retired socket's fill ring once the socket is closed
    /// (see [`crate::frame::RetiredSocket`]). Chunks of another pool are ignored.
    pub fn reclaim(&self, chunks: Reclaim) {
        if !Arc::ptr_eq(&chunks.umem, &self.inner.umem) {
            return;
        }
        for addr in chunks.addrs {
            // SAFETY: `Reclaim` exists only once the socket whose fill ring held these
            // chunks is closed (its last descriptor: unbound, receivers in flight
            // waited for by `xsk_release`): the kernel writes none of them any more,
            // and nothing else owns them (they were taken off the fill bitmap).
            unsafe { self.release_addr(addr) };
        }
    }

    /// Address of chunk `index` at `offset`.
    pub(crate) fn addr(&self, index: u32, offset: u32) -> u64 {
        u64::from(index) * u64::from(self.inner.frame_size) + u64::from(offset)
    }

    /// Splits an address into (chunk index, offset) if it lies in the UMEM.
    fn locate(&self, addr: u64) -> Option<(u32, u32)> {
        let size = u64::from(self.inner.frame_size);
        let index = u32::try_from(addr / size).ok()?;
        ((index as usize) < self.inner.chunks.len()).then_some((index, (addr % size) as u32))
    }

    /// Takes a chunk off the free stack; the caller now owns it.
    pub(crate) fn pop_free(&self) -> Option<u32> {
        self.inner.free.try_borrow_mut().ok()?.pop()
    }

    /// Moves up to `n` chunks from the free stack to `out` (as chunk start addresses,
    /// what the fill ring takes); the caller now owns them.
    pub(crate) fn pop_free_addrs(&self, n: usize, out: &mut Vec<u64>) {
        let Ok(mut free) = self.inner.free.try_borrow_mut() else {
            return;
        };
        let take = n.min(free.len());
        let from = free.len() - take;
        out.extend(free.drain(from..).map(|i| self.addr(i, 0)));
    }

    /// Pushes the chunk holding `addr` back onto the free stack.
    ///
    /// # Safety
    /// The caller owns the chunk (it came back on a completion or RX ring, or was taken
    /// off the free stack or out of a consumed handle and not given to the kernel), and
    /// gives up that ownership.
    pub(crate) unsafe fn release_addr(&self, addr: u64) {
        match self.locate(addr) {
            Some((index, _)) => self.push_free(index),
            None => self.inner.lost.set(self.inner.lost.get() + 1),
        }
    }

    fn push_free(&self, index: u32) {
        match self.inner.free.try_borrow_mut() {
            Ok(mut free) => free.push(index),
            Err(_) => self.inner.lost.set(self.inner.lost.get() + 1),
        }
    }

    /// A frame over `len` bytes at `addr`, a descriptor that came back from the kernel.
    /// `None` (chunk not reclaimed) if the descriptor leaves the UMEM or crosses a chunk.
    ///
    /// # Safety
    /// The descriptor was taken off the RX ring of a socket bound to this pool's UMEM,
    /// so the kernel gave the chunk back and nothing else owns it.
    pub(crate) unsafe fn frame_from_rx(&self, addr: u64, len: u32) -> Option<UmemFrame> {
        let (index, offset) = self.locate(addr)?;
        let end = offset.checked_add(len)?;
        (end <= self.inner.frame_size).then(|| self.chunk_frame(index, offset, len))
    }

    /// Records that `n` chunks stay in the rings of a closed socket.
    pub(crate) fn strand(&self, n: u64) {
        self.inner.stranded.set(self.inner.stranded.get() + n);
    }

    pub(crate) fn first_flags(&self) -> Option<BindFlags> {
        self.inner.first_flags.get()
    }

    pub(crate) fn set_first_flags(&self, flags: BindFlags) {
        self.inner.first_flags.set(Some(flags));
    }

    /// An empty heap buffer, cached or new.
    pub(crate) fn heap_buf(&self) -> Vec<u8> {
        let cached = self
            .inner
            .heap_cache
            .try_borrow_mut()
            .ok()
            .and_then(|mut c| c.pop());
        cached.unwrap_or_else(|| Vec::with_capacity(HEAP_CAPACITY))
    }

    pub(crate) fn heap_frame_from(&self, buf: Vec<u8>) -> UmemFrame {
        UmemFrame {
            pool: Rc::clone(&self.inner),
            buf: Buf::Heap(buf),
        }
    }

    /// Wraps an owned chunk in a handle. Callers own chunk `index` (popped from the free
    /// stack or returned by the kernel) and checked `offset + len <= frame_size`.
    fn chunk_frame(&self, index: u32, offset: u32, len: u32) -> UmemFrame {
        let start = self.inner.chunks[index as usize];
        // SAFETY: offset <= frame_size (checked by every caller), so the result is inside
        // the chunk or one past its end, within the mapping that `start` points into.
        let ptr = unsafe { start.add(offset as usize) };
        UmemFrame {
            pool: Rc::clone(&self.inner),
            buf: Buf::Chunk {
                ptr,
                index,
                offset,
                len,
            },
        }
    }
}

/// A frame the dataplane holds: bytes in a UMEM chunk it exclusively owns, or (for
/// multi-buffer packets) in a heap buffer. Not `Clone`. Dropping it returns the chunk
/// (or buffer) to its pool.
pub struct UmemFrame {
    pool: Rc<PoolInner>,
    buf: Buf,
}

enum Buf {
    Chunk {
        /// Start of the frame's bytes: chunk start + offset.
        ptr: NonNull<u8>,
        index: u32,
        offset: u32,
        len: u32,
    },
    Heap(Vec<u8>),
    /// Ownership moved out (to a ring); only seen inside this module.
    Moved,
}

impl fmt::Debug for UmemFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.buf {
            Buf::Chunk {
                index, offset, len, ..
            } => f
                .debug_struct("UmemFrame")
                .field("chunk", index)
                .field("offset", offset)
                .field("len", len)
                .finish(),
            Buf::Heap(v) => f.debug_struct("UmemFrame").field("heap", &v.len()).finish(),
            Buf::Moved => f.write_str("UmemFrame(moved)"),
        }
    }
}

impl UmemFrame {
    /// The frame's bytes, Ethernet header first.
    pub fn data(&self) -> &[u8] {
        match &self.buf {
            Buf::Chunk { ptr, len, .. } => {
                // SAFETY: this handle owns the chunk (module invariant): no other
                // reference to these bytes exists and the kernel does not write them;
                // `offset + len <= frame_size` was checked at creation, so the range is
                // inside the chunk `ptr` may access; `self.pool` keeps the mapping alive
                // for as long as the returned borrow of `self`.
                unsafe { std::slice::from_raw_parts(ptr.as_ptr(), *len as usize) }
            }
            Buf::Heap(v) => v,
            Buf::Moved => &[],
        }
    }

    /// The frame's bytes, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        match &mut self.buf {
            Buf::Chunk { ptr, len, .. } => {
                // SAFETY: as in `data`; `&mut self` makes this the only live borrow of
                // the handle, hence of the bytes.
                unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), *len as usize) }
            }
            Buf::Heap(v) => v,
            Buf::Moved => &mut [],
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match &self.buf {
            Buf::Chunk { len, .. } => *len as usize,
            Buf::Heap(v) => v.len(),
            Buf::Moved => 0,
        }
    }

    /// Whether the frame has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the bytes live in a heap buffer (a multi-buffer packet) rather than a
    /// UMEM chunk.
    pub fn is_heap(&self) -> bool {
        matches!(self.buf, Buf::Heap(_))
    }

    /// The UMEM address of the first byte, for a chunk-backed frame.
    pub fn umem_addr(&self) -> Option<u64> {
        match self.buf {
            Buf::Chunk { index, offset, .. } => {
                Some(u64::from(index) * u64::from(self.pool.frame_size) + u64::from(offset))
            }
            _ => None,
        }
    }

    /// Shortens the frame to `len` bytes (no effect if it is not longer).
    pub fn truncate(&mut self, len: usize) {
        match &mut self.buf {
            Buf::Chunk { len: l, .. } => *l = (*l).min(u32::try_from(len).unwrap_or(u32::MAX)),
            Buf::Heap(v) => v.truncate(len),
            Buf::Moved => {}
        }
    }

    /// Gives up the chunk: returns (address, length) for a TX descriptor; the caller
    /// owns the chunk now and must put it on a TX ring or release it. Heap frames are
    /// returned unchanged.
    pub(crate) fn into_chunk(mut self) -> Result<(u64, u32), UmemFrame> {
        match std::mem::replace(&mut self.buf, Buf::Moved) {
            Buf::Chunk {
                index, offset, len, ..
            } => Ok((
                u64::from(index) * u64::from(self.pool.frame_size) + u64::from(offset),
                len,
            )),
            other => {
                self.buf = other;
                Err(self)
            }
        }
    }
}

impl Drop for UmemFrame {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.buf, Buf::Moved) {
            Buf::Chunk { index, .. } => match self.pool.free.try_borrow_mut() {
                Ok(mut free) => free.push(index),
                Err(_) => self.pool.lost.set(self.pool.lost.get() + 1),
            },
            Buf::Heap(mut v) => {
                if let Ok(mut cache) = self.pool.heap_cache.try_borrow_mut() {
                    if cache.len() < HEAP_CACHE && v.capacity() <= 2 * HEAP_CAPACITY {
                        v.clear();
                        cache.push(v);
                    }
                }
            }
            Buf::Moved => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool, or `None` where AF_XDP sockets cannot be created (no root).
    fn pool(count: u32) -> Option<FramePool> {
        match FramePool::new(count, 2048) {
            Ok(p) => Some(p),
            Err(UmemError::CreateSocket(e) | UmemError::RegisterUmem(e)) => {
                eprintln!("SKIP frame pool test: {e}");
                None
            }
            Err(e) => panic!("pool: {e}"),
        }
    }

    #[test]
    fn frames_return_their_chunk_on_drop() {
        let Some(p) = pool(4) else { return };
        let a = p.alloc(&[1, 2, 3]).expect("chunk");
        let b = p.alloc(&[4; 1500]).expect("chunk");
        assert_eq!(p.stats().free, 2);
        assert_eq!(a.data(), &[1, 2, 3]);
        assert_eq!(a.umem_addr(), Some(u64::from(p.rx_offset())));
        assert_ne!(a.umem_addr(), b.umem_addr());
        drop(a);
        drop(b);
        assert_eq!(p.stats().free, 4);
    }

    #[test]
    fn alloc_fails_when_empty_or_too_long() {
        let Some(p) = pool(1) else { return };
        assert!(p.alloc(&[0; 2049]).is_none());
        let whole = p.alloc(&[7; 2048]).expect("a whole chunk fits");
        assert_eq!(whole.umem_addr(), Some(0));
        assert!(p.alloc(&[0]).is_none(), "stack is empty");
        drop(whole);
        assert!(p.alloc(&[0]).is_some());
    }

    #[test]
    fn writes_stay_in_their_chunk() {
        let Some(p) = pool(2) else { return };
        let mut a = p.alloc(&[0; 1792]).expect("chunk");
        let b = p.alloc(&[9; 1792]).expect("chunk");
        a.data_mut().fill(0xaa);
        assert!(b.data().iter().all(|&x| x == 9));
        a.truncate(10);
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn chunk_handover_and_release() {
        let Some(p) = pool(2) else { return };
        let f = p.alloc(&[1; 60]).expect("chunk");
        let (addr, len) = f.into_chunk().expect("chunk-backed");
        assert_eq!(len, 60);
        assert_eq!(p.stats().free, 1, "the chunk is in flight, not free");
        // SAFETY: test: the chunk was taken out of a consumed handle.
        let g = unsafe { p.frame_from_rx(addr, len) }.expect("valid descriptor");
        assert_eq!(g.data(), &[1; 60]);
        let (addr, _) = g.into_chunk().expect("chunk-backed");
        // SAFETY: as above.
        unsafe { p.release_addr(addr) };
        assert_eq!(p.stats().free, 2);
        // SAFETY: descriptors outside the UMEM or across a chunk are refused.
        assert!(unsafe { p.frame_from_rx(4096, 1) }.is_none());
        // SAFETY: as above.
        assert!(unsafe { p.frame_from_rx(2000, 100) }.is_none());
    }

    #[test]
    fn heap_frames_reuse_buffers() {
        let Some(p) = pool(1) else { return };
        let h = p.heap_frame(&[5; 20000]);
        assert!(h.is_heap());
        assert_eq!(h.len(), 20000);
        let h = h.into_chunk().expect_err("heap frames have no chunk");
        drop(h);
        assert_eq!(p.stats().heap_cached, 1);
        let h2 = p.heap_frame(&[1]);
        assert_eq!(p.stats().heap_cached, 0);
        assert_eq!(h2.data(), &[1]);
        assert_eq!(p.stats().free, 1);
    }
}
