//! Neighbor Discovery messages (RFC 4861 section 4): Router Solicitation and
//! Advertisement, Neighbor Solicitation and Advertisement, Redirect.
//!
//! [`NdpRepr::parse`] reads one from an [`Icmpv6Packet`] and applies the message-level
//! validity checks of RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2 and 8.1 that need no IP header
//! (the checksum with the pseudo-header, code 0, minimum length, options of non-zero
//! length, target and destination not multicast). The IP-level checks (hop limit 255,
//! unspecified source rules) belong to the caller, who has the IP header. Options are kept
//! as validated bytes and read with [`crate::ndp_option::NdpOptions`]; nothing allocates.

use core::fmt;

use crate::ethernet::EthernetAddress;
use crate::icmpv6::{Icmpv6Packet, Message, HEADER_LEN as ICMP_HEADER_LEN};
use crate::ipv6::Ipv6Addr;
use crate::ndp_option::{NdpOptionRepr, NdpOptions};
use crate::{Error, Result};

/// Router Advertisement flags (RFC 4861 4.2).
pub mod router_flags {
    /// M: addresses are available via DHCPv6.
    pub const MANAGED: u8 = 0x80;
    /// O: other configuration (DNS ...) is available via DHCPv6.
    pub const OTHER: u8 = 0x40;
}

/// Neighbor Advertisement flags (RFC 4861 4.4).
pub mod neighbor_flags {
    /// R: the sender is a router.
    pub const ROUTER: u8 = 0x80;
    /// S: sent in response to a Neighbor Solicitation.
    pub const SOLICITED: u8 = 0x40;
    /// O: override an existing cache entry.
    pub const OVERRIDE: u8 = 0x20;
}

/// Bytes of the fixed part (ICMPv6 header included) of each message, where its options
/// start.
mod fixed {
    pub const RS: usize = 8;
    pub const RA: usize = 16;
    pub const NS: usize = 24;
    pub const NA: usize = 24;
    pub const REDIRECT: usize = 40;
}

/// One Neighbor Discovery message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdpRepr<'a> {
    /// Router Solicitation (RFC 4861 4.1).
    RouterSolicit {
        /// Options (SLLA).
        options: &'a [u8],
    },
    /// Router Advertisement (RFC 4861 4.2).
    RouterAdvert {
        /// Cur Hop Limit for hosts (0: unspecified).
        hop_limit: u8,
        /// M and O flags ([`router_flags`]), reserved bits kept.
        flags: u8,
        /// Router lifetime in seconds (0: not a default router).
        router_lifetime: u16,
        /// Reachable time in milliseconds (0: unspecified).
        reachable_time: u32,
        /// Retransmission timer in milliseconds (0: unspecified).
        retrans_time: u32,
        /// Options (SLLA, MTU, prefix information, RDNSS ...).
        options: &'a [u8],
    },
    /// Neighbor Solicitation (RFC 4861 4.3).
    NeighborSolicit {
        /// The address being resolved.
        target: Ipv6Addr,
        /// Options (SLLA).
        options: &'a [u8],
    },
    /// Neighbor Advertisement (RFC 4861 4.4).
    NeighborAdvert {
        /// R, S, O flags ([`neighbor_flags`]).
        flags: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// Options (TLLA).
        options: &'a [u8],
    },
    /// Redirect (RFC 4861 4.5).
    Redirect {
        /// The better first hop.
        target: Ipv6Addr,
        /// The destination being redirected.
        dest: Ipv6Addr,
        /// Options (TLLA, redirected header).
        options: &'a [u8],
    },
}

#[inline]
fn addr_at(d: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&d[at..at + 16]);
    Ipv6Addr::from(o)
}

