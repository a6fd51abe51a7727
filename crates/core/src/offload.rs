//! Guest offloads done in software: completing partial TCP/UDP checksums and segmenting
//! TCP GSO super-frames to the egress MTU.
//!
//! # Why
//! A guest behind a veth or a tap hands the kernel TCP/UDP frames with `CHECKSUM_PARTIAL`:
//! the checksum field holds only the pseudo-header sum (not inverted) and the NIC is meant
//! to finish it. AF_XDP hands such frames over with no flag saying so; forwarded as they
//! are, the receiver drops them and TCP cannot even connect. A QEMU/vhost-net guest also
//! sends TCP "super-frames" of up to 64 KB (TSO through the virtio-net header, whose
//! `gso_size` AF_XDP does not pass on), and a veth guest in generic XDP mode up to ~7 KB.
//! Such a frame must be cut into MTU-sized segments, as Linux's software GSO
//! (`tcp_gso_segment`, `inet_gso_segment`) would have done.
//!
//! # Checksum policy
//! [`complete_l4_checksum`] always recomputes the checksum of an unfragmented TCP or UDP
//! datagram. Nothing in the frame says whether its checksum is partial or complete, and
//! verifying costs the same pass over the data as recomputing, so there is nothing to save
//! by checking first. Guessing "partial" from `checksum == pseudo-header sum` was rejected:
//! it depends on how each guest OS fills the field (Windows LSO leaves the length out of
//! the pseudo-header, for one). Recomputing also gives a valid checksum to a guest segment
//! whose checksum was genuinely wrong; that is harmless, the bytes never crossed a wire
//! between the guest's stack and us, and the guest can only affect its own traffic.
//!
//! Apply it to traffic *from guests* only. Frames that arrived from a physical uplink
//! carry checksums computed by a remote host: recomputing them would hide corruption on
//! the way, which is what the end-to-end checksum exists to catch (RFC 9293 section 3.1,
//! RFC 1122 section 4.1.3.4). Only a lab uplink that is itself a veth needs it too.
//!
//! Fragments are left alone: a stack checksums in software before it fragments. UDP with
//! checksum 0 ("none", RFC 768) stays 0; a partial UDP checksum is never 0, since the
//! pseudo-header sum includes the non-zero protocol number.
//!
//! # Cost
//! One pass of [`wire::checksum::data`] over the L4 segment plus a few header reads; no
//! allocation. Measured on this project's 2-vCPU machine (kernel 6.18, release build, a
//! throwaway loop over one buffer, so caches are warm): about 150-165 ns per 1500-byte
//! TCP datagram (~9-10 GB/s, of which `checksum::data` over 1480 bytes is ~135 ns) and
//! ~14 ns per 60-byte frame. AF_XDP copy mode on veth/tap costs ~1.3-1.6 µs per frame
//! here, so completion adds about 10 % at full-size frames. Segmenting costs about the
//! same per output segment (one copy plus one checksum pass): ~210 ns per 1514-byte
//! segment, ~9.6 µs per 64 KB super-frame (45 segments).
//!
//! # Segmentation
//! [`TcpSegmenter`] validates a super-frame once and then writes segment `i` into any
//! buffer the caller hands it (for instance a UMEM chunk, so the payload is copied once).
//! The input may be one slice or the descriptors of an AF_XDP multi-buffer frame
//! ([`TcpSegmenter::new_scattered`]). [`segment_tcp`] is the simple form: it writes each
//! segment into one reusable scratch buffer and passes it to a closure. Nothing allocates.
//!
//! Every segment is a copy of the super-frame's Ethernet, IPv4 (options included) and TCP
//! (options included) headers followed by at most `MSS = mtu - ip_header - tcp_header`
//! bytes of data, with, as Linux `tcp_gso_segment` / `inet_gso_segment` do:
//! - IPv4 total length set, identification incremented by one per segment (wrapping), the
//!   header checksum recomputed; DF and everything else copied. Segmenting is not
//!   fragmenting: each segment is a whole datagram, so DF does not forbid it.
//! - TCP sequence number advanced by the data offset of the segment; FIN and PSH kept on
//!   the last segment only, CWR on the first only (RFC 3168 section 6.1.2: CWR marks the
//!   first new data after the window was reduced); other flags, the window, the urgent
//!   pointer and the options copied; the checksum computed in full, whatever the
//!   super-frame's checksum field held.
//!
//! `mtu` is the largest IP datagram a segment may be. The guest's own segment size
//! (`gso_size`) is not visible, so segments can be larger than the guest meant: larger
//! than an MSS below `mtu - 40` that the receiver announced (RFC 9293 section 3.7.1), or
//! than a path MTU the guest learned (RFC 1191). Most receivers accept larger segments,
//! but a caller that knows a smaller limit for the destination should pass it as `mtu`.
//!
//! # In the pipeline
//! For a frame from a guest, after IPv4 validation, anti-spoofing and the route lookup: a
//! TCP datagram larger than the egress MTU leaves whole toward a port that takes GSO
//! sends ([`gso`]: the dataplane sends it with a virtio-net header, the device segments
//! it and completes the checksum) and is segmented here toward any other port (each
//! segment leaves complete, no separate completion needed); anything else is completed
//! in place and forwarded. An oversized non-TCP datagram takes the normal MTU path
//! (fragmented if DF is clear, an ICMP fragmentation-needed error if DF is set). Toward a
//! port that takes GSO, MTU-size segments of one flow are coalesced again ([`gro`]).
//! Errors are counted by [`OffloadError::name`].
//!
//! Measured (scripts/bench/tcp.sh, results/tcp.md, 1 and 4 streams): forwarding a
//! super-frame whole instead of cutting it here took tap guest -> gateway TCP from
//! 0.69x/0.24x to 1.35x/0.61x of the kernel setup in the same run, and coalescing took
//! gateway -> tap guest from 0.92x/1.10x to 1.99x/2.42x; what is left is mostly the
//! copies copy-mode AF_XDP makes (results/tcp-analysis.md).
//!
//! Headers are copied as they are in the super-frame: rewrite the MACs and decrement the
//! TTL on the super-frame before segmenting (the IPv4 header checksum must verify), or on
//! every segment after.

