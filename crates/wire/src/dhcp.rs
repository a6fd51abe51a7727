//! DHCPv4 messages (RFC 2131) and their options (RFC 2132).
//!
//! [`DhcpPacket`] views a BOOTP/DHCP message (the UDP payload): the fixed BOOTP header
//! (RFC 2131 section 2, figure 1), the magic cookie and the options field.
//! [`DhcpPacket::check_len`] insists on the fixed header and the cookie, so no accessor
//! panics afterwards, whatever the bytes are; [`OptionIter`] walks the options field
//! and reports an option that runs past the end as `Malformed` instead of reading on.
//!
//! [`ClientRepr`] is what a server needs from a client's message, parsed in one pass
//! over the options without allocating; [`ReplyRepr`] is what the router's server sends
//! (OFFER, ACK, NAK), with `buffer_len` / `emit`, and a `parse` for tests and fuzzing.
//!
//! Only the `options` field is read: a message that moves options into `sname` or
//! `file` (option overload, RFC 2132 9.3) is read as if those options were absent. The
//! server never sets overload: its replies fit in the options field.

use core::fmt;

use crate::ethernet::EthernetAddress;
use crate::{Error, Ipv4Addr, Result};

mod name;
mod repr;

pub use name::{check_name, encode_domain_search, NameError};
pub use repr::{ClientRepr, LeaseTimes, ReplyRepr};

mod field {
    use core::ops::Range;
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Range<usize> = 4..8;
    pub const SECS: Range<usize> = 8..10;
    pub const FLAGS: Range<usize> = 10..12;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const SIADDR: Range<usize> = 20..24;
    pub const GIADDR: Range<usize> = 24..28;
    pub const CHADDR: Range<usize> = 28..44;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const MAGIC: Range<usize> = 236..240;
    pub const OPTIONS: usize = 240;
}

/// UDP port of DHCP servers (RFC 2131 section 4.1: "DHCP messages from a client to a
/// server are sent to the 'DHCP server' port (67)").
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients ("messages from a server to a client are sent to the 'DHCP
/// client' port (68)").
pub const CLIENT_PORT: u16 = 68;
/// The fixed BOOTP header, magic cookie included: the shortest DHCP message.
pub const MIN_LEN: usize = field::OPTIONS;
/// RFC 1542 section 2.1: "The IP Total Length and UDP Length must be large enough to
/// contain the minimal BOOTP header of 300 octets". Replies are padded to it.
pub const BOOTP_MIN_LEN: usize = 300;
/// RFC 2131 section 2: "A DHCP client must be prepared to receive DHCP messages with an
/// 'options' field of at least length 312 octets", i.e. a 576-byte IP datagram; the
/// largest message a server may send to a client that did not say more (option 57).
pub const DEFAULT_MAX_MESSAGE: usize = 576 - 20 - 8;
/// RFC 2131 section 3: the first four octets of the options field, 99.130.83.99.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// The BROADCAST bit of `flags` (RFC 2131 section 2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;
/// `htype` of Ethernet (RFC 1700 "Hardware Type").
pub const HTYPE_ETHERNET: u8 = 1;

/// Option codes (RFC 2132) the server reads or writes.
pub mod opt {
    /// 3.1 Pad.
    pub const PAD: u8 = 0;
    /// 3.3 Subnet Mask.
    pub const SUBNET_MASK: u8 = 1;
    /// 3.5 Router.
    pub const ROUTER: u8 = 3;
    /// 3.8 Domain Name Server.
    pub const DNS_SERVERS: u8 = 6;
    /// 3.14 Host Name.
    pub const HOSTNAME: u8 = 12;
    /// 3.17 Domain Name.
    pub const DOMAIN_NAME: u8 = 15;
    /// 5.1 Interface MTU.
    pub const INTERFACE_MTU: u8 = 26;
    /// 5.3 Broadcast Address.
    pub const BROADCAST_ADDRESS: u8 = 28;
    /// 9.1 Requested IP Address.
    pub const REQUESTED_IP: u8 = 50;
    /// 9.2 IP Address Lease Time.
    pub const LEASE_TIME: u8 = 51;
    /// 9.3 Option Overload.
    pub const OVERLOAD: u8 = 52;
    /// 9.6 DHCP Message Type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// 9.7 Server Identifier.
    pub const SERVER_ID: u8 = 54;
    /// 9.8 Parameter Request List.
    pub const PARAMETER_REQUEST: u8 = 55;
    /// 9.9 Message.
    pub const MESSAGE: u8 = 56;
    /// 9.10 Maximum DHCP Message Size.
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// 9.11 Renewal (T1) Time Value.
    pub const RENEWAL_TIME: u8 = 58;
    /// 9.12 Rebinding (T2) Time Value.
    pub const REBINDING_TIME: u8 = 59;
    /// 9.14 Client-identifier.
    pub const CLIENT_ID: u8 = 61;
    /// RFC 3397 Domain Search.
    pub const DOMAIN_SEARCH: u8 = 119;
    /// 3.2 End.
    pub const END: u8 = 255;
}

/// BOOTP `op` (RFC 951).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootpOp {
    /// 1: BOOTREQUEST, client to server.
    Request,
    /// 2: BOOTREPLY, server to client.
    Reply,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for BootpOp {
    fn from(v: u8) -> Self {
        match v {
            1 => BootpOp::Request,
            2 => BootpOp::Reply,
            other => BootpOp::Unknown(other),
        }
    }
}

impl From<BootpOp> for u8 {
    fn from(v: BootpOp) -> Self {
        match v {
            BootpOp::Request => 1,
            BootpOp::Reply => 2,
            BootpOp::Unknown(other) => other,
        }
    }
}

/// DHCP message type, option 53 (RFC 2132 section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    Discover,
    /// 2
    Offer,
    /// 3
    Request,
    /// 4
    Decline,
    /// 5
    Ack,
    /// 6
    Nak,
    /// 7
    Release,
    /// 8
    Inform,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(v: MessageType) -> Self {
        match v {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Unknown(other) => other,
        }
    }
}

