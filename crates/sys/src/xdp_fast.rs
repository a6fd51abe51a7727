//! The in-kernel fast path: the first part of the uplink and guest steering programs
//! when loaded with [`FastPathMaps`]. It forwards the plain IPv4 case itself with
//! `bpf_redirect_map` into a devmap and leaves everything else to the rest of the
//! program (the AF_XDP socket, or the kernel for an uplink's other traffic).
//!
//! The maps, written only by the router (`hvrouter_core::fastpath` says what goes in
//! them and why each check is there):
//! - `hvr_fp_ctl` (array, 1 entry): 1 = on. Off: every frame takes the slow path.
//! - `hvr_fp_ports` (hash, ingress ifindex): [`FpPort`], the ports frames are taken from.
//! - `hvr_fp_routes` (LPM trie, key `{prefixlen = 32 + len, network, address}`):
//!   [`FpHop`]; an entry with egress ifindex 0 sends its frames to the router.
//! - `hvr_fp_srcs` (LPM trie, key `{prefixlen = 32 + len, ingress ifindex, address}`):
//!   the source prefixes each guest port may use.
//! - `hvr_fp_tx` (devmap hash, ifindex): the devices frames may be redirected to.
//! - `hvr_fp_stats` (per-CPU array, counter slot): [`FpStats`] of frames forwarded.
//!
//! What the program checks, in order (any failure: slow path, the frame untouched):
//! on; ingress port listed; Ethernet + 20-byte IPv4 header present, EtherType IPv4,
//! version 4 with IHL 5, not a fragment, TTL >= 2, 20 <= total length <= frame, no
//! martian source or destination (0/8, 127/8, 224/3), header checksum valid; from the
//! uplink the destination MAC is the uplink's; from a guest the source MAC is the
//! guest's, the destination MAC is not multicast, the source address is the guest's,
//! and TCP/UDP carry a complete checksum (not the pseudo-header sum a partial checksum
//! holds, and verified over the whole segment, at most 1480 bytes), UDP is not DHCP
//! (port 67) and has a checksum; a route with a hop, toward a guest if from the uplink,
//! not back out of the ingress port, total length within its MTU, egress in the devmap.
//! Then it rewrites the MACs, decrements the TTL with the incremental checksum of
//! RFC 1624 (as Linux's `ip_decrease_ttl`), counts, and redirects.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::bpf;
use crate::insn::{Asm, Label, Size, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9};
use crate::xdp::XdpError;

/// Ports the maps can hold (ingress entries, devmap entries, counter slots).
pub const FP_MAX_PORTS: u32 = 4096;
/// Route and source entries the tries can hold.
const FP_MAX_PREFIXES: u32 = 65536;
/// Longest TCP/UDP segment whose checksum the program verifies (MTU 1500).
const FP_MAX_L4: i32 = 1480;

const PORT_VALUE: usize = 16;
const HOP_VALUE: usize = 24;
const STATS_VALUE: usize = 32;
/// `{u32 prefixlen, u32 scope (network or ifindex), 4 address bytes}`.
const TRIE_KEY: usize = 12;

const ROLE_UPLINK: i32 = 1;
const ROLE_GUEST: i32 = 2;

const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_REDIRECT_MAP: i32 = 51;
const MD_DATA: i16 = 0;
const MD_DATA_END: i16 = 4;
const MD_INGRESS_IFINDEX: i16 = 12;

/// An ingress port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpPort {
    /// The network whose routes apply (the routes' scope).
    pub network: u32,
    /// Its counter slot in `hvr_fp_stats` (below [`FP_MAX_PORTS`]).
    pub slot: u32,
    /// A guest's port (the source MAC and address are checked) or an uplink (the
    /// destination MAC is).
    pub guest: bool,
    /// The guest's MAC, or the uplink's.
    pub mac: [u8; 6],
}