pub mod gro;
pub mod gso;

use wire::tcp::{self, flags};
use wire::{Ipv4Addr, Ipv4Packet, Protocol, TcpPacket, UdpPacket};

/// Why a frame could not be completed or segmented. Small and `Copy` for the packet path;
/// the caller counts it under a drop reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum OffloadError {
    /// A header, or the length an IPv4/UDP/TCP length field claims, reaches past the end
    /// of the frame (e.g. IPv4 total length larger than what was received).
    #[error("truncated: a header or a length field reaches past the end of the frame")]
    Truncated,
    /// A header field has a value its format does not allow (IPv4 version or header
    /// length, total length below the header, TCP data offset below 5, UDP length below 8).
    #[error("malformed IPv4, TCP or UDP header")]
    Malformed,
    /// Segmentation only: the frame is not Ethernet II (optionally one 802.1Q tag) + IPv4.
    #[error("not an IPv4 frame")]
    NotIpv4,
    /// Segmentation only: not TCP. UDP GSO (UFO) is out of scope; an oversized non-TCP
    /// datagram goes through the normal MTU check (fragmented, or fragmentation needed).
    #[error("not TCP: only TCP super-frames are segmented")]
    NotTcp,
    /// Segmentation only: an IPv4 fragment (a super-frame is never fragmented).
    #[error("IPv4 fragment cannot be segmented")]
    Fragment,
    /// Segmentation only: the IPv4 header checksum does not verify (RFC 1812 5.2.2); it
    /// would be recomputed on every segment, so it is checked first.
    #[error("IPv4 header checksum does not verify")]
    Ipv4Checksum,
    /// Segmentation only: the MTU leaves no room for TCP data after the headers.
    #[error("MTU too small for the headers")]
    MtuTooSmall,
    /// The output buffer is shorter than the segment.
    #[error("output buffer too small for a segment")]
    BufferTooSmall,
    /// Segment index at or past [`TcpSegmenter::count`].
    #[error("no such segment")]
    NoSuchSegment,
}

impl OffloadError {
    /// Stable snake_case name, for counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            OffloadError::Truncated => "truncated",
            OffloadError::Malformed => "malformed",
            OffloadError::NotIpv4 => "not_ipv4",
            OffloadError::NotTcp => "not_tcp",
            OffloadError::Fragment => "fragment",
            OffloadError::Ipv4Checksum => "ipv4_checksum",
            OffloadError::MtuTooSmall => "mtu_too_small",
            OffloadError::BufferTooSmall => "buffer_too_small",
            OffloadError::NoSuchSegment => "no_such_segment",
        }
    }
}

#[inline]
fn from_wire(e: wire::Error) -> OffloadError {
    match e {
        wire::Error::Truncated => OffloadError::Truncated,
        _ => OffloadError::Malformed,
    }
}

