//! IPv6 (RFC 8200 section 3) and the IPv6 pseudo-header (RFC 8200 section 8.1).
//!
//! [`Ipv6Packet`] is a zero-copy view of a datagram. Once `check_len` has succeeded no
//! accessor panics: `check_len` validates that the buffer holds the 40-byte fixed header
//! and the `payload_len` bytes it announces, so `payload()` is always in bounds. The buffer
//! may be longer (Ethernet padding); `payload()` stops at `payload_len`. Jumbograms (RFC
//! 2675, payload length 0 with a Hop-by-Hop Jumbo Payload option) are not modelled: a zero
//! payload length means an empty payload.
//!
//! Extension headers are walked by [`crate::ipv6_ext`]; address helpers (EUI-64,
//! solicited-node multicast) live in [`crate::ipv6_addr`].

use core::fmt;

use crate::checksum;
use crate::{Error, Result};
pub use std::net::Ipv6Addr;

/// Declare a `u8` protocol enum that keeps unknown values (parse then emit gives back the
/// same byte).
macro_rules! u8_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $val:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var,)+
            /// Any other value.
            Unknown(u8),
        }

        impl From<u8> for $name {
            #[inline]
            fn from(value: u8) -> Self {
                match value {
                    $($val => $name::$var,)+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            #[inline]
            fn from(value: $name) -> Self {
                match value {
                    $($name::$var => $val,)+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
pub(crate) use u8_enum;

u8_enum! {
    /// The Next Header field (IANA "Assigned Internet Protocol Numbers"; extension headers
    /// from RFC 8200 section 4 and the IANA "IPv6 Extension Header Types" registry).
    NextHeader {
        /// 0: Hop-by-Hop Options (RFC 8200 4.3).
        HopByHop = 0,
        /// 6: TCP.
        Tcp = 6,
        /// 17: UDP.
        Udp = 17,
        /// 43: Routing (RFC 8200 4.4).
        Routing = 43,
        /// 44: Fragment (RFC 8200 4.5).
        Fragment = 44,
        /// 50: Encapsulating Security Payload (RFC 4303).
        Esp = 50,
        /// 51: Authentication Header (RFC 4302).
        Ah = 51,
        /// 58: ICMPv6 (RFC 4443).
        Icmpv6 = 58,
        /// 59: No Next Header (RFC 8200 4.7).
        NoNextHeader = 59,
        /// 60: Destination Options (RFC 8200 4.6).
        DestOptions = 60,
        /// 135: Mobility Header (RFC 6275).
        Mobility = 135,
        /// 139: Host Identity Protocol (RFC 7401).
        Hip = 139,
        /// 140: Shim6 (RFC 5533).
        Shim6 = 140,
        /// 253: experimentation and testing (RFC 3692).
        Experiment1 = 253,
        /// 254: experimentation and testing (RFC 3692).
        Experiment2 = 254,
    }
}

impl NextHeader {
    /// True for the extension headers that use the common "Next Header, Hdr Ext Len in
    /// 8-octet units not counting the first 8" format (RFC 8200 4, RFC 6564), plus AH and
    /// Fragment whose lengths are computed differently by [`crate::ipv6_ext`]. ESP is not
    /// walkable (its next header is encrypted) and is not included.
    #[inline]
    pub fn is_extension(self) -> bool {
        matches!(
            self,
            NextHeader::HopByHop
                | NextHeader::Routing
                | NextHeader::Fragment
                | NextHeader::Ah
                | NextHeader::DestOptions
                | NextHeader::Mobility
                | NextHeader::Hip
                | NextHeader::Shim6
                | NextHeader::Experiment1
                | NextHeader::Experiment2
        )
    }
}

impl fmt::Display for NextHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHeader::Tcp => f.write_str("TCP"),
            NextHeader::Udp => f.write_str("UDP"),
            NextHeader::Icmpv6 => f.write_str("ICMPv6"),
            NextHeader::Unknown(p) => write!(f, "next header {p}"),
            other => write!(f, "{other:?}"),
        }
    }
}

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// The minimum link MTU every IPv6 link must carry (RFC 8200 section 5).
pub const MIN_MTU: usize = 1280;

/// A zero-copy view of an IPv6 datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl Ipv6Packet<&[u8]> {
    /// Length of the fixed header (40). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if the buffer is shorter than the fixed header or than the header
    /// plus the payload length it announces. The version is not checked here;
    /// [`Ipv6Repr::parse`] does.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < HEADER_LEN + usize::from(self.payload_len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn first_word(&self) -> u32 {
        let d = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// IP version (6 for a valid packet).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// Traffic class (DSCP and ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// Payload length: the bytes after the fixed header, extension headers included.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::PAYLOAD_LEN];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Next Header: the first extension header or the upper-layer protocol.
    #[inline]
    pub fn next_header(&self) -> NextHeader {
        NextHeader::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// The payload (extension headers and upper layer), `payload_len` bytes.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }

    /// Header plus payload: the datagram without link padding.
    #[inline]
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.payload_len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline]
    fn set_first_word(&mut self, value: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the version field.
    #[inline]
    pub fn set_version(&mut self, value: u8) {
        let w = (self.first_word() & 0x0fff_ffff) | (u32::from(value & 0x0f) << 28);
        self.set_first_word(w)
    }

    /// Set the traffic class.
    #[inline]
    pub fn set_traffic_class(&mut self, value: u8) {
        let w = (self.first_word() & 0xf00f_ffff) | (u32::from(value) << 20);
        self.set_first_word(w)
    }

    /// Set the flow label (the low 20 bits of `value`).
    #[inline]
    pub fn set_flow_label(&mut self, value: u32) {
        let w = (self.first_word() & 0xfff0_0000) | (value & 0x000f_ffff);
        self.set_first_word(w)
    }

    /// Set the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the next header.
    #[inline]
    pub fn set_next_header(&mut self, value: NextHeader) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value.into()
    }

    /// Set the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value
    }

    /// Decrement the hop limit (saturating at 0) and return the new value. IPv6 has no
    /// header checksum, so nothing else changes (RFC 8200 section 3).
    #[inline]
    pub fn decrement_hop_limit(&mut self) -> u8 {
        let h = self.hop_limit().saturating_sub(1);
        self.set_hop_limit(h);
        h
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets())
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets())
    }

    /// The payload, mutable (`payload_len` bytes).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv6Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The 16 bytes at `at` as an address (the caller guarantees bounds).
