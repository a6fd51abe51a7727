//! AF_XDP socket creation and SOL_XDP socket options.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Option values passed by pointer.
///
/// # Safety
/// Implementors are plain C structs or integers of the kernel's layout, for which every
/// bit pattern (in particular all zeroes) is a valid value.
pub(crate) unsafe trait OptValue: Copy {}
// SAFETY: integers and these libc structs of integers accept any bit pattern.
unsafe impl OptValue for u32 {}
// SAFETY: as above.
unsafe impl OptValue for libc::xdp_umem_reg {}
// SAFETY: as above.
unsafe impl OptValue for libc::xdp_mmap_offsets {}
// SAFETY: as above.
unsafe impl OptValue for libc::xdp_statistics {}

/// Creates an `AF_XDP` raw socket, close-on-exec.
pub(crate) fn xdp_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(fd, SOL_XDP, name, value)`.
pub(crate) fn set<T: OptValue>(fd: BorrowedFd<'_>, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to size_of::<T>() readable bytes for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `getsockopt(fd, SOL_XDP, name)`; fails unless the kernel fills the whole `T`.
pub(crate) fn get<T: OptValue>(fd: BorrowedFd<'_>, name: libc::c_int) -> io::Result<T> {
    // SAFETY: OptValue types accept the all-zero bit pattern.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is size_of::<T>() writable bytes and `len` says so; the kernel
    // writes at most `len` bytes of plain data into it.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != size_of::<T>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "option {name}: kernel returned {len} bytes, expected {}",
                size_of::<T>()
            ),
        ));
    }
    Ok(value)
}