impl FpPort {
    /// Layout: `u32 network, u32 slot, u8 role, u8 pad, mac[6]` (the MAC 2-aligned).
    fn bytes(&self) -> [u8; PORT_VALUE] {
        let mut v = [0u8; PORT_VALUE];
        v[0..4].copy_from_slice(&self.network.to_ne_bytes());
        v[4..8].copy_from_slice(&self.slot.to_ne_bytes());
        v[8] = if self.guest { 2 } else { 1 };
        v[10..16].copy_from_slice(&self.mac);
        v
    }
}

/// Where a route sends frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpHop {
    /// Egress device (must be in the devmap: [`FastPathMaps::insert_tx`]).
    pub ifindex: u32,
    /// New destination MAC.
    pub dst_mac: [u8; 6],
    /// New source MAC.
    pub src_mac: [u8; 6],
    /// Largest IPv4 total length forwarded.
    pub mtu: u16,
    /// The egress is a guest (frames from an uplink may only take such hops).
    pub to_guest: bool,
    /// The egress port's counter slot (also: frames never leave by their ingress slot).
    pub slot: u32,
}

impl FpHop {
    /// Layout: `u32 ifindex, dst[6], src[6], u16 mtu, u8 to_guest, u8 pad, u32 slot`.
    fn bytes(hop: Option<&FpHop>) -> [u8; HOP_VALUE] {
        let mut v = [0u8; HOP_VALUE];
        if let Some(h) = hop {
            v[0..4].copy_from_slice(&h.ifindex.to_ne_bytes());
            v[4..10].copy_from_slice(&h.dst_mac);
            v[10..16].copy_from_slice(&h.src_mac);
            v[16..18].copy_from_slice(&h.mtu.to_ne_bytes());
            v[18] = u8::from(h.to_guest);
            v[20..24].copy_from_slice(&h.slot.to_ne_bytes());
        }
        v
    }
}

/// Frames one counter slot forwarded, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpStats {
    /// Frames received on the slot's port and forwarded by the fast path.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames the fast path sent out of the slot's port.
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
}

/// The fast path's maps, shared by the programs of every device one router uses.
#[derive(Debug)]
pub struct FastPathMaps {
    ctl: OwnedFd,
    ports: OwnedFd,
    routes: OwnedFd,
    srcs: OwnedFd,
    tx: OwnedFd,
    stats: OwnedFd,
    cpus: usize,
}

fn trie_key(scope: u32, addr: Ipv4Addr, len: u8) -> Result<[u8; TRIE_KEY], XdpError> {
    if len > 32 {
        return Err(XdpError::PrefixLen(len));
    }
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    let mut k = [0u8; TRIE_KEY];
    k[0..4].copy_from_slice(&(32 + u32::from(len)).to_ne_bytes());
    k[4..8].copy_from_slice(&scope.to_ne_bytes());
    k[8..12].copy_from_slice(&(u32::from(addr) & mask).to_be_bytes());
    Ok(k)
}

fn update_err(op: &'static str, map: &'static str) -> impl FnOnce(io::Error) -> XdpError {
    move |source| XdpError::UpdateMap { op, map, source }
}

