//! The XDP steering program: built from eBPF instructions here, loaded with `bpf(2)`
//! and attached through a BPF link, so it detaches when the link fd closes, which
//! includes the process exiting in any way.
//!
//! Two flavours, both flagged `BPF_F_XDP_HAS_FRAGS` (libbpf's section `xdp.frags`) so
//! multi-buffer frames reach multi-buffer sockets:
//! - [`Steering::Guest`]: every frame goes to the socket of its rx queue.
//! - [`Steering::Uplink`]: ARP whose target protocol address, and IPv4 whose
//!   destination, is a guest IP (exact-address hash map) or lies in a steered prefix
//!   (LPM trie, any length: a guest's routed prefixes) go to the socket; everything
//!   else is passed to the kernel. The hash is looked up first; only on a miss is the
//!   trie key (`struct bpf_lpm_trie_key`: `u32 prefixlen = 32`, then the 4 address
//!   bytes) built on the stack and the trie looked up.
//!   IPv6 likewise, with its own two maps (16-byte addresses, 20-byte trie keys): a
//!   destination that is a guest's address (or the router's own VLAN link-local
//!   address) or lies in a steered IPv6 prefix goes to the socket; so does a Neighbor
//!   Solicitation (ICMPv6 type 135 right after the fixed header) whose target is in the
//!   exact map, whatever its destination (solicited-node multicast, DAD), and an MLD
//!   General Query (a hop-by-hop header to all-nodes, ff02::1). Every other IPv6 frame
//!   (RAs and the rest of all-nodes traffic, MLD reports, other hosts' traffic) stays
//!   with the kernel.
//!
//! Frames meant for a socket when none is in the XSKMAP slot of their queue are dropped
//! (fail closed: the router is not there to decide).

use crate::bpf;
use crate::insn::{Asm, Insn, Size, R0, R1, R10, R2, R3, R4, R5, R6, R7};
use crate::xdp_fast::{emit_fast_path, FastFds, FastPathMaps};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
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
    /// A prefix length above 32.
    #[error("IPv4 prefix length {0} is above 32")]
    PrefixLen(u8),
    /// An IPv6 prefix length above 128.
    #[error("IPv6 prefix length {0} is above 128")]
    PrefixLen6(u8),
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
    /// Nothing: IPv4 is dropped where the program runs (`XDP_DROP`), the rest (ARP)
    /// goes to the kernel. The benchmark's receiver sink: frames are counted by the
    /// device (`rx_packets`) and cost no stack processing, and neighbors still resolve.
    DropIpv4,
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
/// Steered prefixes the uplink trie can hold.
const MAX_STEERED_PREFIXES: u32 = 16384;
/// `struct bpf_lpm_trie_key` for IPv4: `u32 prefixlen` then 4 address bytes.
const TRIE_KEY_SIZE: u32 = 8;
/// IPv6 addresses (guests' and the router's own) the uplink map can hold.
const MAX_GUEST_IP6S: u32 = 16384;
/// `struct bpf_lpm_trie_key` for IPv6: `u32 prefixlen` then 16 address bytes.
const TRIE6_KEY_SIZE: u32 = 20;

/// ff02::1 as the four 32-bit words a `W` load reads from the packet (memory order).
const ALL_NODES_WORDS: [i32; 4] = [
    i32::from_ne_bytes([0xff, 0x02, 0, 0]),
    0,
    0,
    i32::from_ne_bytes([0, 0, 0, 1]),
];

/// A 16-bit field as the program reads it from the wire (network order bytes).
fn wire16(v: u16) -> i32 {
    i32::from(u16::from_ne_bytes(v.to_be_bytes()))
}

/// The map key for an address: its octets in wire order.
fn ip_key(ip: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(ip.octets())
}

/// The trie key for `ip/prefix_len`: host-order prefix length, then the address in
/// wire order with the host bits cleared (so that equal prefixes are equal keys).
fn prefix_key(ip: Ipv4Addr, prefix_len: u8) -> Result<[u8; 8], XdpError> {
    if prefix_len > 32 {
        return Err(XdpError::PrefixLen(prefix_len));
    }
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0);
    let net = u32::from(ip) & mask;
    let mut key = [0u8; 8];
    key[..4].copy_from_slice(&u32::from(prefix_len).to_ne_bytes());
    key[4..].copy_from_slice(&net.to_be_bytes());
    Ok(key)
}

