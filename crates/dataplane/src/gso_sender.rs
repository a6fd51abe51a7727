//! A port's GSO sender: the `AF_PACKET` socket with virtio-net headers that TCP
//! super-frames leave through ([`crate::Port::tx_gso`]), and whether the port has one.
//!
//! A port without it still forwards everything: super-frames are cut in software and
//! every segment goes through AF_XDP, at a fraction of the throughput (a third to a
//! half for a guest's TCP, `results/tcp-analysis.md`). That must not happen unnoticed,
//! so a socket that cannot be opened leaves a [`GsoStatus::Unavailable`] with the
//! reason and the fix, which the port's owner logs and `show ports` and the metrics
//! print.

use std::fmt;

use sys::{PacketError, PacketSocket};

/// Whether a port transmits TCP super-frames whole (GSO sends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GsoStatus {
    /// It does: the packet socket is open.
    On,
    /// Turned off in the configuration (`[dataplane] gso = "off"`).
    Off,
    /// Wanted, but the packet socket could not be opened: segmented in software.
    Unavailable {
        /// What failed, with the system's error.
        reason: String,
        /// What to do about it.
        fix: &'static str,
    },
}

impl GsoStatus {
    /// `on`, `off` or `unavailable`: the state alone (a metrics label).
    pub fn name(&self) -> &'static str {
        match self {
            GsoStatus::On => "on",
            GsoStatus::Off => "off",
            GsoStatus::Unavailable { .. } => "unavailable",
        }
    }

    /// The status of a port whose packet socket failed to open with `error`.
    pub fn unavailable(error: &PacketError) -> GsoStatus {
        let cause = match error {
            PacketError::Socket(e) | PacketError::VnetHdr(e) => e,
            PacketError::Bind { source, .. } => source,
        };
        let fix = match (error, cause.raw_os_error()) {
            (PacketError::Socket(_), Some(libc::EPERM | libc::EACCES)) => {
                "give the router CAP_NET_RAW (the systemd unit's CapabilityBoundingSet has \
                 it) and allow AF_PACKET sockets, or set [dataplane] gso = \"off\""
            }
            (PacketError::Socket(_), Some(libc::EAFNOSUPPORT | libc::EINVAL)) => {
                "load the af_packet module (CONFIG_PACKET) and restart the router, or set \
                 [dataplane] gso = \"off\""
            }
            (PacketError::VnetHdr(_), _) => {
                "the kernel refuses PACKET_VNET_HDR (Linux 2.6.29+ has it): set [dataplane] \
                 gso = \"off\""
            }
            (PacketError::Bind { .. }, Some(libc::ENODEV | libc::ENXIO)) => {
                "the device went away while the port opened: it is opened again (with GSO) \
                 when the device comes back"
            }
            _ => {
                "see the error; then restart the router (or re-add the port), or set \
                 [dataplane] gso = \"off\""
            }
        };
        GsoStatus::Unavailable {
            reason: format!("{error}: {cause}"),
            fix,
        }
    }
}

impl fmt::Display for GsoStatus {
    /// `on`, `off`, or `unavailable (REASON; fix: FIX)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GsoStatus::Unavailable { reason, fix } => {
                write!(f, "unavailable ({reason}; fix: {fix})")
            }
            other => f.write_str(other.name()),
        }
    }
}

/// A port's packet socket for GSO sends, if it has one, and why not otherwise.
#[derive(Debug)]
pub struct GsoSender {
    socket: Option<PacketSocket>,
    status: GsoStatus,
}

impl GsoSender {
    /// Opens the packet socket on `ifindex` if `wanted` (`[dataplane] gso`). Never
    /// fails: a socket that cannot be opened leaves the port without GSO sends and the
    /// reason in [`GsoSender::status`].
    pub fn open(wanted: bool, ifindex: u32) -> GsoSender {
        if !wanted {
            return GsoSender::off();
        }
        GsoSender::from_result(PacketSocket::open(ifindex))
    }

