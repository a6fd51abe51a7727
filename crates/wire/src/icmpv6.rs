//! ICMPv6 (RFC 4443).
//!
//! [`Icmpv6Packet`] views one whole ICMPv6 message (the upper-layer payload of an IPv6
//! datagram). Its checksum covers the IPv6 pseudo-header (RFC 4443 2.3, RFC 8200 8.1), so
//! verifying and filling it take the source and destination addresses. Once `check_len`
//! has succeeded no accessor panics. Neighbor Discovery messages (types 133-137) are
//! parsed by [`crate::ndp`] on top of this view.

use core::fmt;

use crate::checksum;
use crate::ipv6::{pseudo_header, u8_enum, Ipv6Addr, NextHeader};
use crate::{Error, Result};

u8_enum! {
    /// ICMPv6 message type (RFC 4443 2.1, RFC 4861 4, RFC 2710, RFC 3810).
    Message {
        /// 1
        DstUnreachable = 1,
        /// 2
        PacketTooBig = 2,
        /// 3
        TimeExceeded = 3,
        /// 4
        ParamProblem = 4,
        /// 128
        EchoRequest = 128,
        /// 129
        EchoReply = 129,
        /// 130: Multicast Listener Query (RFC 2710, RFC 3810).
        MldQuery = 130,
        /// 131: MLDv1 Report (RFC 2710).
        MldReport = 131,
        /// 132: MLDv1 Done (RFC 2710).
        MldDone = 132,
        /// 133: Router Solicitation (RFC 4861 4.1).
        RouterSolicit = 133,
        /// 134: Router Advertisement (RFC 4861 4.2).
        RouterAdvert = 134,
        /// 135: Neighbor Solicitation (RFC 4861 4.3).
        NeighborSolicit = 135,
        /// 136: Neighbor Advertisement (RFC 4861 4.4).
        NeighborAdvert = 136,
        /// 137: Redirect (RFC 4861 4.5).
        Redirect = 137,
        /// 143: MLDv2 Report (RFC 3810 5.2).
        MldV2Report = 143,
    }
}

impl Message {
    /// True for error messages (RFC 4443 2.1: high-order bit of the type clear). A node
    /// never sends an error about an error (RFC 4443 2.4 (e.1)).
    #[inline]
    pub fn is_error(self) -> bool {
        u8::from(self) & 0x80 == 0
    }

    /// True for the Neighbor Discovery messages (RFC 4861, types 133-137).
    #[inline]
    pub fn is_ndp(self) -> bool {
        (133..=137).contains(&u8::from(self))
    }

    /// True for the MLD messages (RFC 2710, RFC 3810).
    #[inline]
    pub fn is_mld(self) -> bool {
        matches!(
            self,
            Message::MldQuery | Message::MldReport | Message::MldDone | Message::MldV2Report
        )
    }
}

u8_enum! {
    /// Code of a Destination Unreachable message (RFC 4443 3.1).
    DstUnreachable {
        /// 0: no route to destination
        NoRoute = 0,
        /// 1: communication with destination administratively prohibited
        AdminProhibited = 1,
        /// 2: beyond scope of source address
        BeyondScope = 2,
        /// 3: address unreachable
        AddrUnreachable = 3,
        /// 4: port unreachable
        PortUnreachable = 4,
        /// 5: source address failed ingress/egress policy
        FailedPolicy = 5,
        /// 6: reject route to destination
        RejectRoute = 6,
    }
}

u8_enum! {
    /// Code of a Time Exceeded message (RFC 4443 3.3).
    TimeExceeded {
        /// 0: hop limit exceeded in transit
        HopLimitExceeded = 0,
        /// 1: fragment reassembly time exceeded
        FragReassemblyExceeded = 1,
    }
}

u8_enum! {
    /// Code of a Parameter Problem message (RFC 4443 3.4).
    ParamProblem {
        /// 0: erroneous header field encountered
        ErroneousHeader = 0,
        /// 1: unrecognized Next Header type encountered
        UnrecognizedNextHeader = 1,
        /// 2: unrecognized IPv6 option encountered
        UnrecognizedOption = 2,
    }
}

pub(crate) mod field {
    use core::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const WORD: Range<usize> = 4..8;
    pub const DATA: RangeFrom<usize> = 8..;
}

/// Length of the ICMPv6 header (type, code, checksum, 4 bytes of message body).
pub const HEADER_LEN: usize = field::DATA.start;

/// RFC 4443 2.4 (c): an error message carries "as much of invoking packet as possible
/// without the ICMPv6 packet exceeding the minimum IPv6 MTU": 1280 - 40 - 8 bytes.
pub const MAX_ERROR_QUOTE: usize = 1280 - 40 - HEADER_LEN;

