//! Waiting on several file descriptors at once (`poll(2)`), for the dataplane's
//! interrupt mode: sleep until any AF_XDP socket or the netlink socket has input.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// Most descriptors one wait watches (ports of one worker plus netlink).
pub const MAX_FDS: usize = 256;

/// Wait until any of `fds` is readable or `timeout` passes. Returns whether one is.
/// EINTR counts as a timeout (the caller re-checks its flags and polls again).
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<bool> {
    let mut set = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; MAX_FDS];
    let n = fds.len().min(MAX_FDS);
    for (slot, fd) in set.iter_mut().zip(fds) {
        slot.fd = fd.as_raw_fd();
        slot.events = libc::POLLIN;
    }
    let ms = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `set[..n]` is a valid, initialised array of `n` pollfd structs that lives
    // across the call; the descriptors are borrowed for the duration of the call.
    let rc = unsafe { libc::poll(set.as_mut_ptr(), n as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(rc > 0)
}

/// What `poll(2)` reported for one descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Input is waiting (`POLLIN`).
    pub readable: bool,
    /// The descriptor failed or its device went away (`POLLERR`, `POLLHUP`, `POLLNVAL`).
    pub failed: bool,
}

/// Wait until any of `fds` is readable or failed, or `timeout` passes, and say which.
/// EINTR counts as a timeout (every entry not ready).
pub fn readiness<const N: usize>(
    fds: [BorrowedFd<'_>; N],
    timeout: Duration,
) -> io::Result<[Readiness; N]> {
    let mut set = fds.map(|fd| libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `set` is a valid, initialised array of `N` pollfd structs that lives across
    // the call; the descriptors are borrowed for the duration of the call.
    let rc = unsafe { libc::poll(set.as_mut_ptr(), N as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok([Readiness::default(); N]);
        }
        return Err(e);
    }
    Ok(set.map(|p| Readiness {
        readable: p.revents & libc::POLLIN != 0,
        failed: p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0,
    }))
}
