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
/// variable length ... variable-length options [have] a length octet following the tag
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

fn addr4(data: &[u8]) -> Result<Ipv4Addr> {
    match data {
        [a, b, c, d] => Ok(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => Err(Error::Malformed),
    }
}

/// What a server needs from a client's message (DISCOVER, REQUEST, DECLINE, RELEASE,
/// INFORM). Borrowed from the packet; nothing is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRepr<'a> {
    /// `op` (a client sends BOOTREQUEST).
    pub op: BootpOp,
    /// Option 53.
    pub message_type: MessageType,
    /// `htype`.
    pub htype: u8,
    /// `hlen`.
    pub hlen: u8,
    /// `xid`.
    pub xid: u32,
    /// `flags`.
    pub flags: u16,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// `giaddr`.
    pub giaddr: Ipv4Addr,
    /// `chaddr`.
    pub chaddr: [u8; 16],
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 57.
    pub max_message_size: Option<u16>,
    /// Option 55 (empty when absent).
    pub parameter_request: &'a [u8],
}

impl<'a> ClientRepr<'a> {
    /// Parse a message. `check_len` as [`DhcpPacket::check_len`]; an option running past
    /// the field, or one of the options read here with the wrong length, or a message
    /// type given twice -> `Malformed`; no message type (plain BOOTP) -> `Unsupported`.
    pub fn parse(packet: &DhcpPacket<&'a [u8]>) -> Result<Self> {
        packet.check_len()?;
        let mut message_type = None;
        let mut requested_ip = None;
        let mut server_id = None;
        let mut max_message_size = None;
        let mut parameter_request: &'a [u8] = &[];
        let buffer: &'a [u8] = packet.buffer;
        let options = &buffer[field::OPTIONS..];
        for o in OptionIter::new(options) {
            let o = o?;
            match o.code {
                opt::MESSAGE_TYPE => match (o.data, message_type) {
                    ([t], None) => message_type = Some(MessageType::from(*t)),
                    _ => return Err(Error::Malformed),
                },
                opt::REQUESTED_IP => requested_ip = Some(addr4(o.data)?),
                opt::SERVER_ID => server_id = Some(addr4(o.data)?),
                opt::MAX_MESSAGE_SIZE => match o.data {
                    [a, b] => max_message_size = Some(u16::from_be_bytes([*a, *b])),
                    _ => return Err(Error::Malformed),
                },
                opt::PARAMETER_REQUEST => parameter_request = o.data,
                _ => {}
            }
        }
        let message_type = message_type.ok_or(Error::Unsupported)?;
        Ok(ClientRepr {
            op: packet.op(),
            message_type,
            htype: packet.htype(),
            hlen: packet.hlen(),
            xid: packet.xid(),
            flags: packet.flags(),
            ciaddr: packet.ciaddr(),
            giaddr: packet.giaddr(),
            chaddr: packet.chaddr(),
            requested_ip,
            server_id,
            max_message_size,
            parameter_request,
        })
    }

    /// The BROADCAST flag.
    pub fn broadcast(&self) -> bool {
        self.flags & FLAG_BROADCAST != 0
    }

    /// The client's MAC: the first six bytes of `chaddr`.
    pub fn client_mac(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.chaddr)
    }
}

/// Lease times (options 51, 58, 59), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseTimes {
    /// Option 51, IP address lease time.
    pub lease: u32,
    /// Option 58, T1: when the client starts renewing.
    pub renewal: u32,
    /// Option 59, T2: when the client starts rebinding.
    pub rebinding: u32,
}