/// A zero-copy view of an ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    pub(crate) buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wrap a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Icmpv6Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if the buffer is shorter than the 8-byte header.
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
    pub(crate) fn read_u16(&self, at: usize) -> u16 {
        let d = self.buffer.as_ref();
        u16::from_be_bytes([d[at], d[at + 1]])
    }

    #[inline]
    pub(crate) fn read_u32(&self, at: usize) -> u32 {
        let d = self.buffer.as_ref();
        u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM.start)
    }

    /// Identifier of an echo request/reply.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        self.read_u16(field::ECHO_IDENT.start)
    }

    /// Sequence number of an echo request/reply.
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        self.read_u16(field::ECHO_SEQNO.start)
    }

    /// MTU of a Packet Too Big message (RFC 4443 3.2).
    #[inline]
    pub fn mtu(&self) -> u32 {
        self.read_u32(field::WORD.start)
    }

    /// Pointer of a Parameter Problem message (RFC 4443 3.4).
    #[inline]
    pub fn pointer(&self) -> u32 {
        self.read_u32(field::WORD.start)
    }

    /// Everything after the 8-byte header: echo data, the quoted packet of an error, or
    /// the rest of an NDP/MLD message.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }

    /// Sum this message would verify with: pseudo-header of `src`, `dst` plus the message.
    #[inline]
    fn sum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let b = self.buffer.as_ref();
        let ph = pseudo_header(src, dst, NextHeader::Icmpv6, b.len() as u32);
        checksum::combine(&[ph, checksum::data(b)])
    }

    /// True if the checksum verifies over the pseudo-header (`src`, `dst`) and the whole
    /// buffer (RFC 4443 2.3).
    #[inline]
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        self.sum(src, dst) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    #[inline]
    pub(crate) fn write_u16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes())
    }

    #[inline]
    pub(crate) fn write_u32(&mut self, at: usize, value: u32) {
        self.buffer.as_mut()[at..at + 4].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: Message) {
        self.buffer.as_mut()[field::TYPE] = value.into()
    }

    /// Set the message code.
    #[inline]
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM.start, value)
    }

    /// Set the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        self.write_u16(field::ECHO_IDENT.start, value)
    }

    /// Set the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.write_u16(field::ECHO_SEQNO.start, value)
    }

    /// Set the 32-bit word after the checksum (MTU, pointer, or zero "unused").
    #[inline]
    pub fn set_word(&mut self, value: u32) {
        self.write_u32(field::WORD.start, value)
    }

    /// Everything after the header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }

    /// Compute and store the checksum over the pseudo-header and the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let sum = self.sum(src, dst);
        self.set_checksum(!sum)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv6Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The ICMPv6 echo and error messages hvrouter answers or sends. NDP lives in
/// [`crate::ndp::NdpRepr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Repr<'a> {
    /// Echo request (type 128, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (type 129, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Destination unreachable (type 1).
    DstUnreachable {
        /// Code.
        reason: DstUnreachable,
        /// The quoted invoking packet.
        invoking: &'a [u8],
    },
    /// Packet too big (type 2, RFC 4443 3.2).
    PacketTooBig {
        /// MTU of the next-hop link.
        mtu: u32,
        /// The quoted invoking packet.
        invoking: &'a [u8],
    },
    /// Time exceeded (type 3).
    TimeExceeded {
        /// Code.
        reason: TimeExceeded,
        /// The quoted invoking packet.
        invoking: &'a [u8],
    },
    /// Parameter problem (type 4).
    ParamProblem {
        /// Code.
        reason: ParamProblem,
        /// Offset of the offending byte in the invoking packet.
        pointer: u32,
        /// The quoted invoking packet.
        invoking: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parse a message sent from `src` to `dst`. `Truncated` if shorter than 8 bytes,
    /// `Checksum` if the checksum does not verify, `Malformed` for an echo with a non-zero
    /// code, `Unsupported` for other types (NDP, MLD, unknown).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        packet: &Icmpv6Packet<&'a T>,
    ) -> Result<Icmpv6Repr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        let buf: &'a T = packet.buffer;
        let data: &'a [u8] = &buf.as_ref()[field::DATA];
        let code = packet.msg_code();
        let word = packet.read_u32(field::WORD.start);
        match packet.msg_type() {
            Message::EchoRequest | Message::EchoReply if code != 0 => Err(Error::Malformed),
            Message::EchoRequest => Ok(Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Message::EchoReply => Ok(Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Message::DstUnreachable => Ok(Icmpv6Repr::DstUnreachable {
                reason: code.into(),
                invoking: data,
            }),
            Message::PacketTooBig => Ok(Icmpv6Repr::PacketTooBig {
                mtu: word,
                invoking: data,
            }),
            Message::TimeExceeded => Ok(Icmpv6Repr::TimeExceeded {
                reason: code.into(),
                invoking: data,
            }),
            Message::ParamProblem => Ok(Icmpv6Repr::ParamProblem {
                reason: code.into(),
                pointer: word,
                invoking: data,
            }),
            _ => Err(Error::Unsupported),
        }
    }

    /// Bytes of the whole message: 8 plus the data or quoted packet.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv6Repr::DstUnreachable { invoking, .. }
                | Icmpv6Repr::PacketTooBig { invoking, .. }
                | Icmpv6Repr::TimeExceeded { invoking, .. }
                | Icmpv6Repr::ParamProblem { invoking, .. } => invoking.len(),
            }
    }

    /// Write the message and fill the checksum for `src` -> `dst`. The packet's buffer must
    /// be exactly [`buffer_len`](Self::buffer_len) bytes long; panics if it is shorter.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        packet: &mut Icmpv6Packet<T>,
    ) {
        let (msg, code, word, data) = match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (
                Message::EchoRequest,
                0,
                (u32::from(ident) << 16) | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (
                Message::EchoReply,
                0,
                (u32::from(ident) << 16) | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::DstUnreachable { reason, invoking } => {
                (Message::DstUnreachable, reason.into(), 0, invoking)
            }
            Icmpv6Repr::PacketTooBig { mtu, invoking } => (Message::PacketTooBig, 0, mtu, invoking),
            Icmpv6Repr::TimeExceeded { reason, invoking } => {
                (Message::TimeExceeded, reason.into(), 0, invoking)
            }
            Icmpv6Repr::ParamProblem {
                reason,
                pointer,
                invoking,
            } => (Message::ParamProblem, reason.into(), pointer, invoking),
        };
        packet.set_msg_type(msg);
        packet.set_msg_code(code);
        packet.set_word(word);
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.fill_checksum(src, dst);
    }
}

