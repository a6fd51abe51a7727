//! Network device lookups (in the calling thread's network namespace).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
    /// An interface ioctl (`op`, e.g. `SIOCGIFHWADDR`) failed.
    #[error("{op} on interface {name:?}")]
    Ioctl {
        /// The ioctl request.
        op: &'static str,
        /// Interface name.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The device has no Ethernet address (its hardware type is not `ARPHRD_ETHER`).
    #[error("interface {name:?} is not Ethernet (hardware type {hw_type})")]
    NotEthernet {
        /// Interface name.
        name: String,
        /// `ARPHRD_*` type the kernel reported.
        hw_type: u16,
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

/// `IFF_MULTI_QUEUE` in a tun/tap device's `tun_flags`.
const IFF_MULTI_QUEUE: u32 = 0x0100;

/// Whether `name` is a tap (or tun) opened with `IFF_MULTI_QUEUE`, read from
/// `/sys/class/net/NAME/tun_flags` (absent for other devices: false).
pub fn is_multi_queue_tun(name: &str) -> bool {
    if !valid_sysfs_name(name) {
        return false;
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/tun_flags"))
        .ok()
        .and_then(|t| u32::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & IFF_MULTI_QUEUE != 0)
}

/// How many receive queues `name` has now (`real_num_rx_queues`: the `rx-N` entries
/// of `/sys/class/net/NAME/queues`). For a multi-queue tap, the queues its holder
/// (QEMU) has attached.
pub fn rx_queue_count(name: &str) -> Result<u32, NetdevError> {
    let err = |source| NetdevError::IfIndex {
        name: name.to_owned(),
        source,
    };
    if !valid_sysfs_name(name) {
        return Err(err(io::Error::from(io::ErrorKind::InvalidInput)));
    }
    let dir = std::fs::read_dir(format!("/sys/class/net/{name}/queues")).map_err(err)?;
    let count = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// A name that is safe as one path component under `/sys/class/net`.
fn valid_sysfs_name(name: &str) -> bool {
    !name.is_empty() && name.len() < 16 && name != "." && name != ".." && !name.contains('/')
}

/// `ioctl(SIOCGIFHWADDR)` on `name`: its Ethernet (MAC) address.
///
/// Fails with [`NetdevError::NotEthernet`] for devices without a 6-byte Ethernet address
/// (loopback answers `ARPHRD_LOOPBACK`, a tun device `ARPHRD_NONE`).
pub fn mac_address(name: &str) -> Result<[u8; 6], NetdevError> {
    let req = ifreq_ioctl(name, libc::SIOCGIFHWADDR, "SIOCGIFHWADDR")?;
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member of the union; every member is
    // plain integers, so reading it is valid whatever the kernel wrote.
    let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
    if hw.sa_family != libc::ARPHRD_ETHER {
        return Err(NetdevError::NotEthernet {
            name: name.to_owned(),
            hw_type: hw.sa_family,
        });
    }
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// `ioctl(SIOCGIFMTU)` on `name`: its MTU (layer 3 payload bytes).
pub fn mtu(name: &str) -> Result<u32, NetdevError> {
    let req = ifreq_ioctl(name, libc::SIOCGIFMTU, "SIOCGIFMTU")?;
    // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member; it is a plain integer.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).map_err(|_| NetdevError::Ioctl {
        op: "SIOCGIFMTU",
        name: name.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("negative MTU {mtu}")),
    })
}

/// Runs a "get" ioctl taking a `struct ifreq` for `name` on a throwaway `AF_INET`
/// datagram socket (created on the calling thread, so it acts in its namespace).
fn ifreq_ioctl(
    name: &str,
    request: libc::Ioctl,
    op: &'static str,
) -> Result<libc::ifreq, NetdevError> {
    let err = |source| NetdevError::Ioctl {
        op,
        name: name.to_owned(),
        source,
    };
    let mut req =
        ifreq_for(name).ok_or_else(|| err(io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: plain syscall with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(err(io::Error::last_os_error()));
    }
    // SAFETY: fd is a freshly created descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `req` is a valid, writable `struct ifreq` for the whole call; the kernel
    // writes at most size_of::<ifreq>() bytes of plain data into it.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request, &mut req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(err(io::Error::last_os_error()));
    }
    Ok(req)
}

/// A zeroed `struct ifreq` carrying `name`, or None when the name cannot be an interface
/// name (empty, longer than 15 bytes, or containing NUL).
pub(crate) fn ifreq_for(name: &str) -> Option<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.bytes().any(|b| b == 0) {
        return None;
    }
    // SAFETY: ifreq is a C struct of integers and a union of integer-only members, for
    // which all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, b) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = b as libc::c_char;
    }
    Some(req)
}