impl<'a> NdpRepr<'a> {
    /// Parse an NDP message sent from `src` to `dst`: `Truncated` if shorter than its fixed
    /// part, `Checksum`, `Malformed` for a non-zero code, a multicast target or redirect
    /// destination, or an option that does not parse (RFC 4861 4.6: zero length);
    /// `Unsupported` for ICMPv6 types that are not NDP.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        packet: &Icmpv6Packet<&'a T>,
    ) -> Result<NdpRepr<'a>> {
        packet.check_len()?;
        let b: &'a [u8] = packet.buffer.as_ref();
        let min = match packet.msg_type() {
            Message::RouterSolicit => fixed::RS,
            Message::RouterAdvert => fixed::RA,
            Message::NeighborSolicit => fixed::NS,
            Message::NeighborAdvert => fixed::NA,
            Message::Redirect => fixed::REDIRECT,
            _ => return Err(Error::Unsupported),
        };
        if b.len() < min {
            return Err(Error::Truncated);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        if packet.msg_code() != 0 {
            return Err(Error::Malformed);
        }
        let options = &b[min..];
        NdpOptions::validate(options).map_err(|_| Error::Malformed)?;
        let repr = match packet.msg_type() {
            Message::RouterSolicit => NdpRepr::RouterSolicit { options },
            Message::RouterAdvert => NdpRepr::RouterAdvert {
                hop_limit: b[4],
                flags: b[5],
                router_lifetime: packet.read_u16(6),
                reachable_time: packet.read_u32(8),
                retrans_time: packet.read_u32(12),
                options,
            },
            Message::NeighborSolicit => NdpRepr::NeighborSolicit {
                target: addr_at(b, 8),
                options,
            },
            Message::NeighborAdvert => NdpRepr::NeighborAdvert {
                flags: b[4],
                target: addr_at(b, 8),
                options,
            },
            _ => NdpRepr::Redirect {
                target: addr_at(b, 8),
                dest: addr_at(b, 24),
                options,
            },
        };
        match repr {
            NdpRepr::NeighborSolicit { target, .. } | NdpRepr::NeighborAdvert { target, .. }
                if target.is_multicast() =>
            {
                Err(Error::Malformed)
            }
            NdpRepr::Redirect { dest, .. } if dest.is_multicast() => Err(Error::Malformed),
            r => Ok(r),
        }
    }

    /// The ICMPv6 type of this message.
    pub const fn msg_type(&self) -> Message {
        match self {
            NdpRepr::RouterSolicit { .. } => Message::RouterSolicit,
            NdpRepr::RouterAdvert { .. } => Message::RouterAdvert,
            NdpRepr::NeighborSolicit { .. } => Message::NeighborSolicit,
            NdpRepr::NeighborAdvert { .. } => Message::NeighborAdvert,
            NdpRepr::Redirect { .. } => Message::Redirect,
        }
    }

    /// The options bytes.
    pub const fn options(&self) -> &'a [u8] {
        match *self {
            NdpRepr::RouterSolicit { options }
            | NdpRepr::RouterAdvert { options, .. }
            | NdpRepr::NeighborSolicit { options, .. }
            | NdpRepr::NeighborAdvert { options, .. }
            | NdpRepr::Redirect { options, .. } => options,
        }
    }

    /// The first Source Link-Layer Address option, if any.
    pub fn source_lladdr(&self) -> Option<EthernetAddress> {
        NdpOptions::new(self.options()).find_map(|o| match o {
            Ok(NdpOptionRepr::SourceLinkLayerAddr(m)) => Some(m),
            _ => None,
        })
    }

    /// The first Target Link-Layer Address option, if any.
    pub fn target_lladdr(&self) -> Option<EthernetAddress> {
        NdpOptions::new(self.options()).find_map(|o| match o {
            Ok(NdpOptionRepr::TargetLinkLayerAddr(m)) => Some(m),
            _ => None,
        })
    }

    /// Bytes of the whole ICMPv6 message.
    pub const fn buffer_len(&self) -> usize {
        let fixed = match self {
            NdpRepr::RouterSolicit { .. } => fixed::RS,
            NdpRepr::RouterAdvert { .. } => fixed::RA,
            NdpRepr::NeighborSolicit { .. } => fixed::NS,
            NdpRepr::NeighborAdvert { .. } => fixed::NA,
            NdpRepr::Redirect { .. } => fixed::REDIRECT,
        };
        fixed + self.options().len()
    }

    /// Write the message and fill the checksum for `src` -> `dst`. The packet's buffer must
    /// be exactly [`buffer_len`](Self::buffer_len) bytes; panics if it is shorter.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        packet: &mut Icmpv6Packet<T>,
    ) {
        let len = self.buffer_len();
        let options = self.options();
        {
            let b = &mut packet.buffer.as_mut()[..len];
            b[ICMP_HEADER_LEN - 4..].fill(0);
            b[len - options.len()..].copy_from_slice(options);
        }
        packet.set_msg_type(self.msg_type());
        packet.set_msg_code(0);
        match *self {
            NdpRepr::RouterSolicit { .. } => {}
            NdpRepr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                let b = packet.buffer.as_mut();
                b[4] = hop_limit;
                b[5] = flags;
                packet.write_u16(6, router_lifetime);
                packet.write_u32(8, reachable_time);
                packet.write_u32(12, retrans_time);
            }
            NdpRepr::NeighborSolicit { target, .. } => {
                packet.buffer.as_mut()[8..24].copy_from_slice(&target.octets());
            }
            NdpRepr::NeighborAdvert { flags, target, .. } => {
                let b = packet.buffer.as_mut();
                b[4] = flags;
                b[8..24].copy_from_slice(&target.octets());
            }
            NdpRepr::Redirect { target, dest, .. } => {
                let b = packet.buffer.as_mut();
                b[8..24].copy_from_slice(&target.octets());
                b[24..40].copy_from_slice(&dest.octets());
            }
        }
        packet.fill_checksum(src, dst);
    }
}

