//! The UMEM: one memory area, cut into equal chunks, that the kernel copies received
//! frames into and transmits frames from. It is registered (`XDP_UMEM_REG`) on an AF_XDP
//! socket created here; the first [`crate::XskSocket`] bound with this UMEM reuses that
//! socket, later ones share it (`XDP_SHARED_UMEM`).
//!
//! # Sharing outlives the first socket
//!
//! The kernel shares a UMEM through *any* bound socket of it, not only the one that
//! registered it (`net/xdp/xsk.c`, `xsk_bind`: with `XDP_SHARED_UMEM` it looks up
//! `sxdp_shared_umem_fd`, refuses it with `EBADF` unless it is bound (`xsk_is_bound`),
//! and, on another device or queue, creates a buffer pool of the new socket's own on
//! that socket's `umem`, taking a reference on it: `xdp_get_umem`). The kernel's UMEM
//! lives as long as one socket refers to it. So this UMEM keeps no socket of its own
//! once the first is bound; it remembers every socket bound on it ([`Umem::share_with`])
//! and a new socket shares through one that is still bound. When none is (every socket
//! closed, or unbound because its device was deleted), the area is registered again on
//! the new socket: the same memory, the same addresses, a fresh kernel registration; no
//! new mapping, and the frame pool over it stays as it is.
//!
//! Addresses are byte offsets into the area ("aligned" chunk mode): a received frame
//! starts at `chunk + headroom + XDP_PACKET_HEADROOM`, a transmitted one anywhere inside
//! a chunk as long as it does not cross into the next one.
//!
//! Ownership of chunks is by convention, as in every AF_XDP program: a chunk belongs to
//! the kernel from the moment its address is put on a fill or TX ring until it comes back
//! on the RX or completion ring. Reading a chunk the kernel owns yields arbitrary bytes
//! (a logic error, not a memory-safety one: the memory stays mapped and every access is
//! bounds-checked).

use crate::mmap::Mapping;
use crate::sockopt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Bytes the kernel reserves in front of every received frame (`XDP_PACKET_HEADROOM`).
pub const XDP_PACKET_HEADROOM: u32 = 256;

