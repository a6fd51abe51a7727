//! [`ClientRepr`] (what a server reads from a client) and [`ReplyRepr`] (what it sends).

use super::{
    field, opt, BootpOp, DhcpPacket, MessageType, OptionIter, BOOTP_MIN_LEN, FLAG_BROADCAST,
    MIN_LEN,
};
use crate::ethernet::EthernetAddress;
use crate::{Error, Ipv4Addr, Result};

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
    /// Option 119, already in RFC 1035 wire form ([`super::encode_domain_search`]).
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
