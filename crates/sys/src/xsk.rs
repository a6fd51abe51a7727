//! AF_XDP sockets: ring setup, bind (with EBUSY retry), bursts and wakeups.
//!
//! Every socket owns four rings: fill and completion (UMEM addresses) and RX and TX
//! (descriptors). The first socket bound with a [`Umem`] reuses the socket the UMEM is
//! registered on; later ones bind with `XDP_SHARED_UMEM` through any socket of the UMEM
//! still bound, and must be on a different device or queue than that one (each gets its
//! own fill and completion rings); with none left bound, a socket registers the UMEM
//! again (see [`Umem`]). Shared sockets inherit the first socket's mode (copy/zero-copy,
//! need-wakeup, multi-buffer): the kernel refuses other flags with them.

use crate::ring::{whole_packets, ConsumerRing, ProducerRing, XdpDesc};
use crate::umem::Umem;
use crate::{mmap::Mapping, sockopt};
use std::io;
use std::mem::size_of;
use std::ops::BitOr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Errors setting up or using an AF_XDP socket; each names the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum XskError {
    /// The configuration cannot work (see the message).
    #[error("invalid AF_XDP socket configuration: {0}")]
    InvalidConfig(&'static str),
    /// `socket(AF_XDP)` failed.
    #[error("creating the AF_XDP socket")]
    CreateSocket(#[source] io::Error),
    /// Setting a ring's size failed.
    #[error("setting the {ring} ring size")]
    SetRingSize {
        /// Which ring.
        ring: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `getsockopt(XDP_MMAP_OFFSETS)` failed.
    #[error("reading the ring offsets (XDP_MMAP_OFFSETS)")]
    GetMmapOffsets(#[source] io::Error),
    /// Mapping a ring failed, or the kernel's offsets do not fit the mapping.
    #[error("mapping the {ring} ring")]
    MmapRing {
        /// Which ring.
        ring: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `bind` failed (EBUSY is retried until the configured deadline first).
    #[error(
        "binding the AF_XDP socket to ifindex {ifindex} queue {queue} after {attempts} attempt(s)"
    )]
    BindXsk {
        /// Interface index.
        ifindex: u32,
        /// Queue id.
        queue: u32,
        /// Attempts made.
        attempts: u32,
        /// Cause of the last attempt.
        #[source]
        source: io::Error,
    },
    /// `setsockopt(XDP_UMEM_REG)` failed registering the UMEM again on a new socket
    /// (no socket bound on it was left to share it through).
    #[error("registering the UMEM again (XDP_UMEM_REG)")]
    RegisterUmem(#[source] io::Error),
    /// `getsockopt(XDP_STATISTICS)` failed.
    #[error("reading socket statistics (XDP_STATISTICS)")]
    Statistics(#[source] io::Error),
}

/// `sxdp_flags` for bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BindFlags(u16);

impl BindFlags {
    /// No flags: the kernel picks zero-copy if the driver has it, else copy.
    pub const NONE: Self = Self(0);
    /// Force copy mode (`XDP_COPY`): works on every device.
    pub const COPY: Self = Self(libc::XDP_COPY);
    /// Force zero-copy (`XDP_ZEROCOPY`): fails where the driver lacks it (veth, tap).
    pub const ZEROCOPY: Self = Self(libc::XDP_ZEROCOPY);
    /// `XDP_USE_NEED_WAKEUP`: the kernel says through ring flags when it needs a syscall.
    pub const NEED_WAKEUP: Self = Self(libc::XDP_USE_NEED_WAKEUP);
    /// `XDP_USE_SG`: multi-buffer; frames larger than a chunk arrive as descriptor chains.
    pub const SG: Self = Self(libc::XDP_USE_SG);

    /// Whether all of `other`'s flags are set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw `sxdp_flags` value.
    pub fn bits(self) -> u16 {
        self.0
    }
}

impl BitOr for BindFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// Ring sizes (powers of two), bind flags and the EBUSY retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XskConfig {
    /// RX ring entries.
    pub rx_size: u32,
    /// TX ring entries.
    pub tx_size: u32,
    /// Fill ring entries.
    pub fill_size: u32,
    /// Completion ring entries.
    pub completion_size: u32,
    /// Bind flags (ignored for shared sockets, which inherit the first socket's).
    pub flags: BindFlags,
    /// How long to keep retrying a bind that fails with EBUSY (a socket on the same
    /// queue closed less than ~2 s ago).
    pub bind_retry_for: Duration,
}

impl Default for XskConfig {
    fn default() -> Self {
        Self {
            rx_size: 2048,
            tx_size: 2048,
            fill_size: 2048,
            completion_size: 2048,
            flags: BindFlags::COPY | BindFlags::NEED_WAKEUP,
            bind_retry_for: Duration::from_secs(5),
        }
    }
}

/// Kernel counters of one socket (`struct xdp_statistics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XskStats {
    /// Frames dropped for reasons other than a full ring or empty fill ring.
    pub rx_dropped: u64,
    /// Invalid descriptors seen on the fill ring.
    pub rx_invalid_descs: u64,
    /// Invalid descriptors seen on the TX ring.
    pub tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the TX ring was empty when the kernel looked.
    pub tx_ring_empty_descs: u64,
}

const PGOFF_RX: u64 = libc::XDP_PGOFF_RX_RING as u64;
const PGOFF_TX: u64 = libc::XDP_PGOFF_TX_RING as u64;
const PGOFF_FILL: u64 = libc::XDP_UMEM_PGOFF_FILL_RING;
const PGOFF_COMPLETION: u64 = libc::XDP_UMEM_PGOFF_COMPLETION_RING;

/// A bound AF_XDP socket and its four rings.
#[derive(Debug)]
pub struct XskSocket {
    rx: ConsumerRing<XdpDesc>,
    tx: ProducerRing<XdpDesc>,
    fill: ProducerRing<u64>,
    completion: ConsumerRing<u64>,
    // Declared after the rings: unmapped before the socket closes.
    fd: Arc<OwnedFd>,
    ifindex: u32,
    queue: u32,
    shared: bool,
    need_wakeup: bool,
    bind_attempts: u32,
}

fn mapped<R>(ring: &'static str, r: io::Result<R>) -> Result<R, XskError> {
    r.map_err(|source| XskError::MmapRing { ring, source })
}

fn ring_len<T>(off: &libc::xdp_ring_offset, size: u32) -> io::Result<usize> {
    usize::try_from(off.desc)
        .ok()
        .and_then(|d| d.checked_add(size as usize * size_of::<T>()))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "ring too large"))
}

impl XskSocket {
    /// Creates a socket on `ifindex`/`queue` using `umem`, sets up and maps its rings
    /// and binds it, retrying EBUSY for `cfg.bind_retry_for`.
    ///
    /// The first socket of a UMEM uses the UMEM's own socket; if its setup fails, the
    /// next socket registers the UMEM again. Later sockets share the UMEM through one of
    /// its sockets still bound, on another device or queue; when none is, they register
    /// it again too.
    pub fn bind(umem: &Umem, ifindex: u32, queue: u32, cfg: &XskConfig) -> Result<Self, XskError> {
        for (size, msg) in [
            (cfg.rx_size, "rx_size must be a power of two"),
            (cfg.tx_size, "tx_size must be a power of two"),
            (cfg.fill_size, "fill_size must be a power of two"),
            (
                cfg.completion_size,
                "completion_size must be a power of two",
            ),
        ] {
            if size == 0 || !size.is_power_of_two() {
                return Err(XskError::InvalidConfig(msg));
            }
        }
        let (fd, first) = match umem.claim_fd() {
            Some(fd) => (Arc::new(fd), true),
            None => (
                Arc::new(sockopt::xdp_socket().map_err(XskError::CreateSocket)?),
                false,
            ),
        };
        let sock = fd.as_fd();
        let set_size = |name, size: u32, ring| {
            sockopt::set(sock, name, &size).map_err(|source| XskError::SetRingSize { ring, source })
        };
        set_size(libc::XDP_UMEM_FILL_RING, cfg.fill_size, "fill")?;
        set_size(
            libc::XDP_UMEM_COMPLETION_RING,
            cfg.completion_size,
            "completion",
        )?;
        set_size(libc::XDP_RX_RING, cfg.rx_size, "rx")?;
        set_size(libc::XDP_TX_RING, cfg.tx_size, "tx")?;
        let off: libc::xdp_mmap_offsets =
            sockopt::get(sock, libc::XDP_MMAP_OFFSETS).map_err(XskError::GetMmapOffsets)?;

        let map = |ring: &'static str, len: io::Result<usize>, pgoff| {
            len.and_then(|len| Mapping::socket_ring(sock, len, pgoff))
                .map_err(|source| XskError::MmapRing { ring, source })
        };
        let m = map("rx", ring_len::<XdpDesc>(&off.rx, cfg.rx_size), PGOFF_RX)?;
        let rx = mapped("rx", ConsumerRing::new(m, &off.rx, cfg.rx_size))?;
        let m = map("tx", ring_len::<XdpDesc>(&off.tx, cfg.tx_size), PGOFF_TX)?;
        let tx = mapped("tx", ProducerRing::new(m, &off.tx, cfg.tx_size))?;
        let m = map("fill", ring_len::<u64>(&off.fr, cfg.fill_size), PGOFF_FILL)?;
        let fill = mapped("fill", ProducerRing::new(m, &off.fr, cfg.fill_size))?;
        let m = map(
            "completion",
            ring_len::<u64>(&off.cr, cfg.completion_size),
            PGOFF_COMPLETION,
        )?;
        let completion = mapped(
            "completion",
            ConsumerRing::new(m, &off.cr, cfg.completion_size),
        )?;

        let bound = if first {
            None
        } else {
            bind_shared(sock, umem, ifindex, queue, cfg.bind_retry_for)?
        };
        let (shared, attempts) = match bound {
            Some(attempts) => (true, attempts),
            None => {
                if !first {
                    // No socket of this UMEM is bound any more: register the area
                    // again, on this socket, which binds as a first one.
                    umem.register(sock).map_err(XskError::RegisterUmem)?;
                }
                let addr = sockaddr(ifindex, queue, cfg.flags.bits(), 0);
                let attempts = bind_with_retry(sock, &addr, cfg.bind_retry_for).map_err(
                    |(attempts, source)| XskError::BindXsk {
                        ifindex,
                        queue,
                        attempts,
                        source,
                    },
                )?;
                umem.set_first_bind_flags(cfg.flags.bits());
                (false, attempts)
            }
        };
        umem.note_bound(&fd, ifindex, queue);
        // Shared sockets inherit the first socket's mode.
        let flags = if shared {
            BindFlags(umem.first_bind_flags())
        } else {
            cfg.flags
        };
        let need_wakeup = flags.contains(BindFlags::NEED_WAKEUP);
        Ok(Self {
            rx,
            tx,
            fill,
            completion,
            fd,
            ifindex,
            queue,
            shared,
            need_wakeup,
            bind_attempts: attempts,
        })
    }

    /// Interface index this socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Queue id this socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Whether this socket shares another socket's UMEM (`XDP_SHARED_UMEM`).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// How many bind attempts it took (more than 1 means EBUSY was retried).
    pub fn bind_attempts(&self) -> u32 {
        self.bind_attempts
    }

    /// Receives up to `out.len()` descriptors, whole packets only: a multi-buffer chain
    /// is returned complete or left for the next call (unless `out` is too small to hold
    /// one chain, then what fits is returned; size `out` for the largest chain, 18+).
    pub fn rx_burst(&mut self, out: &mut [XdpDesc]) -> usize {
        let n = self.rx.peek(out);
        let whole = whole_packets(&out[..n]);
        let take = if whole == 0 && n == out.len() {
            n
        } else {
            whole
        };
        self.rx.release(take);
        take
    }

    /// Queues descriptors for transmission, whole packets only; returns how many were
    /// queued. Call [`Self::kick_tx`] afterwards when [`Self::tx_needs_kick`] says so.
    pub fn tx_burst(&mut self, descs: &[XdpDesc]) -> usize {
        let fit = (self.tx.free(u32::try_from(descs.len()).unwrap_or(u32::MAX)) as usize)
            .min(descs.len());
        let whole = whole_packets(&descs[..fit]);
        self.tx.produce(&descs[..whole])
    }

    /// Gives chunk addresses to the kernel for reception; returns how many fit.
    pub fn fill(&mut self, addrs: &[u64]) -> usize {
        self.fill.produce(addrs)
    }

    /// Takes back addresses of transmitted frames; returns how many were written.
    pub fn complete(&mut self, out: &mut [u64]) -> usize {
        self.completion.consume(out)
    }

    /// TX descriptors queued but not yet taken by the kernel.
    pub fn tx_outstanding(&mut self) -> u32 {
        self.tx.outstanding()
    }

    /// Whether the kernel needs a [`Self::kick_tx`] to send what is queued. Copy mode
    /// always does; it then moves at most 32 frames per kick.
    pub fn tx_needs_kick(&self) -> bool {
        !self.need_wakeup || self.tx.needs_wakeup()
    }

    /// Whether the kernel asks for a wakeup ([`Self::wake_rx`]) after the fill ring was
    /// refilled.
    pub fn fill_needs_wakeup(&self) -> bool {
        self.need_wakeup && self.fill.needs_wakeup()
    }

    /// Tells the kernel to process the TX ring: `sendto(MSG_DONTWAIT)`. Transient
    /// results (EAGAIN, EBUSY, ENOBUFS, ENETDOWN) are not errors: kick again later.
    pub fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length sendto with null buffer and address is valid for AF_XDP.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        transient_ok(rc)
    }

    /// Wakes the kernel's RX processing: `recvfrom(MSG_DONTWAIT)`.
    pub fn wake_rx(&self) -> io::Result<()> {
        // SAFETY: a zero-length recvfrom with null buffer and address is valid for AF_XDP.
        let rc = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        transient_ok(rc)
    }

    /// Waits up to `timeout` for the RX ring to become non-empty (`poll(POLLIN)`).
    pub fn poll_rx(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, count 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(rc > 0 && pfd.revents & libc::POLLIN != 0)
    }

    /// The kernel's counters for this socket.
    pub fn stats(&self) -> Result<XskStats, XskError> {
        let s: libc::xdp_statistics =
            sockopt::get(self.fd.as_fd(), libc::XDP_STATISTICS).map_err(XskError::Statistics)?;
        Ok(XskStats {
            rx_dropped: s.rx_dropped,
            rx_invalid_descs: s.rx_invalid_descs,
            tx_invalid_descs: s.tx_invalid_descs,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs,
            tx_ring_empty_descs: s.tx_ring_empty_descs,
        })
    }
}

