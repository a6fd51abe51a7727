//! IPv4 fragmentation (RFC 791 section 3.2, "Fragmentation"; RFC 1812 sections 4.2.2.7
//! and 5.2.6: a router MUST fragment a datagram larger than the egress MTU when DF is
//! clear).
//!
//! [`Fragmenter`] validates a datagram once and then writes fragment `i` into any buffer
//! the caller hands it, as [`crate::offload::TcpSegmenter`] does for segments;
//! [`fragment`] is the simple form with one scratch buffer and a closure. Nothing
//! allocates. The input is a whole Ethernet frame (optionally one 802.1Q tag) whose IPv4
//! datagram is already rewritten for the next hop (MACs, TTL, header checksum valid).
//!
//! Each fragment is the frame's link-layer header, an IPv4 header and a piece of the
//! data, following RFC 791's procedure:
//! - every fragment's data is a multiple of 8 bytes except the last one's, and as large
//!   as the MTU allows;
//! - the first fragment keeps the whole header, options included; the others carry only
//!   the options whose copy flag (type bit 0x80) is set, then EOL padding to a multiple
//!   of 4 bytes (RFC 791 section 3.1: NOP and EOL are not copied);
//! - the fragment offset is the original offset plus the fragment's position / 8; MF is
//!   set on every fragment but the last, and on the last one too if the original had it
//!   (re-fragmenting a fragment);
//! - identification, TOS, TTL, protocol and addresses are kept; total length and header
//!   checksum are recomputed.

use wire::Ipv4Packet;

/// Why a datagram could not be fragmented. Small and `Copy` for the packet path; the
/// router counts it as `DropReason::TooBig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FragmentError {
    /// A header, or the total length, reaches past the end of the frame.
    #[error("truncated: a header or the total length reaches past the end of the frame")]
    Truncated,
    /// IPv4 version, header length, total length, an option's length, or an offset that
    /// would not fit the 13-bit field.
    #[error("malformed IPv4 header or options")]
    Malformed,
    /// The frame is not Ethernet II (optionally one 802.1Q tag) + IPv4.
    #[error("not an IPv4 frame")]
    NotIpv4,
    /// The IPv4 header checksum does not verify; it is recomputed on every fragment, so
    /// it is checked first (RFC 1812 5.2.2).
    #[error("IPv4 header checksum does not verify")]
    Ipv4Checksum,
    /// Larger than the MTU with DF set: the caller sends "fragmentation needed".
    #[error("larger than the MTU with DF set")]
    DontFragment,
    /// The MTU leaves less than 8 data bytes after the header (RFC 791: every module must
    /// forward 68 bytes, a 60-byte header and 8 data bytes).
    #[error("MTU too small for the header and 8 data bytes")]
    MtuTooSmall,
    /// The output buffer is shorter than the fragment.
    #[error("output buffer too small for a fragment")]
    BufferTooSmall,
    /// Fragment index at or past [`Fragmenter::count`].
    #[error("no such fragment")]
    NoSuchFragment,
}

impl FragmentError {
    /// Stable snake_case name, for counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            FragmentError::Truncated => "truncated",
            FragmentError::Malformed => "malformed",
            FragmentError::NotIpv4 => "not_ipv4",
            FragmentError::Ipv4Checksum => "ipv4_checksum",
            FragmentError::DontFragment => "dont_fragment",
            FragmentError::MtuTooSmall => "mtu_too_small",
            FragmentError::BufferTooSmall => "buffer_too_small",
            FragmentError::NoSuchFragment => "no_such_fragment",
        }
    }
}

