//! Fixed-byte parse/emit tests for every wire format, error cases, and "no accessor panics
//! once check_len passed" sweeps over truncated and mutated packets.
//!
//! Addresses come from the documentation ranges (RFC 5737) only.

// Dependents call this crate `wire`; so do these tests.
extern crate hvrouter_wire as wire;

mod arp;
mod ethernet;
mod icmpv4;
mod ipv4;
mod udp;
mod vlan;

/// Call `f` on every prefix of `bytes` (lengths 0..=len), and on copies of `bytes` with each
/// single byte replaced by 0x00, 0x01, 0x7f, 0x80 and 0xff. `f` is expected to run every
/// accessor whenever `new_checked` succeeds.
pub fn sweep(bytes: &[u8], mut f: impl FnMut(&[u8])) {
    for len in 0..=bytes.len() {
        f(&bytes[..len]);
    }
    let mut copy = bytes.to_vec();
    for i in 0..bytes.len() {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            copy[i] = v;
            f(&copy);
            for len in [copy.len().saturating_sub(1), copy.len() / 2] {
                f(&copy[..len]);
            }
        }
        copy[i] = bytes[i];
    }
}
