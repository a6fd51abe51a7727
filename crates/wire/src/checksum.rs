//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! [`data`] returns the folded 16-bit one's-complement *sum*, not its complement: a header
//! whose checksum field is filled verifies when the sum over it is `0xffff`, and the value to
//! store is `!sum`. Sums over several pieces (pseudo-header plus segment) are joined with
//! [`combine`]. Because the sum is folded with end-around carry, a non-zero input never
//! folds to `0x0000`, so a stored checksum of `!sum` is `0x0000` only when a full
//! recomputation would also give `0x0000` (RFC 1624 section 3).

use std::net::Ipv4Addr;

/// Fold a 64-bit accumulator of 16/32/64-bit words into a 16-bit one's-complement sum
/// (RFC 1071 section 4.1: "fold 32-bit sum to 16 bits"). Each step adds the value to
/// itself rotated by half its width, so the high half of the result is the sum of the
/// halves with the end-around carry included (as Linux's `csum_fold`): 0 only for 0.
#[inline(always)]
fn fold(sum: u64) -> u16 {
    let s32 = (sum.wrapping_add(sum.rotate_right(32)) >> 32) as u32;
    (s32.wrapping_add(s32.rotate_right(16)) >> 16) as u16
}

/// `acc + w` with the end-around carry (one's-complement addition on 64 bits).
#[inline(always)]
fn add_carry(acc: u64, w: u64) -> u64 {
    let (s, carry) = acc.overflowing_add(w);
    s + u64::from(carry)
}

/// One's-complement sum of `bytes` taken as big-endian 16-bit words (an odd last byte is
/// padded with a zero byte on the right, RFC 1071 section 4.1). Folded, not inverted.
///
/// Sums 8 bytes at a time into a 64-bit accumulator with end-around carry (RFC 1071
/// section 2(C): the sum can be computed on wider words and folded at the end), reading
/// the words little-endian and swapping the folded result (section 2(B): the sum is
/// independent of byte order up to that swap), so x86 needs no per-word byte swap.
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut rest = bytes;
    while let Some((w, tail)) = rest.split_first_chunk::<8>() {
        acc = add_carry(acc, u64::from_le_bytes(*w));
        rest = tail;
    }
    // At most 7 bytes remain: place each at the bit position of its offset in a
    // little-endian word, zeros after (the padding byte of an odd length).
    let mut tail: u64 = 0;
    let mut at = 0;
    if let Some(w) = rest.first_chunk::<4>() {
        tail = u64::from(u32::from_le_bytes(*w));
        at = 4;
    }
    if let Some(w) = rest.get(at..at + 2) {
        tail |= u64::from(u16::from_le_bytes([w[0], w[1]])) << (8 * at);
        at += 2;
    }
    if let Some(&b) = rest.get(at) {
        tail |= u64::from(b) << (8 * at);
    }
    fold(add_carry(acc, tail)).swap_bytes()
}

/// [`data`] for exactly 20 bytes: an IPv4 header without options, the common case on
/// the forwarding path. Folded, not inverted.
///
/// Sums five 32-bit words read little-endian and swaps the folded result, as [`data`].
#[inline(always)]
pub fn header20(h: &[u8; 20]) -> u16 {
    let w = |i: usize| u64::from(u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    fold(w(0) + w(4) + w(8) + w(12) + w(16)).swap_bytes()
}

/// One's-complement sum of already folded partial sums (RFC 1071 section 2(B): the sum is
/// associative, so pieces can be summed separately and then added).
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    let mut acc: u64 = 0;
    for &s in sums {
        acc += u64::from(s);
    }
    fold(acc)
}

/// Sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 793 section 3.1):
/// source address, destination address, zero, protocol, and the upper-layer length.
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> u16 {
    let acc = u64::from(u32::from(src))
        + u64::from(u32::from(dst))
        + u64::from(protocol)
        + u64::from(length);
    fold(acc)
}

