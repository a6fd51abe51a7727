//! Ethernet II (IEEE 802.3 with EtherType) addresses and frames.
//!
//! [`EthernetFrame`] is a zero-copy view; once its `check_len` has succeeded no accessor
//! panics, whatever the bytes are.

use core::fmt;
use core::str::FromStr;

use crate::Error;

type WireResult<T> = crate::Result<T>;

/// A 48-bit Ethernet (MAC) address.
#[derive(Clone, Copy, Eq, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl PartialEq for EthernetAddress {
    /// Byte-wise equality, compared as one 4-byte and one 2-byte word: the forwarding
    /// path compares MACs on every frame, and the derived 6-byte array compare compiles
    /// to a byte-assembling sequence (about 20 more instructions per forwarded frame).
    /// Being hand-written, it does not allow the constants as `match` patterns: compare
    /// with `==`.
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0, &other.0);
        u32::from_ne_bytes([a[0], a[1], a[2], a[3]]) == u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
            && u16::from_ne_bytes([a[4], a[5]]) == u16::from_ne_bytes([b[4], b[5]])
    }
}

impl core::hash::Hash for EthernetAddress {
    /// As derived: consistent with `PartialEq` (equal addresses have equal bytes).
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// 00:00:00:00:00:00 (unset, e.g. the target hardware address of an ARP request).
    pub const ZERO: EthernetAddress = EthernetAddress([0; 6]);

    /// Build from the first six bytes of `data`. Panics if `data` is shorter than six bytes.
    #[inline]
    pub fn from_bytes(data: &[u8]) -> EthernetAddress {
        let mut b = [0u8; 6];
        b.copy_from_slice(&data[..6]);
        EthernetAddress(b)
    }

    /// The address as bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// ff:ff:ff:ff:ff:ff
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Group bit set (includes broadcast).
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Not multicast, not broadcast, not all zeros.
    #[inline]
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }

    /// Locally administered bit set.
    #[inline]
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a MAC address from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseMacError;

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid MAC address, expected six hex octets like 02:00:00:00:00:01")
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for EthernetAddress {
    type Err = ParseMacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split([':', '-']) {
            if n == 6 || part.len() != 2 {
                return Err(ParseMacError);
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| ParseMacError)?;
            n += 1;
        }
        if n != 6 {
            return Err(ParseMacError);
        }
        Ok(EthernetAddress(out))
    }
}

/// EtherType of an Ethernet II frame or an 802.1Q tag (IEEE 802 numbers). Unknown values are
/// kept so that parse then emit gives back the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// 0x0800
    Ipv4,
    /// 0x0806 (RFC 826)
    Arp,
    /// 0x8100, an IEEE 802.1Q tag follows.
    Vlan,
    /// 0x86DD
    Ipv6,
    /// Any other value.
    Unknown(u16),
}

impl From<u16> for EtherType {
    #[inline]
    fn from(value: u16) -> Self {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    #[inline]
    fn from(value: EtherType) -> Self {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Vlan => f.write_str("802.1Q"),
            EtherType::Ipv6 => f.write_str("IPv6"),
            EtherType::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

mod field {
    use core::ops::{Range, RangeFrom};
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// Length of an Ethernet II header (no 802.1Q tag, no FCS).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A zero-copy view of an Ethernet II frame (without FCS).
///
/// Once [`check_len`](Self::check_len) has succeeded no accessor panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl EthernetFrame<&[u8]> {
    /// Length of an Ethernet II header. Also [`HEADER_LEN`] at module level, which works in
    /// generic code too.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wrap a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> WireResult<EthernetFrame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// `Err(Truncated)` if the buffer is shorter than the 14-byte header.
    #[inline]
    pub fn check_len(&self) -> WireResult<()> {
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

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> EthernetAddress {
        let d = &self.buffer.as_ref()[field::DESTINATION];
        EthernetAddress([d[0], d[1], d[2], d[3], d[4], d[5]])
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> EthernetAddress {
        let d = &self.buffer.as_ref()[field::SOURCE];
        EthernetAddress([d[0], d[1], d[2], d[3], d[4], d[5]])
    }

    /// EtherType.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let d = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([d[0], d[1]]))
    }

    /// Everything after the header (including any padding; the frame has no length field).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(value.as_bytes())
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, value: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(value.as_bytes())
    }

    /// Set the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, value: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(value).to_be_bytes())
    }

    /// Everything after the header, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The header fields of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source address.
    pub src_addr: EthernetAddress,
    /// Destination address.
    pub dst_addr: EthernetAddress,
    /// EtherType.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Read the header of a frame. Fails only if the frame is shorter than its header.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> WireResult<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Bytes needed for the header (14).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into `frame`. Panics if the frame is shorter than
    /// [`buffer_len`](Self::buffer_len).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_src_addr(self.src_addr);
        frame.set_dst_addr(self.dst_addr);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text_round_trip() {
        let m: EthernetAddress = "02:00:5e:10:00:01".parse().unwrap();
        assert_eq!(m.0, [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
        assert_eq!(m.to_string(), "02:00:5e:10:00:01");
        assert!(m.is_unicast() && m.is_local());
        assert!("02:00:5e:10:00".parse::<EthernetAddress>().is_err());
        assert!("02:00:5e:10:00:01:07".parse::<EthernetAddress>().is_err());
        assert!("zz:00:5e:10:00:01".parse::<EthernetAddress>().is_err());
        assert!(EthernetAddress::BROADCAST.is_multicast());
    }

    #[test]
    fn equality_and_hash_are_byte_wise() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |m: &EthernetAddress| {
            let mut h = DefaultHasher::new();
            m.hash(&mut h);
            h.finish()
        };
        let a = EthernetAddress([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(a, EthernetAddress(a.0));
        assert_eq!(hash(&a), hash(&EthernetAddress(a.0)));
        for i in 0..6 {
            for bit in 0..8 {
                let mut b = a;
                b.0[i] ^= 1 << bit;
                assert_ne!(a, b, "byte {i} bit {bit}");
                assert_eq!(a == b, a.0 == b.0);
            }
        }
    }
}
