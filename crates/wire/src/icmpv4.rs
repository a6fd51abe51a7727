//! ICMPv4 (RFC 792; next-hop MTU from RFC 1191 section 4).
//!
//! [`Icmpv4Packet`] views one whole ICMP message (the IPv4 payload, nothing more: the
//! checksum covers the entire buffer). Once `check_len` has succeeded no accessor panics.

use core::fmt;

use crate::checksum;
use crate::{Error, Result};

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

u8_enum! {
    /// ICMP message type.
    Message {
        /// 0
        EchoReply = 0,
        /// 3
        DstUnreachable = 3,
        /// 8
        EchoRequest = 8,
        /// 11
        TimeExceeded = 11,
    }
}

u8_enum! {
    /// Code of a Destination Unreachable message (RFC 792, RFC 1122 3.2.2.1, RFC 1812
    /// 5.2.7.1).
    DstUnreachable {
        /// 0: net unreachable
        NetUnreachable = 0,
        /// 1: host unreachable
        HostUnreachable = 1,
        /// 2: protocol unreachable
        ProtoUnreachable = 2,
        /// 3: port unreachable
        PortUnreachable = 3,
        /// 4: fragmentation needed and DF set (carries the next-hop MTU, RFC 1191)
        FragRequired = 4,
        /// 5: source route failed
        SrcRouteFailed = 5,
        /// 6: destination network unknown
        DstNetUnknown = 6,
        /// 7: destination host unknown
        DstHostUnknown = 7,
        /// 8: source host isolated
        SrcHostIsolated = 8,
        /// 9: network administratively prohibited
        NetProhibited = 9,
        /// 10: host administratively prohibited
        HostProhibited = 10,
        /// 11: network unreachable for ToS
        NetUnreachToS = 11,
        /// 12: host unreachable for ToS
        HostUnreachToS = 12,
        /// 13: communication administratively prohibited (RFC 1812)
        AdminProhibited = 13,
        /// 14: host precedence violation
        HostPrecedenceViolation = 14,
        /// 15: precedence cutoff in effect
        PrecedenceCutoff = 15,
    }
}

u8_enum! {
    /// Code of a Time Exceeded message.
    TimeExceeded {
        /// 0: time to live exceeded in transit
        TtlExpired = 0,
        /// 1: fragment reassembly time exceeded
        FragExpired = 1,
    }
}

mod field {
    use core::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const UNUSED: Range<usize> = 4..6;
    pub const MTU: Range<usize> = 6..8;
    pub const DATA: RangeFrom<usize> = 8..;
}

/// Length of the ICMP header (type, code, checksum, 4 bytes of rest-of-header).
pub const HEADER_LEN: usize = field::DATA.start;

/// A zero-copy view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl Icmpv4Packet<&[u8]> {
    /// Length of the ICMP header (8). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wrap a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>> {
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
    fn read_u16(&self, r: core::ops::Range<usize>) -> u16 {
        let d = &self.buffer.as_ref()[r];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code (meaning depends on the type).
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Identifier of an echo request/reply.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        self.read_u16(field::ECHO_IDENT)
    }

    /// Sequence number of an echo request/reply.
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        self.read_u16(field::ECHO_SEQNO)
    }

    /// Next-hop MTU of a "fragmentation needed" message (RFC 1191 section 4); zero from
    /// routers that predate RFC 1191.
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        self.read_u16(field::MTU)
    }

    /// Everything after the 8-byte header: echo data, or the quoted invoking datagram.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }

    /// True if the checksum over the whole message verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    #[inline]
    fn write_u16(&mut self, r: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes())
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
        self.write_u16(field::CHECKSUM, value)
    }

    /// Set the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        self.write_u16(field::ECHO_IDENT, value)
    }

    /// Set the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.write_u16(field::ECHO_SEQNO, value)
    }

    /// Set the next-hop MTU (and zero the unused half of the rest-of-header).
    #[inline]
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        self.write_u16(field::UNUSED, 0);
        self.write_u16(field::MTU, value)
    }

    /// Everything after the header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }

    /// Everything after the header, mutable (same as [`data_mut`](Self::data_mut)).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.data_mut()
    }

    /// Compute and store the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The ICMPv4 messages hvrouter answers or sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (type 8, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (type 0, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// Code.
        reason: DstUnreachable,
        /// Next-hop MTU, meaningful for `FragRequired` (RFC 1191); 0 otherwise.
        next_hop_mtu: u16,
        /// The quoted original datagram: its IP header and leading payload bytes.
        invoking: &'a [u8],
    },
    /// Time exceeded (type 11).
    TimeExceeded {
        /// Code.
        reason: TimeExceeded,
        /// The quoted original datagram: its IP header and leading payload bytes.
        invoking: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parse a message. `Truncated` if shorter than 8 bytes, `Checksum` if the checksum does
    /// not verify, `Malformed` for an echo with a non-zero code, `Unsupported` for other
    /// types. For errors, `invoking` is all the data after the header, as quoted.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv4Packet<&'a T>) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        let buf: &'a T = packet.buffer;
        let data: &'a [u8] = &buf.as_ref()[field::DATA];
        let code = packet.msg_code();
        match packet.msg_type() {
            Message::EchoRequest | Message::EchoReply if code != 0 => Err(Error::Malformed),
            Message::EchoRequest => Ok(Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Message::EchoReply => Ok(Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Message::DstUnreachable => Ok(Icmpv4Repr::DstUnreachable {
                reason: DstUnreachable::from(code),
                next_hop_mtu: packet.next_hop_mtu(),
                invoking: data,
            }),
            Message::TimeExceeded => Ok(Icmpv4Repr::TimeExceeded {
                reason: TimeExceeded::from(code),
                invoking: data,
            }),
            Message::Unknown(_) => Err(Error::Unsupported),
        }
    }

    /// Bytes of the whole message: 8 plus the data or quoted datagram.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv4Repr::DstUnreachable { invoking, .. }
                | Icmpv4Repr::TimeExceeded { invoking, .. } => invoking.len(),
            }
    }

    /// Write the message and fill the checksum. The packet's buffer must be exactly
    /// [`buffer_len`](Self::buffer_len) bytes long (the checksum covers all of it); panics
    /// if it is shorter.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv4Packet<T>) {
        let data = match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let msg = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    Message::EchoRequest
                } else {
                    Message::EchoReply
                };
                packet.set_msg_type(msg);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                data
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                invoking,
            } => {
                packet.set_msg_type(Message::DstUnreachable);
                packet.set_msg_code(reason.into());
                packet.set_next_hop_mtu(next_hop_mtu);
                invoking
            }
            Icmpv4Repr::TimeExceeded { reason, invoking } => {
                packet.set_msg_type(Message::TimeExceeded);
                packet.set_msg_code(reason.into());
                packet.write_u16(field::UNUSED, 0);
                packet.write_u16(field::MTU, 0);
                invoking
            }
        };
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.fill_checksum();
    }
}

impl fmt::Display for Icmpv4Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                write!(
                    f,
                    "ICMP echo request id {ident} seq {seq_no} len {}",
                    data.len()
                )
            }
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                write!(
                    f,
                    "ICMP echo reply id {ident} seq {seq_no} len {}",
                    data.len()
                )
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => {
                write!(f, "ICMP unreachable {reason:?} mtu {next_hop_mtu}")
            }
            Icmpv4Repr::TimeExceeded { reason, .. } => write!(f, "ICMP time exceeded {reason:?}"),
        }
    }
}