impl MessageType {
    /// A message only servers send (OFFER, ACK, NAK).
    pub fn is_from_server(self) -> bool {
        matches!(
            self,
            MessageType::Offer | MessageType::Ack | MessageType::Nak
        )
    }

    /// The name RFC 2131 uses, e.g. `DHCPDISCOVER`; unknown types as `DHCP(9)`.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Discover => "DHCPDISCOVER",
            MessageType::Offer => "DHCPOFFER",
            MessageType::Request => "DHCPREQUEST",
            MessageType::Decline => "DHCPDECLINE",
            MessageType::Ack => "DHCPACK",
            MessageType::Nak => "DHCPNAK",
            MessageType::Release => "DHCPRELEASE",
            MessageType::Inform => "DHCPINFORM",
            MessageType::Unknown(_) => "DHCP(unknown)",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageType::Unknown(v) => write!(f, "DHCP({v})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A zero-copy view of a DHCP message (the UDP payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    /// Wrap a buffer without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> DhcpPacket<T> {
        DhcpPacket { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<DhcpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Shorter than the fixed header and cookie (240 bytes) -> `Truncated`; a cookie
    /// other than 99.130.83.99 (plain BOOTP, or not BOOTP at all) -> `Malformed`.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < MIN_LEN {
            return Err(Error::Truncated);
        }
        if b[field::MAGIC] != MAGIC_COOKIE {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u8_at(&self, at: usize) -> u8 {
        self.buffer.as_ref()[at]
    }

    fn addr(&self, r: core::ops::Range<usize>) -> Ipv4Addr {
        let d = &self.buffer.as_ref()[r];
        Ipv4Addr::new(d[0], d[1], d[2], d[3])
    }

    /// `op`.
    pub fn op(&self) -> BootpOp {
        BootpOp::from(self.u8_at(field::OP))
    }

    /// `htype`: hardware address type (1: Ethernet).
    pub fn htype(&self) -> u8 {
        self.u8_at(field::HTYPE)
    }

    /// `hlen`: hardware address length (6 for Ethernet).
    pub fn hlen(&self) -> u8 {
        self.u8_at(field::HLEN)
    }

    /// `hops`: relay agents passed.
    pub fn hops(&self) -> u8 {
        self.u8_at(field::HOPS)
    }

    /// `xid`: transaction id chosen by the client.
    pub fn xid(&self) -> u32 {
        let d = &self.buffer.as_ref()[field::XID];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// `secs`: seconds since the client began.
    pub fn secs(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::SECS];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// `flags`.
    pub fn flags(&self) -> u16 {
        let d = &self.buffer.as_ref()[field::FLAGS];
        u16::from_be_bytes([d[0], d[1]])
    }

    /// The BROADCAST flag.
    pub fn broadcast(&self) -> bool {
        self.flags() & FLAG_BROADCAST != 0
    }

    /// `ciaddr`: the client's address, when it has one and can answer ARP for it.
    pub fn ciaddr(&self) -> Ipv4Addr {
        self.addr(field::CIADDR)
    }

    /// `yiaddr`: 'your' (client) address.
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.addr(field::YIADDR)
    }

    /// `siaddr`: next server.
    pub fn siaddr(&self) -> Ipv4Addr {
        self.addr(field::SIADDR)
    }

    /// `giaddr`: relay agent.
    pub fn giaddr(&self) -> Ipv4Addr {
        self.addr(field::GIADDR)
    }

    /// `chaddr`, all 16 bytes.
    pub fn chaddr(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.buffer.as_ref()[field::CHADDR]);
        out
    }

    /// The first six bytes of `chaddr`: the client's MAC when `htype` is Ethernet and
    /// `hlen` is 6.
    pub fn client_mac(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::CHADDR])
    }

    /// The options field (after the cookie), up to the end of the buffer.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..]
    }

    /// The options, one by one.
    pub fn option_iter(&self) -> OptionIter<'_> {
        OptionIter::new(self.options())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DhcpPacket<T> {
    fn set_addr(&mut self, r: core::ops::Range<usize>, v: Ipv4Addr) {
        self.buffer.as_mut()[r].copy_from_slice(&v.octets());
    }

    /// Set `op`.
    pub fn set_op(&mut self, v: BootpOp) {
        self.buffer.as_mut()[field::OP] = v.into();
    }

    /// Set `htype`.
    pub fn set_htype(&mut self, v: u8) {
        self.buffer.as_mut()[field::HTYPE] = v;
    }

    /// Set `hlen`.
    pub fn set_hlen(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Set `hops`.
    pub fn set_hops(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOPS] = v;
    }

    /// Set `xid`.
    pub fn set_xid(&mut self, v: u32) {
        self.buffer.as_mut()[field::XID].copy_from_slice(&v.to_be_bytes());
    }

    /// Set `secs`.
    pub fn set_secs(&mut self, v: u16) {
        self.buffer.as_mut()[field::SECS].copy_from_slice(&v.to_be_bytes());
    }

    /// Set `flags`.
    pub fn set_flags(&mut self, v: u16) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&v.to_be_bytes());
    }

    /// Set `ciaddr`.
    pub fn set_ciaddr(&mut self, v: Ipv4Addr) {
        self.set_addr(field::CIADDR, v)
    }

    /// Set `yiaddr`.
    pub fn set_yiaddr(&mut self, v: Ipv4Addr) {
        self.set_addr(field::YIADDR, v)
    }

    /// Set `siaddr`.
    pub fn set_siaddr(&mut self, v: Ipv4Addr) {
        self.set_addr(field::SIADDR, v)
    }

    /// Set `giaddr`.
    pub fn set_giaddr(&mut self, v: Ipv4Addr) {
        self.set_addr(field::GIADDR, v)
    }

    /// Set `chaddr`.
    pub fn set_chaddr(&mut self, v: &[u8; 16]) {
        self.buffer.as_mut()[field::CHADDR].copy_from_slice(v);
    }

    /// Zero `sname` and `file`, and write the magic cookie.
    pub fn clear_sname_file_and_set_cookie(&mut self) {
        let b = self.buffer.as_mut();
        b[field::SNAME].fill(0);
        b[field::FILE].fill(0);
        b[field::MAGIC].copy_from_slice(&MAGIC_COOKIE);
    }

    /// The options field, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS..]
    }
}

/// One option: its code and data (at most 255 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// The code (RFC 2132).
    pub code: u8,
    /// The data, without code and length.
    pub data: &'a [u8],
}

/// Walks an options field (RFC 2132 section 2: "Options may be fixed length or
/// variable length ... variable-length options (have) a length octet following the tag
/// octet"). Pad (0) is skipped; End (255) ends the walk. An option whose length runs
/// past the field yields `Err(Malformed)`, once, and the walk ends.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionIter<'a> {
    /// Walk `options` (the field after the cookie).
    pub fn new(options: &'a [u8]) -> OptionIter<'a> {
        OptionIter { rest: options }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&code, after) = self.rest.split_first()?;
            match code {
                opt::PAD => self.rest = after,
                opt::END => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    let Some((&len, after)) = after.split_first() else {
                        self.rest = &[];
                        return Some(Err(Error::Malformed));
                    };
                    let len = usize::from(len);
                    if after.len() < len {
                        self.rest = &[];
                        return Some(Err(Error::Malformed));
                    }
                    let (data, rest) = after.split_at(len);
                    self.rest = rest;
                    return Some(Ok(DhcpOption { code, data }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
