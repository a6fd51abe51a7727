//! Helpers shared by the fuzz targets.

#![allow(dead_code)]

/// Plain RFC 1071 one's-complement sum, 16 bits at a time: the reference the fast
/// `wire::checksum::data` must agree with.
pub fn reference_sum(bytes: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for c in bytes.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        acc += u64::from(w);
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Big-endian u16 at `at` (the caller guarantees bounds).
pub fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}
