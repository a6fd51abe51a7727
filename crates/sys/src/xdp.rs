//! The XDP steering program: built from eBPF instructions here, loaded with `bpf(2)`
//! and attached through a BPF link, so it detaches when the link fd closes, which
//! includes the process exiting in any way.
//!
//! Two flavours, both flagged `BPF_F_XDP_HAS_FRAGS` (libbpf's section `xdp.frags`) so
//! multi-buffer frames reach multi-buffer sockets:
//! - [`Steering::Guest`]: every frame goes to the socket of its rx queue.
//! - [`Steering::Uplink`]: ARP whose target protocol address, and IPv4 whose
//!   destination, is a guest IP (hash map) go to the socket; everything else is passed
//!   to the kernel.
//!
//! Frames meant for a socket when none is in the XSKMAP slot of their queue are dropped
//! (fail closed: the router is not there to decide).

use crate::bpf;
use crate::insn::{Asm, Insn, Size, R0, R1, R10, R2, R3, R4, R5, R6, R7};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Errors loading, attaching or updating the steering program.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// Creating a BPF map failed.
    #[error("creating BPF map {name}")]
    CreateMap {
        /// Map name.
        name: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The verifier rejected the program (its log follows).
    #[error("loading the XDP program: {log}")]
    LoadProgram {
        /// Verifier log (may be empty).
        log: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `BPF_LINK_CREATE` failed in every mode tried.
    #[error("attaching XDP to ifindex {ifindex} ({mode:?})")]
    AttachLink {
        /// Interface index.
        ifindex: u32,
        /// Mode requested.
        mode: AttachMode,
        /// Cause (of the last mode tried).
        #[source]
        source: io::Error,
    },
    /// Updating or deleting a map entry failed.
    #[error("{op} in BPF map {map}")]
    UpdateMap {
        /// What was done.
        op: &'static str,
        /// Map name.
        map: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The program has no guest IP map ([`Steering::Guest`]).
    #[error("guest IPs only apply to an uplink program")]
    NotUplink,
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("test-running the XDP program")]
    TestRun(#[source] io::Error),
}

/// Which traffic the program hands to the AF_XDP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steering {
    /// Everything (a guest's tap).
    Guest,
    /// ARP and IPv4 for guest IPs; the rest goes to the kernel (the VLAN uplink).
    Uplink,
}

/// Where the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`); fails where the driver has no XDP.
    Native,
    /// On the skb path (`XDP_FLAGS_SKB_MODE`); works on every device.
    Generic,
    /// Native, falling back to generic if the driver refuses.
    NativeOrGeneric,
}

const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// XDP verdicts (`enum xdp_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAction {
    /// XDP_ABORTED
    Aborted,
    /// XDP_DROP
    Drop,
    /// XDP_PASS
    Pass,
    /// XDP_TX
    Tx,
    /// XDP_REDIRECT
    Redirect,
    /// Anything else.
    Other(u32),
}

impl From<u32> for XdpAction {
    fn from(v: u32) -> Self {
        match v {
            0 => Self::Aborted,
            1 => Self::Drop,
            2 => Self::Pass,
            3 => Self::Tx,
            4 => Self::Redirect,
            o => Self::Other(o),
        }
    }
}

const XDP_DROP: i32 = 1;
const XDP_PASS: i32 = 2;
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_REDIRECT_MAP: i32 = 51;
// struct xdp_md field offsets.
const MD_DATA: i16 = 0;
const MD_DATA_END: i16 = 4;
const MD_RX_QUEUE_INDEX: i16 = 16;
/// Queues the XSKMAP can hold.
const MAX_QUEUES: u32 = 64;
/// Guest IPs the uplink map can hold.
const MAX_GUEST_IPS: u32 = 16384;

/// A 16-bit field as the program reads it from the wire (network order bytes).
fn wire16(v: u16) -> i32 {
    i32::from(u16::from_ne_bytes(v.to_be_bytes()))
}

/// The map key for an address: its octets in wire order.
fn ip_key(ip: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(ip.octets())
}

/// `redirect_map(xsks, ctx->rx_queue_index, XDP_DROP)` then exit; expects ctx in r6.
fn emit_redirect(a: &mut Asm, xsks_fd: i32) {
    a.load(Size::W, R2, R6, MD_RX_QUEUE_INDEX)
        .load_map_fd(R1, xsks_fd)
        .mov_imm(R3, XDP_DROP)
        .call(HELPER_REDIRECT_MAP)
        .exit();
}