    /// No GSO sends, as configured.
    pub fn off() -> GsoSender {
        GsoSender {
            socket: None,
            status: GsoStatus::Off,
        }
    }

    /// The sender for the outcome of opening its socket.
    pub fn from_result(opened: Result<PacketSocket, PacketError>) -> GsoSender {
        match opened {
            Ok(socket) => GsoSender {
                socket: Some(socket),
                status: GsoStatus::On,
            },
            Err(e) => GsoSender {
                socket: None,
                status: GsoStatus::unavailable(&e),
            },
        }
    }

    /// Whether super-frames can be sent.
    pub fn ready(&self) -> bool {
        self.socket.is_some()
    }

    /// The packet socket, if any (see `XdpPort::retire`).
    pub(crate) fn socket_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.socket.as_ref().map(AsFd::as_fd)
    }

    /// On, off, or unavailable and why.
    pub fn status(&self) -> &GsoStatus {
        &self.status
    }

    /// One frame of `pieces` behind the virtio-net header `vnet`, as one send. False if
    /// there is no socket or the send failed (the caller falls back).
    pub fn send(&self, vnet: &[u8; 10], pieces: &[&[u8]]) -> bool {
        self.socket
            .as_ref()
            .is_some_and(|s| s.send(vnet, pieces).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `io::Error` from an errno, for tests of the messages.
    fn os(errno: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn off_opens_nothing() {
        let s = GsoSender::open(false, 1);
        assert_eq!(s.status(), &GsoStatus::Off);
        assert!(!s.ready());
        assert!(!s.send(&[0; 10], &[&[0u8; 60]]));
        assert_eq!(s.status().to_string(), "off");
    }

    #[test]
    fn no_cap_net_raw_names_the_cause_and_the_fix() {
        let s = GsoSender::from_result(Err(PacketError::Socket(os(libc::EPERM))));
        assert!(!s.ready());
        assert!(!s.send(&[0; 10], &[&[0u8; 60]]));
        let GsoStatus::Unavailable { reason, fix } = s.status() else {
            panic!("not unavailable: {:?}", s.status());
        };
        assert!(reason.contains("creating the AF_PACKET socket"), "{reason}");
        assert!(reason.contains("not permitted"), "{reason}");
        assert!(fix.contains("CAP_NET_RAW"), "{fix}");
        let shown = s.status().to_string();
        assert!(shown.starts_with("unavailable ("), "{shown}");
        assert!(
            shown.contains("fix: give the router CAP_NET_RAW"),
            "{shown}"
        );
        assert_eq!(s.status().name(), "unavailable");
    }

    #[test]
    fn each_failure_has_its_own_fix() {
        let no_af_packet = GsoStatus::unavailable(&PacketError::Socket(os(libc::EAFNOSUPPORT)));
        let no_vnet = GsoStatus::unavailable(&PacketError::VnetHdr(os(libc::ENOPROTOOPT)));
        let gone = GsoStatus::unavailable(&PacketError::Bind {
            ifindex: 7,
            source: os(libc::ENODEV),
        });
        let fix = |s: &GsoStatus| match s {
            GsoStatus::Unavailable { fix, .. } => *fix,
            _ => "",
        };
        assert!(fix(&no_af_packet).contains("af_packet"));
        assert!(fix(&no_vnet).contains("PACKET_VNET_HDR"));
        assert!(fix(&gone).contains("comes back"));
        assert!(gone.to_string().contains("ifindex 7"), "{gone}");
    }

    /// A real open that cannot succeed: as root the bind to a device that does not
    /// exist fails, without CAP_NET_RAW the socket itself does. Either way the port is
    /// left without GSO and says why.
    #[test]
    fn a_failed_open_is_unavailable_not_silent() {
        let s = GsoSender::open(true, u32::MAX - 1);
        assert!(!s.ready());
        match s.status() {
            GsoStatus::Unavailable { reason, .. } => {
                assert!(
                    reason.contains("binding") || reason.contains("creating"),
                    "{reason}"
                );
            }
            other => panic!("opened on a missing device: {other:?}"),
        }
    }
}