impl XskSocket {
    /// Another handle to the socket's descriptor (see `frame::RetiredSocket`).
    pub(crate) fn shared_fd(&self) -> Arc<OwnedFd> {
        Arc::clone(&self.fd)
    }
}

impl AsFd for XskSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A `sockaddr_xdp` for `ifindex`/`queue`.
fn sockaddr(ifindex: u32, queue: u32, flags: u16, shared_umem_fd: u32) -> libc::sockaddr_xdp {
    libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: flags,
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: shared_umem_fd,
    }
}

/// Binds `sock` with `XDP_SHARED_UMEM` through a socket of `umem` that is still bound
/// (see [`Umem`]: any bound socket shares it, not only the one that registered it).
/// Returns the attempts it took, or `None` if no socket of `umem` is bound any more
/// (each refused with `EBADF`: unbound, their device deleted).
fn bind_shared(
    sock: BorrowedFd<'_>,
    umem: &Umem,
    ifindex: u32,
    queue: u32,
    retry_for: Duration,
) -> Result<Option<u32>, XskError> {
    let mut tried = 0;
    for through in umem.share_with(ifindex, queue) {
        let fd = u32::try_from(through.as_raw_fd()).unwrap_or(u32::MAX);
        let addr = sockaddr(ifindex, queue, libc::XDP_SHARED_UMEM, fd);
        match bind_with_retry(sock, &addr, retry_for) {
            Ok(attempts) => return Ok(Some(tried + attempts)),
            Err((attempts, e)) if e.raw_os_error() == Some(libc::EBADF) => tried += attempts,
            Err((attempts, source)) => {
                return Err(XskError::BindXsk {
                    ifindex,
                    queue,
                    attempts: tried + attempts,
                    source,
                })
            }
        }
    }
    Ok(None)
}

fn bind_with_retry(
    sock: BorrowedFd<'_>,
    addr: &libc::sockaddr_xdp,
    retry_for: Duration,
) -> Result<u32, (u32, io::Error)> {
    let deadline = Instant::now() + retry_for;
    let mut backoff = Duration::from_millis(10);
    let mut attempts = 0;
    loop {
        attempts += 1;
        // SAFETY: addr points to a valid sockaddr_xdp and the length says so.
        let rc = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (addr as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(attempts);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EBUSY) || Instant::now() + backoff > deadline {
            return Err((attempts, e));
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(250));
    }
}

fn transient_ok(rc: isize) -> io::Result<()> {
    if rc >= 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::ENETDOWN) => Ok(()),
        _ => Err(e),
    }
}
