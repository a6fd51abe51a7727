//! Tap devices opened the way QEMU opens a guest NIC: `/dev/net/tun` + `TUNSETIFF`
//! with `IFF_TAP | IFF_NO_PI`, optionally `IFF_VNET_HDR` (a 12-byte virtio-net header in
//! front of every frame, offloads on) and `IFF_MULTI_QUEUE`, non-blocking.
//!
//! A tap lives as long as some descriptor holds it (no `TUNSETPERSIST`): dropping the
//! last [`Tap`] for a name deletes the device, whichever namespace it was moved to.
//! The descriptor side is the "guest" side; the netdev side is what the router (AF_XDP)
//! and the kernel see.

use crate::netdev::ifreq_for;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Size of the virtio-net header set with `TUNSETVNETHDRSZ` (`virtio_net_hdr_mrg_rxbuf`,
/// as QEMU/vhost-net use it).
pub const VNET_HDR_LEN: usize = 12;

/// Largest read that can come out of a tap with offloads on: a 64 KiB GSO frame plus
/// Ethernet and virtio-net headers. Read buffers of this size never truncate.
pub const MAX_TAP_READ: usize = 65536 + 14 + 4 + VNET_HDR_LEN;

/// Offloads announced with `TUNSETOFFLOAD` when the vnet header is on: the fd side
/// accepts partial checksums and TCP segmentation (v4, v6, ECN), like a virtio-net guest.
const OFFLOADS: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;

/// How to open a tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TapFlags {
    /// `IFF_VNET_HDR`: frames carry a [`VNET_HDR_LEN`]-byte virtio-net header, and
    /// checksum/TSO offloads are on (GSO frames up to 64 KiB, partial checksums).
    pub vnet_hdr: bool,
    /// `IFF_MULTI_QUEUE`: each open of the same name attaches one more queue.
    pub multi_queue: bool,
}

/// Errors opening a tap; each names the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The name cannot be an interface name (empty, over 15 bytes, or with NUL).
    #[error("invalid tap name {0:?}")]
    InvalidName(String),
    /// `open("/dev/net/tun")` failed.
    #[error("opening /dev/net/tun")]
    OpenTun(#[source] io::Error),
    /// `ioctl(TUNSETIFF)` failed (name taken by another kind of device, busy without
    /// multi-queue, or no CAP_NET_ADMIN).
    #[error("creating tap {name:?} (TUNSETIFF)")]
    SetIff {
        /// Requested name.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `ioctl(TUNSETVNETHDRSZ)` failed.
    #[error("setting the vnet header size of tap {name:?} (TUNSETVNETHDRSZ)")]
    SetVnetHdrSize {
        /// Tap name.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `ioctl(TUNSETOFFLOAD)` failed.
    #[error("enabling offloads on tap {name:?} (TUNSETOFFLOAD)")]
    SetOffload {
        /// Tap name.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// An open tap queue: the fd holder's ("guest's") end of a tap netdev.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    vnet_hdr: bool,
}

impl Tap {
    /// Creates (or attaches to) tap `name` in the calling thread's namespace,
    /// non-blocking and close-on-exec. With `vnet_hdr`, sets the header size to
    /// [`VNET_HDR_LEN`] and turns on checksum and TSO offloads.
    pub fn open(name: &str, flags: TapFlags) -> Result<Tap, TapError> {
        let mut req = ifreq_for(name).ok_or_else(|| TapError::InvalidName(name.to_owned()))?;
        let mut iff = libc::IFF_TAP | libc::IFF_NO_PI;
        if flags.vnet_hdr {
            iff |= libc::IFF_VNET_HDR;
        }
        if flags.multi_queue {
            iff |= libc::IFF_MULTI_QUEUE;
        }
        // All IFF_* tun flags fit in the 16-bit ifr_flags.
        req.ifr_ifru.ifru_flags = iff as libc::c_short;

        // SAFETY: the path is a NUL-terminated literal; the result is checked.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(TapError::OpenTun(io::Error::last_os_error()));
        }
        // SAFETY: raw is a freshly opened descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: req is a valid, writable struct ifreq for the whole call; TUNSETIFF
        // reads the name and flags and writes back the final name.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut _) };
        if rc < 0 {
            return Err(TapError::SetIff {
                name: name.to_owned(),
                source: io::Error::last_os_error(),
            });
        }
        let name = ifr_name(&req);
        if flags.vnet_hdr {
            let size = VNET_HDR_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, which is valid
            // for the call.
            let rc = unsafe {
                libc::ioctl(
                    fd.as_raw_fd(),
                    libc::TUNSETVNETHDRSZ,
                    &size as *const libc::c_int,
                )
            };
            if rc < 0 {
                return Err(TapError::SetVnetHdrSize {
                    name,
                    source: io::Error::last_os_error(),
                });
            }
            // SAFETY: TUNSETOFFLOAD takes the flags by value (an unsigned long), no
            // memory is passed.
            let rc = unsafe {
                libc::ioctl(
                    fd.as_raw_fd(),
                    libc::TUNSETOFFLOAD,
                    libc::c_ulong::from(OFFLOADS),
                )
            };
            if rc < 0 {
                return Err(TapError::SetOffload {
                    name,
                    source: io::Error::last_os_error(),
                });
            }
        }
        Ok(Tap {
            fd,
            name,
            vnet_hdr: flags.vnet_hdr,
        })
    }

    /// Wraps a tap descriptor opened elsewhere (e.g. passed by a cluster manager). The
    /// caller says whether it carries a vnet header; the descriptor should be
    /// non-blocking.
    pub fn from_fd(fd: OwnedFd, name: String, vnet_hdr: bool) -> Tap {
        Tap { fd, name, vnet_hdr }
    }

    /// The device name the kernel gave the tap (as created; moving the tap to another
    /// namespace keeps it unless that namespace renames it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether every frame carries a [`VNET_HDR_LEN`]-byte virtio-net header.
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// Reads one frame (with its vnet header if on) sent by the kernel side. Returns
    /// `ErrorKind::WouldBlock` when none is queued. A buffer shorter than the frame gets
    /// a truncated frame: use [`MAX_TAP_READ`] bytes.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for writes of buf.len() bytes for the call.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Writes one frame (with its vnet header if on) for the kernel side to receive.
    /// Fails with `EIO` while the netdev is down and `EINVAL` for malformed frames.
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for reads of buf.len() bytes for the call.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The NUL-terminated name in an ifreq.
fn ifr_name(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
