//! ARP (RFC 826).
//!
//! [`ArpPacket`] views any ARP packet: the address fields sit where the hardware and
//! protocol lengths put them (RFC 826 "Packet format"). The typed address getters return the
//! first 6 (hardware) or 4 (protocol) bytes of their field, zero-padded when the field is
//! shorter; they mean what they say when `hardware_len() == 6 && protocol_len() == 4`, which
//! [`ArpRepr::parse`] insists on. Once `check_len` has succeeded no accessor panics.

use core::fmt;

use crate::ethernet::{EtherType, EthernetAddress};
use crate::{Error, Ipv4Addr, Result};

/// ARP hardware type (`ar$hrd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpHardware {
    /// 1: Ethernet (10Mb), the only one in use on Ethernet links.
    Ethernet,
    /// Any other value.
    Unknown(u16),
}

impl From<u16> for ArpHardware {
    #[inline]
    fn from(value: u16) -> Self {
        match value {
            1 => ArpHardware::Ethernet,
            other => ArpHardware::Unknown(other),
        }
    }
}

impl From<ArpHardware> for u16 {
    #[inline]
    fn from(value: ArpHardware) -> Self {
        match value {
            ArpHardware::Ethernet => 1,
            ArpHardware::Unknown(other) => other,
        }
    }
}