/// Deleting an absent entry is not an error.
fn absent_ok(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

impl FastPathMaps {
    /// Creates the maps, the fast path off.
    pub fn create() -> Result<FastPathMaps, XdpError> {
        let create = |ty, key, value, max, flags, name: &'static str| {
            bpf::map_create_sized(ty, key, value, max, flags, name)
                .map_err(|source| XdpError::CreateMap { name, source })
        };
        let trie = bpf::BPF_MAP_TYPE_LPM_TRIE;
        let no_prealloc = bpf::BPF_F_NO_PREALLOC;
        let key = TRIE_KEY as u32;
        Ok(FastPathMaps {
            ctl: create(bpf::BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, "hvr_fp_ctl")?,
            ports: create(
                bpf::BPF_MAP_TYPE_HASH,
                4,
                PORT_VALUE as u32,
                FP_MAX_PORTS,
                0,
                "hvr_fp_ports",
            )?,
            routes: create(
                trie,
                key,
                HOP_VALUE as u32,
                FP_MAX_PREFIXES,
                no_prealloc,
                "hvr_fp_routes",
            )?,
            srcs: create(trie, key, 4, FP_MAX_PREFIXES, no_prealloc, "hvr_fp_srcs")?,
            tx: create(
                bpf::BPF_MAP_TYPE_DEVMAP_HASH,
                4,
                4,
                FP_MAX_PORTS,
                0,
                "hvr_fp_tx",
            )?,
            stats: create(
                bpf::BPF_MAP_TYPE_PERCPU_ARRAY,
                4,
                STATS_VALUE as u32,
                FP_MAX_PORTS,
                0,
                "hvr_fp_stats",
            )?,
            cpus: bpf::possible_cpus().map_err(|source| XdpError::CreateMap {
                name: "hvr_fp_stats",
                source,
            })?,
        })
    }

    /// Turns the fast path on or off for every program using these maps.
    pub fn set_enabled(&self, on: bool) -> Result<(), XdpError> {
        bpf::map_update_u32(self.ctl.as_fd(), 0, u32::from(on))
            .map_err(update_err("switch", "hvr_fp_ctl"))
    }

    /// Takes frames from the device `ifindex` (replacing its entry).
    pub fn insert_port(&self, ifindex: u32, port: &FpPort) -> Result<(), XdpError> {
        bpf::map_update_bytes(self.ports.as_fd(), &ifindex.to_ne_bytes(), &port.bytes())
            .map_err(update_err("insert port", "hvr_fp_ports"))
    }

    /// Stops taking frames from `ifindex` (absent: not an error).
    pub fn remove_port(&self, ifindex: u32) -> Result<(), XdpError> {
        absent_ok(bpf::map_delete_u32(self.ports.as_fd(), ifindex))
            .map_err(update_err("remove port", "hvr_fp_ports"))
    }

    /// Routes `addr/len` of `network` to `hop`, or (`None`) to the router.
    pub fn insert_route(
        &self,
        network: u32,
        addr: Ipv4Addr,
        len: u8,
        hop: Option<&FpHop>,
    ) -> Result<(), XdpError> {
        let key = trie_key(network, addr, len)?;
        bpf::map_update_bytes(self.routes.as_fd(), &key, &FpHop::bytes(hop))
            .map_err(update_err("insert route", "hvr_fp_routes"))
    }

    /// Removes the route `addr/len` of `network` (absent: not an error).
    pub fn remove_route(&self, network: u32, addr: Ipv4Addr, len: u8) -> Result<(), XdpError> {
        let key = trie_key(network, addr, len)?;
        absent_ok(bpf::map_delete(self.routes.as_fd(), &key))
            .map_err(update_err("remove route", "hvr_fp_routes"))
    }

    /// Lets the guest port `ifindex` send from `addr/len`.
    pub fn insert_source(&self, ifindex: u32, addr: Ipv4Addr, len: u8) -> Result<(), XdpError> {
        let key = trie_key(ifindex, addr, len)?;
        bpf::map_update(self.srcs.as_fd(), &key, 1)
            .map_err(update_err("insert source", "hvr_fp_srcs"))
    }

    /// Withdraws a source prefix (absent: not an error).
    pub fn remove_source(&self, ifindex: u32, addr: Ipv4Addr, len: u8) -> Result<(), XdpError> {
        let key = trie_key(ifindex, addr, len)?;
        absent_ok(bpf::map_delete(self.srcs.as_fd(), &key))
            .map_err(update_err("remove source", "hvr_fp_srcs"))
    }

    /// Lets frames be redirected to the device `ifindex`.
    pub fn insert_tx(&self, ifindex: u32) -> Result<(), XdpError> {
        bpf::map_update_u32(self.tx.as_fd(), ifindex, ifindex)
            .map_err(update_err("insert device", "hvr_fp_tx"))
    }

    /// Stops redirecting to `ifindex` (absent: not an error).
    pub fn remove_tx(&self, ifindex: u32) -> Result<(), XdpError> {
        absent_ok(bpf::map_delete_u32(self.tx.as_fd(), ifindex))
            .map_err(update_err("remove device", "hvr_fp_tx"))
    }

    /// What counter slot `slot` counted so far, summed over CPUs.
    pub fn stats(&self, slot: u32) -> Result<FpStats, XdpError> {
        let mut buf = vec![0u8; STATS_VALUE * self.cpus];
        bpf::map_lookup_into(self.stats.as_fd(), &slot.to_ne_bytes(), &mut buf)
            .map_err(update_err("read counters", "hvr_fp_stats"))?;
        let mut s = FpStats::default();
        for cpu in buf.chunks_exact(STATS_VALUE) {
            let word = |i: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&cpu[i * 8..i * 8 + 8]);
                u64::from_ne_bytes(w)
            };
            s.rx_packets += word(0);
            s.rx_bytes += word(1);
            s.tx_packets += word(2);
            s.tx_bytes += word(3);
        }
        Ok(s)
    }

    /// Sets every CPU's counters of `slot` to zero (a slot handed to a new port).
    pub fn clear_stats(&self, slot: u32) -> Result<(), XdpError> {
        let zero = vec![0u8; STATS_VALUE * self.cpus];
        bpf::map_update_slice(self.stats.as_fd(), &slot.to_ne_bytes(), &zero)
            .map_err(update_err("clear counters", "hvr_fp_stats"))
    }

    pub(crate) fn fds(&self) -> FastFds {
        FastFds {
            ctl: self.ctl.as_raw_fd(),
            ports: self.ports.as_raw_fd(),
            routes: self.routes.as_raw_fd(),
            srcs: self.srcs.as_raw_fd(),
            tx: self.tx.as_raw_fd(),
            stats: self.stats.as_raw_fd(),
        }
    }
}

