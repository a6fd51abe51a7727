//! rtnetlink wire format for links: walking `nlmsghdr`s and `rtattr`s by offset with
//! bounds checks, decoding `RTM_NEWLINK`/`RTM_DELLINK` into [`Link`], decoding
//! `NLMSG_ERROR`, and building requests (include/uapi/linux/netlink.h, rtnetlink.h,
//! if_link.h). Integers are in host byte order. No function here panics on any input.

use std::fmt;

pub(crate) const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const RTA_HDRLEN: usize = 4;

pub(crate) const NLMSG_NOOP: u16 = 1;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;
pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_DELLINK: u16 = 17;
pub(crate) const RTM_GETLINK: u16 = 18;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
/// In a dump's messages: the dump was interrupted by a change and may be inconsistent.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
/// In an `NLMSG_ERROR`: the original request's payload was left out.
const NLM_F_CAPPED: u16 = 0x100;
/// In an `NLMSG_ERROR`: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: a human-readable error string.
const NLMSGERR_ATTR_MSG: u16 = 1;

pub(crate) const IFLA_ADDRESS: u16 = 1;
pub(crate) const IFLA_IFNAME: u16 = 3;
pub(crate) const IFLA_MTU: u16 = 4;
pub(crate) const IFLA_OPERSTATE: u16 = 16;
pub(crate) const IFLA_NET_NS_FD: u16 = 28;
pub(crate) const IFLA_EXT_MASK: u16 = 29;
/// Attribute type bits (without `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`).
const NLA_TYPE_MASK: u16 = 0x3fff;

const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;

/// A message or attribute that does not fit where it claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed netlink data at byte {offset}: {what}")]
pub struct Malformed {
    /// Offset in the datagram (messages) or payload (attributes).
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// RFC 2863 operational state (`IFLA_OPERSTATE`, `IF_OPER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    /// `IF_OPER_UNKNOWN`: the driver does not track it (tun/tap, loopback).
    Unknown,
    /// `IF_OPER_NOTPRESENT`.
    NotPresent,
    /// `IF_OPER_DOWN`.
    Down,
    /// `IF_OPER_LOWERLAYERDOWN` (e.g. a veth whose peer is down).
    LowerLayerDown,
    /// `IF_OPER_TESTING`.
    Testing,
    /// `IF_OPER_DORMANT`.
    Dormant,
    /// `IF_OPER_UP`.
    Up,
    /// A value this code does not know.
    Other(u8),
}

impl From<u8> for OperState {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Unknown,
            1 => Self::NotPresent,
            2 => Self::Down,
            3 => Self::LowerLayerDown,
            4 => Self::Testing,
            5 => Self::Dormant,
            6 => Self::Up,
            other => Self::Other(other),
        }
    }
}

/// The state of one link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name (empty if the message had none).
    pub name: String,
    /// `IFF_UP`: administratively up.
    pub admin_up: bool,
    /// Operationally up: `IFF_RUNNING` (the kernel sets it when the device is up and its
    /// operstate is UP or UNKNOWN, which is what a tap with an fd holder reports) and, if
    /// present, `IFLA_OPERSTATE` UP or UNKNOWN.
    pub oper_up: bool,
    /// `IFLA_OPERSTATE`, if present.
    pub operstate: Option<OperState>,
    /// `IFLA_MTU`, if present.
    pub mtu: Option<u32>,
    /// `IFLA_ADDRESS` when it is 6 bytes (Ethernet-like devices).
    pub mac: Option<[u8; 6]>,
    /// Raw `ifi_flags` (`IFF_*`).
    pub flags: u32,
}

/// What happened to a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEventKind {
    /// `RTM_NEWLINK`: created, or any attribute or flag changed.
    New,
    /// `RTM_DELLINK`: deleted, or moved to another namespace.
    Del,
}

/// One `RTM_NEWLINK`/`RTM_DELLINK` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// New (or changed) or deleted.
    pub kind: LinkEventKind,
    /// The link's state carried by the message.
    pub link: Link,
}

/// A netlink message header and its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NlMsg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Iterates over the messages of one datagram; stops after the first malformed one.
pub(crate) struct Messages<'a> {
    buf: &'a [u8],
    off: usize,
}

pub(crate) fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, off: 0 }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..).filter(|r| !r.is_empty())?;
        let offset = self.off;
        let fail = |what| Some(Err(Malformed { offset, what }));
        let (Some(len), Some(ty), Some(flags), Some(seq)) = (
            u32_at(rest, 0),
            u16_at(rest, 4),
            u16_at(rest, 6),
            u32_at(rest, 8),
        ) else {
            self.off = self.buf.len();
            return fail("short message header");
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            self.off = self.buf.len();
            return fail("message length out of bounds");
        }
        self.off = self.off.saturating_add(align4(len));
        Some(Ok(NlMsg {
            ty,
            flags,
            seq,
            payload: &rest[NLMSG_HDRLEN..len],
        }))
    }
}

/// Iterates over `(type, value)` attributes; stops after the first malformed one.
struct Attrs<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..).filter(|r| !r.is_empty())?;
        let offset = self.off;
        let (Some(len), Some(ty)) = (u16_at(rest, 0), u16_at(rest, 2)) else {
            self.off = self.buf.len();
            return Some(Err(Malformed {
                offset,
                what: "short attribute header",
            }));
        };
        let len = usize::from(len);
        if len < RTA_HDRLEN || len > rest.len() {
            self.off = self.buf.len();
            return Some(Err(Malformed {
                offset,
                what: "attribute length out of bounds",
            }));
        }
        self.off = self.off.saturating_add(align4(len));
        Some(Ok((ty & NLA_TYPE_MASK, &rest[RTA_HDRLEN..len])))
    }
}