const ETH_HEADER: usize = 14;
const VLAN_TAG: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const MAX_IP_HEADER: usize = 60;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;
/// Option types without a length byte (RFC 791 section 3.1).
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
/// Option type bit: copy the option into every fragment.
const OPT_COPY: u8 = 0x80;

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Write the options of `options` whose copy flag is set into `out` (padded with EOL to a
/// multiple of 4); return the padded length. Errors on an option whose length byte is
/// missing, below 2 or past the end.
fn copied_options(options: &[u8], out: &mut [u8; 40]) -> Result<usize, FragmentError> {
    let (mut i, mut n) = (0, 0);
    while let Some(&kind) = options.get(i) {
        match kind {
            OPT_EOL => break,
            OPT_NOP => i += 1,
            _ => {
                let len = usize::from(*options.get(i + 1).ok_or(FragmentError::Malformed)?);
                let opt = options
                    .get(i..i + len)
                    .filter(|_| len >= 2)
                    .ok_or(FragmentError::Malformed)?;
                if kind & OPT_COPY != 0 {
                    // n + len <= i + len <= options.len() <= 40.
                    out[n..n + len].copy_from_slice(opt);
                    n += len;
                }
                i += len;
            }
        }
    }
    let padded = n.div_ceil(4) * 4;
    out[n..padded].fill(OPT_EOL);
    Ok(padded)
}

/// A validated datagram, ready to be written out fragment by fragment. See the module
/// docs for what each fragment looks like.
#[derive(Clone, Debug)]
pub struct Fragmenter<'a> {
    frame: &'a [u8],
    l2_len: usize,
    /// The original IPv4 header (first fragment), `header_len` bytes used.
    header: [u8; MAX_IP_HEADER],
    header_len: usize,
    /// The header of the other fragments: fixed part plus copied options.
    rest_header: [u8; MAX_IP_HEADER],
    rest_header_len: usize,
    payload_len: usize,
    /// Data bytes of the first fragment and of each later one (multiples of 8).
    first_chunk: usize,
    rest_chunk: usize,
    count: usize,
    /// The original's fragment offset in bytes and MF flag.
    offset: usize,
    more: bool,
}