/// The trie key for an IPv6 `addr/prefix_len`: host-order prefix length, then the
/// address bytes with the host bits cleared.
fn prefix6_key(addr: Ipv6Addr, prefix_len: u8) -> Result<[u8; 20], XdpError> {
    if prefix_len > 128 {
        return Err(XdpError::PrefixLen6(prefix_len));
    }
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0);
    let net = u128::from(addr) & mask;
    let mut key = [0u8; 20];
    key[..4].copy_from_slice(&u32::from(prefix_len).to_ne_bytes());
    key[4..].copy_from_slice(&net.to_be_bytes());
    Ok(key)
}

/// Copy the 16 bytes at `r2 + off` to the stack at fp-16 (through r7); the caller
/// checked `r2 + off + 16 <= data_end`.
fn emit_copy_addr6(a: &mut Asm, off: i16) {
    for i in 0..4i16 {
        a.load(Size::W, R7, R2, off + 4 * i)
            .store(Size::W, R10, -16 + 4 * i, R7);
    }
}

/// `redirect_map(xsks, ctx->rx_queue_index, XDP_DROP)` then exit; expects ctx in r6.
fn emit_redirect(a: &mut Asm, xsks_fd: i32) {
    a.load(Size::W, R2, R6, MD_RX_QUEUE_INDEX)
        .load_map_fd(R1, xsks_fd)
        .mov_imm(R3, XDP_DROP)
        .call(HELPER_REDIRECT_MAP)
        .exit();
}

fn drop_ipv4_program() -> Vec<Insn> {
    let mut a = Asm::default();
    let (pass, drop) = (a.label(), a.label());
    a.load(Size::W, R2, R1, MD_DATA)
        .load(Size::W, R3, R1, MD_DATA_END)
        .mov(R4, R2)
        .add_imm(R4, 14)
        .jgt(R4, R3, pass)
        .load(Size::H, R5, R2, 12)
        .jeq_imm(R5, wire16(0x0800), drop)
        .ja(pass);
    a.bind(drop);
    a.mov_imm(R0, XDP_DROP).exit();
    a.bind(pass);
    a.mov_imm(R0, XDP_PASS).exit();
    a.finish()
}

/// `r6 = ctx`, then the fast path if there are maps for it; falls through (with r6
/// intact) to what follows for every frame the fast path leaves alone.
fn emit_prologue(a: &mut Asm, fast: Option<FastFds>) {
    a.mov(R6, R1);
    if let Some(m) = fast {
        let slow = a.label();
        emit_fast_path(a, m, slow);
        a.bind(slow);
    }
}

fn guest_program(xsks_fd: i32, fast: Option<FastFds>) -> Vec<Insn> {
    let mut a = Asm::default();
    emit_prologue(&mut a, fast);
    emit_redirect(&mut a, xsks_fd);
    a.finish()
}

/// The uplink maps' fds, as the program embeds them.
struct UplinkFds {
    xsks: i32,
    ips: i32,
    prefixes: i32,
    ip6s: i32,
    prefixes6: i32,
    fast: Option<FastFds>,
}

