//! A transmit-only `AF_PACKET` socket with `PACKET_VNET_HDR`: one `sendmsg` hands the
//! kernel a whole frame of any length (a 64 KB TCP super-frame) together with a
//! virtio-net header saying how to segment it and which checksum to complete
//! (`gso_type`, `gso_size`, `csum_start`/`csum_offset` with `NEEDS_CSUM`). The kernel
//! builds one skb from it (`packet_snd`, `virtio_net_hdr_to_skb`); the device then takes
//! it whole (veth and tap pass GSO skbs on, a NIC with TSO segments in hardware) or the
//! kernel segments it in software right before the device (`validate_xmit_skb`). AF_XDP
//! transmit has no such metadata: that is why the router keeps this socket next to its
//! AF_XDP socket on every port.
//!
//! The socket is bound to one device with protocol 0, so it receives nothing. It sends
//! with `PACKET_QDISC_BYPASS` (as AF_XDP transmit does) and `MSG_DONTWAIT`: a full send
//! buffer is reported as `WouldBlock`, never waited for.
//!
//! The header's bytes are built by the caller (`hvrouter_core::offload::VnetHeader`);
//! this module only moves them. Layout: `struct virtio_net_hdr` (10 bytes, the legacy
//! header without `num_buffers`, fields in the host's byte order, as `PACKET_VNET_HDR`
//! expects: `vio_le()` is the host's endianness for legacy virtio).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Size of the virtio-net header `PACKET_VNET_HDR` puts in front of every frame.
pub const VNET_HDR_LEN: usize = 10;
/// Most pieces one [`PacketSocket::send`] takes (the header plus the frame's pieces);
/// the kernel's own limit is `UIO_MAXIOV` (1024).
pub const MAX_PIECES: usize = 128;
/// Send buffer asked for: several 64 KB super-frames in flight (forced as root).
const SNDBUF: libc::c_int = 4 << 20;

/// Errors opening a packet socket; each names the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    /// `socket(AF_PACKET, SOCK_RAW, 0)` failed (no CAP_NET_RAW?).
    #[error("creating the AF_PACKET socket")]
    Socket(#[source] io::Error),
    /// `setsockopt(SOL_PACKET, PACKET_VNET_HDR)` failed.
    #[error("turning on PACKET_VNET_HDR")]
    VnetHdr(#[source] io::Error),
    /// `bind` to the device failed (device gone?).
    #[error("binding the AF_PACKET socket to ifindex {ifindex}")]
    Bind {
        /// Interface index.
        ifindex: u32,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// A transmit-only packet socket bound to one device, with virtio-net headers.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    /// Opens a socket that sends on `ifindex` (in the calling thread's namespace) with
    /// a virtio-net header in front of every frame. Qdisc bypass and a larger send
    /// buffer are asked for and silently skipped if refused.
    pub fn open(ifindex: u32) -> Result<PacketSocket, PacketError> {
        // SAFETY: plain syscall with constant arguments; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(PacketError::Socket(io::Error::last_os_error()));
        }
        // SAFETY: raw is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        set_int(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)
            .map_err(PacketError::VnetHdr)?;
        // Best effort: both only change speed, not what is sent.
        let _ = set_int(fd.as_fd(), libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1);
        if set_int(fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, SNDBUF).is_err() {
            let _ = set_int(fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, SNDBUF);
        }
        // SAFETY: sockaddr_ll is plain integers; all zeroes is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        // Protocol 0: this socket receives nothing.
        addr.sll_protocol = 0;
        addr.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: addr is a valid sockaddr_ll for the call and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(PacketError::Bind {
                ifindex,
                source: io::Error::last_os_error(),
            });
        }
        Ok(PacketSocket { fd, ifindex })
    }

    /// The device this socket sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one frame, made of `pieces` in order (Ethernet header first), behind the
    /// virtio-net header `vnet`, as one `sendmsg`. Returns the frame's length.
    ///
    /// Errors: `WouldBlock` when the send buffer is full; `InvalidInput` for more than
    /// [`MAX_PIECES`] - 1 pieces or a header the kernel refuses (`EINVAL`: lengths that
    /// disagree with the frame); `EMSGSIZE` for a frame above the MTU without GSO;
    /// `ENXIO`/`ENETDOWN` when the device is gone or down.
    pub fn send(&self, vnet: &[u8; VNET_HDR_LEN], pieces: &[&[u8]]) -> io::Result<usize> {
        if pieces.len() + 1 > MAX_PIECES {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iov = [empty; MAX_PIECES];
        iov[0] = libc::iovec {
            iov_base: vnet.as_ptr() as *mut libc::c_void,
            iov_len: VNET_HDR_LEN,
        };
        let mut len = 0;
        for (slot, piece) in iov[1..].iter_mut().zip(pieces) {
            *slot = libc::iovec {
                iov_base: piece.as_ptr() as *mut libc::c_void,
                iov_len: piece.len(),
            };
            len += piece.len();
        }
        // SAFETY: msghdr is plain integers and pointers; all zeroes is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = pieces.len() + 1;
        // SAFETY: every iovec points to a live slice (or is the header array) of the
        // stated length for the duration of the call; the kernel only reads through them
        // (a send), so casting away const is sound. msg has no name and no control data.
        let n = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((n as usize).saturating_sub(VNET_HDR_LEN).min(len))
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `setsockopt(fd, level, name, &value)` for an int option.
fn set_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int for the call and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_pieces_are_refused_before_any_syscall() {
        // Opening needs CAP_NET_RAW and a device; refuse-early needs neither, so build
        // the socket from any descriptor.
        let fd = match std::fs::File::open("/dev/null") {
            Ok(f) => OwnedFd::from(f),
            Err(e) => panic!("open /dev/null: {e}"),
        };
        let sock = PacketSocket { fd, ifindex: 0 };
        let piece: &[u8] = &[0u8; 4];
        let pieces = vec![piece; MAX_PIECES];
        let err = sock.send(&[0; VNET_HDR_LEN], &pieces).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