/// What [`complete_l4_checksum`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumFix {
    /// The TCP or UDP checksum was recomputed and stored. `changed` is true when the
    /// stored value differs from what was there (a partial checksum, or a wrong one).
    Completed {
        /// The checksum field changed.
        changed: bool,
    },
    /// UDP without a checksum (0): left as 0 (RFC 768).
    UdpNoChecksum,
    /// An IPv4 fragment: not touched.
    Fragment,
    /// Neither TCP nor UDP: nothing to complete.
    OtherProtocol,
}

/// Recompute the TCP or UDP checksum of an IPv4 datagram from a guest, in place.
///
/// `ip_packet` starts at the IPv4 header and may extend past the total length (Ethernet
/// padding, which is not covered). The IPv4 header checksum is neither checked nor
/// changed: validate the header first (RFC 1812 section 5.2.2). See the module docs for
/// the policy. Errors: lengths that reach past the buffer -> `Truncated`; a bad version,
/// IHL, total length, TCP data offset or UDP length -> `Malformed`.
pub fn complete_l4_checksum(ip_packet: &mut [u8]) -> Result<ChecksumFix, OffloadError> {
    let ip = Ipv4Packet::new_checked(&*ip_packet).map_err(from_wire)?;
    if ip.version() != 4 {
        return Err(OffloadError::Malformed);
    }
    if ip.is_fragment() {
        return Ok(ChecksumFix::Fragment);
    }
    let (src, dst, protocol) = (ip.src_addr(), ip.dst_addr(), ip.protocol());
    let (start, end) = (usize::from(ip.header_len()), usize::from(ip.total_len()));
    // In bounds: check_len guaranteed header_len <= total_len <= buffer length.
    let l4 = &mut ip_packet[start..end];
    match protocol {
        Protocol::Tcp => {
            let mut tcp = TcpPacket::new_checked(l4).map_err(from_wire)?;
            let old = tcp.checksum();
            tcp.fill_checksum(src, dst);
            Ok(ChecksumFix::Completed {
                changed: tcp.checksum() != old,
            })
        }
        Protocol::Udp => {
            let mut udp = UdpPacket::new_checked(l4).map_err(from_wire)?;
            let old = udp.checksum();
            if old == 0 {
                return Ok(ChecksumFix::UdpNoChecksum);
            }
            // Covers bytes 0..UDP length; a computed 0 is stored as 0xffff (RFC 768).
            udp.fill_checksum(src, dst);
            Ok(ChecksumFix::Completed {
                changed: udp.checksum() != old,
            })
        }
        _ => Ok(ChecksumFix::OtherProtocol),
    }
}

const ETH_HEADER: usize = 14;
const VLAN_TAG: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
/// Ethernet + one 802.1Q tag + the longest IPv4 header + the longest TCP header.
const MAX_HEADERS: usize = ETH_HEADER + VLAN_TAG + 60 + tcp::MAX_HEADER_LEN;