/// The maps' fds, as the program embeds them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastFds {
    pub(crate) ctl: i32,
    pub(crate) ports: i32,
    pub(crate) routes: i32,
    pub(crate) srcs: i32,
    pub(crate) tx: i32,
    pub(crate) stats: i32,
}

/// A 16-bit field as the program reads it from the wire (network order bytes).
fn wire16(v: u16) -> i32 {
    i32::from(u16::from_ne_bytes(v.to_be_bytes()))
}

/// `r0 = lookup(map, fp + key_off)`, then `if r0 == 0 goto slow`.
fn lookup_or(a: &mut Asm, map: i32, key_off: i32, slow: Label) {
    a.load_map_fd(R1, map)
        .mov(R2, R10)
        .add_imm(R2, key_off)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, slow);
}

/// `r2 = data, r3 = data_end`, and at least `len` bytes, or `goto slow`.
fn packet(a: &mut Asm, len: i32, slow: Label) {
    a.load(Size::W, R2, R6, MD_DATA)
        .load(Size::W, R3, R6, MD_DATA_END)
        .mov(R4, R2)
        .add_imm(R4, len)
        .jgt(R4, R3, slow);
}

/// Folds the 64-bit ones'-complement sum in `r5` to 16 bits (clobbers r4).
fn fold(a: &mut Asm) {
    a.mov(R4, R5)
        .rsh_imm(R4, 32)
        .lsh_imm(R5, 32)
        .rsh_imm(R5, 32)
        .add(R5, R4);
    for _ in 0..3 {
        a.mov(R4, R5)
            .rsh_imm(R4, 16)
            .and_imm(R5, 0xffff)
            .add(R5, R4);
    }
}

/// `if *(size *)(r2 + pkt) != *(size *)(r8 + val) goto slow` (a MAC compare step).
fn same(a: &mut Asm, size: Size, pkt: i16, val: i16, slow: Label) {
    a.load(size, R4, R2, pkt)
        .load(size, R5, R8, val)
        .jne(R4, R5, slow);
}

