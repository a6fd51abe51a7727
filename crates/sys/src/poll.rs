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