impl fmt::Display for Icmpv6Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                write!(
                    f,
                    "ICMPv6 echo request id {ident} seq {seq_no} len {}",
                    data.len()
                )
            }
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                write!(
                    f,
                    "ICMPv6 echo reply id {ident} seq {seq_no} len {}",
                    data.len()
                )
            }
            Icmpv6Repr::DstUnreachable { reason, .. } => {
                write!(f, "ICMPv6 unreachable {reason:?}")
            }
            Icmpv6Repr::PacketTooBig { mtu, .. } => write!(f, "ICMPv6 packet too big mtu {mtu}"),
            Icmpv6Repr::TimeExceeded { reason, .. } => {
                write!(f, "ICMPv6 time exceeded {reason:?}")
            }
            Icmpv6Repr::ParamProblem {
                reason, pointer, ..
            } => {
                write!(f, "ICMPv6 parameter problem {reason:?} at {pointer}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        )
    }

    #[test]
    fn echo_round_trip_and_checksum_binds_addresses() {
        let (s, d) = addrs();
        let repr = Icmpv6Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 7,
            data: b"hello",
        };
        let mut b = vec![0u8; repr.buffer_len()];
        repr.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]));
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&d, &"2001:db8::3".parse().unwrap()));
        assert_eq!(Icmpv6Repr::parse(&s, &d, &p), Ok(repr));
        assert_eq!(
            Icmpv6Repr::parse(&d, &s, &p),
            Ok(repr),
            "sum is symmetric in src/dst"
        );
        assert_eq!(
            Icmpv6Repr::parse(&s, &"2001:db8::9".parse().unwrap(), &p),
            Err(Error::Checksum)
        );
    }

    #[test]
    fn known_checksum() {
        // Echo request fe80::1 -> fe80::2, id 1 seq 1, no data: sum computed by hand from
        // RFC 8200 8.1 and RFC 1071.
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "fe80::2".parse().unwrap();
        let repr = Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: &[],
        };
        let mut b = [0u8; 8];
        repr.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]));
        // Pseudo-header words: fe80 + 1 + fe80 + 2 + 8 (len) + 3a (nh) = 0x1fd45 -> 0xfd46.
        // Message words: 8000 + 0001 + 0001 = 0x8002. Total 0x17d48 -> 0x7d49; ~ = 0x82b6.
        assert_eq!(u16::from_be_bytes([b[2], b[3]]), 0x82b6);
    }

    #[test]
    fn errors_round_trip() {
        let (s, d) = addrs();
        let quote = [0x60u8; 48];
        for repr in [
            Icmpv6Repr::PacketTooBig {
                mtu: 1400,
                invoking: &quote,
            },
            Icmpv6Repr::TimeExceeded {
                reason: TimeExceeded::HopLimitExceeded,
                invoking: &quote,
            },
            Icmpv6Repr::DstUnreachable {
                reason: DstUnreachable::AddrUnreachable,
                invoking: &quote,
            },
            Icmpv6Repr::ParamProblem {
                reason: ParamProblem::UnrecognizedNextHeader,
                pointer: 6,
                invoking: &quote,
            },
        ] {
            let mut b = vec![0u8; repr.buffer_len()];
            repr.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]));
            let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
            assert!(p.msg_type().is_error());
            assert_eq!(Icmpv6Repr::parse(&s, &d, &p), Ok(repr));
        }
    }

    #[test]
    fn classes() {
        assert!(Message::RouterAdvert.is_ndp());
        assert!(!Message::MldReport.is_ndp());
        assert!(Message::MldV2Report.is_mld());
        assert!(!Message::EchoRequest.is_error());
        assert!(Message::Unknown(100).is_error());
    }
}