impl<'a> Fragmenter<'a> {
    /// Validate an Ethernet frame carrying IPv4 for fragmentation to `mtu` (the largest
    /// IP datagram a fragment may be). A datagram that fits gives one fragment, equal to
    /// the datagram (Ethernet padding dropped).
    ///
    /// Errors: `Truncated` / `Malformed` / `NotIpv4` / `Ipv4Checksum` (the input),
    /// `DontFragment` (larger than `mtu` with DF set), `MtuTooSmall`.
    pub fn new(frame: &'a [u8], mtu: u16) -> Result<Fragmenter<'a>, FragmentError> {
        use FragmentError::*;
        let (l2_len, ethertype) = match be16(frame, 12).ok_or(Truncated)? {
            ETHERTYPE_VLAN => (ETH_HEADER + VLAN_TAG, be16(frame, 16).ok_or(Truncated)?),
            other => (ETH_HEADER, other),
        };
        if ethertype != ETHERTYPE_IPV4 {
            return Err(NotIpv4);
        }
        let ip_bytes = frame.get(l2_len..).ok_or(Truncated)?;
        let ip = Ipv4Packet::new_checked(ip_bytes).map_err(|e| match e {
            wire::Error::Truncated => Truncated,
            _ => Malformed,
        })?;
        if ip.version() != 4 {
            return Err(Malformed);
        }
        if !ip.verify_checksum() {
            return Err(Ipv4Checksum);
        }
        let header_len = usize::from(ip.header_len());
        let total_len = usize::from(ip.total_len());
        if total_len > usize::from(mtu) && ip.dont_frag() {
            return Err(DontFragment);
        }
        let payload_len = total_len - header_len;
        let offset = usize::from(ip.frag_offset());
        // The last fragment's offset must fit the 13-bit field; a datagram reaching past
        // 65535 bytes cannot be reassembled anyway.
        if offset + payload_len > usize::from(u16::MAX) {
            return Err(Malformed);
        }
        let mut header = [0u8; MAX_IP_HEADER];
        header[..header_len].copy_from_slice(&ip_bytes[..header_len]);
        let mut options = [0u8; 40];
        let options_len = copied_options(ip.options(), &mut options)?;
        let rest_header_len = Ipv4Packet::HEADER_LEN + options_len;
        let mut rest_header = [0u8; MAX_IP_HEADER];
        rest_header[..Ipv4Packet::HEADER_LEN].copy_from_slice(&header[..Ipv4Packet::HEADER_LEN]);
        rest_header[Ipv4Packet::HEADER_LEN..rest_header_len]
            .copy_from_slice(&options[..options_len]);
        Ipv4Packet::new_unchecked(&mut rest_header[..]).set_header_len(rest_header_len as u8);

        // RFC 791 3.2: NFB = (MTU - IHL*4) / 8 fragment blocks per fragment.
        let mtu = usize::from(mtu);
        let first_chunk = (mtu.checked_sub(header_len).ok_or(MtuTooSmall)? / 8) * 8;
        let rest_chunk = ((mtu.saturating_sub(rest_header_len)) / 8) * 8;
        if first_chunk < 8 {
            return Err(MtuTooSmall);
        }
        let count = if total_len <= mtu {
            1
        } else {
            // rest_chunk >= first_chunk >= 8: the other headers are no longer.
            1 + (payload_len - first_chunk).div_ceil(rest_chunk)
        };
        Ok(Fragmenter {
            frame,
            l2_len,
            header,
            header_len,
            rest_header,
            rest_header_len,
            payload_len,
            first_chunk: if count == 1 { payload_len } else { first_chunk },
            rest_chunk,
            count,
            offset,
            more: ip.more_frags(),
        })
    }

    /// Number of fragments (1 when the datagram already fits the MTU).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Data bytes of the datagram (after its header).
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    /// Position and length of fragment `index`'s data within the datagram's data.
    fn data_range(&self, index: usize) -> (usize, usize) {
        let start = match index {
            0 => 0,
            i => self.first_chunk + (i - 1) * self.rest_chunk,
        };
        let chunk = if index == 0 {
            self.first_chunk
        } else {
            self.rest_chunk
        };
        (start, chunk.min(self.payload_len.saturating_sub(start)))
    }

    fn header_of(&self, index: usize) -> &[u8] {
        if index == 0 {
            &self.header[..self.header_len]
        } else {
            &self.rest_header[..self.rest_header_len]
        }
    }

    /// Length in bytes of fragment `index` (link-layer header included), if it exists.
    pub fn fragment_len(&self, index: usize) -> Option<usize> {
        (index < self.count)
            .then(|| self.l2_len + self.header_of(index).len() + self.data_range(index).1)
    }

    /// Length of the longest fragment: a buffer this long fits every fragment.
    pub fn max_fragment_len(&self) -> usize {
        (0..self.count.min(2))
            .filter_map(|i| self.fragment_len(i))
            .max()
            .unwrap_or(0)
    }

    /// Write fragment `index` to the start of `out`; return its length. Errors:
    /// `NoSuchFragment`, `BufferTooSmall`.
    pub fn write_fragment(&self, index: usize, out: &mut [u8]) -> Result<usize, FragmentError> {
        if index >= self.count {
            return Err(FragmentError::NoSuchFragment);
        }
        let header = self.header_of(index);
        let (start, len) = self.data_range(index);
        let total = self.l2_len + header.len() + len;
        let out = out.get_mut(..total).ok_or(FragmentError::BufferTooSmall)?;
        let (l2, l3) = out.split_at_mut(self.l2_len);
        l2.copy_from_slice(&self.frame[..self.l2_len]);
        let (ip_hdr, data) = l3.split_at_mut(header.len());
        ip_hdr.copy_from_slice(header);
        let from = self.l2_len + self.header_len + start;
        // In bounds: new() checked the frame holds the whole datagram.
        let src = self
            .frame
            .get(from..from + len)
            .ok_or(FragmentError::Truncated)?;
        data.copy_from_slice(src);

        // Flags and offset: the reserved bit kept; DF only if the datagram fitted (it is
        // clear otherwise); MF on all but the last, and on the last if the original had
        // it; the offset is the original's plus this fragment's position, in 8-byte
        // units (new() checked it fits 13 bits; both terms are multiples of 8).
        let reserved_df = if self.count == 1 {
            0x8000 | FLAG_DF
        } else {
            0x8000
        };
        let mut word = be16(header, 6).unwrap_or(0) & reserved_df;
        if index + 1 < self.count || self.more {
            word |= FLAG_MF;
        }
        word |= ((self.offset + start) / 8) as u16 & OFFSET_MASK;
        ip_hdr[6..8].copy_from_slice(&word.to_be_bytes());
        let mut ip = Ipv4Packet::new_unchecked(ip_hdr);
        // At most the original total length, which fitted in 16 bits.
        ip.set_total_len((header.len() + len) as u16);
        ip.fill_checksum();
        Ok(total)
    }
}

/// Fragment the datagram in `frame` (a whole Ethernet frame) to `mtu`, writing each
/// fragment into `scratch` and handing it to `emit`; return the number of fragments.
///
/// Everything is validated before the first `emit`: on error nothing was emitted. Errors
/// as [`Fragmenter::new`], and `BufferTooSmall` if `scratch` is shorter than
/// [`Fragmenter::max_fragment_len`] (`mtu` + the link-layer header always suffices).
pub fn fragment(
    frame: &[u8],
    mtu: u16,
    scratch: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, FragmentError> {
    let f = Fragmenter::new(frame, mtu)?;
    if scratch.len() < f.max_fragment_len() {
        return Err(FragmentError::BufferTooSmall);
    }
    for i in 0..f.count() {
        let n = f.write_fragment(i, scratch)?;
        emit(&scratch[..n]);
    }
    Ok(f.count())
}