fn uplink_program(fds: &UplinkFds) -> Vec<Insn> {
    const ETH_TYPE: i16 = 12;
    const IPV4_DST: i16 = 14 + 16;
    const ARP_TPA: i16 = 14 + 24;
    const IPV6_NEXT_HEADER: i16 = 14 + 6;
    const IPV6_DST: i16 = 14 + 24;
    const ICMPV6_TYPE: i16 = 14 + 40;
    const NS_TARGET: i16 = 14 + 40 + 8;
    let (xsks_fd, guests_fd, prefixes_fd) = (fds.xsks, fds.ips, fds.prefixes);
    let mut a = Asm::default();
    let (pass, ipv4, arp, lookup) = (a.label(), a.label(), a.label(), a.label());
    let (trie, steer) = (a.label(), a.label());
    let (ipv6, trie6, ns, ns_type, ns_target, hbh) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
    emit_prologue(&mut a, fds.fast);
    a.load(Size::W, R2, R6, MD_DATA)
        .load(Size::W, R3, R6, MD_DATA_END)
        .mov(R4, R2)
        .add_imm(R4, 14)
        .jgt(R4, R3, pass)
        .load(Size::H, R5, R2, ETH_TYPE)
        .jeq_imm(R5, wire16(0x0800), ipv4)
        .jeq_imm(R5, wire16(0x0806), arp)
        .jeq_imm(R5, wire16(0x86dd), ipv6)
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
    // Exact address: key = the 4 address bytes at fp-4.
    a.bind(lookup);
    a.store(Size::W, R10, -4, R7)
        .load_map_fd(R1, guests_fd)
        .mov(R2, R10)
        .add_imm(R2, -4)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, trie)
        .ja(steer);
    // Prefix: key = {prefixlen = 32 at fp-8, the address still at fp-4} (8 bytes, all
    // initialised, as the verifier requires of a key on the stack).
    a.bind(trie);
    a.mov_imm(R1, 32)
        .store(Size::W, R10, -8, R1)
        .load_map_fd(R1, prefixes_fd)
        .mov(R2, R10)
        .add_imm(R2, -8)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, pass)
        .ja(steer);
    // IPv6: the destination, exact (key: 16 bytes at fp-16) ...
    a.bind(ipv6);
    a.mov(R4, R2)
        .add_imm(R4, i32::from(IPV6_DST) + 16)
        .jgt(R4, R3, pass);
    emit_copy_addr6(&mut a, IPV6_DST);
    a.load_map_fd(R1, fds.ip6s)
        .mov(R2, R10)
        .add_imm(R2, -16)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, trie6)
        .ja(steer);
    // ... then in a prefix (key: prefixlen = 128 at fp-20, the address at fp-16) ...
    a.bind(trie6);
    a.mov_imm(R1, 128)
        .store(Size::W, R10, -20, R1)
        .load_map_fd(R1, fds.prefixes6)
        .mov(R2, R10)
        .add_imm(R2, -20)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, ns)
        .ja(steer);
    // ... then a Neighbor Solicitation for an address in the exact map. The packet
    // pointers were clobbered by the calls: reload and bound-check again.
    a.bind(ns);
    a.load(Size::W, R2, R6, MD_DATA)
        .load(Size::W, R3, R6, MD_DATA_END)
        .mov(R4, R2)
        .add_imm(R4, i32::from(NS_TARGET) + 16)
        .jgt(R4, R3, pass)
        .load(Size::B, R5, R2, IPV6_NEXT_HEADER)
        .jeq_imm(R5, 58, ns_type)
        .jeq_imm(R5, 0, hbh)
        .ja(pass);
    // A hop-by-hop header to all-nodes (ff02::1): an MLD General Query, which carries
    // the Router Alert option (RFC 3810 5): the router answers for its guests' groups.
    // Everything else to all-nodes (router advertisements, ...) stays with the kernel.
    a.bind(hbh);
    for (i, word) in ALL_NODES_WORDS.iter().enumerate() {
        let next = a.label();
        a.load(Size::W, R5, R2, IPV6_DST + 4 * i as i16)
            .jeq_imm(R5, *word, next)
            .ja(pass);
        a.bind(next);
    }
    a.ja(steer);
    a.bind(ns_type);
    a.load(Size::B, R5, R2, ICMPV6_TYPE)
        .jeq_imm(R5, 135, ns_target)
        .ja(pass);
    a.bind(ns_target);
    emit_copy_addr6(&mut a, NS_TARGET);
    a.load_map_fd(R1, fds.ip6s)
        .mov(R2, R10)
        .add_imm(R2, -16)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, pass);
    a.bind(steer);
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
    uplink: Option<UplinkMaps>,
    steering: Steering,
}

/// The uplink program's steering maps.
#[derive(Debug)]
struct UplinkMaps {
    /// Exact addresses (hash, 4-byte key).
    ips: OwnedFd,
    /// Prefixes (LPM trie, [`TRIE_KEY_SIZE`]-byte key).
    prefixes: OwnedFd,
    /// Exact IPv6 addresses (hash, 16-byte key).
    ip6s: OwnedFd,
    /// IPv6 prefixes (LPM trie, [`TRIE6_KEY_SIZE`]-byte key).
    prefixes6: OwnedFd,
}

/// An attachment; the program detaches when this is dropped (or the process exits).
#[derive(Debug)]
pub struct XdpLink {
    _fd: OwnedFd,
    ifindex: u32,
    mode: AttachMode,
}

