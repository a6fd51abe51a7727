//! IEEE 802.1Q VLAN tag: the 4 bytes that follow an EtherType of 0x8100.
//!
//! The view starts at the Tag Control Information (TCI), right after the outer EtherType:
//! `PCP(3) DEI(1) VID(12)` then the inner EtherType. Once `check_len` has succeeded no
//! accessor panics.

use crate::ethernet::EtherType;
use crate::{Error, Result};

mod field {
    use core::ops::{Range, RangeFrom};
    pub const TCI: Range<usize> = 0..2;
    pub const ETHERTYPE: Range<usize> = 2..4;
    pub const PAYLOAD: RangeFrom<usize> = 4..;
}

/// Length of the tag (TCI and inner EtherType).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Largest VLAN identifier (4095 is reserved, 0 means priority-tagged only).
pub const MAX_VLAN_ID: u16 = 0x0fff;

/// A zero-copy view of an 802.1Q tag and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl VlanPacket<&[u8]> {
    /// Length of the tag (4). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> VlanPacket<T> {
    /// Wrap a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> VlanPacket<T> {
        VlanPacket { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<VlanPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if the buffer is shorter than the 4-byte tag.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
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
    fn tci(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::TCI];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Priority code point (0..=7).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier (0..=4095).
    #[inline]
    pub fn vlan_id(&self) -> u16 {
        self.tci() & MAX_VLAN_ID
    }

    /// EtherType of the encapsulated payload.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let d = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([d[0], d[1]]))
    }

    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanPacket<T> {
    #[inline]
    fn set_tci(&mut self, value: u16) {
        self.buffer.as_mut()[field::TCI].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the priority code point (low 3 bits of `value`).
    #[inline]
    pub fn set_pcp(&mut self, value: u8) {
        let tci = (self.tci() & 0x1fff) | (u16::from(value & 0x07) << 13);
        self.set_tci(tci)
    }

    /// Set the drop eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, value: bool) {
        let tci = (self.tci() & !0x1000) | if value { 0x1000 } else { 0 };
        self.set_tci(tci)
    }

    /// Set the VLAN identifier (low 12 bits of `value`).
    #[inline]
    pub fn set_vlan_id(&mut self, value: u16) {
        let tci = (self.tci() & !MAX_VLAN_ID) | (value & MAX_VLAN_ID);
        self.set_tci(tci)
    }

    /// Set the inner EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, value: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(value).to_be_bytes())
    }

    /// Everything after the tag, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for VlanPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of an 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanRepr {
    /// Priority code point (0..=7).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (0..=4095).
    pub vlan_id: u16,
    /// Inner EtherType.
    pub ethertype: EtherType,
}

impl VlanRepr {
    /// Read a tag. Fails only if the buffer is shorter than 4 bytes.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &VlanPacket<T>) -> Result<VlanRepr> {
        packet.check_len()?;
        Ok(VlanRepr {
            pcp: packet.pcp(),
            dei: packet.dei(),
            vlan_id: packet.vlan_id(),
            ethertype: packet.ethertype(),
        })
    }

    /// Bytes needed (4).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the tag; out-of-range `pcp` / `vlan_id` are masked to 3 / 12 bits. Panics if
    /// the buffer is shorter than 4 bytes.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut VlanPacket<T>) {
        let tci = (u16::from(self.pcp & 0x07) << 13)
            | if self.dei { 0x1000 } else { 0 }
            | (self.vlan_id & MAX_VLAN_ID);
        packet.set_tci(tci);
        packet.set_ethertype(self.ethertype);
    }
}
