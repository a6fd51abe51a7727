//! Walking the IPv6 extension-header chain (RFC 8200 section 4) with a bound.
//!
//! [`walk`] follows Next Header fields from the fixed header to the upper-layer header,
//! reading each extension header's length by offset and never more than `max_headers`
//! of them, so a hostile chain costs a bounded amount of work. It allocates nothing and
//! never panics, whatever the bytes: every offset is checked before it is read.
//!
//! Rules it enforces, each a distinct [`ExtError`] so the router can count them by name:
//! - RFC 8200 4.1: "The Hop-by-Hop Options header, when present, must immediately follow
//!   the IPv6 header" ([`ExtError::MisplacedHopByHop`]).
//! - A header must fit in the payload ([`ExtError::Truncated`]).
//! - At most `max_headers` extension headers ([`ExtError::TooMany`]).
//! - RFC 8200 4.5 / RFC 7112: the first fragment must contain the whole header chain; a
//!   walk that meets a non-first fragment stops there and reports it in
//!   [`ExtWalk::fragment`], with no upper layer.

use crate::ipv6::NextHeader;

/// Default bound on the number of extension headers: more than any legitimate chain needs
/// (RFC 8200 4.1 lists at most 8 kinds, in a recommended order, each once except
/// Destination Options twice).
pub const DEFAULT_MAX_HEADERS: usize = 8;

/// Why a chain could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtError {
    /// An extension header runs past the end of the payload.
    Truncated,
    /// More than the allowed number of extension headers.
    TooMany,
    /// A Hop-by-Hop Options header not immediately after the fixed header.
    MisplacedHopByHop,
}

impl core::fmt::Display for ExtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ExtError::Truncated => "truncated extension header",
            ExtError::TooMany => "too many extension headers",
            ExtError::MisplacedHopByHop => "hop-by-hop header not first",
        })
    }
}

impl std::error::Error for ExtError {}

/// The Fragment header's fields (RFC 8200 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// Fragment offset in 8-octet units.
    pub offset: u16,
    /// The M flag: more fragments follow.
    pub more: bool,
    /// Identification.
    pub ident: u32,
}

impl FragmentInfo {
    /// True for an atomic fragment (offset 0, M clear: RFC 8021) or a first fragment.
    #[inline]
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }
}

/// Where a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtWalk {
    /// The protocol after the last extension header walked: TCP, UDP, ICMPv6, No Next
    /// Header, ESP (not walkable), an unknown value, or, after a non-first fragment, the
    /// fragment's next header (whose header is not in this packet).
    pub upper: NextHeader,
    /// Offset of the upper-layer header from the start of the payload.
    pub upper_offset: usize,
    /// Extension headers walked.
    pub count: u8,
    /// The Fragment header, if one was met.
    pub fragment: Option<FragmentInfo>,
    /// True if a Hop-by-Hop Options header is present (routers may have to look at it,
    /// RFC 8200 4.3).
    pub hop_by_hop: bool,
}

impl ExtWalk {
    /// True if the upper-layer header is in this packet (not behind a non-first fragment).
    #[inline]
    pub fn has_upper(&self) -> bool {
        self.fragment.is_none_or(|f| f.is_first())
    }
}

