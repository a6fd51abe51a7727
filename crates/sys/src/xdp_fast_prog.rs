//! The fast path's instructions (see [`crate::xdp_fast`] for what they check and the
//! maps they read): emitted in front of the steering programs by `crate::xdp`.

use crate::insn::{Asm, Label, Size, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9};

/// Longest TCP/UDP segment whose checksum the program verifies (MTU 1500).
const FP_MAX_L4: i32 = 1480;
/// `FpPort` role byte.
const ROLE_UPLINK: i32 = 1;
const ROLE_GUEST: i32 = 2;
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_REDIRECT_MAP: i32 = 51;
const XDP_REDIRECT: i32 = 4;
/// Offset of the `redirect_failed` word in a counter slot.
const STATS_REDIRECT_FAILED: i16 = 32;
// struct xdp_md field offsets.
const MD_DATA: i16 = 0;
const MD_DATA_END: i16 = 4;
const MD_INGRESS_IFINDEX: i16 = 12;

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
    let (no_carry, rx_done, tx_done, hairpin_ok, redirect_failed, no_coalesce) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
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
        .jgt(R7, R4, slow);
    // A hop that coalesces TCP: a segment carrying data (total length above the IPv4
    // and TCP headers, RFC 793 3.1 data offset) is the router's.
    a.load(Size::B, R4, R9, 19).jeq_imm(R4, 0, no_coalesce);
    packet(a, HDRS, slow);
    a.load(Size::B, R4, R2, 23).jne_imm(R4, 6, no_coalesce);
    packet(a, HDRS + 13, slow);
    a.load(Size::B, R4, R2, HDRS as i16 + 12)
        .rsh_imm(R4, 4)
        .lsh_imm(R4, 2)
        .add_imm(R4, 20)
        .jgt(R7, R4, slow);
    a.bind(no_coalesce);
    // Redirect now, the frame still untouched: if the devmap refuses (no such device),
    // the failure is counted on the egress slot and the router gets the frame.
    a.load_map_fd(R1, m.tx)
        .load(Size::W, R2, R9, 0)
        .mov_imm(R3, 0)
        .call(HELPER_REDIRECT_MAP)
        .jne_imm(R0, XDP_REDIRECT, redirect_failed);
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
    a.mov_imm(R0, XDP_REDIRECT).exit();
    // Count a refused redirect (egress slot), then the slow path.
    a.bind(redirect_failed);
    a.load(Size::W, R1, R9, 20)
        .store(Size::W, R10, -4, R1)
        .load_map_fd(R1, m.stats)
        .mov(R2, R10)
        .add_imm(R2, -4)
        .call(HELPER_MAP_LOOKUP_ELEM)
        .jeq_imm(R0, 0, slow)
        .load(Size::DW, R4, R0, STATS_REDIRECT_FAILED)
        .add_imm(R4, 1)
        .store(Size::DW, R0, STATS_REDIRECT_FAILED, R4)
        .ja(slow);
}

#[cfg(test)]
mod tests {
    use super::*;

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