/// A server's reply: DHCPOFFER, DHCPACK or DHCPNAK (RFC 2131 section 4.3, table 3).
/// Options are emitted in this order: 53, 54, 51, 58, 59, 1, 3, 6, 15, 119, 12, 26, 28,
/// 56, then End; an absent value is not emitted. A value longer than 255 bytes is split
/// into consecutive options of the same code (RFC 3396 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyRepr<'a> {
    /// Option 53.
    pub message_type: MessageType,
    /// `htype`, copied from the request.
    pub htype: u8,
    /// `hlen`, copied from the request.
    pub hlen: u8,
    /// `xid`, copied from the request.
    pub xid: u32,
    /// `flags`, copied from the request.
    pub flags: u16,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// `yiaddr`: the address offered or acknowledged (0 in a NAK or an ACK to INFORM).
    pub yiaddr: Ipv4Addr,
    /// `giaddr`, copied from the request.
    pub giaddr: Ipv4Addr,
    /// `chaddr`, copied from the request.
    pub chaddr: [u8; 16],
    /// Option 54.
    pub server_id: Ipv4Addr,
    /// Options 51, 58, 59.
    pub lease: Option<LeaseTimes>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3 (one router).
    pub router: Option<Ipv4Addr>,
    /// Option 6 (empty: not sent).
    pub dns_servers: &'a [Ipv4Addr],
    /// Option 15.
    pub domain_name: Option<&'a [u8]>,
    /// Option 119, already in RFC 1035 wire form ([`encode_domain_search`]).
    pub domain_search: Option<&'a [u8]>,
    /// Option 12.
    pub hostname: Option<&'a [u8]>,
    /// Option 26.
    pub mtu: Option<u16>,
    /// Option 28.
    pub broadcast_address: Option<Ipv4Addr>,
    /// Option 56, a text for the client (NAK).
    pub message: Option<&'a [u8]>,
}

/// Bytes an option of `len` data bytes takes, split into 255-byte pieces (RFC 3396).
fn option_len(len: usize) -> usize {
    if len == 0 {
        return 2;
    }
    len + 2 * len.div_ceil(255)
}

/// Write option `code` with `data` at `buf[at..]`, split as [`option_len`] says.
/// Returns the offset after it.
fn put_option(buf: &mut [u8], mut at: usize, code: u8, data: &[u8]) -> usize {
    if data.is_empty() {
        buf[at] = code;
        buf[at + 1] = 0;
        return at + 2;
    }
    for piece in data.chunks(255) {
        buf[at] = code;
        buf[at + 1] = piece.len() as u8;
        buf[at + 2..at + 2 + piece.len()].copy_from_slice(piece);
        at += 2 + piece.len();
    }
    at
}

impl<'a> ReplyRepr<'a> {
    /// Bytes of the options field, End included.
    pub fn options_len(&self) -> usize {
        let mut n = 3 + 6 + 1; // 53, 54, End
        if self.lease.is_some() {
            n += 18;
        }
        n += [self.subnet_mask, self.router, self.broadcast_address]
            .iter()
            .flatten()
            .count()
            * 6;
        if !self.dns_servers.is_empty() {
            n += option_len(4 * self.dns_servers.len());
        }
        for v in [
            self.domain_name,
            self.domain_search,
            self.hostname,
            self.message,
        ]
        .into_iter()
        .flatten()
        {
            n += option_len(v.len());
        }
        if self.mtu.is_some() {
            n += 4;
        }
        n
    }

    /// Bytes of the whole message: the fixed header, cookie and options, padded to the
    /// 300-byte BOOTP minimum.
    pub fn buffer_len(&self) -> usize {
        (MIN_LEN + self.options_len()).max(BOOTP_MIN_LEN)
    }

