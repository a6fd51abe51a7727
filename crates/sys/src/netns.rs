//! Network namespaces: moving the calling thread into one made by `ip netns add`.
//!
//! `setns(CLONE_NEWNET)` affects only the calling thread. Sockets, netlink and BPF links
//! created on that thread afterwards belong to (act in) the namespace, and keep doing so
//! from any thread. Use a dedicated thread: the namespace cannot be left cleanly while
//! other code on the thread assumes the original one.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Errors entering a network namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// Opening the namespace file failed (no such namespace).
    #[error("opening network namespace {path:?}")]
    Open {
        /// Namespace file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `setns(CLONE_NEWNET)` failed.
    #[error("entering network namespace {path:?} (setns)")]
    Setns {
        /// Namespace file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// Moves the calling thread into the namespace `name` (`/run/netns/<name>`).
pub fn enter(name: &str) -> Result<(), NetnsError> {
    enter_path(&Path::new("/run/netns").join(name))
}

/// Moves the calling thread into the network namespace file at `path`.
pub fn enter_path(path: &Path) -> Result<(), NetnsError> {
    let file = File::open(path).map_err(|source| NetnsError::Open {
        path: path.into(),
        source,
    })?;
    // SAFETY: file is an open descriptor for the duration of the call.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        let source = io::Error::last_os_error();
        return Err(NetnsError::Setns {
            path: path.into(),
            source,
        });
    }
    Ok(())
}
