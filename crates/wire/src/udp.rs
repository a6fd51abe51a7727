//! UDP (RFC 768).
//!
//! [`UdpPacket`] views a datagram (the IPv4 payload). `check_len` validates the length
//! field against the buffer, so `payload()` (bytes 8..len) never panics afterwards; the
//! buffer may be longer than `len()`.

use crate::checksum;
use crate::{Error, Ipv4Addr, Result};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// IP protocol number of UDP, for the pseudo-header.
const PROTO_UDP: u8 = 17;

/// A zero-copy view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl UdpPacket<&[u8]> {
    /// Length of the UDP header (8). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap a buffer without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> UdpPacket<T> {
        UdpPacket { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<UdpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Buffer shorter than 8 -> `Truncated`; length field below 8 -> `Malformed`; length
    /// field beyond the buffer -> `Truncated`.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let buf_len = self.buffer.as_ref().len();
        if buf_len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > buf_len {
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

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.read_u16(field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.read_u16(field::DST_PORT)
    }

    /// Length field: header plus data, in bytes.
    #[inline]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        self.read_u16(field::LENGTH)
    }

    /// Checksum as stored (0 = none was computed).
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Data: bytes 8..len.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// True if the checksum verifies, or is 0 ("no checksum", RFC 768).
    #[inline]
    pub fn verify_checksum(&self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = self.len();
        let sum = checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, PROTO_UDP, u32::from(len)),
            checksum::data(&self.buffer.as_ref()[..usize::from(len)]),
        ]);
        sum == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    #[inline]
    fn write_u16(&mut self, r: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        self.write_u16(field::SRC_PORT, value)
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        self.write_u16(field::DST_PORT, value)
    }

    /// Set the length field.
    #[inline]
    pub fn set_len(&mut self, value: u16) {
        self.write_u16(field::LENGTH, value)
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value)
    }

    /// Data (8..len), mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Compute and store the checksum over pseudo-header, header and data (bytes 0..len).
    /// A computed 0 is sent as 0xffff, since 0 means "no checksum" (RFC 768).
    #[inline]
    pub fn fill_checksum(&mut self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let sum = checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, PROTO_UDP, u32::from(len)),
            checksum::data(&self.buffer.as_ref()[..usize::from(len)]),
        ]);
        let ck = !sum;
        self.set_checksum(if ck == 0 { 0xffff } else { ck })
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for UdpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The header fields of a UDP datagram (length and checksum are derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parse a datagram whose IPv4 addresses are `src_addr` / `dst_addr`. Lengths as in
    /// [`UdpPacket::check_len`]; a non-zero checksum that does not verify -> `Checksum`.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(
        packet: &UdpPacket<T>,
        src_addr: Ipv4Addr,
        dst_addr: Ipv4Addr,
    ) -> Result<UdpRepr> {
        packet.check_len()?;
        if !packet.verify_checksum(src_addr, dst_addr) {
            return Err(Error::Checksum);
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        })
    }

    /// Header bytes (8); the datagram is `buffer_len() + payload_len` bytes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header for `payload_len` bytes of data, let `emit_payload` fill the data
    /// (the slice is exactly `payload_len` bytes), then fill the checksum.
    /// Panics if the buffer is shorter than `8 + payload_len` or that exceeds 65535.
    #[inline]
    pub fn emit<T, F>(
        &self,
        packet: &mut UdpPacket<T>,
        src_addr: Ipv4Addr,
        dst_addr: Ipv4Addr,
        payload_len: usize,
        emit_payload: F,
    ) where
        T: AsRef<[u8]> + AsMut<[u8]>,
        F: FnOnce(&mut [u8]),
    {
        let len = HEADER_LEN + payload_len;
        assert!(len <= usize::from(u16::MAX), "UDP payload_len too large");
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len as u16);
        emit_payload(packet.payload_mut());
        packet.fill_checksum(src_addr, dst_addr);
    }
}