/// The bytes of a frame: one slice, or the buffers of a multi-buffer frame in order.
#[derive(Clone, Copy, Debug)]
enum Source<'a> {
    One(&'a [u8]),
    Many(&'a [&'a [u8]]),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::One(b) => b.len(),
            Source::Many(pieces) => pieces.iter().map(|p| p.len()).sum(),
        }
    }

    /// Copy bytes `offset..offset + out.len()` of the frame into `out`. False (with `out`
    /// partly written) if the frame is shorter.
    fn gather(&self, offset: usize, out: &mut [u8]) -> bool {
        match self {
            Source::One(b) => match b.get(offset..offset + out.len()) {
                Some(src) => {
                    out.copy_from_slice(src);
                    true
                }
                None => false,
            },
            Source::Many(pieces) => {
                let (mut skip, mut out) = (offset, out);
                for piece in pieces.iter() {
                    if out.is_empty() {
                        break;
                    }
                    if skip >= piece.len() {
                        skip -= piece.len();
                        continue;
                    }
                    let n = (piece.len() - skip).min(out.len());
                    let (head, rest) = out.split_at_mut(n);
                    head.copy_from_slice(&piece[skip..skip + n]);
                    out = rest;
                    skip = 0;
                }
                out.is_empty()
            }
        }
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The headers of a validated TCP frame ([`TcpSegmenter::layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLayout {
    /// Ethernet header length (18 with an 802.1Q tag).
    pub l2_len: usize,
    /// IPv4 header length.
    pub ip_header_len: usize,
    /// Offset of the TCP header.
    pub tcp_at: usize,
    /// Ethernet, IPv4 and TCP headers together.
    pub headers_len: usize,
    /// IPv4 total length.
    pub ip_total_len: usize,
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// TCP flags.
    pub flags: u8,
}

/// A validated TCP super-frame, ready to be written out segment by segment. See the module
/// docs for what each segment looks like.
#[derive(Clone, Debug)]
pub struct TcpSegmenter<'a> {
    source: Source<'a>,
    /// Ethernet (+ tag), IPv4 and TCP headers of the super-frame, `headers_len` bytes used.
    headers: [u8; MAX_HEADERS],
    l2_len: usize,
    ip_header_len: usize,
    headers_len: usize,
    payload_len: usize,
    mss: usize,
    count: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    seq: u32,
    flags: u8,
}

impl<'a> TcpSegmenter<'a> {
    /// Validate a whole Ethernet frame carrying IPv4/TCP for segmentation to `mtu`.
    ///
    /// Errors: `Truncated` / `Malformed` (header and length checks), `NotIpv4`, `NotTcp`,
    /// `Fragment`, `Ipv4Checksum`, `MtuTooSmall`. A frame that already fits gives one
    /// segment, equal to the frame with its checksums completed and padding dropped.
    pub fn new(frame: &'a [u8], mtu: u16) -> Result<TcpSegmenter<'a>, OffloadError> {
        Self::parse(Source::One(frame), mtu)
    }

    /// As [`new`](Self::new), for a frame received as several buffers (AF_XDP multi-buffer
    /// descriptors, in order). Headers may straddle buffers.
    pub fn new_scattered(
        pieces: &'a [&'a [u8]],
        mtu: u16,
    ) -> Result<TcpSegmenter<'a>, OffloadError> {
        Self::parse(Source::Many(pieces), mtu)
    }

    fn parse(source: Source<'a>, mtu: u16) -> Result<TcpSegmenter<'a>, OffloadError> {
        use OffloadError::*;
        let frame_len = source.len();
        let mut headers = [0u8; MAX_HEADERS];
        let have = frame_len.min(MAX_HEADERS);
        if !source.gather(0, &mut headers[..have]) {
            return Err(Truncated);
        }
        let h = &headers[..have];
        let (l2_len, ethertype) = match be16(h, 12).ok_or(Truncated)? {
            ETHERTYPE_VLAN => (ETH_HEADER + VLAN_TAG, be16(h, 16).ok_or(Truncated)?),
            other => (ETH_HEADER, other),
        };
        if ethertype != ETHERTYPE_IPV4 {
            return Err(NotIpv4);
        }
        // Once it is known to hold 20 bytes, every fixed-offset accessor is in bounds.
        let ip_bytes = h.get(l2_len..).filter(|b| b.len() >= 20).ok_or(Truncated)?;
        let ip = Ipv4Packet::new_unchecked(ip_bytes);
        let ip_header_len = usize::from(ip.header_len());
        let total_len = usize::from(ip.total_len());
        if ip.version() != 4 || ip_header_len < 20 || total_len < ip_header_len {
            return Err(Malformed);
        }
        if l2_len + total_len > frame_len {
            return Err(Truncated);
        }
        // In bounds: l2 + IHL*4 <= 18 + 60 fits `headers`, and the frame holds total_len.
        if !ip.verify_checksum() {
            return Err(Ipv4Checksum);
        }
        if ip.is_fragment() {
            return Err(Fragment);
        }
        if ip.protocol() != Protocol::Tcp {
            return Err(NotTcp);
        }
        let l4_len = total_len - ip_header_len;
        let tcp_at = l2_len + ip_header_len;
        if l4_len < tcp::HEADER_LEN {
            return Err(Truncated);
        }
        // tcp_at + 20 <= 98 <= MAX_HEADERS and <= l2_len + total_len <= frame_len.
        let tcp_bytes = h
            .get(tcp_at..)
            .filter(|b| b.len() >= tcp::HEADER_LEN)
            .ok_or(Truncated)?;
        let tcp_view = TcpPacket::new_unchecked(tcp_bytes);
        let tcp_header_len = usize::from(tcp_view.header_len());
        if tcp_header_len < tcp::HEADER_LEN {
            return Err(Malformed);
        }
        if tcp_header_len > l4_len {
            return Err(Truncated);
        }
        let overhead = ip_header_len + tcp_header_len;
        let mss = usize::from(mtu)
            .checked_sub(overhead)
            .filter(|&m| m > 0)
            .ok_or(MtuTooSmall)?;
        let payload_len = l4_len - tcp_header_len;
        let count = payload_len.div_ceil(mss).max(1);
        Ok(TcpSegmenter {
            source,
            l2_len,
            ip_header_len,
            headers_len: tcp_at + tcp_header_len,
            payload_len,
            mss,
            count,
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            ident: ip.ident(),
            seq: tcp_view.seq_number(),
            flags: tcp_view.flags(),
            headers,
        })
    }

    /// Where the super-frame's headers are, and what they say.
    pub fn layout(&self) -> TcpLayout {
        TcpLayout {
            l2_len: self.l2_len,
            ip_header_len: self.ip_header_len,
            tcp_at: self.l2_len + self.ip_header_len,
            headers_len: self.headers_len,
            ip_total_len: self.headers_len - self.l2_len + self.payload_len,
            src: self.src,
            dst: self.dst,
            flags: self.flags,
        }
    }

    /// Number of segments (at least 1; 1 when the frame already fits the MTU).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Largest TCP data per segment: `mtu - ip_header_len - tcp_header_len`.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// TCP data bytes of the super-frame.
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    /// Length in bytes of segment `index` (Ethernet header included), if it exists.
    pub fn segment_len(&self, index: usize) -> Option<usize> {
        (index < self.count).then(|| self.headers_len + self.data_range(index).1)
    }

    /// Length of the longest segment: a buffer this long fits every segment.
    pub fn max_segment_len(&self) -> usize {
        self.headers_len + self.mss.min(self.payload_len)
    }

    /// Offset and length of segment `index`'s data within the super-frame's TCP data.
    fn data_range(&self, index: usize) -> (usize, usize) {
        let start = index * self.mss;
        (start, self.mss.min(self.payload_len.saturating_sub(start)))
    }

    /// Write segment `index` to the start of `out`; return its length. Errors:
    /// `NoSuchSegment`, `BufferTooSmall`.
    pub fn write_segment(&self, index: usize, out: &mut [u8]) -> Result<usize, OffloadError> {
        if index >= self.count {
            return Err(OffloadError::NoSuchSegment);
        }
        let (start, len) = self.data_range(index);
        let total = self.headers_len + len;
        let out = out.get_mut(..total).ok_or(OffloadError::BufferTooSmall)?;
        let (hdr, data) = out.split_at_mut(self.headers_len);
        hdr.copy_from_slice(&self.headers[..self.headers_len]);
        if !self.source.gather(self.headers_len + start, data) {
            // Cannot happen: parse checked that the frame holds total_len bytes.
            return Err(OffloadError::Truncated);
        }

        let (_, l3) = out.split_at_mut(self.l2_len);
        let (ip_hdr, l4) = l3.split_at_mut(self.ip_header_len);
        let mut ip = Ipv4Packet::new_unchecked(ip_hdr);
        // At most the super-frame's total length, which fitted in 16 bits.
        ip.set_total_len((self.ip_header_len + l4.len()) as u16);
        // One more per segment, wrapping, as inet_gso_segment does (truncating `index`
        // to 16 bits is that same wrap).
        ip.set_ident(self.ident.wrapping_add(index as u16));
        ip.fill_checksum();

        let mut f = self.flags;
        if index + 1 != self.count {
            f &= !(flags::FIN | flags::PSH);
        }
        if index != 0 {
            f &= !flags::CWR;
        }
        let mut tcp = TcpPacket::new_unchecked(l4);
        // Sequence space wraps modulo 2^32 (RFC 9293 section 3.4); start < 2^16.
        tcp.set_seq_number(self.seq.wrapping_add(start as u32));
        tcp.set_flags(f);
        tcp.fill_checksum(self.src, self.dst);
        Ok(total)
    }
}

/// Segment the TCP super-frame `frame` (a whole Ethernet frame) to `mtu`, writing each
/// segment into `scratch` and handing it to `emit`; return the number of segments.
///
/// Everything is validated before the first `emit`: on error nothing was emitted. Errors
/// as [`TcpSegmenter::new`], and `BufferTooSmall` if `scratch` is shorter than
/// [`TcpSegmenter::max_segment_len`] (`mtu` + Ethernet header always suffices).
pub fn segment_tcp(
    frame: &[u8],
    mtu: u16,
    scratch: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, OffloadError> {
    let seg = TcpSegmenter::new(frame, mtu)?;
    if scratch.len() < seg.max_segment_len() {
        return Err(OffloadError::BufferTooSmall);
    }
    for i in 0..seg.count() {
        let n = seg.write_segment(i, scratch)?;
        emit(&scratch[..n]);
    }
    Ok(seg.count())
}