/// ARP opcode (`ar$op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// 1: ares_op$REQUEST
    Request,
    /// 2: ares_op$REPLY
    Reply,
    /// Any other value (RARP, InARP ...).
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    #[inline]
    fn from(value: u16) -> Self {
        match value {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    #[inline]
    fn from(value: ArpOperation) -> Self {
        match value {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    /// Start of the sender hardware address; the rest depends on HLEN and PLEN.
    pub const SHA: usize = 8;
}

/// Length of the fixed part before the addresses.
pub const FIXED_LEN: usize = field::SHA;
/// Length of an Ethernet/IPv4 ARP packet (hlen 6, plen 4).
pub const HEADER_LEN: usize = FIXED_LEN + 2 * 6 + 2 * 4;

/// A zero-copy view of an ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl ArpPacket<&[u8]> {
    /// Length of an Ethernet/IPv4 ARP packet (28). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wrap a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` unless the 8 fixed bytes and `2*hlen + 2*plen` address bytes are
    /// present (28 bytes for Ethernet/IPv4). Trailing bytes (Ethernet padding) are allowed.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let d = self.buffer.as_ref();
        if d.len() < FIXED_LEN {
            return Err(Error::Truncated);
        }
        let need = FIXED_LEN + 2 * usize::from(d[field::HLEN]) + 2 * usize::from(d[field::PLEN]);
        if d.len() < need {
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

    /// Hardware type.
    #[inline]
    pub fn hardware_type(&self) -> ArpHardware {
        ArpHardware::from(self.read_u16(field::HTYPE))
    }

    /// Protocol type.
    #[inline]
    pub fn protocol_type(&self) -> EtherType {
        EtherType::from(self.read_u16(field::PTYPE))
    }

    /// Hardware address length in bytes.
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length in bytes.
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Opcode.
    #[inline]
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(self.read_u16(field::OPER))
    }

    #[inline]
    fn hlen(&self) -> usize {
        usize::from(self.hardware_len())
    }

    #[inline]
    fn plen(&self) -> usize {
        usize::from(self.protocol_len())
    }

    /// Offsets of SHA, SPA, THA, TPA.
    #[inline]
    fn offsets(&self) -> [usize; 4] {
        let (h, p) = (self.hlen(), self.plen());
        let sha = field::SHA;
        [sha, sha + h, sha + h + p, sha + 2 * h + p]
    }

    /// The first `N` bytes of the field at `start` of length `len`, zero-padded. Never panics.
    #[inline]
    fn read_addr<const N: usize>(&self, start: usize, len: usize) -> [u8; N] {
        let mut out = [0u8; N];
        let n = len.min(N);
        if let Some(src) = self.buffer.as_ref().get(start..start + n) {
            out[..n].copy_from_slice(src);
        }
        out
    }

    /// Sender hardware address (`ar$sha`).
    #[inline]
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress(self.read_addr(self.offsets()[0], self.hlen()))
    }

    /// Sender protocol address (`ar$spa`).
    #[inline]
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.read_addr::<4>(self.offsets()[1], self.plen()))
    }

    /// Target hardware address (`ar$tha`).
    #[inline]
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress(self.read_addr(self.offsets()[2], self.hlen()))
    }

    /// Target protocol address (`ar$tpa`).
    #[inline]
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.read_addr::<4>(self.offsets()[3], self.plen()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    #[inline]
    fn write_u16(&mut self, r: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, value: ArpHardware) {
        self.write_u16(field::HTYPE, value.into())
    }

    /// Set the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, value: EtherType) {
        self.write_u16(field::PTYPE, value.into())
    }

    /// Set the hardware address length. Moves where the address fields are.
    #[inline]
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value
    }

    /// Set the protocol address length. Moves where the address fields are.
    #[inline]
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value
    }

    /// Set the opcode.
    #[inline]
    pub fn set_operation(&mut self, value: ArpOperation) {
        self.write_u16(field::OPER, value.into())
    }

    /// Write the first `min(len, bytes.len())` bytes of the field; bytes past the buffer
    /// are not written (never panics).
    #[inline]
    fn write_addr(&mut self, start: usize, len: usize, bytes: &[u8]) {
        let n = len.min(bytes.len());
        if let Some(dst) = self.buffer.as_mut().get_mut(start..start + n) {
            dst.copy_from_slice(&bytes[..n]);
        }
    }

    /// Set the sender hardware address.
    #[inline]
    pub fn set_source_hardware_addr(&mut self, value: EthernetAddress) {
        let (at, len) = (self.offsets()[0], self.hlen());
        self.write_addr(at, len, value.as_bytes())
    }

    /// Set the sender protocol address.
    #[inline]
    pub fn set_source_protocol_addr(&mut self, value: Ipv4Addr) {
        let (at, len) = (self.offsets()[1], self.plen());
        self.write_addr(at, len, &value.octets())
    }

    /// Set the target hardware address.
    #[inline]
    pub fn set_target_hardware_addr(&mut self, value: EthernetAddress) {
        let (at, len) = (self.offsets()[2], self.hlen());
        self.write_addr(at, len, value.as_bytes())
    }

    /// Set the target protocol address.
    #[inline]
    pub fn set_target_protocol_addr(&mut self, value: Ipv4Addr) {
        let (at, len) = (self.offsets()[3], self.plen());
        self.write_addr(at, len, &value.octets())
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    /// Request or reply (other opcodes are kept).
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub source_hardware_addr: EthernetAddress,
    /// Sender protocol address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// Target protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Parse an Ethernet/IPv4 ARP packet. `Err(Truncated)` if too short,
    /// `Err(Unsupported)` unless hardware type 1, protocol 0x0800, lengths 6 and 4
    /// (RFC 826: a receiver ignores packets whose `ar$hrd`/`ar$pro` it does not speak).
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != ArpHardware::Ethernet
            || packet.protocol_type() != EtherType::Ipv4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        Ok(ArpRepr {
            operation: packet.operation(),
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Bytes needed (28).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write an Ethernet/IPv4 ARP packet. Panics if the buffer is shorter than
    /// [`buffer_len`](Self::buffer_len).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        packet.set_hardware_type(ArpHardware::Ethernet);
        packet.set_protocol_type(EtherType::Ipv4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        let b = &mut packet.buffer.as_mut()[field::SHA..HEADER_LEN];
        b[0..6].copy_from_slice(self.source_hardware_addr.as_bytes());
        b[6..10].copy_from_slice(&self.source_protocol_addr.octets());
        b[10..16].copy_from_slice(self.target_hardware_addr.as_bytes());
        b[16..20].copy_from_slice(&self.target_protocol_addr.octets());
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            ArpOperation::Request => write!(
                f,
                "ARP who-has {} tell {} ({})",
                self.target_protocol_addr, self.source_protocol_addr, self.source_hardware_addr
            ),
            ArpOperation::Reply => write!(
                f,
                "ARP {} is-at {} (to {} {})",
                self.source_protocol_addr,
                self.source_hardware_addr,
                self.target_protocol_addr,
                self.target_hardware_addr
            ),
            ArpOperation::Unknown(op) => write!(
                f,
                "ARP op {op} {} {} -> {} {}",
                self.source_protocol_addr,
                self.source_hardware_addr,
                self.target_protocol_addr,
                self.target_hardware_addr
            ),
        }
    }
}