    /// Write the message into `packet`, whose buffer must be exactly
    /// [`buffer_len`](Self::buffer_len) bytes (or longer: the rest is zeroed as pad).
    /// Panics if it is shorter.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut DhcpPacket<T>) {
        packet.set_op(BootpOp::Reply);
        packet.set_htype(self.htype);
        packet.set_hlen(self.hlen);
        packet.set_hops(0);
        packet.set_xid(self.xid);
        packet.set_secs(0);
        packet.set_flags(self.flags);
        packet.set_ciaddr(self.ciaddr);
        packet.set_yiaddr(self.yiaddr);
        packet.set_siaddr(Ipv4Addr::UNSPECIFIED);
        packet.set_giaddr(self.giaddr);
        packet.set_chaddr(&self.chaddr);
        packet.clear_sname_file_and_set_cookie();
        let buf = packet.options_mut();
        buf.fill(0);
        let mut at = put_option(buf, 0, opt::MESSAGE_TYPE, &[self.message_type.into()]);
        at = put_option(buf, at, opt::SERVER_ID, &self.server_id.octets());
        if let Some(l) = self.lease {
            at = put_option(buf, at, opt::LEASE_TIME, &l.lease.to_be_bytes());
            at = put_option(buf, at, opt::RENEWAL_TIME, &l.renewal.to_be_bytes());
            at = put_option(buf, at, opt::REBINDING_TIME, &l.rebinding.to_be_bytes());
        }
        if let Some(m) = self.subnet_mask {
            at = put_option(buf, at, opt::SUBNET_MASK, &m.octets());
        }
        if let Some(r) = self.router {
            at = put_option(buf, at, opt::ROUTER, &r.octets());
        }
        if !self.dns_servers.is_empty() {
            // At most 63 servers fit one option; more are split (RFC 3396).
            let mut tmp = [0u8; 4 * 64];
            let n = self.dns_servers.len().min(64);
            for (i, s) in self.dns_servers.iter().take(n).enumerate() {
                tmp[4 * i..4 * i + 4].copy_from_slice(&s.octets());
            }
            at = put_option(buf, at, opt::DNS_SERVERS, &tmp[..4 * n]);
        }
        if let Some(d) = self.domain_name {
            at = put_option(buf, at, opt::DOMAIN_NAME, d);
        }
        if let Some(s) = self.domain_search {
            at = put_option(buf, at, opt::DOMAIN_SEARCH, s);
        }
        if let Some(h) = self.hostname {
            at = put_option(buf, at, opt::HOSTNAME, h);
        }
        if let Some(m) = self.mtu {
            at = put_option(buf, at, opt::INTERFACE_MTU, &m.to_be_bytes());
        }
        if let Some(b) = self.broadcast_address {
            at = put_option(buf, at, opt::BROADCAST_ADDRESS, &b.octets());
        }
        if let Some(m) = self.message {
            at = put_option(buf, at, opt::MESSAGE, m);
        }
        buf[at] = opt::END;
    }

    /// Parse a reply, for tests and fuzzing: the inverse of [`emit`](Self::emit) for
    /// replies whose values each fit one option (255 bytes). A repeated option ->
    /// `Unsupported`; a missing message type or server identifier, or an option of the
    /// wrong length -> `Malformed`.
    pub fn parse(packet: &DhcpPacket<&'a [u8]>) -> Result<Self> {
        packet.check_len()?;
        let mut seen = [false; 256];
        let mut r = ReplyRepr {
            message_type: MessageType::Unknown(0),
            htype: packet.htype(),
            hlen: packet.hlen(),
            xid: packet.xid(),
            flags: packet.flags(),
            ciaddr: packet.ciaddr(),
            yiaddr: packet.yiaddr(),
            giaddr: packet.giaddr(),
            chaddr: packet.chaddr(),
            server_id: Ipv4Addr::UNSPECIFIED,
            lease: None,
            subnet_mask: None,
            router: None,
            dns_servers: &[],
            domain_name: None,
            domain_search: None,
            hostname: None,
            mtu: None,
            broadcast_address: None,
            message: None,
        };
        let mut times = [None::<u32>; 3];
        let buffer: &'a [u8] = packet.buffer;
        let options = &buffer[field::OPTIONS..];
        for o in OptionIter::new(options) {
            let o = o?;
            if core::mem::replace(&mut seen[usize::from(o.code)], true) {
                return Err(Error::Unsupported);
            }
            let u32_of = |d: &[u8]| match d {
                [a, b, c, e] => Ok(u32::from_be_bytes([*a, *b, *c, *e])),
                _ => Err(Error::Malformed),
            };
            match o.code {
                opt::MESSAGE_TYPE => match o.data {
                    [t] => r.message_type = MessageType::from(*t),
                    _ => return Err(Error::Malformed),
                },
                opt::SERVER_ID => r.server_id = addr4(o.data)?,
                opt::LEASE_TIME => times[0] = Some(u32_of(o.data)?),
                opt::RENEWAL_TIME => times[1] = Some(u32_of(o.data)?),
                opt::REBINDING_TIME => times[2] = Some(u32_of(o.data)?),
                opt::SUBNET_MASK => r.subnet_mask = Some(addr4(o.data)?),
                opt::ROUTER => r.router = Some(addr4(o.data)?),
                opt::BROADCAST_ADDRESS => r.broadcast_address = Some(addr4(o.data)?),
                opt::DOMAIN_NAME => r.domain_name = Some(o.data),
                opt::DOMAIN_SEARCH => r.domain_search = Some(o.data),
                opt::HOSTNAME => r.hostname = Some(o.data),
                opt::MESSAGE => r.message = Some(o.data),
                opt::INTERFACE_MTU => match o.data {
                    [a, b] => r.mtu = Some(u16::from_be_bytes([*a, *b])),
                    _ => return Err(Error::Malformed),
                },
                _ => {}
            }
        }
        if !seen[usize::from(opt::MESSAGE_TYPE)] || !seen[usize::from(opt::SERVER_ID)] {
            return Err(Error::Malformed);
        }
        r.lease = match times {
            [Some(lease), Some(renewal), Some(rebinding)] => Some(LeaseTimes {
                lease,
                renewal,
                rebinding,
            }),
            [None, None, None] => None,
            _ => return Err(Error::Unsupported),
        };
        Ok(r)
    }

    /// The DNS servers of a parsed reply's option 6 (4 bytes each), from the raw
    /// options: [`parse`](Self::parse) cannot borrow them as addresses.
    pub fn dns_servers_in<T: AsRef<[u8]>>(
        packet: &DhcpPacket<T>,
    ) -> impl Iterator<Item = Ipv4Addr> + '_ {
        packet
            .option_iter()
            .flatten()
            .filter(|o| o.code == opt::DNS_SERVERS)
            .flat_map(|o| {
                o.data
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            })
    }
}