/// Errors creating a UMEM; each names the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum UmemError {
    /// The configuration cannot work (see the message).
    #[error("invalid UMEM configuration: {0}")]
    InvalidConfig(&'static str),
    /// `mmap` of the packet area failed.
    #[error("mapping the UMEM area ({len} bytes)")]
    MapArea {
        /// Requested size.
        len: usize,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `socket(AF_XDP)` failed (no AF_XDP in this kernel, or not privileged).
    #[error("creating the AF_XDP socket for the UMEM")]
    CreateSocket(#[source] io::Error),
    /// `setsockopt(XDP_UMEM_REG)` failed.
    #[error("registering the UMEM (XDP_UMEM_REG)")]
    RegisterUmem(#[source] io::Error),
}

/// Shape of a UMEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UmemConfig {
    /// Number of chunks.
    pub frame_count: u32,
    /// Chunk size: 2048 or 4096 (a power of two; aligned mode).
    pub frame_size: u32,
    /// Extra bytes the kernel leaves free in front of each received frame, on top of
    /// [`XDP_PACKET_HEADROOM`] (room to push headers).
    pub headroom: u32,
}

/// A registered UMEM. Send it to the thread that polls its sockets.
#[derive(Debug)]
pub struct Umem {
    area: Mapping,
    /// The socket the UMEM was registered on, until the first bind takes it.
    reg: Mutex<Option<OwnedFd>>,
    /// Sockets bound on this UMEM, any of which can share it with a new one.
    bound: Mutex<Vec<BoundRef>>,
    first_bind_flags: AtomicU16,
    config: UmemConfig,
}

/// A socket bound on a [`Umem`]: its descriptor while it is open, and where it is bound
/// (a socket cannot share through one on its own device and queue).
#[derive(Debug)]
struct BoundRef {
    fd: Weak<OwnedFd>,
    ifindex: u32,
    queue: u32,
}

// SAFETY: shared references only ever read the area (through `frame`), writes need
// `&mut self`; the socket fd is thread-safe.
unsafe impl Sync for Umem {}

impl Umem {
    /// A UMEM of `frame_count` chunks of `frame_size` bytes, no extra headroom.
    pub fn new(frame_count: u32, frame_size: u32) -> Result<Self, UmemError> {
        Self::with_config(UmemConfig {
            frame_count,
            frame_size,
            headroom: 0,
        })
    }

    /// A UMEM with an explicit configuration.
    pub fn with_config(config: UmemConfig) -> Result<Self, UmemError> {
        if config.frame_size != 2048 && config.frame_size != 4096 {
            return Err(UmemError::InvalidConfig("frame_size must be 2048 or 4096"));
        }
        if config.frame_count == 0 {
            return Err(UmemError::InvalidConfig("frame_count must be > 0"));
        }
        if config.headroom + XDP_PACKET_HEADROOM + 64 > config.frame_size {
            return Err(UmemError::InvalidConfig(
                "headroom leaves no room for a frame",
            ));
        }
        let len = (config.frame_count as usize)
            .checked_mul(config.frame_size as usize)
            .ok_or(UmemError::InvalidConfig("UMEM size overflows"))?;
        let area = Mapping::anonymous(len).map_err(|source| UmemError::MapArea { len, source })?;
        let fd = sockopt::xdp_socket().map_err(UmemError::CreateSocket)?;
        let umem = Self {
            area,
            reg: Mutex::new(None),
            bound: Mutex::new(Vec::new()),
            first_bind_flags: AtomicU16::new(0),
            config,
        };
        umem.register(fd.as_fd()).map_err(UmemError::RegisterUmem)?;
        *umem.reg.lock().unwrap_or_else(|e| e.into_inner()) = Some(fd);
        Ok(umem)
    }

    /// Registers the area on socket `fd` (`XDP_UMEM_REG`): at creation, and again on a
    /// new socket when no socket bound on this UMEM is left to share it through.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let reg = libc::xdp_umem_reg {
            addr: self.area.as_ptr() as u64,
            len: self.area.len() as u64,
            chunk_size: self.config.frame_size,
            headroom: self.config.headroom,
            flags: 0,
            tx_metadata_len: 0,
        };
        sockopt::set(fd, libc::XDP_UMEM_REG, &reg)
    }

    /// The configuration this UMEM was created with.
    pub fn config(&self) -> UmemConfig {
        self.config
    }

    /// Chunk size in bytes.
    pub fn frame_size(&self) -> u32 {
        self.config.frame_size
    }

    /// Number of chunks.
    pub fn frame_count(&self) -> u32 {
        self.config.frame_count
    }

    /// Address of chunk `index` (what goes on the fill ring).
    pub fn frame_addr(&self, index: u32) -> u64 {
        u64::from(index) * u64::from(self.config.frame_size)
    }

    /// The chunk an address lies in (a completion or RX address back to its chunk).
    pub fn chunk_of(&self, addr: u64) -> u64 {
        addr & !(u64::from(self.config.frame_size) - 1)
    }

    /// Offset from a chunk's start where the kernel puts received data.
    pub fn rx_data_offset(&self) -> u32 {
        self.config.headroom + XDP_PACKET_HEADROOM
    }

    /// Checks that `[addr, addr+len)` lies inside one chunk; returns the byte range.
    fn range(&self, addr: u64, len: u32) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len as usize)?;
        if end > self.area.len() {
            return None;
        }
        if len > 0 && self.chunk_of(addr) != self.chunk_of(addr + u64::from(len) - 1) {
            return None;
        }
        Some(start..end)
    }

    /// The `len` bytes at `addr`, or `None` if they leave the area or cross a chunk.
    pub fn frame(&self, addr: u64, len: u32) -> Option<&[u8]> {
        let r = self.range(addr, len)?;
        // SAFETY: r is inside the mapping (checked in `range`), which lives as long as
        // self; no `&mut` to it can exist while `&self` is borrowed.
        Some(unsafe { std::slice::from_raw_parts(self.area.as_ptr().add(r.start), r.len()) })
    }

    /// The `len` bytes at `addr`, writable, or `None` if they leave the area or cross a
    /// chunk.
    pub fn frame_mut(&mut self, addr: u64, len: u32) -> Option<&mut [u8]> {
        let r = self.range(addr, len)?;
        // SAFETY: r is inside the mapping, which lives as long as self; `&mut self`
        // guarantees no other Rust reference into the area exists.
        Some(unsafe { std::slice::from_raw_parts_mut(self.area.as_ptr().add(r.start), r.len()) })
    }

    /// Takes the registration socket for the first bind; `None` once taken.
    pub(crate) fn claim_fd(&self) -> Option<OwnedFd> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Records that socket `fd` is bound on this UMEM at `ifindex`/`queue`: later
    /// sockets may share the UMEM through it while it is open.
    pub(crate) fn note_bound(&self, fd: &Arc<OwnedFd>, ifindex: u32, queue: u32) {
        let mut bound = self.bound.lock().unwrap_or_else(|e| e.into_inner());
        bound.retain(|b| b.fd.strong_count() > 0);
        bound.push(BoundRef {
            fd: Arc::downgrade(fd),
            ifindex,
            queue,
        });
    }

    /// The open sockets of this UMEM a new socket on `ifindex`/`queue` may share it
    /// through, the most recently bound first. Some may no longer be bound (their device
    /// was deleted): the kernel refuses those with `EBADF`.
    pub(crate) fn share_with(&self, ifindex: u32, queue: u32) -> Vec<Arc<OwnedFd>> {
        let mut bound = self.bound.lock().unwrap_or_else(|e| e.into_inner());
        bound.retain(|b| b.fd.strong_count() > 0);
        bound
            .iter()
            .rev()
            .filter(|b| (b.ifindex, b.queue) != (ifindex, queue))
            .filter_map(|b| b.fd.upgrade())
            .collect()
    }

    /// Records the first socket's bind flags (shared sockets inherit them).
    pub(crate) fn set_first_bind_flags(&self, flags: u16) {
        self.first_bind_flags.store(flags, Ordering::Release);
    }

    /// The first socket's bind flags.
    pub(crate) fn first_bind_flags(&self) -> u16 {
        self.first_bind_flags.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor that stands for a socket in the bound list.
    fn fd() -> Arc<OwnedFd> {
        Arc::new(OwnedFd::from(
            std::fs::File::open("/dev/null").expect("/dev/null"),
        ))
    }

    #[test]
    fn shares_through_open_sockets_on_other_queues_newest_first() {
        let umem = match Umem::new(16, 2048) {
            Ok(u) => u,
            Err(e @ (UmemError::CreateSocket(_) | UmemError::RegisterUmem(_))) => {
                eprintln!("SKIP umem sharing test: {e}");
                return;
            }
            Err(e) => panic!("umem: {e}"),
        };
        assert!(umem.claim_fd().is_some(), "the first bind takes the socket");
        assert!(umem.claim_fd().is_none(), "and keeps it: the UMEM does not");
        let (a, b, c) = (fd(), fd(), fd());
        umem.note_bound(&a, 1, 0);
        umem.note_bound(&b, 2, 0);
        umem.note_bound(&c, 2, 1);
        let raw = |v: Vec<Arc<OwnedFd>>| {
            v.iter()
                .map(|f| std::os::fd::AsRawFd::as_raw_fd(&**f))
                .collect::<Vec<_>>()
        };
        let id = |f: &Arc<OwnedFd>| std::os::fd::AsRawFd::as_raw_fd(&**f);
        assert_eq!(raw(umem.share_with(3, 0)), vec![id(&c), id(&b), id(&a)]);
        // Never through a socket on the queue being bound.
        assert_eq!(raw(umem.share_with(2, 0)), vec![id(&c), id(&a)]);
        // A closed socket drops out; with none left, the caller registers again.
        let c_id = id(&c);
        drop(c);
        assert!(!raw(umem.share_with(3, 0)).contains(&c_id));
        drop((a, b));
        assert!(umem.share_with(3, 0).is_empty());
    }
}
