//! Wire formats for hvrouter: Ethernet II, 802.1Q, ARP (Ethernet/IPv4), IPv4, ICMPv4, UDP,
//! IPv6, ICMPv6, NDP.
//!
//! Each format has a zero-copy view `Packet<T: AsRef<[u8]>>` (field offsets are constants;
//! `new_unchecked` / `new_checked` / `check_len`; getters on `AsRef`, setters on `AsMut`)
//! and, where it helps, a `Repr` with `parse` / `buffer_len` / `emit`.
//!
//! Promise: once `check_len` (or `new_checked`) has succeeded, no accessor of a view panics,
//! whatever the bytes are. The fuzz targets in `fuzz/` hold the crate to it.
//!
//! No I/O, no `unsafe`, no allocation on the packet path.
//!
//! Modules: [`ethernet`], [`vlan`] (802.1Q), [`arp`] (RFC 826), [`ipv4`] (RFC 791),
//! [`icmpv4`] (RFC 792), [`udp`] (RFC 768), [`dhcp`] (RFC 2131, RFC 2132), [`checksum`]
//! (RFC 1071, RFC 1624); IPv6: [`ipv6`] (RFC 8200), [`ipv6_ext`] (extension-header walk),
//! [`ipv6_addr`] (EUI-64, solicited-node), [`icmpv6`] (RFC 4443), [`ndp`] and
//! [`ndp_option`] (RFC 4861, RFC 8106), [`ipv6_dhcp`] (stateless DHCPv6, RFC 8415).
//!
//! ```
//! use wire::{EtherType, EthernetFrame, Ipv4Packet, Ipv4Repr, Protocol};
//! # use hvrouter_wire as wire;
//! // An Ethernet frame carrying an IPv4 header (192.0.2.1 -> 198.51.100.7, TTL 64).
//! let mut frame = [0u8; 14 + 20];
//! frame[12..14].copy_from_slice(&[0x08, 0x00]);
//! let repr = Ipv4Repr {
//!     src_addr: wire::Ipv4Addr::new(192, 0, 2, 1),
//!     dst_addr: wire::Ipv4Addr::new(198, 51, 100, 7),
//!     protocol: Protocol::Udp,
//!     payload_len: 0,
//!     ttl: 64,
//!     dont_frag: true,
//!     ident: 1,
//! };
//! repr.emit(&mut Ipv4Packet::new_unchecked(&mut frame[14..]));
//!
//! // Forwarding: view, check, decrement the TTL in place.
//! let mut eth = EthernetFrame::new_checked(&mut frame[..])?;
//! assert_eq!(eth.ethertype(), EtherType::Ipv4);
//! let mut ip = Ipv4Packet::new_checked(eth.payload_mut())?;
//! assert!(ip.verify_checksum());
//! assert_eq!(ip.decrement_ttl(), 63);
//! assert!(ip.verify_checksum());
//! # Ok::<(), wire::Error>(())
//! ```

pub mod arp;
pub mod checksum;
pub mod dhcp;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6_addr;
pub mod ipv6_dhcp;
pub mod ipv6_ext;
pub mod ndp;
pub mod ndp_option;
pub mod tcp;
pub mod udp;
pub mod vlan;

pub use arp::{ArpHardware, ArpOperation, ArpPacket, ArpRepr};
pub use dhcp::{DhcpPacket, MessageType as DhcpMessageType};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
pub use icmpv4::{Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Packet, Icmpv6Repr};
pub use ipv4::{Ipv4Packet, Ipv4Repr, Protocol};
pub use ipv6::{Ipv6Addr, Ipv6Packet, Ipv6Repr, NextHeader};
pub use ndp::NdpRepr;
pub use std::net::Ipv4Addr;
pub use tcp::TcpPacket;
pub use udp::{UdpPacket, UdpRepr};
pub use vlan::{VlanPacket, VlanRepr};

/// Why a buffer could not be viewed or parsed as a packet. Small and `Copy`, so the packet
/// path can return it without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than the header or the length a header field claims.
    Truncated,
    /// A field holds a value this format does not allow (bad version, header length ...).
    Malformed,
    /// A checksum does not verify.
    Checksum,
    /// A well-formed packet of a kind this repr does not model (e.g. ARP for IPv6).
    Unsupported,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed packet",
            Error::Checksum => "bad checksum",
            Error::Unsupported => "unsupported packet",
        })
    }
}

impl std::error::Error for Error {}

/// Result of a wire operation.
pub type Result<T> = core::result::Result<T, Error>;