/// Why a domain name cannot be encoded (RFC 1035 section 2.3.4: labels of 1 to 63
/// octets, names of at most 255 octets; RFC 1123 section 2.1 host name syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty, or an empty label (`a..b`, a leading dot).
    EmptyLabel,
    /// A label longer than 63 octets.
    LabelTooLong,
    /// The name is longer than 253 characters (255 octets encoded).
    NameTooLong,
    /// A character other than letters, digits, `-` and `_`, or a label starting or
    /// ending with `-`.
    BadCharacter,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::EmptyLabel => "it has an empty label (RFC 1035 2.3.4)",
            NameError::LabelTooLong => "a label is longer than 63 characters (RFC 1035 2.3.4)",
            NameError::NameTooLong => "it is longer than 253 characters (RFC 1035 2.3.4)",
            NameError::BadCharacter => {
                "only letters, digits, '-' and '_' are allowed, and no label may start or end \
                 with '-' (RFC 1123 2.1)"
            }
        })
    }
}

impl std::error::Error for NameError {}

/// Check a domain or host name: dot-separated labels (one trailing dot allowed) as
/// [`NameError`] describes.
pub fn check_name(name: &str) -> core::result::Result<(), NameError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 {
        return Err(NameError::NameTooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong);
        }
        let ok = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok || label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::BadCharacter);
        }
    }
    Ok(())
}

/// Append `names` to `out` in the form of option 119 (RFC 3397 section 2: "the list
/// of domain names ... encoded as specified in section 3.1 of RFC 1035"), each name as
/// length-prefixed labels ending in a zero octet, without compression (allowed: "a
/// server MAY use compression"). Configuration time only: it allocates.
pub fn encode_domain_search<S: AsRef<str>>(
    names: &[S],
    out: &mut Vec<u8>,
) -> core::result::Result<(), NameError> {
    for name in names {
        let name = name.as_ref();
        check_name(name)?;
        for label in name.strip_suffix('.').unwrap_or(name).split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