impl fmt::Display for NdpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NdpRepr::RouterSolicit { .. } => f.write_str("NDP router solicitation"),
            NdpRepr::RouterAdvert {
                router_lifetime, ..
            } => write!(f, "NDP router advertisement lifetime {router_lifetime}"),
            NdpRepr::NeighborSolicit { target, .. } => {
                write!(f, "NDP neighbor solicitation who-has {target}")
            }
            NdpRepr::NeighborAdvert { flags, target, .. } => {
                write!(f, "NDP neighbor advertisement {target} flags 0x{flags:02x}")
            }
            NdpRepr::Redirect { target, dest, .. } => {
                write!(f, "NDP redirect {dest} via {target}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv6_addr::{solicited_node, ALL_NODES};
    use crate::ndp_option::{prefix_flags, PrefixInfo};

    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);

    fn round_trip(src: &Ipv6Addr, dst: &Ipv6Addr, repr: NdpRepr<'_>) -> Vec<u8> {
        let mut b = vec![0xaau8; repr.buffer_len()];
        repr.emit(src, dst, &mut Icmpv6Packet::new_unchecked(&mut b[..]));
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(src, dst));
        assert_eq!(NdpRepr::parse(src, dst, &p), Ok(repr));
        b
    }

    #[test]
    fn neighbor_solicit_and_advert() {
        let target: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut opt = [0u8; 8];
        NdpOptionRepr::SourceLinkLayerAddr(MAC).emit(&mut opt);
        let ns = NdpRepr::NeighborSolicit {
            target,
            options: &opt,
        };
        let b = round_trip(&src, &solicited_node(&target), ns);
        assert_eq!(b.len(), 32);
        assert_eq!(ns.source_lladdr(), Some(MAC));
        assert_eq!(ns.target_lladdr(), None);

        NdpOptionRepr::TargetLinkLayerAddr(MAC).emit(&mut opt);
        let na = NdpRepr::NeighborAdvert {
            flags: neighbor_flags::OVERRIDE,
            target,
            options: &opt,
        };
        round_trip(&target, &ALL_NODES, na);
        assert_eq!(na.target_lladdr(), Some(MAC));
    }

    #[test]
    fn router_advert_with_options() {
        let mut opts = [0u8; 8 + 8 + 32];
        let mut at = NdpOptionRepr::SourceLinkLayerAddr(MAC).emit(&mut opts);
        at += NdpOptionRepr::Mtu(1500).emit(&mut opts[at..]);
        at += NdpOptionRepr::PrefixInfo(PrefixInfo {
            prefix_len: 64,
            flags: prefix_flags::ON_LINK | prefix_flags::AUTONOMOUS,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
            prefix: "2001:db8:1::".parse().unwrap(),
        })
        .emit(&mut opts[at..]);
        let ra = NdpRepr::RouterAdvert {
            hop_limit: 64,
            flags: router_flags::OTHER,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_time: 0,
            options: &opts[..at],
        };
        round_trip(&"fe80::1".parse().unwrap(), &ALL_NODES, ra);
        round_trip(
            &"fe80::2".parse().unwrap(),
            &"ff02::2".parse().unwrap(),
            NdpRepr::RouterSolicit { options: &[] },
        );
        round_trip(
            &"fe80::1".parse().unwrap(),
            &"fe80::9".parse().unwrap(),
            NdpRepr::Redirect {
                target: "fe80::3".parse().unwrap(),
                dest: "2001:db8::7".parse().unwrap(),
                options: &[],
            },
        );
    }

    #[test]
    fn refusals() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = ALL_NODES;
        let ns = NdpRepr::NeighborSolicit {
            target: "ff02::1".parse().unwrap(),
            options: &[],
        };
        let mut b = vec![0u8; ns.buffer_len()];
        ns.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut b[..]));
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            NdpRepr::parse(&src, &dst, &p),
            Err(Error::Malformed),
            "multicast target"
        );

        // Zero-length option.
        let mut b = [0u8; 24 + 8];
        b[0] = 135;
        b[24] = 1;
        let mut p = Icmpv6Packet::new_unchecked(&mut b[..]);
        p.fill_checksum(&src, &dst);
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(NdpRepr::parse(&src, &dst, &p), Err(Error::Malformed));

        // Non-zero code.
        let mut b = [0u8; 24];
        b[0] = 135;
        b[1] = 1;
        b[8] = 0x20;
        Icmpv6Packet::new_unchecked(&mut b[..]).fill_checksum(&src, &dst);
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(NdpRepr::parse(&src, &dst, &p), Err(Error::Malformed));

        // Short and bad checksum.
        let p = Icmpv6Packet::new_checked(&b[..20]).unwrap();
        assert_eq!(NdpRepr::parse(&src, &dst, &p), Err(Error::Truncated));
        b[1] = 0;
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(NdpRepr::parse(&src, &dst, &p), Err(Error::Checksum));
        b[0] = 128;
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(NdpRepr::parse(&src, &dst, &p), Err(Error::Unsupported));
    }
}
