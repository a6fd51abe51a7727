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
//! - `hvr_fp_stats` (per-CPU array, counter slot): [`FpStats`] of frames forwarded, and
//!   of redirects the devmap refused.
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
//! not back out of the ingress port, total length within its MTU, not a TCP segment
//! carrying data if the hop coalesces TCP (the router does, toward a port taking GSO
//! sends), egress in the devmap.
//! Then it calls `bpf_redirect_map` (refused: counted, and the frame, untouched, takes
//! the slow path), rewrites the MACs, decrements the TTL with the incremental checksum of
//! RFC 1624 (as Linux's `ip_decrease_ttl`), counts, and returns `XDP_REDIRECT`. Frames
//! the kernel drops after the program returned (a veth whose peer has no NAPI, a full
//! veth ring) are not seen here: the `xdp:xdp_devmap_xmit` tracepoint counts them.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::bpf;
use crate::xdp::XdpError;
pub(crate) use crate::xdp_fast_prog::{emit_fast_path, FastFds};

/// Ports the maps can hold (ingress entries, devmap entries, counter slots).
pub const FP_MAX_PORTS: u32 = 4096;
/// Route and source entries the tries can hold.
const FP_MAX_PREFIXES: u32 = 65536;

const PORT_VALUE: usize = 16;
const HOP_VALUE: usize = 24;
const STATS_VALUE: usize = 40;
/// `{u32 prefixlen, u32 scope (network or ifindex), 4 address bytes}`.
const TRIE_KEY: usize = 12;

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
    /// TCP segments carrying data go to the router (it coalesces them toward this
    /// egress, which takes GSO sends); pure ACKs and other frames do not.
    pub coalesce_tcp: bool,
    /// The egress port's counter slot (also: frames never leave by their ingress slot).
    pub slot: u32,
}

impl FpHop {
    /// Layout: `u32 ifindex, dst[6], src[6], u16 mtu, u8 to_guest, u8 coalesce_tcp,
    /// u32 slot`.
    fn bytes(hop: Option<&FpHop>) -> [u8; HOP_VALUE] {
        let mut v = [0u8; HOP_VALUE];
        if let Some(h) = hop {
            v[0..4].copy_from_slice(&h.ifindex.to_ne_bytes());
            v[4..10].copy_from_slice(&h.dst_mac);
            v[10..16].copy_from_slice(&h.src_mac);
            v[16..18].copy_from_slice(&h.mtu.to_ne_bytes());
            v[18] = u8::from(h.to_guest);
            v[19] = u8::from(h.coalesce_tcp);
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
    /// Frames for the slot's port the devmap refused (`bpf_redirect_map` did not return
    /// `XDP_REDIRECT`): handed to the router instead.
    pub redirect_failed: u64,
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
            s.redirect_failed += word(4);
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
            coalesce_tcp: true,
            slot: 4,
        };
        let v = FpHop::bytes(Some(&h));
        assert_eq!(v[4..10], [1; 6]);
        assert_eq!(v[10..16], [2; 6]);
        assert_eq!(v[16..18], 1500u16.to_ne_bytes());
        assert_eq!(v[18], 1);
        assert_eq!(v[19], 1);
        assert_eq!(v[20..24], 4u32.to_ne_bytes());
        assert_eq!(FpHop::bytes(None), [0; HOP_VALUE]);
    }
}
