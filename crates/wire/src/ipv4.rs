//! IPv4 (RFC 791).
//!
//! [`Ipv4Packet`] is a zero-copy view of a datagram. Once `check_len` has succeeded no
//! accessor panics: `check_len` validates that the header length from IHL is at least 20,
//! that the total length covers the header, and that the buffer holds `total_len` bytes, so
//! `options()` and `payload()` are always in bounds. The buffer may be longer than
//! `total_len` (Ethernet padding); `payload()` stops at `total_len`.

use core::fmt;

use crate::checksum;
use crate::{Error, Ipv4Addr, Result};

/// IP protocol number (the `Protocol` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// 1
    Icmp,
    /// 6
    Tcp,
    /// 17
    Udp,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Protocol {
    #[inline]
    fn from(value: u8) -> Self {
        match value {
            1 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            other => Protocol::Unknown(other),
        }
    }
}

impl From<Protocol> for u8 {
    #[inline]
    fn from(value: Protocol) -> Self {
        match value {
            Protocol::Icmp => 1,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Icmp => f.write_str("ICMP"),
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Unknown(p) => write!(f, "proto {p}"),
        }
    }
}

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// Checksum sum over a header: the 20-byte case without options takes the fixed-size
/// path ([`checksum::header20`]).
#[inline]
fn header_sum(header: &[u8]) -> u16 {
    match header.try_into() {
        Ok(h) => checksum::header20(h),
        Err(_) => checksum::data(header),
    }
}

/// A zero-copy view of an IPv4 datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl Ipv4Packet<&[u8]> {
    /// Length of an IPv4 header without options (20). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap a buffer without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Check the lengths: buffer >= 20 (`Truncated`), IHL*4 >= 20 (`Malformed`),
    /// total length >= header length (`Malformed`), buffer >= total length (`Truncated`).
    /// The version is not checked here; [`Ipv4Repr::parse`] does.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(self.header_len());
        let total_len = usize::from(self.total_len());
        if header_len < HEADER_LEN || total_len < header_len {
            return Err(Error::Malformed);
        }
        if len < total_len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn read_u16(&self, r: core::ops::Range<usize>) -> u16 {
        let d = &self.buffer.as_ref()[r];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Version (4 for IPv4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    #[inline]
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated Services Code Point (RFC 2474).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit Congestion Notification (RFC 3168).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length (header and data) in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        self.read_u16(field::IDENT)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_DF != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.read_u16(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.read_u16(field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// True for any fragment: MF set or a non-zero offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.read_u16(field::FLG_OFF) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// True unless this is a non-first fragment (offset 0; an unfragmented datagram is its
    /// own first fragment). Only first fragments carry the transport header (RFC 791).
    #[inline]
    pub fn is_first_fragment(&self) -> bool {
        self.read_u16(field::FLG_OFF) & OFFSET_MASK == 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    /// Options: bytes 20..header_len (empty without options).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// Payload: bytes header_len..total_len.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..usize::from(self.total_len())]
    }

    /// True if the header checksum verifies (the sum over the header is 0xffff).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        header_sum(&self.buffer.as_ref()[..usize::from(self.header_len())]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// Payload borrowed for the buffer's lifetime (for reprs that borrow it).
    #[inline]
    pub fn payload_ref(&self) -> &'a [u8] {
        let b: &'a T = self.buffer;
        let d = b.as_ref();
        &d[usize::from(self.header_len())..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn write_u16(&mut self, r: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the version (low 4 bits of `value`).
    #[inline]
    pub fn set_version(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (value << 4);
    }

    /// Set the header length in bytes (a multiple of 4, at most 60).
    #[inline]
    pub fn set_header_len(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((value / 4) & 0x0f);
    }

    /// Set the DSCP (low 6 bits of `value`).
    #[inline]
    pub fn set_dscp(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (value << 2);
    }

    /// Set the ECN bits (low 2 bits of `value`).
    #[inline]
    pub fn set_ecn(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & !0x03) | (value & 0x03);
    }

    /// Set the total length.
    #[inline]
    pub fn set_total_len(&mut self, value: u16) {
        self.write_u16(field::LENGTH, value)
    }

    /// Set the identification.
    #[inline]
    pub fn set_ident(&mut self, value: u16) {
        self.write_u16(field::IDENT, value)
    }

    #[inline]
    fn set_flag(&mut self, flag: u16, on: bool) {
        let v = self.read_u16(field::FLG_OFF);
        self.write_u16(field::FLG_OFF, if on { v | flag } else { v & !flag })
    }

    /// Set the Don't Fragment flag.
    #[inline]
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flag(FLAG_DF, value)
    }

    /// Set the More Fragments flag.
    #[inline]
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flag(FLAG_MF, value)
    }

    /// Set the fragment offset in bytes (rounded down to a multiple of 8).
    #[inline]
    pub fn set_frag_offset(&mut self, value: u16) {
        let v = self.read_u16(field::FLG_OFF);
        self.write_u16(field::FLG_OFF, (v & !OFFSET_MASK) | (value >> 3))
    }

    /// Set the time to live (the checksum is not updated; see
    /// [`decrement_ttl`](Self::decrement_ttl)).
    #[inline]
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value
    }

    /// Set the protocol.
    #[inline]
    pub fn set_protocol(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = value.into()
    }

    /// Set the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value)
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets())
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets())
    }

    /// Options, mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.header_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Payload (header_len..total_len), mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (
            usize::from(self.header_len()),
            usize::from(self.total_len()),
        );
        &mut self.buffer.as_mut()[start..end]
    }

    /// Compute and store the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = header_sum(&self.buffer.as_ref()[..usize::from(self.header_len())]);
        self.set_checksum(!sum)
    }

    /// Decrement the TTL by one and update the header checksum incrementally, as a router
    /// does when forwarding (RFC 1812 section 5.3.1; the checksum update is RFC 1624
    /// eqn. 3 on the 16-bit TTL/protocol word). Returns the new TTL. A TTL of 0 is left
    /// alone: the caller must already have dropped such a datagram (RFC 1812 5.3.1).
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let ttl = self.ttl();
        if ttl == 0 {
            return 0;
        }
        // RFC 1624 eqn. 3 with m' = m - 0x0100 (the TTL is the high byte of the word):
        // ~m + m' is exactly 0xfeff whatever the protocol byte, so
        // HC' = ~(~HC + 0xfeff), whose sum needs a single fold. This is
        // checksum::update16(HC, m, m') without reading the protocol.
        let sum = u32::from(!self.checksum()) + 0xfeff;
        let ck = !(((sum & 0xffff) + (sum >> 16)) as u16);
        self.set_ttl(ttl - 1);
        self.set_checksum(ck);
        ttl - 1
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The header fields of an unfragmented IPv4 datagram that hvrouter reads or writes.
///
/// DSCP/ECN, options and fragmentation fields are not represented: `emit` writes DSCP 0,
/// ECN 0, no options, offset 0, MF clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub protocol: Protocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Don't Fragment flag.
    pub dont_frag: bool,
    /// Identification.
    pub ident: u16,
}

