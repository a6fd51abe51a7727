//! A doorbell (`eventfd(2)`): one thread rings it to wake another blocked in `poll(2)`
//! on it, e.g. a worker in interrupt mode when another worker hands it frames.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

/// An eventfd, non-blocking: readable (for `poll(2)`) from a ring until cleared.
#[derive(Debug)]
pub struct Doorbell {
    file: File,
}

impl Doorbell {
    /// A new doorbell, not rung.
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: eventfd takes no pointers; the flags are valid constants.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd, is open, and is owned by nothing
        // else: the OwnedFd takes sole ownership and closes it on drop.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Doorbell {
            file: File::from(owned),
        })
    }

    /// Ring: the doorbell becomes readable. Never blocks (a counter that would overflow
    /// is already rung).
    pub fn ring(&self) {
        let _ = (&self.file).write(&1u64.to_ne_bytes());
    }

    /// Clear it (after waking): not readable until the next ring. Never blocks.
    pub fn clear(&self) {
        let mut buf = [0u8; 8];
        let _ = (&self.file).read(&mut buf);
    }
}

impl AsFd for Doorbell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn readable_from_ring_to_clear() {
        let d = Doorbell::new().expect("eventfd");
        let ready = |d: &Doorbell| {
            crate::poll::wait_readable(&[d.as_fd()], Duration::from_millis(1)).expect("poll")
        };
        assert!(!ready(&d));
        d.ring();
        d.ring();
        assert!(ready(&d));
        d.clear();
        assert!(!ready(&d));
        d.clear();
        assert!(!ready(&d), "clearing a clear doorbell does not block");
    }
}