#[inline]
fn addr_at(d: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&d[at..at + 16]);
    Ipv6Addr::from(o)
}

/// Sum of the IPv6 pseudo-header used by upper-layer checksums (RFC 8200 section 8.1):
/// source address, destination address, 32-bit upper-layer packet length, three zero
/// bytes and the next header. Folded, not inverted; join with [`checksum::combine`].
#[inline]
pub fn pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: NextHeader, length: u32) -> u16 {
    let mut acc = [0u16; 4];
    acc[0] = checksum::data(&src.octets());
    acc[1] = checksum::data(&dst.octets());
    acc[2] = checksum::combine(&[(length >> 16) as u16, length as u16]);
    acc[3] = u16::from(u8::from(next_header));
    checksum::combine(&acc)
}

/// A high-level representation of the fixed IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header.
    pub next_header: NextHeader,
    /// Payload length (extension headers included).
    pub payload_len: u16,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Ipv6Repr {
    /// Parse the fixed header: `Truncated` as `check_len`, `Malformed` if the version is
    /// not 6. Traffic class and flow label are not kept.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: packet.payload_len(),
            hop_limit: packet.hop_limit(),
        })
    }

    /// Bytes of the fixed header (40).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the fixed header (traffic class and flow label zero). Panics if the buffer is
    /// shorter than 40 bytes.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) {
        packet.set_first_word(6 << 28);
        packet.set_payload_len(self.payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

impl fmt::Display for Ipv6Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv6 {} -> {} {} len {} hlim {}",
            self.src_addr, self.dst_addr, self.next_header, self.payload_len, self.hop_limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN + 8 + 2];
        let repr = Ipv6Repr {
            src_addr: "2001:db8::1".parse().unwrap(),
            dst_addr: "2001:db8::2".parse().unwrap(),
            next_header: NextHeader::Udp,
            payload_len: 8,
            hop_limit: 64,
        };
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
        b
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let b = sample();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.payload().len(), 8, "padding is not payload");
        let r = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(r.hop_limit, 64);
        assert_eq!(r.next_header, NextHeader::Udp);
        assert_eq!(r.dst_addr, "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            r.to_string(),
            "IPv6 2001:db8::1 -> 2001:db8::2 UDP len 8 hlim 64"
        );
    }

    #[test]
    fn check_len_refuses_short_payload() {
        let b = sample();
        assert_eq!(
            Ipv6Packet::new_checked(&b[..HEADER_LEN + 7]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).err(),
            Some(Error::Truncated)
        );
    }

    #[test]
    fn wrong_version_is_malformed() {
        let mut b = sample();
        b[0] = 0x45;
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p), Err(Error::Malformed));
    }

    #[test]
    fn fields_set_independently() {
        let mut b = sample();
        let mut p = Ipv6Packet::new_checked(&mut b[..]).unwrap();
        p.set_traffic_class(0xb8);
        p.set_flow_label(0xabcde);
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0xabcde);
        p.set_flow_label(0xfff_ffff);
        assert_eq!(p.traffic_class(), 0xb8, "flow label does not spill");
        assert_eq!(p.decrement_hop_limit(), 63);
        p.set_hop_limit(0);
        assert_eq!(p.decrement_hop_limit(), 0, "saturates");
    }

    #[test]
    fn pseudo_header_matches_reference() {
        // RFC 8200 8.1 layout summed byte by byte.
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
        let mut ph = Vec::new();
        ph.extend_from_slice(&src.octets());
        ph.extend_from_slice(&dst.octets());
        ph.extend_from_slice(&70_000u32.to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            pseudo_header(&src, &dst, NextHeader::Icmpv6, 70_000),
            checksum::data(&ph)
        );
    }
}