impl Ipv4Repr {
    /// Parse a datagram header. Errors: lengths as in [`Ipv4Packet::check_len`];
    /// version != 4 -> `Malformed`; bad header checksum -> `Checksum` (RFC 1812 section
    /// 5.2.2); a fragment -> `Unsupported` (the repr has no fragment fields and hvrouter does
    /// not reassemble). Options are allowed and skipped.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.is_fragment() {
            return Err(Error::Unsupported);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - usize::from(packet.header_len()),
            ttl: packet.ttl(),
            dont_frag: packet.dont_frag(),
            ident: packet.ident(),
        })
    }

    /// Header bytes `emit` writes (20: no options).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write a 20-byte header with the checksum filled. The payload is the caller's.
    /// Panics if the buffer is shorter than 20 bytes or `payload_len` exceeds 65515.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        let total = HEADER_LEN + self.payload_len;
        assert!(total <= usize::from(u16::MAX), "IPv4 payload_len too large");
        packet.buffer.as_mut()[field::VER_IHL] = 0x45;
        packet.buffer.as_mut()[field::DSCP_ECN] = 0;
        packet.set_total_len(total as u16);
        packet.set_ident(self.ident);
        packet.write_u16(field::FLG_OFF, if self.dont_frag { FLAG_DF } else { 0 });
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

impl fmt::Display for Ipv4Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 {} > {} {} len {} ttl {}",
            self.src_addr, self.dst_addr, self.protocol, self.payload_len, self.ttl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrement_ttl_agrees_with_update16_for_every_checksum() {
        let mut h = [0u8; HEADER_LEN];
        for ttl in [1u8, 2, 64, 255] {
            for proto in [0u8, 1, 17, 255] {
                for ck in 0..=u16::MAX {
                    h[field::TTL] = ttl;
                    h[field::PROTOCOL] = proto;
                    h[field::CHECKSUM].copy_from_slice(&ck.to_be_bytes());
                    let mut p = Ipv4Packet::new_unchecked(&mut h[..]);
                    assert_eq!(p.decrement_ttl(), ttl - 1);
                    let want = checksum::update16(
                        ck,
                        u16::from_be_bytes([ttl, proto]),
                        u16::from_be_bytes([ttl - 1, proto]),
                    );
                    assert_eq!(p.checksum(), want, "ttl {ttl} proto {proto} ck {ck:#06x}");
                }
            }
        }
    }
}