fn guest_program(xsks_fd: i32) -> Vec<Insn> {
    let mut a = Asm::default();
    a.mov(R6, R1);
    emit_redirect(&mut a, xsks_fd);
    a.finish()
}

fn uplink_program(xsks_fd: i32, guests_fd: i32) -> Vec<Insn> {
    const ETH_TYPE: i16 = 12;
    const IPV4_DST: i16 = 14 + 16;
    const ARP_TPA: i16 = 14 + 24;
    let mut a = Asm::default();
    let (pass, ipv4, arp, lookup) = (a.label(), a.label(), a.label(), a.label());
    a.mov(R6, R1)
        .load(Size::W, R2, R6, MD_DATA)
        .load(Size::W, R3, R6, MD_DATA_END)
        .mov(R4, R2)
        .add_imm(R4, 14)
        .jgt(R4, R3, pass)
        .load(Size::H, R5, R2, ETH_TYPE)
        .jeq_imm(R5, wire16(0x0800), ipv4)
        .jeq_imm(R5, wire16(0x0806), arp)
        .ja(pass);
    a.bind(ipv4);
    a.mov(R4, R2)
        .add_imm(R4, i32::from(IPV4_DST) + 4)
        .jgt(R4, R3, pass)
        .load(Size::W, R7, R2, IPV4_DST)
        .ja(lookup);
    a.bind(arp);
    a.mov(R4, R2)
        .add_imm(R4, i32::from(ARP_TPA) + 4)
        .jgt(R4, R3, pass)
        .load(Size::W, R7, R2, ARP_TPA);
    a.bind(lookup);
    a.store(Size::W, R10, -4, R7)
        .load_map_fd(R1, guests_fd)
        .mov(R2, R10)
        .add_imm(R2, -4)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, pass);
    emit_redirect(&mut a, xsks_fd);
    a.bind(pass);
    a.mov_imm(R0, XDP_PASS).exit();
    a.finish()
}

/// A loaded steering program and its maps. One per port: the XSKMAP is per device.
#[derive(Debug)]
pub struct XdpProgram {
    prog: OwnedFd,
    xsks: OwnedFd,
    guest_ips: Option<OwnedFd>,
    steering: Steering,
}

/// An attachment; the program detaches when this is dropped (or the process exits).
#[derive(Debug)]
pub struct XdpLink {
    _fd: OwnedFd,
    ifindex: u32,
    mode: AttachMode,
}

impl XdpLink {
    /// The interface it is attached to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The mode it ended up in: [`AttachMode::Native`] or [`AttachMode::Generic`].
    pub fn mode(&self) -> AttachMode {
        self.mode
    }
}

impl XdpProgram {
    /// Creates the maps and loads the program (not attached yet).
    pub fn load(steering: Steering) -> Result<Self, XdpError> {
        let xsks = bpf::map_create_u32(bpf::BPF_MAP_TYPE_XSKMAP, MAX_QUEUES, "hvr_xsks").map_err(
            |source| XdpError::CreateMap {
                name: "hvr_xsks",
                source,
            },
        )?;
        let (insns, guest_ips) = match steering {
            Steering::Guest => (guest_program(xsks.as_raw_fd()), None),
            Steering::Uplink => {
                let g = bpf::map_create_u32(bpf::BPF_MAP_TYPE_HASH, MAX_GUEST_IPS, "hvr_guest_ips")
                    .map_err(|source| XdpError::CreateMap {
                        name: "hvr_guest_ips",
                        source,
                    })?;
                (uplink_program(xsks.as_raw_fd(), g.as_raw_fd()), Some(g))
            }
        };
        let name = match steering {
            Steering::Guest => "hvr_guest",
            Steering::Uplink => "hvr_uplink",
        };
        let prog = match bpf::prog_load_xdp(&insns, bpf::BPF_F_XDP_HAS_FRAGS, name, None) {
            Ok(p) => p,
            Err(_) => {
                // Load again with the verifier log for the error.
                let mut log = vec![0u8; 64 * 1024];
                match bpf::prog_load_xdp(&insns, bpf::BPF_F_XDP_HAS_FRAGS, name, Some(&mut log)) {
                    Ok(p) => p,
                    Err(source) => {
                        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                        let log = String::from_utf8_lossy(&log[..end]).into_owned();
                        return Err(XdpError::LoadProgram { log, source });
                    }
                }
            }
        };
        Ok(Self {
            prog,
            xsks,
            guest_ips,
            steering,
        })
    }

