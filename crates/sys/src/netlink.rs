//! rtnetlink for links: a non-blocking monitor of `RTM_NEWLINK`/`RTM_DELLINK` events
//! (group `RTMGRP_LINK`) that the dataplane polls between bursts, and a request socket
//! to read a link's current state (`RTM_GETLINK`) and to change it (`RTM_NEWLINK`: up,
//! MTU, move to another namespace).
//!
//! Sockets act in the network namespace of the thread that created them, from any
//! thread afterwards. Only messages sent by the kernel (port id 0) are accepted.

mod wire;

pub use wire::{parse_link_events, Link, LinkEvent, LinkEventKind, Malformed, OperState};

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;
use wire::{messages, LinkRequest, NlMsg};

/// `SOL_NETLINK` (include/linux/socket.h).
const SOL_NETLINK: libc::c_int = 270;
/// Receive buffer: larger than any datagram the kernel builds for link messages
/// (dumps are capped at 32 KiB per datagram).
const RECV_BUF: usize = 64 * 1024;
/// How long a request waits for the kernel's answer before giving up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors on rtnetlink sockets; each names the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// `socket(AF_NETLINK, NETLINK_ROUTE)` failed.
    #[error("creating the rtnetlink socket")]
    Socket(#[source] io::Error),
    /// `bind` (with the multicast groups) failed.
    #[error("binding the rtnetlink socket")]
    Bind(#[source] io::Error),
    /// A socket option could not be set.
    #[error("setting socket option {option}")]
    SetOption {
        /// Option name.
        option: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Sending a request failed.
    #[error("sending {request}")]
    Send {
        /// Which request.
        request: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Receiving failed.
    #[error("receiving from the rtnetlink socket")]
    Recv(#[source] io::Error),
    /// The socket's receive queue overflowed (`ENOBUFS`): events were lost. Re-read the
    /// state with [`Rtnl::link_dump`]; the monitor keeps working.
    #[error("rtnetlink receive queue overrun: link events were lost")]
    Overrun,
    /// A datagram was larger than the receive buffer.
    #[error("rtnetlink datagram of {len} bytes truncated")]
    Truncated {
        /// Real datagram length.
        len: usize,
    },
    /// The kernel answered a request with an error.
    #[error("{request} failed{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Request {
        /// Which request.
        request: &'static str,
        /// The kernel's extended-ack message, if any.
        message: Option<String>,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// A reply could not be parsed.
    #[error("parsing the answer to {request}")]
    Parse {
        /// Which request.
        request: &'static str,
        /// Where it went wrong.
        #[source]
        source: Malformed,
    },
    /// The interface name cannot be valid (empty, over 15 bytes, or with NUL).
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
}

/// A non-blocking socket subscribed to link events. Poll [`AsFd::as_fd`] for
/// readability (or call [`LinkMonitor::wait`]) and drain it with
/// [`LinkMonitor::recv_events`].
#[derive(Debug)]
pub struct LinkMonitor {
    fd: OwnedFd,
    buf: Vec<u8>,
    malformed: u64,
}

impl LinkMonitor {
    /// Opens a socket in the calling thread's namespace, subscribed to `RTMGRP_LINK`.
    pub fn open() -> Result<Self, NetlinkError> {
        let fd = nl_socket(libc::RTMGRP_LINK as u32, true)?;
        Ok(Self {
            fd,
            buf: vec![0; RECV_BUF],
            malformed: 0,
        })
    }

    /// Appends every queued link event to `out` and returns how many were added, 0 when
    /// none was queued. Never blocks. Malformed datagrams are counted (see
    /// [`LinkMonitor::malformed`]); the events before the damage are kept.
    pub fn recv_events(&mut self, out: &mut Vec<LinkEvent>) -> Result<usize, NetlinkError> {
        let before = out.len();
        loop {
            let len = match recv_from_kernel(self.fd.as_fd(), &mut self.buf) {
                Ok(Some(len)) => len,
                Ok(None) => continue, // not from the kernel
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(NetlinkError::Overrun)
                }
                Err(e) => return Err(NetlinkError::Recv(e)),
            };
            if len > self.buf.len() {
                self.malformed += 1;
                continue;
            }
            if parse_link_events(&self.buf[..len], out).is_err() {
                self.malformed += 1;
            }
        }
        Ok(out.len() - before)
    }

    /// Waits up to `timeout` for the socket to become readable. Returns whether it is.
    pub fn wait(&self, timeout: Duration) -> Result<bool, NetlinkError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: pfd is one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        match rc {
            0 => Ok(false),
            n if n > 0 => Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(NetlinkError::Recv(e))
                }
            }
        }
    }

    /// Datagrams that were truncated or did not parse, since the monitor was opened.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

impl AsFd for LinkMonitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Changes applied by [`Rtnl::set_link`] in one `RTM_NEWLINK` request. The namespace
/// move happens first; the other changes then apply in the new namespace (a moved
/// device arrives down, so `up: Some(true)` with `netns` brings it up there).
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkChange<'a> {
    /// Set (`Some(true)`) or clear (`Some(false)`) `IFF_UP`.
    pub up: Option<bool>,
    /// New MTU.
    pub mtu: Option<u32>,
    /// Move to the network namespace of this descriptor (e.g. `/run/netns/NAME`).
    pub netns: Option<BorrowedFd<'a>>,
}