impl std::os::fd::AsFd for XdpLink {
    /// The link's descriptor: the program stays attached while any duplicate of it is
    /// open (closing the last one detaches it).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self._fd.as_fd()
    }
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
        Self::load_with(steering, None)
    }

    /// [`XdpProgram::load`], with the fast path in front ([`crate::xdp_fast`]) when
    /// `fast` is given (uplink and guest programs; the sink has none).
    pub fn load_with(steering: Steering, fast: Option<&FastPathMaps>) -> Result<Self, XdpError> {
        let fast = fast.map(FastPathMaps::fds);
        let xsks = bpf::map_create_u32(bpf::BPF_MAP_TYPE_XSKMAP, MAX_QUEUES, "hvr_xsks").map_err(
            |source| XdpError::CreateMap {
                name: "hvr_xsks",
                source,
            },
        )?;
        let (insns, uplink) = match steering {
            Steering::Guest => (guest_program(xsks.as_raw_fd(), fast), None),
            Steering::DropIpv4 => (drop_ipv4_program(), None),
            Steering::Uplink => {
                let ips =
                    bpf::map_create_u32(bpf::BPF_MAP_TYPE_HASH, MAX_GUEST_IPS, "hvr_guest_ips")
                        .map_err(|source| XdpError::CreateMap {
                            name: "hvr_guest_ips",
                            source,
                        })?;
                let prefixes = bpf::map_create(
                    bpf::BPF_MAP_TYPE_LPM_TRIE,
                    TRIE_KEY_SIZE,
                    MAX_STEERED_PREFIXES,
                    bpf::BPF_F_NO_PREALLOC,
                    "hvr_prefixes",
                )
                .map_err(|source| XdpError::CreateMap {
                    name: "hvr_prefixes",
                    source,
                })?;
                let ip6s = bpf::map_create(
                    bpf::BPF_MAP_TYPE_HASH,
                    16,
                    MAX_GUEST_IP6S,
                    0,
                    "hvr_guest_ip6s",
                )
                .map_err(|source| XdpError::CreateMap {
                    name: "hvr_guest_ip6s",
                    source,
                })?;
                let prefixes6 = bpf::map_create(
                    bpf::BPF_MAP_TYPE_LPM_TRIE,
                    TRIE6_KEY_SIZE,
                    MAX_STEERED_PREFIXES,
                    bpf::BPF_F_NO_PREALLOC,
                    "hvr_prefixes6",
                )
                .map_err(|source| XdpError::CreateMap {
                    name: "hvr_prefixes6",
                    source,
                })?;
                let insns = uplink_program(&UplinkFds {
                    xsks: xsks.as_raw_fd(),
                    ips: ips.as_raw_fd(),
                    prefixes: prefixes.as_raw_fd(),
                    ip6s: ip6s.as_raw_fd(),
                    prefixes6: prefixes6.as_raw_fd(),
                    fast,
                });
                (
                    insns,
                    Some(UplinkMaps {
                        ips,
                        prefixes,
                        ip6s,
                        prefixes6,
                    }),
                )
            }
        };
        let name = match steering {
            Steering::Guest => "hvr_guest",
            Steering::Uplink => "hvr_uplink",
            Steering::DropIpv4 => "hvr_drop_ipv4",
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
            uplink,
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
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.ips;
        bpf::map_update_u32(map.as_fd(), ip_key(ip), 1).map_err(|source| XdpError::UpdateMap {
            op: "insert guest IP",
            map: "hvr_guest_ips",
            source,
        })
    }

    /// Stops steering `ip` (its traffic goes to the kernel). Removing an absent IP is
    /// not an error.
    pub fn remove_guest_ip(&self, ip: Ipv4Addr) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.ips;
        match bpf::map_delete_u32(map.as_fd(), ip_key(ip)) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(XdpError::UpdateMap {
                op: "remove guest IP",
                map: "hvr_guest_ips",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Starts steering ARP and IPv4 for every address in `ip/prefix_len` to the socket
    /// (uplink only; any length from /0 to /32; host bits of `ip` are ignored).
    /// Idempotent.
    pub fn insert_steered_prefix(&self, ip: Ipv4Addr, prefix_len: u8) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.prefixes;
        let key = prefix_key(ip, prefix_len)?;
        bpf::map_update(map.as_fd(), &key, 1).map_err(|source| XdpError::UpdateMap {
            op: "insert steered prefix",
            map: "hvr_prefixes",
            source,
        })
    }

    /// Stops steering the prefix `ip/prefix_len` (addresses in it that are also in the
    /// exact-address map, or in another steered prefix, stay steered). Removing an
    /// absent prefix is not an error.
    pub fn remove_steered_prefix(&self, ip: Ipv4Addr, prefix_len: u8) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.prefixes;
        let key = prefix_key(ip, prefix_len)?;
        match bpf::map_delete(map.as_fd(), &key) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(XdpError::UpdateMap {
                op: "remove steered prefix",
                map: "hvr_prefixes",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Starts steering IPv6 to `addr` and Neighbor Solicitations for it to the socket
    /// (uplink only): a guest's address, or the router's own VLAN link-local address.
    /// Idempotent.
    pub fn insert_guest_ip6(&self, addr: Ipv6Addr) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.ip6s;
        bpf::map_update(map.as_fd(), &addr.octets(), 1).map_err(|source| XdpError::UpdateMap {
            op: "insert guest IPv6 address",
            map: "hvr_guest_ip6s",
            source,
        })
    }

    /// Stops steering `addr`. Removing an absent address is not an error.
    pub fn remove_guest_ip6(&self, addr: Ipv6Addr) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.ip6s;
        match bpf::map_delete(map.as_fd(), &addr.octets()) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(XdpError::UpdateMap {
                op: "remove guest IPv6 address",
                map: "hvr_guest_ip6s",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Starts steering IPv6 to every address in `addr/prefix_len` (uplink only; /0 to
    /// /128; host bits ignored). Neighbor Solicitations are not steered for prefixes:
    /// routed prefixes are reached through a route on the gateway, never by NDP.
    /// Idempotent.
    pub fn insert_steered_prefix6(&self, addr: Ipv6Addr, prefix_len: u8) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.prefixes6;
        let key = prefix6_key(addr, prefix_len)?;
        bpf::map_update(map.as_fd(), &key, 1).map_err(|source| XdpError::UpdateMap {
            op: "insert steered IPv6 prefix",
            map: "hvr_prefixes6",
            source,
        })
    }

    /// Stops steering the IPv6 prefix. Removing an absent prefix is not an error.
    pub fn remove_steered_prefix6(&self, addr: Ipv6Addr, prefix_len: u8) -> Result<(), XdpError> {
        let map = &self.uplink.as_ref().ok_or(XdpError::NotUplink)?.prefixes6;
        let key = prefix6_key(addr, prefix_len)?;
        match bpf::map_delete(map.as_fd(), &key) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(XdpError::UpdateMap {
                op: "remove steered IPv6 prefix",
                map: "hvr_prefixes6",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Runs the program on `frame` like [`XdpProgram::test_run`] and also returns the
    /// frame as the program left it (rewritten by the fast path, say).
    pub fn test_run_frame(&self, frame: &[u8]) -> Result<(XdpAction, Vec<u8>), XdpError> {
        let mut out = vec![0u8; frame.len() + 256];
        let (rv, len) = bpf::prog_test_run_out(self.prog.as_fd(), frame, &mut out)
            .map_err(XdpError::TestRun)?;
        out.truncate(len);
        Ok((XdpAction::from(rv), out))
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
        assert_eq!(guest_program(3, None).len(), 7);
        assert_eq!(drop_ipv4_program().len(), 12);
        let p = uplink_program(&UplinkFds {
            xsks: 3,
            ips: 4,
            prefixes: 5,
            ip6s: 6,
            prefixes6: 7,
            fast: None,
        });
        assert!(p.len() > 20 && p.len() < 160, "{}", p.len());
    }

    #[test]
    fn keys_are_wire_order() {
        assert_eq!(
            ip_key(Ipv4Addr::new(192, 0, 2, 1)).to_ne_bytes(),
            [192, 0, 2, 1]
        );
        assert_eq!(wire16(0x0800).to_ne_bytes()[..2], [0x08, 0x00]);
    }

    #[test]
    fn prefix_keys_clear_host_bits() {
        let k = prefix_key(Ipv4Addr::new(203, 0, 113, 77), 28).expect("key");
        assert_eq!(k[..4], 28u32.to_ne_bytes());
        assert_eq!(k[4..], [203, 0, 113, 64]);
        let k = prefix_key(Ipv4Addr::new(10, 1, 2, 3), 0).expect("key");
        assert_eq!(k[4..], [0, 0, 0, 0]);
        let k = prefix_key(Ipv4Addr::new(10, 1, 2, 3), 32).expect("key");
        assert_eq!(k[4..], [10, 1, 2, 3]);
        assert!(matches!(
            prefix_key(Ipv4Addr::new(10, 1, 2, 3), 33),
            Err(XdpError::PrefixLen(33))
        ));
    }

    #[test]
    fn prefix6_keys_clear_host_bits() {
        let a: Ipv6Addr = "2001:db8:ff:1234::77".parse().expect("addr");
        let k = prefix6_key(a, 48).expect("key");
        assert_eq!(k[..4], 48u32.to_ne_bytes());
        assert_eq!(k[4..10], [0x20, 0x01, 0x0d, 0xb8, 0, 0xff]);
        assert!(k[10..].iter().all(|&b| b == 0));
        assert_eq!(prefix6_key(a, 128).expect("key")[4..], a.octets());
        assert!(matches!(
            prefix6_key(a, 129),
            Err(XdpError::PrefixLen6(129))
        ));
    }
}
