//! The UMEM: one memory area, cut into equal chunks, that the kernel copies received
//! frames into and transmits frames from. It is registered (`XDP_UMEM_REG`) on an AF_XDP
//! socket created here; the first [`crate::XskSocket`] bound with this UMEM reuses that
//! socket, later ones share it (`XDP_SHARED_UMEM`).
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
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;

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
    fd: Arc<OwnedFd>,
    fd_bound: AtomicBool,
    first_bind_flags: AtomicU16,
    config: UmemConfig,
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
        let reg = libc::xdp_umem_reg {
            addr: area.as_ptr() as u64,
            len: len as u64,
            chunk_size: config.frame_size,
            headroom: config.headroom,
            flags: 0,
            tx_metadata_len: 0,
        };
        sockopt::set(fd.as_fd(), libc::XDP_UMEM_REG, &reg).map_err(UmemError::RegisterUmem)?;
        Ok(Self {
            area,
            fd: Arc::new(fd),
            fd_bound: AtomicBool::new(false),
            first_bind_flags: AtomicU16::new(0),
            config,
        })
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
    pub(crate) fn claim_fd(&self) -> Option<Arc<OwnedFd>> {
        (!self.fd_bound.swap(true, Ordering::AcqRel)).then(|| Arc::clone(&self.fd))
    }

    /// Records the first socket's bind flags (shared sockets inherit them).
    pub(crate) fn set_first_bind_flags(&self, flags: u16) {
        self.first_bind_flags.store(flags, Ordering::Release);
    }

    /// The first socket's bind flags.
    pub(crate) fn first_bind_flags(&self) -> u16 {
        self.first_bind_flags.load(Ordering::Acquire)
    }

    /// The registration socket (to share the UMEM with).
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}