/// A blocking request socket (answers time out after 5 s).
#[derive(Debug)]
pub struct Rtnl {
    fd: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
}

impl Rtnl {
    /// Opens a request socket in the calling thread's namespace.
    pub fn open() -> Result<Self, NetlinkError> {
        let fd = nl_socket(0, false)?;
        let tv = libc::timeval {
            tv_sec: REQUEST_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        setsockopt(
            fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv,
            "SO_RCVTIMEO",
        )?;
        // Errors carry the kernel's explanation, without echoing our request back.
        let one: libc::c_int = 1;
        setsockopt(
            fd.as_fd(),
            SOL_NETLINK,
            libc::NETLINK_EXT_ACK,
            &one,
            "NETLINK_EXT_ACK",
        )?;
        setsockopt(
            fd.as_fd(),
            SOL_NETLINK,
            libc::NETLINK_CAP_ACK,
            &one,
            "NETLINK_CAP_ACK",
        )?;
        Ok(Self {
            fd,
            buf: vec![0; RECV_BUF],
            seq: 0,
        })
    }

    /// All links of the namespace (`RTM_GETLINK` dump). A dump the kernel flags as
    /// inconsistent (`NLM_F_DUMP_INTR`: links changed while it ran) is retried, up to
    /// three times; the last one is returned whatever its flag.
    pub fn link_dump(&mut self) -> Result<Vec<Link>, NetlinkError> {
        const WHAT: &str = "RTM_GETLINK dump";
        let mut links = Vec::new();
        for _attempt in 0..3 {
            let seq = self.next_seq();
            let req = LinkRequest::new(
                wire::RTM_GETLINK,
                wire::NLM_F_REQUEST | wire::NLM_F_DUMP,
                seq,
                0,
                0,
                0,
            )
            .attr(wire::IFLA_EXT_MASK, &skip_stats())
            .finish();
            links.clear();
            let mut interrupted = false;
            self.transact(WHAT, &req, seq, |msg| {
                interrupted |= msg.flags & wire::NLM_F_DUMP_INTR != 0;
                if msg.ty == wire::RTM_NEWLINK {
                    let (family, link) = wire::parse_link(msg.payload)?;
                    if family == libc::AF_UNSPEC as u8 {
                        links.push(link);
                    }
                }
                Ok(())
            })?;
            if !interrupted {
                break;
            }
        }
        Ok(links)
    }

    /// The link called `name`, or None if there is none in this namespace.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
            return Err(NetlinkError::InvalidName(name.to_owned()));
        }
        let mut value = name.as_bytes().to_vec();
        value.push(0);
        self.get_link(0, Some(&value))
    }

    /// The link with index `ifindex`, or None if there is none in this namespace.
    pub fn link_by_index(&mut self, ifindex: u32) -> Result<Option<Link>, NetlinkError> {
        self.get_link(ifindex, None)
    }

    fn get_link(
        &mut self,
        ifindex: u32,
        name: Option<&[u8]>,
    ) -> Result<Option<Link>, NetlinkError> {
        const WHAT: &str = "RTM_GETLINK";
        let seq = self.next_seq();
        let mut req = LinkRequest::new(wire::RTM_GETLINK, wire::NLM_F_REQUEST, seq, ifindex, 0, 0)
            .attr(wire::IFLA_EXT_MASK, &skip_stats());
        if let Some(name) = name {
            req = req.attr(wire::IFLA_IFNAME, name);
        }
        let mut found = None;
        let r = self.transact(WHAT, &req.finish(), seq, |msg| {
            if msg.ty == wire::RTM_NEWLINK {
                found = Some(wire::parse_link(msg.payload)?.1);
            }
            Ok(())
        });
        match r {
            Err(NetlinkError::Request { source, .. })
                if source.raw_os_error() == Some(libc::ENODEV) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(found),
        }
    }

    /// Applies `change` to link `ifindex` and waits for the kernel's acknowledgement.
    pub fn set_link(&mut self, ifindex: u32, change: &LinkChange<'_>) -> Result<(), NetlinkError> {
        const WHAT: &str = "RTM_NEWLINK (set link)";
        const IFF_UP: u32 = libc::IFF_UP as u32;
        let seq = self.next_seq();
        let (flags, mask) = match change.up {
            Some(true) => (IFF_UP, IFF_UP),
            Some(false) => (0, IFF_UP),
            None => (0, 0),
        };
        let mut req = LinkRequest::new(
            wire::RTM_NEWLINK,
            wire::NLM_F_REQUEST | wire::NLM_F_ACK,
            seq,
            ifindex,
            flags,
            mask,
        );
        if let Some(ns) = change.netns {
            req = req.attr(wire::IFLA_NET_NS_FD, &(ns.as_raw_fd() as u32).to_ne_bytes());
        }
        if let Some(mtu) = change.mtu {
            req = req.attr(wire::IFLA_MTU, &mtu.to_ne_bytes());
        }
        self.transact(WHAT, &req.finish(), seq, |_| Ok(()))
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `req` and feeds every answer message with sequence `seq` to `each` until
    /// the final one: `NLMSG_DONE` for dumps, `NLMSG_ERROR` (an ACK when 0) or, for a
    /// plain get, the single reply.
    fn transact(
        &mut self,
        request: &'static str,
        req: &[u8],
        seq: u32,
        mut each: impl FnMut(&NlMsg<'_>) -> Result<(), Malformed>,
    ) -> Result<(), NetlinkError> {
        send_to_kernel(self.fd.as_fd(), req)
            .map_err(|source| NetlinkError::Send { request, source })?;
        let parse = |source| NetlinkError::Parse { request, source };
        let multi = u16_at_flags(req) & wire::NLM_F_DUMP == wire::NLM_F_DUMP;
        let wants_ack = u16_at_flags(req) & wire::NLM_F_ACK != 0;
        loop {
            let len = match recv_from_kernel(self.fd.as_fd(), &mut self.buf) {
                Ok(Some(len)) => len,
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NetlinkError::Recv(e)),
            };
            if len > self.buf.len() {
                return Err(NetlinkError::Truncated { len });
            }
            for msg in messages(&self.buf[..len]) {
                let msg = msg.map_err(parse)?;
                if msg.seq != seq {
                    continue; // a late answer to an earlier, timed-out request
                }
                match msg.ty {
                    wire::NLMSG_ERROR => {
                        let e = wire::parse_error(&msg).map_err(parse)?;
                        if e.errno == 0 {
                            return Ok(());
                        }
                        return Err(NetlinkError::Request {
                            request,
                            message: e.message,
                            source: io::Error::from_raw_os_error(e.errno),
                        });
                    }
                    wire::NLMSG_DONE => {
                        let errno = wire::parse_error(&msg).map(|e| e.errno).unwrap_or(0);
                        if errno != 0 {
                            return Err(NetlinkError::Request {
                                request,
                                message: None,
                                source: io::Error::from_raw_os_error(errno),
                            });
                        }
                        return Ok(());
                    }
                    wire::NLMSG_NOOP | wire::NLMSG_OVERRUN => {}
                    _ => {
                        each(&msg).map_err(parse)?;
                        if !multi && !wants_ack {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// The current state of link `name` in the calling thread's namespace.
pub fn link_by_name(name: &str) -> Result<Option<Link>, NetlinkError> {
    Rtnl::open()?.link_by_name(name)
}

/// All links in the calling thread's namespace.
pub fn link_dump() -> Result<Vec<Link>, NetlinkError> {
    Rtnl::open()?.link_dump()
}

/// `IFLA_EXT_MASK` value asking the kernel to leave out the statistics attributes.
fn skip_stats() -> [u8; 4] {
    (libc::RTEXT_FILTER_SKIP_STATS as u32).to_ne_bytes()
}

fn u16_at_flags(req: &[u8]) -> u16 {
    req.get(6..8)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_ne_bytes)
        .unwrap_or(0)
}

/// A `NETLINK_ROUTE` socket bound to `groups`, close-on-exec.
fn nl_socket(groups: u32, nonblocking: bool) -> Result<OwnedFd, NetlinkError> {
    let mut ty = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
    if nonblocking {
        ty |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: plain syscall with constant arguments; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, ty, libc::NETLINK_ROUTE) };
    if raw < 0 {
        return Err(NetlinkError::Socket(io::Error::last_os_error()));
    }
    // SAFETY: raw is a freshly created descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut addr = kernel_addr();
    addr.nl_groups = groups;
    // SAFETY: addr is a valid sockaddr_nl of the size passed, for the call.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(NetlinkError::Bind(io::Error::last_os_error()));
    }
    Ok(fd)
}

/// `sockaddr_nl` for port id 0 (the kernel), no groups.
fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is integers and padding; all zeroes is valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}

fn send_to_kernel(fd: BorrowedFd<'_>, msg: &[u8]) -> io::Result<()> {
    let addr = kernel_addr();
    // SAFETY: msg and addr are valid for reads of the lengths passed, for the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one datagram. Returns its full length (larger than `buf` when truncated,
/// thanks to `MSG_TRUNC`), or None when the sender was not the kernel.
fn recv_from_kernel(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut from = kernel_addr();
    let mut from_len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: buf is valid for writes of buf.len() bytes and `from` for from_len bytes,
    // for the call; the kernel writes at most that much.
    let n = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_TRUNC,
            (&mut from as *mut libc::sockaddr_nl).cast(),
            &mut from_len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if from.nl_pid != 0 {
        return Ok(None);
    }
    Ok(Some(n as usize))
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    option: &'static str,
) -> Result<(), NetlinkError> {
    // SAFETY: value points to size_of::<T>() readable bytes for the call; the kernel
    // copies them.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(NetlinkError::SetOption {
            option,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}
