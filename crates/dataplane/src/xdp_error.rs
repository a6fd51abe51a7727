//! Errors opening or updating AF_XDP devices and ports.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use sys::{UmemError, XdpError, XskError};

/// Errors opening or updating an AF_XDP port; each names the failed operation and
/// keeps its cause as [`std::error::Error::source`].
#[derive(Debug)]
pub enum XdpPortError {
    /// The configuration cannot work (see the message).
    InvalidConfig(&'static str),
    /// Creating the shared UMEM failed.
    CreatePool(UmemError),
    /// Loading the steering program for `ifindex` failed.
    LoadProgram {
        /// Interface index.
        ifindex: u32,
        /// Cause.
        source: XdpError,
    },
    /// Binding the AF_XDP socket on `ifindex` failed.
    BindSocket {
        /// Interface index.
        ifindex: u32,
        /// Cause.
        source: XskError,
    },
    /// Putting the socket into the program's XSKMAP failed.
    RegisterSocket {
        /// Interface index.
        ifindex: u32,
        /// Cause.
        source: XdpError,
    },
    /// Updating the uplink's steered-IP map failed.
    SteerIp {
        /// Interface index.
        ifindex: u32,
        /// The address.
        ip: Ipv4Addr,
        /// Cause.
        source: XdpError,
    },
    /// Updating the uplink's steered-prefix trie failed.
    SteerPrefix {
        /// Interface index.
        ifindex: u32,
        /// The prefix's address.
        ip: Ipv4Addr,
        /// The prefix's length.
        prefix_len: u8,
        /// Cause.
        source: XdpError,
    },
    /// Updating the uplink's IPv6 steering (an address: `prefix_len` 128, or a prefix)
    /// failed.
    SteerIpv6 {
        /// Interface index.
        ifindex: u32,
        /// The address or prefix.
        addr: Ipv6Addr,
        /// 128 for an exact address.
        prefix_len: u8,
        /// Cause.
        source: XdpError,
    },
    /// Attaching the program to the device failed.
    Attach {
        /// Interface index.
        ifindex: u32,
        /// Cause.
        source: XdpError,
    },
}

impl fmt::Display for XdpPortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(why) => write!(f, "invalid AF_XDP port configuration: {why}"),
            Self::CreatePool(_) => f.write_str("creating the UMEM frame pool"),
            Self::LoadProgram { ifindex, .. } => {
                write!(f, "loading the XDP steering program for ifindex {ifindex}")
            }
            Self::BindSocket { ifindex, .. } => {
                write!(f, "binding the AF_XDP socket on ifindex {ifindex}")
            }
            Self::RegisterSocket { ifindex, .. } => write!(
                f,
                "registering the AF_XDP socket of ifindex {ifindex} in its XSKMAP"
            ),
            Self::SteerIp { ifindex, ip, .. } => {
                write!(f, "updating steered IP {ip} on ifindex {ifindex}")
            }
            Self::SteerPrefix {
                ifindex,
                ip,
                prefix_len,
                ..
            } => write!(
                f,
                "updating steered prefix {ip}/{prefix_len} on ifindex {ifindex}"
            ),
            Self::SteerIpv6 {
                ifindex,
                addr,
                prefix_len,
                ..
            } => write!(
                f,
                "updating steered IPv6 {addr}/{prefix_len} on ifindex {ifindex}"
            ),
            Self::Attach { ifindex, .. } => {
                write!(f, "attaching the XDP program to ifindex {ifindex}")
            }
        }
    }
}

impl std::error::Error for XdpPortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidConfig(_) => None,
            Self::CreatePool(e) => Some(e),
            Self::BindSocket { source, .. } => Some(source),
            Self::LoadProgram { source, .. }
            | Self::RegisterSocket { source, .. }
            | Self::SteerIp { source, .. }
            | Self::SteerPrefix { source, .. }
            | Self::SteerIpv6 { source, .. }
            | Self::Attach { source, .. } => Some(source),
        }
    }
}