/// Incrementally update a stored checksum after one 16-bit word of the covered data changed
/// from `old_word` to `new_word`.
///
/// RFC 1624 section 3, eqn. 3: `HC' = ~(~HC + ~m + m')`. Unlike eqn. 2 this gives the same
/// result as a full recomputation, including the case where that result is `0x0000`.
#[inline]
pub fn update16(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    let acc = u64::from(!old_checksum) + u64::from(!old_word) + u64::from(new_word);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward RFC 1071 reference: 16 bits at a time, fold at the end.
    fn reference(bytes: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in bytes.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            acc += u32::from(w);
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    /// The fold as RFC 1071 writes it: add the halves until the carry is gone.
    fn fold_reference(mut sum: u64) -> u16 {
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn fold_matches_reference() {
        let mut x: u64 = 0x0123_4567_89ab_cdef;
        let mut edge = vec![0, 1, 0xffff, 0x1_0000, 0xffff_ffff, 0x1_0000_0000, u64::MAX];
        edge.extend((0..64).map(|b| 1u64 << b));
        edge.extend((0..64).map(|b| u64::MAX >> b));
        for &v in &edge {
            assert_eq!(fold(v), fold_reference(v), "{v:#x}");
        }
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            assert_eq!(fold(x), fold_reference(x), "{x:#x}");
            assert_eq!(fold(x >> 20), fold_reference(x >> 20), "{:#x}", x >> 20);
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(combine(&[data(&bytes[..4]), data(&bytes[4..])]), 0xddf2);
    }

    #[test]
    fn known_ipv4_header() {
        // 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7: the classic
        // example header, whose checksum is 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(!data(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(data(&h), 0xffff);
    }

    #[test]
    fn matches_reference_for_all_lengths_and_odd_tails() {
        let mut x: u32 = 0x1234_5678;
        let mut buf = [0u8; 300];
        for b in buf.iter_mut() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (x >> 24) as u8;
        }
        for len in 0..buf.len() {
            for start in 0..3 {
                let s = &buf[start.min(len)..len];
                assert_eq!(data(s), reference(s), "len {len} start {start}");
            }
        }
        // All 0xff maximises carries.
        let ones = [0xffu8; 1001];
        assert_eq!(data(&ones), reference(&ones));
        assert_eq!(data(&[]), 0);
    }

    #[test]
    fn header20_matches_data() {
        let mut x: u32 = 0x0bad_cafe;
        for _ in 0..10_000 {
            let mut h = [0u8; 20];
            for b in h.iter_mut() {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (x >> 24) as u8;
            }
            assert_eq!(header20(&h), data(&h), "{h:02x?}");
        }
        assert_eq!(header20(&[0xff; 20]), data(&[0xff; 20]));
        assert_eq!(header20(&[0; 20]), 0);
        // Carries at every fold: words near 0xffff and sums that are exact multiples
        // of 0xffff.
        for fill in [0x01u8, 0x7f, 0x80, 0xfe] {
            for pos in 0..20 {
                let mut h = [0xff; 20];
                h[pos] = fill;
                assert_eq!(header20(&h), data(&h), "{h:02x?}");
                let mut h = [0; 20];
                h[pos] = fill;
                h[(pos + 1) % 20] = 0xff;
                assert_eq!(header20(&h), data(&h), "{h:02x?}");
            }
        }
        let mut h = [0u8; 20];
        h[0] = 0xff;
        h[1] = 0xfe;
        h[3] = 0x01;
        assert_eq!(header20(&h), data(&h));
        assert_eq!(data(&h), 0xffff);
    }

    #[test]
    fn pseudo_header_sum() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let dst = Ipv4Addr::new(198, 51, 100, 7);
        let bytes = [192, 0, 2, 1, 198, 51, 100, 7, 0, 17, 0, 0x1c];
        assert_eq!(pseudo_header(src, dst, 17, 0x1c), reference(&bytes));
    }

    #[test]
    fn rfc1624_corner_case() {
        // RFC 1624 section 3: other octets sum to 0xCD7A, m = 0x5555 -> m' = 0x3285.
        let hc = !combine(&[0xcd7a, 0x5555]);
        assert_eq!(hc, 0xdd2f);
        let full = !combine(&[0xcd7a, 0x3285]);
        assert_eq!(full, 0x0000);
        // Eqn. 3 agrees with recomputation (eqn. 2 would give 0xffff here).
        assert_eq!(update16(hc, 0x5555, 0x3285), 0x0000);
        // And back again.
        assert_eq!(update16(0x0000, 0x3285, 0x5555), 0xdd2f);
    }

    #[test]
    fn update16_equals_recomputation() {
        // Deterministic sweep: random 20-byte headers, every value of one word changed.
        let mut x: u32 = 0xdead_beef;
        for _ in 0..64 {
            let mut h = [0u8; 20];
            for b in h.iter_mut() {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
            h[0] = 0x45;
            h[10] = 0;
            h[11] = 0;
            let ck = !data(&h);
            let old = u16::from_be_bytes([h[8], h[9]]);
            for new in (0..=u16::MAX).step_by(7) {
                let mut h2 = h;
                h2[8..10].copy_from_slice(&new.to_be_bytes());
                assert_eq!(update16(ck, old, new), !data(&h2));
            }
        }
    }
}