/// Walk the chain starting with `first` (the fixed header's Next Header) over `payload`
/// (the IPv6 payload), visiting at most `max_headers` extension headers.
pub fn walk(first: NextHeader, payload: &[u8], max_headers: usize) -> Result<ExtWalk, ExtError> {
    let mut nh = first;
    let mut at = 0usize;
    let mut count = 0usize;
    let mut fragment = None;
    let mut hop_by_hop = false;
    while nh.is_extension() {
        if count >= max_headers {
            return Err(ExtError::TooMany);
        }
        if nh == NextHeader::HopByHop {
            if count != 0 {
                return Err(ExtError::MisplacedHopByHop);
            }
            hop_by_hop = true;
        }
        let head = payload.get(at..at + 8).ok_or(ExtError::Truncated)?;
        let next = NextHeader::from(head[0]);
        let len = match nh {
            // RFC 8200 4.5: fixed 8 bytes.
            NextHeader::Fragment => 8,
            // RFC 4302 2.2: Payload Len in 4-octet units, minus 2.
            NextHeader::Ah => (usize::from(head[1]) + 2) * 4,
            // RFC 8200 4.3, 4.4, 4.6, RFC 6564: 8-octet units not counting the first 8.
            _ => (usize::from(head[1]) + 1) * 8,
        };
        if payload.len() < at + len {
            return Err(ExtError::Truncated);
        }
        count += 1;
        if nh == NextHeader::Fragment {
            let off_m = u16::from_be_bytes([head[2], head[3]]);
            let info = FragmentInfo {
                offset: off_m >> 3,
                more: off_m & 1 == 1,
                ident: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
            };
            fragment = Some(info);
            at += len;
            nh = next;
            if !info.is_first() {
                break;
            }
            continue;
        }
        at += len;
        nh = next;
    }
    Ok(ExtWalk {
        upper: nh,
        upper_offset: at,
        count: count as u8,
        fragment,
        hop_by_hop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_extension_headers() {
        let w = walk(NextHeader::Tcp, &[0; 20], 8).unwrap();
        assert_eq!(w.upper, NextHeader::Tcp);
        assert_eq!(w.upper_offset, 0);
        assert_eq!(w.count, 0);
        assert!(w.has_upper());
    }

    #[test]
    fn hop_by_hop_then_dest_options_then_icmpv6() {
        let mut p = vec![0u8; 8 + 16 + 8];
        p[0] = 60; // HBH -> DestOptions
        p[8] = 58; // DestOptions -> ICMPv6
        p[9] = 1; // 16 bytes
        let w = walk(NextHeader::HopByHop, &p, 8).unwrap();
        assert_eq!(w.upper, NextHeader::Icmpv6);
        assert_eq!(w.upper_offset, 24);
        assert_eq!(w.count, 2);
        assert!(w.hop_by_hop);
    }

    #[test]
    fn misplaced_hop_by_hop_is_refused() {
        let mut p = vec![0u8; 16];
        p[0] = 0; // DestOptions -> HBH
        assert_eq!(
            walk(NextHeader::DestOptions, &p, 8),
            Err(ExtError::MisplacedHopByHop)
        );
    }

    #[test]
    fn bound_and_truncation() {
        // A chain of DestOptions headers that points to itself.
        let p = [60u8, 0, 0, 0, 0, 0, 0, 0].repeat(20);
        assert_eq!(walk(NextHeader::DestOptions, &p, 8), Err(ExtError::TooMany));
        assert_eq!(
            walk(NextHeader::DestOptions, &p[..7], 8),
            Err(ExtError::Truncated)
        );
        let mut q = vec![0u8; 8];
        q[0] = 6;
        q[1] = 1; // claims 16 bytes, has 8
        assert_eq!(walk(NextHeader::Routing, &q, 8), Err(ExtError::Truncated));
    }

    #[test]
    fn fragments() {
        let mut p = vec![0u8; 8 + 20];
        p[0] = 6;
        p[3] = 1; // offset 0, M set
        p[4..8].copy_from_slice(&7u32.to_be_bytes());
        let w = walk(NextHeader::Fragment, &p, 8).unwrap();
        assert_eq!(w.upper, NextHeader::Tcp);
        assert_eq!(
            w.fragment,
            Some(FragmentInfo {
                offset: 0,
                more: true,
                ident: 7
            })
        );
        assert!(w.has_upper());
        p[2] = 0x01; // offset 32
        let w = walk(NextHeader::Fragment, &p, 8).unwrap();
        assert!(!w.has_upper());
        assert_eq!(w.fragment.map(|f| f.offset), Some(32));
    }

    #[test]
    fn ah_length_in_four_octet_units() {
        let mut p = vec![0u8; 24 + 8];
        p[0] = 17;
        p[1] = 4; // (4 + 2) * 4 = 24
        let w = walk(NextHeader::Ah, &p, 8).unwrap();
        assert_eq!((w.upper, w.upper_offset), (NextHeader::Udp, 24));
    }
}