    /// Which flavour this is.
    pub fn steering(&self) -> Steering {
        self.steering
    }

    /// Attaches to `ifindex` by BPF link. A device can carry one XDP program per mode;
    /// attaching fails with EBUSY/EEXIST if one is already there.
    pub fn attach(&self, ifindex: u32, mode: AttachMode) -> Result<XdpLink, XdpError> {
        let try_mode = |m: AttachMode| {
            let flags = if m == AttachMode::Native {
                XDP_FLAGS_DRV_MODE
            } else {
                XDP_FLAGS_SKB_MODE
            };
            bpf::link_create_xdp(self.prog.as_fd(), ifindex, flags).map(|fd| XdpLink {
                _fd: fd,
                ifindex,
                mode: m,
            })
        };
        let res = match mode {
            AttachMode::NativeOrGeneric => {
                try_mode(AttachMode::Native).or_else(|_| try_mode(AttachMode::Generic))
            }
            m => try_mode(m),
        };
        res.map_err(|source| XdpError::AttachLink {
            ifindex,
            mode,
            source,
        })
    }

    /// Steers queue `queue` to `socket` (an AF_XDP socket bound to that queue).
    pub fn insert_socket(&self, queue: u32, socket: &impl AsFd) -> Result<(), XdpError> {
        let fd = socket.as_fd().as_raw_fd() as u32;
        bpf::map_update_u32(self.xsks.as_fd(), queue, fd).map_err(|source| XdpError::UpdateMap {
            op: "insert socket",
            map: "hvr_xsks",
            source,
        })
    }

    /// Stops steering queue `queue` (its frames are then dropped).
    pub fn remove_socket(&self, queue: u32) -> Result<(), XdpError> {
        bpf::map_delete_u32(self.xsks.as_fd(), queue).map_err(|source| XdpError::UpdateMap {
            op: "remove socket",
            map: "hvr_xsks",
            source,
        })
    }

    /// Starts steering ARP and IPv4 for `ip` to the socket (uplink only). Idempotent.
    pub fn insert_guest_ip(&self, ip: Ipv4Addr) -> Result<(), XdpError> {
        let map = self.guest_ips.as_ref().ok_or(XdpError::NotUplink)?;
        bpf::map_update_u32(map.as_fd(), ip_key(ip), 1).map_err(|source| XdpError::UpdateMap {
            op: "insert guest IP",
            map: "hvr_guest_ips",
            source,
        })
    }

    /// Stops steering `ip` (its traffic goes to the kernel). Removing an absent IP is
    /// not an error.
    pub fn remove_guest_ip(&self, ip: Ipv4Addr) -> Result<(), XdpError> {
        let map = self.guest_ips.as_ref().ok_or(XdpError::NotUplink)?;
        match bpf::map_delete_u32(map.as_fd(), ip_key(ip)) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(XdpError::UpdateMap {
                op: "remove guest IP",
                map: "hvr_guest_ips",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Runs the program on `frame` without a device (`BPF_PROG_TEST_RUN`, rx queue 0)
    /// and returns its verdict. Needs the same privileges as loading.
    pub fn test_run(&self, frame: &[u8]) -> Result<XdpAction, XdpError> {
        bpf::prog_test_run(self.prog.as_fd(), frame)
            .map(XdpAction::from)
            .map_err(XdpError::TestRun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_assemble() {
        assert_eq!(guest_program(3).len(), 7);
        let p = uplink_program(3, 4);
        assert!(p.len() > 20 && p.len() < 64);
    }

    #[test]
    fn keys_are_wire_order() {
        assert_eq!(
            ip_key(Ipv4Addr::new(192, 0, 2, 1)).to_ne_bytes(),
            [192, 0, 2, 1]
        );
        assert_eq!(wire16(0x0800).to_ne_bytes()[..2], [0x08, 0x00]);
    }
}
