//! Neighbor Discovery options (RFC 4861 4.6, RFC 8106 5.1).
//!
//! Options are parsed from a byte slice by [`NdpOptions`], an iterator that checks each
//! option's length before reading it and never panics; [`NdpOptionRepr::emit`] writes one
//! option into a caller's buffer (no allocation). Lengths are strict: RFC 4861 4.6 "Nodes
//! MUST silently discard an ND packet that contains an option with length zero", and an
//! option of a known type with a length its format does not allow is `Malformed`.

use crate::ethernet::EthernetAddress;
use crate::ipv6::{u8_enum, Ipv6Addr};
use crate::{Error, Result};

u8_enum! {
    /// Option type.
    OptionType {
        /// 1: Source Link-Layer Address.
        SourceLinkLayerAddr = 1,
        /// 2: Target Link-Layer Address.
        TargetLinkLayerAddr = 2,
        /// 3: Prefix Information.
        PrefixInfo = 3,
        /// 4: Redirected Header.
        RedirectedHeader = 4,
        /// 5: MTU.
        Mtu = 5,
        /// 25: Recursive DNS Server (RFC 8106 5.1).
        Rdnss = 25,
        /// 31: DNS Search List (RFC 8106 5.2).
        Dnssl = 31,
    }
}

/// Prefix Information flags (RFC 4861 4.6.2).
pub mod prefix_flags {
    /// L: on-link.
    pub const ON_LINK: u8 = 0x80;
    /// A: autonomous address-configuration (SLAAC, RFC 4862 5.5.3).
    pub const AUTONOMOUS: u8 = 0x40;
}

/// The Prefix Information option (RFC 4861 4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixInfo {
    /// Number of leading bits of `prefix` that are valid.
    pub prefix_len: u8,
    /// L and A flags ([`prefix_flags`]); the reserved bits are kept.
    pub flags: u8,
    /// Valid lifetime in seconds (`u32::MAX`: infinity).
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds.
    pub preferred_lifetime: u32,
    /// The prefix (bits past `prefix_len` should be zero).
    pub prefix: Ipv6Addr,
}

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdpOptionRepr<'a> {
    /// Source link-layer address (Ethernet, length 1).
    SourceLinkLayerAddr(EthernetAddress),
    /// Target link-layer address (Ethernet, length 1).
    TargetLinkLayerAddr(EthernetAddress),
    /// Prefix information (length 4).
    PrefixInfo(PrefixInfo),
    /// Redirected header: the bytes after the 8-byte option head (IP header and data).
    RedirectedHeader(&'a [u8]),
    /// Link MTU (length 1).
    Mtu(u32),
    /// Recursive DNS servers (RFC 8106 5.1): lifetime and 16 bytes per server.
    Rdnss {
        /// Lifetime in seconds (0: stop using these servers).
        lifetime: u32,
        /// The servers' addresses, 16 bytes each; read with [`rdnss_servers`].
        servers: &'a [u8],
    },
    /// Any other option: its type and the bytes after type and length.
    Unknown {
        /// Option type.
        kind: u8,
        /// `8 * length - 2` bytes.
        data: &'a [u8],
    },
}

/// The addresses of an RDNSS option's `servers` bytes.
pub fn rdnss_servers(servers: &[u8]) -> impl Iterator<Item = Ipv6Addr> + '_ {
    servers.chunks_exact(16).map(|c| {
        let mut o = [0u8; 16];
        o.copy_from_slice(c);
        Ipv6Addr::from(o)
    })
}

/// Most RDNSS servers [`emit_rdnss`] writes: RFC 8106 5.1 allows more, but guests keep
/// three (glibc's MAXNS).
pub const MAX_RDNSS: usize = 3;

#[inline]
fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