/// Decodes an `ifinfomsg` payload. Returns its address family and the link.
pub(crate) fn parse_link(payload: &[u8]) -> Result<(u8, Link), Malformed> {
    if payload.len() < IFINFOMSG_LEN {
        return Err(Malformed {
            offset: 0,
            what: "short ifinfomsg",
        });
    }
    let family = payload[0];
    let (Some(ifindex), Some(flags)) = (u32_at(payload, 4), u32_at(payload, 8)) else {
        return Err(Malformed {
            offset: 4,
            what: "short ifinfomsg",
        });
    };
    if ifindex == 0 || ifindex > i32::MAX as u32 {
        return Err(Malformed {
            offset: 4,
            what: "bad ifindex",
        });
    }
    let mut link = Link {
        ifindex,
        name: String::new(),
        admin_up: flags & IFF_UP != 0,
        oper_up: flags & IFF_RUNNING != 0,
        operstate: None,
        mtu: None,
        mac: None,
        flags,
    };
    let attrs = Attrs {
        buf: &payload[IFINFOMSG_LEN..],
        off: 0,
    };
    for attr in attrs {
        let (ty, value) = attr.map_err(|m| Malformed {
            offset: m.offset + IFINFOMSG_LEN,
            what: m.what,
        })?;
        match ty {
            IFLA_IFNAME => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                link.name = String::from_utf8_lossy(&value[..end]).into_owned();
            }
            IFLA_MTU => link.mtu = u32_at(value, 0),
            IFLA_ADDRESS => link.mac = value.try_into().ok(),
            IFLA_OPERSTATE => link.operstate = value.first().map(|&v| OperState::from(v)),
            _ => {}
        }
    }
    if let Some(state) = link.operstate {
        link.oper_up &= matches!(state, OperState::Up | OperState::Unknown);
    }
    Ok((family, link))
}

/// Appends the link events (`RTM_NEWLINK`/`RTM_DELLINK` of family `AF_UNSPEC`) found in
/// one datagram to `out`; other messages (bridge-port events of family `AF_BRIDGE`,
/// `NLMSG_NOOP` ...) are skipped. On a malformed message, the events before it are kept
/// and the error says where parsing stopped.
pub fn parse_link_events(datagram: &[u8], out: &mut Vec<LinkEvent>) -> Result<(), Malformed> {
    for msg in messages(datagram) {
        let msg = msg?;
        let kind = match msg.ty {
            RTM_NEWLINK => LinkEventKind::New,
            RTM_DELLINK => LinkEventKind::Del,
            _ => continue,
        };
        let (family, link) = parse_link(msg.payload)?;
        if family == libc::AF_UNSPEC as u8 {
            out.push(LinkEvent { kind, link });
        }
    }
    Ok(())
}

/// A decoded `NLMSG_ERROR` (an ACK when `errno` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NlError {
    /// Positive errno, 0 for an ACK.
    pub errno: i32,
    /// The extended-ack message, if the kernel gave one.
    pub message: Option<String>,
}

pub(crate) fn parse_error(msg: &NlMsg<'_>) -> Result<NlError, Malformed> {
    let err = u32_at(msg.payload, 0).ok_or(Malformed {
        offset: 0,
        what: "short NLMSG_ERROR",
    })? as i32;
    let mut message = None;
    if msg.flags & NLM_F_ACK_TLVS != 0 {
        // The request's header (and payload unless capped) is echoed after the errno.
        let tlv_off = if msg.flags & NLM_F_CAPPED != 0 {
            Some(4 + NLMSG_HDRLEN)
        } else {
            u32_at(msg.payload, 4).map(|len| 4 + align4(len as usize))
        };
        if let Some(buf) = tlv_off.and_then(|o| msg.payload.get(o..)) {
            for (ty, value) in (Attrs { buf, off: 0 }).map_while(Result::ok) {
                if ty == NLMSGERR_ATTR_MSG {
                    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                    message = Some(String::from_utf8_lossy(&value[..end]).into_owned());
                }
            }
        }
    }
    Ok(NlError {
        errno: err.checked_neg().unwrap_or(i32::MAX),
        message,
    })
}

/// Builds one `RTM_*LINK` request: header, `ifinfomsg`, attributes.
pub(crate) struct LinkRequest {
    buf: Vec<u8>,
}

impl LinkRequest {
    pub(crate) fn new(
        ty: u16,
        flags: u16,
        seq: u32,
        ifindex: u32,
        ifi_flags: u32,
        change: u32,
    ) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish()
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        buf.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]); // family, pad, type
        buf.extend_from_slice(&ifindex.to_ne_bytes());
        buf.extend_from_slice(&ifi_flags.to_ne_bytes());
        buf.extend_from_slice(&change.to_ne_bytes());
        Self { buf }
    }

    /// Appends an attribute (values longer than 65531 bytes are not supported).
    pub(crate) fn attr(mut self, ty: u16, value: &[u8]) -> Self {
        let len = (RTA_HDRLEN + value.len()).min(usize::from(u16::MAX)) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf
            .extend_from_slice(&value[..usize::from(len) - RTA_HDRLEN]);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

impl fmt::Debug for LinkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkRequest")
            .field("len", &self.buf.len())
            .finish()
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
