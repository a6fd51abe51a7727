//! The address families a [`super::PrefixTable`] serves: how an address and a prefix
//! become the integer bits the table stores, and back.

use core::fmt::Debug;
use core::hash::Hash;
use core::ops::BitAnd;

use ipnet::{Ipv4Net, Ipv6Net};
use wire::{Ipv4Addr, Ipv6Addr};

/// An address family: its addresses and prefixes as host-order integers.
pub trait Family: Copy + Debug + 'static {
    /// The address as a host-order integer (`u32`, `u128`).
    type Bits: Copy + Eq + Ord + Hash + Debug + BitAnd<Output = Self::Bits>;
    /// An address.
    type Addr: Copy;
    /// A prefix.
    type Net: Copy;
    /// The prefix length of a single address (32, 128).
    const HOST_LEN: u8;
    /// The all-zero address.
    const ZERO: Self::Bits;
    /// The bits of `addr`.
    fn bits(addr: Self::Addr) -> Self::Bits;
    /// The bits (host bits not yet cleared) and length of `net`.
    fn split(net: Self::Net) -> (Self::Bits, u8);
    /// The prefix of `len` bits at `bits` (host bits clear).
    fn join(bits: Self::Bits, len: u8) -> Self::Net;
    /// Mask of the first `len` bits (`len` <= [`Family::HOST_LEN`]).
    fn mask(len: u8) -> Self::Bits;
    /// The key folded to 64 bits, for the host table's multiplicative hash.
    fn fold(bits: Self::Bits) -> u64;
}

/// IPv4.
#[derive(Clone, Copy, Debug)]
pub struct V4;

/// IPv6.
#[derive(Clone, Copy, Debug)]
pub struct V6;

impl Family for V4 {
    type Bits = u32;
    type Addr = Ipv4Addr;
    type Net = Ipv4Net;
    const HOST_LEN: u8 = 32;
    const ZERO: u32 = 0;

    #[inline(always)]
    fn bits(addr: Ipv4Addr) -> u32 {
        u32::from(addr)
    }
    #[inline(always)]
    fn split(net: Ipv4Net) -> (u32, u8) {
        (u32::from(net.addr()), net.prefix_len())
    }
    #[inline(always)]
    fn join(bits: u32, len: u8) -> Ipv4Net {
        Ipv4Net::new_assert(Ipv4Addr::from(bits), len.min(32))
    }
    #[inline(always)]
    fn mask(len: u8) -> u32 {
        match len {
            0 => 0,
            l if l >= 32 => u32::MAX,
            l => u32::MAX << (32 - u32::from(l)),
        }
    }
    #[inline(always)]
    fn fold(bits: u32) -> u64 {
        u64::from(bits)
    }
}

impl Family for V6 {
    type Bits = u128;
    type Addr = Ipv6Addr;
    type Net = Ipv6Net;
    const HOST_LEN: u8 = 128;
    const ZERO: u128 = 0;

    #[inline(always)]
    fn bits(addr: Ipv6Addr) -> u128 {
        u128::from(addr)
    }
    #[inline(always)]
    fn split(net: Ipv6Net) -> (u128, u8) {
        (u128::from(net.addr()), net.prefix_len())
    }
    #[inline(always)]
    fn join(bits: u128, len: u8) -> Ipv6Net {
        Ipv6Net::new_assert(Ipv6Addr::from(bits), len.min(128))
    }
    #[inline(always)]
    fn mask(len: u8) -> u128 {
        match len {
            0 => 0,
            l if l >= 128 => u128::MAX,
            l => u128::MAX << (128 - u32::from(l)),
        }
    }
    #[inline(always)]
    fn fold(bits: u128) -> u64 {
        // Guests of one /64 share the high half: the low half carries the difference.
        (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29)
    }
}