impl<'a> NdpOptionRepr<'a> {
    /// Parse the option at the start of `bytes`, returning it and its length in bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<(NdpOptionRepr<'a>, usize)> {
        if bytes.len() < 2 {
            return Err(Error::Truncated);
        }
        let units = usize::from(bytes[1]);
        if units == 0 {
            return Err(Error::Malformed);
        }
        let len = units * 8;
        let o = bytes.get(..len).ok_or(Error::Truncated)?;
        let repr = match OptionType::from(o[0]) {
            OptionType::SourceLinkLayerAddr | OptionType::TargetLinkLayerAddr => {
                if units != 1 {
                    return Err(Error::Malformed);
                }
                let mac = EthernetAddress::from_bytes(&o[2..8]);
                if o[0] == 1 {
                    NdpOptionRepr::SourceLinkLayerAddr(mac)
                } else {
                    NdpOptionRepr::TargetLinkLayerAddr(mac)
                }
            }
            OptionType::PrefixInfo => {
                if units != 4 {
                    return Err(Error::Malformed);
                }
                let mut p = [0u8; 16];
                p.copy_from_slice(&o[16..32]);
                NdpOptionRepr::PrefixInfo(PrefixInfo {
                    prefix_len: o[2],
                    flags: o[3],
                    valid_lifetime: be32(o, 4),
                    preferred_lifetime: be32(o, 8),
                    prefix: Ipv6Addr::from(p),
                })
            }
            OptionType::RedirectedHeader => NdpOptionRepr::RedirectedHeader(&o[8..]),
            OptionType::Mtu => {
                if units != 1 {
                    return Err(Error::Malformed);
                }
                NdpOptionRepr::Mtu(be32(o, 4))
            }
            // RFC 8106 5.1: "The minimum value is 3 if one IPv6 address is contained in
            // the option. Every additional RDNSS address increases the length by 2."
            OptionType::Rdnss => {
                if units < 3 || units % 2 == 0 {
                    return Err(Error::Malformed);
                }
                NdpOptionRepr::Rdnss {
                    lifetime: be32(o, 4),
                    servers: &o[8..],
                }
            }
            OptionType::Dnssl | OptionType::Unknown(_) => NdpOptionRepr::Unknown {
                kind: o[0],
                data: &o[2..],
            },
        };
        Ok((repr, len))
    }

    /// Bytes this option takes (a multiple of 8).
    pub const fn buffer_len(&self) -> usize {
        match self {
            NdpOptionRepr::SourceLinkLayerAddr(_)
            | NdpOptionRepr::TargetLinkLayerAddr(_)
            | NdpOptionRepr::Mtu(_) => 8,
            NdpOptionRepr::PrefixInfo(_) => 32,
            NdpOptionRepr::RedirectedHeader(d) => 8 + d.len().div_ceil(8) * 8,
            NdpOptionRepr::Rdnss { servers, .. } => 8 + servers.len().div_ceil(16) * 16,
            NdpOptionRepr::Unknown { data, .. } => (2 + data.len()).div_ceil(8) * 8,
        }
    }

    /// Write the option at the start of `buf` (padding with zeros) and return its length.
    /// Panics if `buf` is shorter than [`buffer_len`](Self::buffer_len) or the option
    /// would be longer than 255 units.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let o = &mut buf[..len];
        o.fill(0);
        let units = u8::try_from(len / 8).unwrap_or(u8::MAX);
        o[1] = units;
        match *self {
            NdpOptionRepr::SourceLinkLayerAddr(mac) => {
                o[0] = OptionType::SourceLinkLayerAddr.into();
                o[2..8].copy_from_slice(&mac.0);
            }
            NdpOptionRepr::TargetLinkLayerAddr(mac) => {
                o[0] = OptionType::TargetLinkLayerAddr.into();
                o[2..8].copy_from_slice(&mac.0);
            }
            NdpOptionRepr::PrefixInfo(p) => {
                o[0] = OptionType::PrefixInfo.into();
                o[2] = p.prefix_len;
                o[3] = p.flags;
                o[4..8].copy_from_slice(&p.valid_lifetime.to_be_bytes());
                o[8..12].copy_from_slice(&p.preferred_lifetime.to_be_bytes());
                o[16..32].copy_from_slice(&p.prefix.octets());
            }
            NdpOptionRepr::RedirectedHeader(d) => {
                o[0] = OptionType::RedirectedHeader.into();
                o[8..8 + d.len()].copy_from_slice(d);
            }
            NdpOptionRepr::Mtu(mtu) => {
                o[0] = OptionType::Mtu.into();
                o[4..8].copy_from_slice(&mtu.to_be_bytes());
            }
            NdpOptionRepr::Rdnss { lifetime, servers } => {
                o[0] = OptionType::Rdnss.into();
                o[4..8].copy_from_slice(&lifetime.to_be_bytes());
                o[8..8 + servers.len()].copy_from_slice(servers);
            }
            NdpOptionRepr::Unknown { kind, data } => {
                o[0] = kind;
                o[2..2 + data.len()].copy_from_slice(data);
            }
        }
        len
    }
}

