//! Per-interface IPv4 sysctls the router needs to control, read and written through
//! `/proc/sys/net/ipv4/conf/<if>/`. Writes act in the network namespace of the calling
//! thread (`/proc/sys/net` resolves to the current thread's namespace).
//!
//! The router turns kernel proxy ARP off on the uplink and the taps at start, so that
//! the kernel cannot answer ARP on its behalf: with the router's own state gone, nothing
//! answers (it fails closed). Note that the kernel's effective value is
//! `conf/all/proxy_arp OR conf/<if>/proxy_arp` (`IN_DEV_ORCONF`): check `all` too.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Errors reading or writing an interface sysctl; each names the operation.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    /// The name cannot be an interface (or `all`/`default`) and is not used in a path.
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
    /// Reading the sysctl file failed (no such interface in this namespace).
    #[error("reading {path:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The file held something other than an integer.
    #[error("{path:?} holds {content:?}, not an integer")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// Writing the sysctl file failed.
    #[error("writing {value} to {path:?}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Value written.
        value: i64,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The value read back differs from the one written.
    #[error("{path:?} reads {actual} after writing {wanted}")]
    NotApplied {
        /// The file.
        path: PathBuf,
        /// Value written.
        wanted: i64,
        /// Value read back.
        actual: i64,
    },
}

/// Whether kernel proxy ARP is on for `ifname` (`conf/<ifname>/proxy_arp` non-zero).
/// `ifname` may also be `all` or `default`.
pub fn get_proxy_arp(ifname: &str) -> Result<bool, SysctlError> {
    Ok(read_int(&conf_path(ifname, "proxy_arp")?)? != 0)
}

/// Sets `conf/<ifname>/proxy_arp` to `enabled`, reads it back, and returns the previous
/// setting (so the caller can log the change, or restore it).
pub fn set_proxy_arp(ifname: &str, enabled: bool) -> Result<bool, SysctlError> {
    let path = conf_path(ifname, "proxy_arp")?;
    let previous = read_int(&path)? != 0;
    write_int(&path, i64::from(enabled))?;
    Ok(previous)
}

/// Sets `net/ipv6/conf/<ifname>/proxy_ndp` to `enabled` and returns the previous
/// setting; `Ok(None)` where the device has no IPv6 (no such directory: nothing to
/// proxy). The IPv6 twin of [`set_proxy_arp`]: the kernel must never proxy-answer
/// neighbor solicitations for the router's guests.
pub fn set_proxy_ndp(ifname: &str, enabled: bool) -> Result<Option<bool>, SysctlError> {
    if !valid_ifname(ifname) {
        return Err(SysctlError::InvalidName(ifname.to_owned()));
    }
    let path = PathBuf::from("/proc/sys/net/ipv6/conf")
        .join(ifname)
        .join("proxy_ndp");
    if !path.exists() {
        return Ok(None);
    }
    let previous = read_int(&path)? != 0;
    write_int(&path, i64::from(enabled))?;
    Ok(Some(previous))
}

/// `/proc/sys/net/ipv4/conf/<ifname>/<key>`, after checking that `ifname` cannot
/// escape the directory.
/// This boot's id (`/proc/sys/kernel/random/boot_id`, a UUID the kernel draws at each
/// boot). Interface indexes are only meaningful within one boot: the router records
/// it with the devices its runtime guests were added on.
pub fn boot_id() -> Result<String, SysctlError> {
    let path = PathBuf::from("/proc/sys/kernel/random/boot_id");
    let text = fs::read_to_string(&path).map_err(|source| SysctlError::Read {
        path: path.clone(),
        source,
    })?;
    let id = text.trim();
    if id.is_empty() || id.len() > 64 {
        return Err(SysctlError::Parse {
            path,
            content: id.chars().take(64).collect(),
        });
    }
    Ok(id.to_string())
}

fn conf_path(ifname: &str, key: &str) -> Result<PathBuf, SysctlError> {
    if !valid_ifname(ifname) {
        return Err(SysctlError::InvalidName(ifname.to_owned()));
    }
    Ok(PathBuf::from("/proc/sys/net/ipv4/conf")
        .join(ifname)
        .join(key))
}

/// The kernel's rules for device names (`dev_valid_name`): 1 to 15 bytes, not `.` or
/// `..`, no `/`, `:`, whitespace or NUL. (`all` and `default` pass, as intended.)
pub(crate) fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
}

fn read_int(path: &Path) -> Result<i64, SysctlError> {
    let content = fs::read_to_string(path).map_err(|source| SysctlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    content.trim().parse().map_err(|_| SysctlError::Parse {
        path: path.to_path_buf(),
        content,
    })
}

fn write_int(path: &Path, value: i64) -> Result<(), SysctlError> {
    fs::write(path, format!("{value}\n")).map_err(|source| SysctlError::Write {
        path: path.to_path_buf(),
        value,
        source,
    })?;
    let actual = read_int(path)?;
    if actual != value {
        return Err(SysctlError::NotApplied {
            path: path.to_path_buf(),
            wanted: value,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_are_refused_before_any_io() {
        for bad in [
            "",
            ".",
            "..",
            "../all",
            "a/b",
            "eth0:1",
            "tap 1",
            "x\0",
            "sixteen-chars-xx",
        ] {
            assert!(
                matches!(set_proxy_arp(bad, false), Err(SysctlError::InvalidName(_))),
                "{bad:?}"
            );
            assert!(matches!(
                get_proxy_arp(bad),
                Err(SysctlError::InvalidName(_))
            ));
        }
    }

    #[test]
    fn ordinary_names_map_into_conf() {
        for good in ["bond0.90", "tap17", "all", "default", "hvrt1234567a"] {
            assert_eq!(
                conf_path(good, "proxy_arp").ok(),
                Some(PathBuf::from(format!(
                    "/proc/sys/net/ipv4/conf/{good}/proxy_arp"
                )))
            );
        }
    }

    #[test]
    fn missing_interface_is_a_read_error() {
        let r = get_proxy_arp("hvr-no-such-if");
        assert!(matches!(r, Err(SysctlError::Read { .. })), "{r:?}");
    }
}