/// The fast path; expects the context in r6 and falls through to `slow` (with r6
/// intact, the frame untouched) for every frame it does not forward.
pub(crate) fn emit_fast_path(a: &mut Asm, m: FastFds, slow: Label) {
    const ETH: i32 = 14;
    const HDRS: i32 = 34;
    let (guest, common, udp, tcp, l4, sum_loop, odd, sum_done, src_check) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
    let (no_carry, rx_done, tx_done, hairpin_ok) = (a.label(), a.label(), a.label(), a.label());
    // On?
    a.store_imm(Size::W, R10, -4, 0);
    lookup_or(a, m.ctl, -4, slow);
    a.load(Size::W, R1, R0, 0).jeq_imm(R1, 0, slow);
    // Ingress port (r8).
    a.load(Size::W, R1, R6, MD_INGRESS_IFINDEX)
        .store(Size::W, R10, -4, R1);
    lookup_or(a, m.ports, -4, slow);
    a.mov(R8, R0);
    // IPv4, IHL 5, not a fragment, TTL >= 2, 20 <= total length (r7) <= frame.
    packet(a, HDRS, slow);
    a.load(Size::H, R5, R2, 12)
        .jne_imm(R5, wire16(0x0800), slow)
        .load(Size::B, R5, R2, 14)
        .jne_imm(R5, 0x45, slow)
        .load(Size::H, R5, R2, 20)
        .and_imm(R5, wire16(0x3fff))
        .jne_imm(R5, 0, slow)
        .load(Size::B, R5, R2, 22)
        .jlt_imm(R5, 2, slow)
        .load(Size::B, R7, R2, 16)
        .lsh_imm(R7, 8)
        .load(Size::B, R5, R2, 17)
        .or(R7, R5)
        .jlt_imm(R7, 20, slow)
        .mov(R4, R2)
        .add_imm(R4, ETH)
        .add(R4, R7)
        .jgt(R4, R3, slow);
    // Martians (RFC 1812 5.3.7): first octet 0, 127 or 224 and above.
    for off in [26, 30] {
        a.load(Size::B, R5, R2, off)
            .jeq_imm(R5, 0, slow)
            .jeq_imm(R5, 127, slow)
            .jgt_imm(R5, 223, slow);
    }
    // Header checksum (RFC 1812 5.2.2): the 20 bytes sum to 0xffff.
    a.load(Size::W, R5, R2, 14);
    for off in [18, 22, 26, 30] {
        a.load(Size::W, R4, R2, off).add(R5, R4);
    }
    fold(a);
    a.jne_imm(R5, 0xffff, slow);
    a.load(Size::B, R1, R8, 8).jeq_imm(R1, ROLE_GUEST, guest);
    // From the uplink: addressed to the uplink's MAC (value bytes 10..16).
    a.jne_imm(R1, ROLE_UPLINK, slow);
    same(a, Size::H, 0, 10, slow);
    same(a, Size::W, 2, 12, slow);
    a.ja(common);
    // From a guest: its source MAC, a unicast destination MAC ...
    a.bind(guest);
    same(a, Size::H, 6, 10, slow);
    same(a, Size::W, 8, 12, slow);
    a.load(Size::B, R4, R2, 0)
        .and_imm(R4, 1)
        .jne_imm(R4, 0, slow)
        .load(Size::B, R5, R2, 23)
        .jeq_imm(R5, 17, udp)
        .jeq_imm(R5, 6, tcp)
        .ja(src_check);
    // ... UDP: not DHCP, a checksum present; the field in r9 ...
    a.bind(udp);
    a.mov(R4, R2)
        .add_imm(R4, HDRS + 8)
        .jgt(R4, R3, slow)
        .load(Size::H, R4, R2, HDRS as i16)
        .jeq_imm(R4, wire16(67), slow)
        .load(Size::H, R4, R2, HDRS as i16 + 2)
        .jeq_imm(R4, wire16(67), slow)
        .load(Size::H, R9, R2, HDRS as i16 + 6)
        .jeq_imm(R9, 0, slow)
        .ja(l4);
    // ... TCP: the field in r9 ...
    a.bind(tcp);
    a.mov(R4, R2)
        .add_imm(R4, HDRS + 20)
        .jgt(R4, R3, slow)
        .load(Size::H, R9, R2, HDRS as i16 + 16);
    // ... a complete checksum: the pseudo-header (RFC 768, RFC 793 3.1) plus the
    // segment sum to 0xffff, and the field is not the pseudo-header sum alone (what a
    // partial checksum holds). Segment length in r1, offset in r0.
    a.bind(l4);
    a.mov(R1, R7)
        .add_imm(R1, -20)
        .jgt_imm(R1, FP_MAX_L4, slow)
        .load(Size::W, R5, R2, 26)
        .load(Size::W, R4, R2, 30)
        .add(R5, R4)
        .load(Size::B, R4, R2, 23)
        .be16(R4)
        .add(R5, R4)
        .mov(R4, R1)
        .be16(R4)
        .add(R5, R4);
    fold(a);
    a.jeq(R5, R9, slow).mov_imm(R0, 0);
    a.bind(sum_loop);
    a.jge(R0, R1, sum_done)
        .mov(R9, R1)
        .sub(R9, R0)
        .jeq_imm(R9, 1, odd)
        .mov(R4, R2)
        .add_imm(R4, HDRS)
        .add(R4, R0)
        .mov(R9, R4)
        .add_imm(R9, 2)
        .jgt(R9, R3, slow)
        .load(Size::H, R9, R4, 0)
        .add(R5, R9)
        .add_imm(R0, 2)
        .ja(sum_loop);
    a.bind(odd);
    a.mov(R4, R2)
        .add_imm(R4, HDRS)
        .add(R4, R0)
        .mov(R9, R4)
        .add_imm(R9, 1)
        .jgt(R9, R3, slow)
        .load(Size::B, R9, R4, 0)
        .lsh_imm(R9, 8)
        .be16(R9)
        .add(R5, R9);
    a.bind(sum_done);
    fold(a);
    a.jne_imm(R5, 0xffff, slow);
    // ... and a source address it owns (key: {64, ingress ifindex, source}).
    a.bind(src_check);
    a.store_imm(Size::W, R10, -16, 64)
        .load(Size::W, R1, R6, MD_INGRESS_IFINDEX)
        .store(Size::W, R10, -12, R1)
        .load(Size::W, R1, R2, 26)
        .store(Size::W, R10, -8, R1);
    lookup_or(a, m.srcs, -16, slow);
    // Route (r9): key {64, network, destination}.
    a.bind(common);
    packet(a, HDRS, slow);
    a.store_imm(Size::W, R10, -16, 64)
        .load(Size::W, R1, R8, 0)
        .store(Size::W, R10, -12, R1)
        .load(Size::W, R1, R2, 30)
        .store(Size::W, R10, -8, R1);
    lookup_or(a, m.routes, -16, slow);
    a.mov(R9, R0)
        .load(Size::W, R1, R9, 0)
        .jeq_imm(R1, 0, slow)
        // From the uplink only toward a guest (the router never hairpins).
        .load(Size::B, R4, R8, 8)
        .jne_imm(R4, ROLE_UPLINK, hairpin_ok)
        .load(Size::B, R4, R9, 18)
        .jeq_imm(R4, 0, slow);
    a.bind(hairpin_ok);
    a.load(Size::W, R4, R9, 20)
        .load(Size::W, R5, R8, 4)
        .jeq(R4, R5, slow)
        .load(Size::H, R4, R9, 16)
        .jgt(R7, R4, slow)
        .store(Size::W, R10, -4, R1);
    lookup_or(a, m.tx, -4, slow);
    // Rewrite: MACs, TTL and header checksum (RFC 1624: the 16-bit word holding the
    // TTL drops by 0x0100, so the checksum rises by it, end-around carry).
    packet(a, HDRS, slow);
    a.load(Size::W, R4, R9, 4)
        .store(Size::W, R2, 0, R4)
        .load(Size::H, R4, R9, 8)
        .store(Size::H, R2, 4, R4)
        .load(Size::H, R4, R9, 10)
        .store(Size::H, R2, 6, R4)
        .load(Size::W, R4, R9, 12)
        .store(Size::W, R2, 8, R4)
        .load(Size::B, R4, R2, 22)
        .add_imm(R4, -1)
        .store(Size::B, R2, 22, R4)
        .load(Size::H, R4, R2, 24)
        .add_imm(R4, wire16(0x0100))
        .jlt_imm(R4, 0xffff, no_carry)
        .add_imm(R4, 1);
    a.bind(no_carry);
    a.store(Size::H, R2, 24, R4);
    // Count (frame length in r7), then redirect.
    a.mov(R7, R3).sub(R7, R2);
    for (slot_reg, slot_off, first, done) in [(R8, 4i16, 0i16, rx_done), (R9, 20, 16, tx_done)] {
        a.load(Size::W, R1, slot_reg, slot_off)
            .store(Size::W, R10, -4, R1)
            .load_map_fd(R1, m.stats)
            .mov(R2, R10)
            .add_imm(R2, -4)
            .call(HELPER_MAP_LOOKUP_ELEM)
            .jeq_imm(R0, 0, done)
            .load(Size::DW, R4, R0, first)
            .add_imm(R4, 1)
            .store(Size::DW, R0, first, R4)
            .load(Size::DW, R4, R0, first + 8)
            .add(R4, R7)
            .store(Size::DW, R0, first + 8, R4);
        a.bind(done);
    }
    a.load_map_fd(R1, m.tx)
        .load(Size::W, R2, R9, 0)
        .mov_imm(R3, 0)
        .call(HELPER_REDIRECT_MAP)
        .exit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_keys_are_scoped_and_masked() {
        let k = trie_key(7, Ipv4Addr::new(203, 0, 113, 77), 28).expect("key");
        assert_eq!(k[0..4], 60u32.to_ne_bytes());
        assert_eq!(k[4..8], 7u32.to_ne_bytes());
        assert_eq!(k[8..], [203, 0, 113, 64]);
        assert!(trie_key(7, Ipv4Addr::new(203, 0, 113, 77), 33).is_err());
    }

    #[test]
    fn values_have_the_layout_the_program_reads() {
        let p = FpPort {
            network: 3,
            slot: 9,
            guest: true,
            mac: [2, 0, 0, 0, 1, 1],
        };
        let v = p.bytes();
        assert_eq!(v[8], 2);
        assert_eq!(v[10..16], [2, 0, 0, 0, 1, 1]);
        let h = FpHop {
            ifindex: 5,
            dst_mac: [1; 6],
            src_mac: [2; 6],
            mtu: 1500,
            to_guest: true,
            slot: 4,
        };
        let v = FpHop::bytes(Some(&h));
        assert_eq!(v[4..10], [1; 6]);
        assert_eq!(v[10..16], [2; 6]);
        assert_eq!(v[16..18], 1500u16.to_ne_bytes());
        assert_eq!(v[18], 1);
        assert_eq!(v[20..24], 4u32.to_ne_bytes());
        assert_eq!(FpHop::bytes(None), [0; HOP_VALUE]);
    }

    #[test]
    fn the_fast_path_assembles() {
        let mut a = Asm::default();
        let slow = a.label();
        a.mov(R6, R1);
        emit_fast_path(
            &mut a,
            FastFds {
                ctl: 3,
                ports: 4,
                routes: 5,
                srcs: 6,
                tx: 7,
                stats: 8,
            },
            slow,
        );
        a.bind(slow);
        a.mov_imm(R0, 2).exit();
        let p = a.finish();
        assert!(p.len() > 100 && p.len() < 400, "{}", p.len());
    }
}