/// Write an RDNSS option (RFC 8106 5.1) for the first [`MAX_RDNSS`] of `servers` at the
/// start of `buf`; returns its length (0 when `servers` is empty: no option). Panics if
/// `buf` is shorter than `8 + 16 * n`.
pub fn emit_rdnss(buf: &mut [u8], lifetime: u32, servers: &[Ipv6Addr]) -> usize {
    let n = servers.len().min(MAX_RDNSS);
    if n == 0 {
        return 0;
    }
    let mut raw = [0u8; 16 * MAX_RDNSS];
    for (i, s) in servers.iter().take(n).enumerate() {
        raw[16 * i..16 * i + 16].copy_from_slice(&s.octets());
    }
    NdpOptionRepr::Rdnss {
        lifetime,
        servers: &raw[..16 * n],
    }
    .emit(buf)
}

/// An iterator over the options in a byte slice. It yields `Err` once (and then stops) at
/// the first option that does not parse.
#[derive(Debug, Clone)]
pub struct NdpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> NdpOptions<'a> {
    /// Iterate over the options in `bytes` (the part of an NDP message after its fixed
    /// fields).
    pub const fn new(bytes: &'a [u8]) -> NdpOptions<'a> {
        NdpOptions { rest: bytes }
    }

    /// `Ok` if every option parses.
    pub fn validate(bytes: &'a [u8]) -> Result<()> {
        NdpOptions::new(bytes).try_for_each(|o| o.map(|_| ()))
    }
}

impl<'a> Iterator for NdpOptions<'a> {
    type Item = Result<NdpOptionRepr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match NdpOptionRepr::parse(self.rest) {
            Ok((o, len)) => {
                self.rest = &self.rest[len..];
                Some(Ok(o))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);

    #[test]
    fn every_kind_round_trips() {
        let pi = PrefixInfo {
            prefix_len: 64,
            flags: prefix_flags::ON_LINK | prefix_flags::AUTONOMOUS,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
            prefix: "2001:db8:1::".parse().unwrap(),
        };
        let servers = [0x20u8; 32];
        let opts = [
            NdpOptionRepr::SourceLinkLayerAddr(MAC),
            NdpOptionRepr::TargetLinkLayerAddr(MAC),
            NdpOptionRepr::PrefixInfo(pi),
            NdpOptionRepr::Mtu(1500),
            NdpOptionRepr::Rdnss {
                lifetime: 600,
                servers: &servers,
            },
            NdpOptionRepr::RedirectedHeader(&[0x60; 16]),
            NdpOptionRepr::Unknown {
                kind: 31,
                data: &[1, 2, 3, 4, 5, 6],
            },
        ];
        let mut buf = [0u8; 256];
        let mut at = 0;
        for o in &opts {
            at += o.emit(&mut buf[at..]);
        }
        let back: Vec<_> = NdpOptions::new(&buf[..at]).collect::<Result<_>>().unwrap();
        assert_eq!(back, opts);
    }

    #[test]
    fn zero_length_and_overrun_are_refused() {
        assert_eq!(
            NdpOptions::new(&[1, 0, 0, 0, 0, 0, 0, 0]).next(),
            Some(Err(Error::Malformed))
        );
        assert_eq!(
            NdpOptions::new(&[1, 2, 0, 0, 0, 0, 0, 0]).next(),
            Some(Err(Error::Truncated))
        );
        assert_eq!(NdpOptions::new(&[1]).next(), Some(Err(Error::Truncated)));
        // RDNSS with an even length.
        assert_eq!(
            NdpOptionRepr::parse(&[25, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).err(),
            Some(Error::Malformed)
        );
        let mut it = NdpOptions::new(&[1, 0, 1, 1]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none(), "stops after the first error");
    }

    #[test]
    fn rdnss_helpers() {
        let a: Ipv6Addr = "2001:db8::53".parse().unwrap();
        let b: Ipv6Addr = "2001:db8::54".parse().unwrap();
        let mut buf = [0u8; 64];
        let n = emit_rdnss(&mut buf, 300, &[a, b]);
        assert_eq!(n, 40);
        assert_eq!(buf[1], 5);
        match NdpOptionRepr::parse(&buf[..n]).unwrap().0 {
            NdpOptionRepr::Rdnss { lifetime, servers } => {
                assert_eq!(lifetime, 300);
                assert_eq!(rdnss_servers(servers).collect::<Vec<_>>(), vec![a, b]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(emit_rdnss(&mut buf, 300, &[]), 0);
    }
}
