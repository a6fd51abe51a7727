//! Network device lookups (in the calling thread's network namespace).

use std::ffi::CString;
use std::io;

/// Errors looking up a network device.
#[derive(Debug, thiserror::Error)]
pub enum NetdevError {
    /// `if_nametoindex` failed (no such device in this namespace).
    #[error("looking up the index of interface {name:?}")]
    IfIndex {
        /// Interface name.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// The index of interface `name`.
pub fn ifindex(name: &str) -> Result<u32, NetdevError> {
    let err = |source| NetdevError::IfIndex {
        name: name.to_owned(),
        source,
    };
    let c = CString::new(name).map_err(|_| err(io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: c is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        return Err(err(io::Error::last_os_error()));
    }
    Ok(index)
}
