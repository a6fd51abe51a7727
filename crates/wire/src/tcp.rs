//! TCP header (RFC 9293 section 3.1, which obsoletes RFC 793).
//!
//! [`TcpPacket`] views one segment: the whole IPv4 payload, header and data. TCP has no
//! length field, so the segment ends where the buffer ends: slice the buffer to the IPv4
//! payload (`Ipv4Packet::payload`) before wrapping it. `check_len` validates that the
//! buffer holds the fixed header and that the data offset lies between 20 and the buffer
//! length, so no accessor (`options()`, `payload()` included) panics afterwards, whatever
//! the bytes are.
//!
//! hvrouter does not terminate TCP; it reads and rewrites headers when it completes guest
//! checksums and segments guest GSO super-frames (see `hvrouter_core::offload`).

use crate::checksum;
use crate::{Error, Ipv4Addr, Result};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    /// Data offset (high 4 bits) and reserved bits.
    pub const DATA_OFF: usize = 12;
    /// CWR ECE URG ACK PSH RST SYN FIN, high bit first.
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::URGENT.end;

/// Longest TCP header: data offset 15 (RFC 9293 section 3.1).
pub const MAX_HEADER_LEN: usize = 60;

/// IP protocol number of TCP, for the pseudo-header.
const PROTO_TCP: u8 = 6;

/// Control bits: byte 13 of the header (RFC 9293 section 3.1; CWR and ECE from RFC 3168
/// section 6.1). Combine with `|` for [`TcpPacket::set_flags`].
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN-Echo (RFC 3168).
    pub const ECE: u8 = 0x40;
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: u8 = 0x80;
}

/// A zero-copy view of a TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl TcpPacket<&[u8]> {
    /// Length of a TCP header without options (20). Also [`HEADER_LEN`] at module level.
    pub const HEADER_LEN: usize = HEADER_LEN;
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap a buffer without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wrap a buffer and [`check_len`](Self::check_len) it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Buffer shorter than 20 -> `Truncated`; data offset below 5 words -> `Malformed`;
    /// header (data offset) longer than the buffer -> `Truncated`.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let buf_len = self.buffer.as_ref().len();
        if buf_len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > buf_len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn read_u16(&self, r: core::ops::Range<usize>) -> u16 {
        let d = &self.buffer.as_ref()[r];
        u16::from_be_bytes([d[0], d[1]])
    }

    #[inline]
    fn read_u32(&self, r: core::ops::Range<usize>) -> u32 {
        let d = &self.buffer.as_ref()[r];
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.read_u16(field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.read_u16(field::DST_PORT)
    }

    /// Sequence number (compare with wrapping arithmetic, RFC 9293 section 3.4).
    #[inline]
    pub fn seq_number(&self) -> u32 {
        self.read_u32(field::SEQ_NUM)
    }

    /// Acknowledgment number (meaningful when ACK is set).
    #[inline]
    pub fn ack_number(&self) -> u32 {
        self.read_u32(field::ACK_NUM)
    }

    /// Header length in bytes: data offset * 4, options included.
    #[inline]
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The eight control bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    #[inline]
    fn flag(&self, bit: u8) -> bool {
        self.flags() & bit != 0
    }

    /// FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flag(flags::FIN)
    }

    /// SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flag(flags::SYN)
    }

    /// RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flag(flags::RST)
    }

    /// PSH flag.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flag(flags::PSH)
    }

    /// ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flag(flags::ACK)
    }

    /// URG flag.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flag(flags::URG)
    }

    /// ECE flag (RFC 3168).
    #[inline]
    pub fn ece(&self) -> bool {
        self.flag(flags::ECE)
    }

    /// CWR flag (RFC 3168).
    #[inline]
    pub fn cwr(&self) -> bool {
        self.flag(flags::CWR)
    }

    /// Window size.
    #[inline]
    pub fn window_len(&self) -> u16 {
        self.read_u16(field::WINDOW)
    }

    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Urgent pointer (meaningful when URG is set).
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        self.read_u16(field::URGENT)
    }

    /// Options: bytes 20..header_len (empty without options), not parsed.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// Data: bytes header_len..end of buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..]
    }

    /// One's-complement sum over pseudo-header and the whole buffer (RFC 9293 section
    /// 3.1: the checksum covers the pseudo-header, the header and the data).
    #[inline]
    fn sum(&self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) -> u16 {
        let data = self.buffer.as_ref();
        // An IPv4 payload is at most 65515 bytes, far below u32::MAX.
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        checksum::combine(&[
            checksum::pseudo_header(src_addr, dst_addr, PROTO_TCP, len),
            checksum::data(data),
        ])
    }

    /// True if the checksum verifies over pseudo-header, header and data.
    #[inline]
    pub fn verify_checksum(&self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) -> bool {
        self.sum(src_addr, dst_addr) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    #[inline]
    fn write_u16(&mut self, r: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes())
    }

    #[inline]
    fn write_u32(&mut self, r: core::ops::Range<usize>, value: u32) {
        self.buffer.as_mut()[r].copy_from_slice(&value.to_be_bytes())
    }

    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        self.write_u16(field::SRC_PORT, value)
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        self.write_u16(field::DST_PORT, value)
    }

    /// Set the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, value: u32) {
        self.write_u32(field::SEQ_NUM, value)
    }

    /// Set the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, value: u32) {
        self.write_u32(field::ACK_NUM, value)
    }

    /// Set the header length in bytes (a multiple of 4, at most 60). Reserved bits are kept.
    #[inline]
    pub fn set_header_len(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::DATA_OFF];
        *b = (*b & 0x0f) | (((value / 4) & 0x0f) << 4);
    }

    /// Set all eight control bits (see [`flags`]).
    #[inline]
    pub fn set_flags(&mut self, value: u8) {
        self.buffer.as_mut()[field::FLAGS] = value
    }

    #[inline]
    fn set_flag(&mut self, bit: u8, on: bool) {
        let v = self.flags();
        self.set_flags(if on { v | bit } else { v & !bit })
    }

    /// Set or clear FIN.
    #[inline]
    pub fn set_fin(&mut self, value: bool) {
        self.set_flag(flags::FIN, value)
    }

    /// Set or clear SYN.
    #[inline]
    pub fn set_syn(&mut self, value: bool) {
        self.set_flag(flags::SYN, value)
    }

    /// Set or clear RST.
    #[inline]
    pub fn set_rst(&mut self, value: bool) {
        self.set_flag(flags::RST, value)
    }

    /// Set or clear PSH.
    #[inline]
    pub fn set_psh(&mut self, value: bool) {
        self.set_flag(flags::PSH, value)
    }

    /// Set or clear ACK.
    #[inline]
    pub fn set_ack(&mut self, value: bool) {
        self.set_flag(flags::ACK, value)
    }

    /// Set or clear URG.
    #[inline]
    pub fn set_urg(&mut self, value: bool) {
        self.set_flag(flags::URG, value)
    }

    /// Set or clear ECE.
    #[inline]
    pub fn set_ece(&mut self, value: bool) {
        self.set_flag(flags::ECE, value)
    }

    /// Set or clear CWR.
    #[inline]
    pub fn set_cwr(&mut self, value: bool) {
        self.set_flag(flags::CWR, value)
    }

    /// Set the window size.
    #[inline]
    pub fn set_window_len(&mut self, value: u16) {
        self.write_u16(field::WINDOW, value)
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value)
    }

    /// Set the urgent pointer.
    #[inline]
    pub fn set_urgent_at(&mut self, value: u16) {
        self.write_u16(field::URGENT, value)
    }

    /// Options (20..header_len), mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.header_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Data (header_len..end of buffer), mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = usize::from(self.header_len());
        &mut self.buffer.as_mut()[start..]
    }

    /// Compute and store the checksum over pseudo-header, header and data (the whole
    /// buffer). Unlike UDP, TCP has no "no checksum" value: a computed 0 is stored as 0.
    #[inline]
    pub fn fill_checksum(&mut self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        self.set_checksum(0);
        let sum = self.sum(src_addr, dst_addr);
        self.set_checksum(!sum)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);

    /// A SYN-ACK with an MSS option (4 bytes) and two data bytes, checksum filled by hand
    /// below: 28-byte header + "hi".
    fn segment() -> [u8; 30] {
        [
            0x30, 0x39, // src port 12345
            0x00, 0x50, // dst port 80
            0x01, 0x02, 0x03, 0x04, // seq
            0xa0, 0xb0, 0xc0, 0xd0, // ack
            0x70, 0x12, // data offset 7 (28 bytes), SYN|ACK
            0xfa, 0xf0, // window 64240
            0x00, 0x00, // checksum (filled in tests)
            0x00, 0x00, // urgent
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
            0x01, 0x01, 0x01, 0x00, // NOP NOP NOP EOL
            b'h', b'i',
        ]
    }

    /// RFC 1071 reference sum, 16 bits at a time.
    fn reference_checksum(seg: &[u8]) -> u16 {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&SRC.octets());
        bytes.extend_from_slice(&DST.octets());
        bytes.extend_from_slice(&[0, 6]);
        bytes.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        bytes.extend_from_slice(seg);
        let mut acc: u32 = 0;
        for c in bytes.chunks(2) {
            acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn getters_read_fixed_bytes() {
        let bytes = segment();
        let p = TcpPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.src_port(), 12345);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 0x0102_0304);
        assert_eq!(p.ack_number(), 0xa0b0_c0d0);
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.flags(), flags::SYN | flags::ACK);
        assert!(p.syn() && p.ack());
        assert!(!p.fin() && !p.rst() && !p.psh() && !p.urg() && !p.ece() && !p.cwr());
        assert_eq!(p.window_len(), 64240);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options(), &[0x02, 0x04, 0x05, 0xb4, 1, 1, 1, 0]);
        assert_eq!(p.payload(), b"hi");
    }

    #[test]
    fn setters_write_fixed_bytes() {
        let mut bytes = [0u8; 30];
        let mut p = TcpPacket::new_unchecked(&mut bytes[..]);
        p.set_src_port(12345);
        p.set_dst_port(80);
        p.set_seq_number(0x0102_0304);
        p.set_ack_number(0xa0b0_c0d0);
        p.set_header_len(28);
        p.set_syn(true);
        p.set_ack(true);
        p.set_window_len(64240);
        p.set_urgent_at(0);
        p.options_mut()
            .copy_from_slice(&[0x02, 0x04, 0x05, 0xb4, 1, 1, 1, 0]);
        p.payload_mut().copy_from_slice(b"hi");
        assert_eq!(bytes, segment());
    }

    #[test]
    fn every_flag_has_its_bit() {
        type Get = fn(&TcpPacket<&mut [u8]>) -> bool;
        type Set = fn(&mut TcpPacket<&mut [u8]>, bool);
        let cases: [(u8, Get, Set); 8] = [
            (flags::FIN, |p| p.fin(), |p, v| p.set_fin(v)),
            (flags::SYN, |p| p.syn(), |p, v| p.set_syn(v)),
            (flags::RST, |p| p.rst(), |p, v| p.set_rst(v)),
            (flags::PSH, |p| p.psh(), |p, v| p.set_psh(v)),
            (flags::ACK, |p| p.ack(), |p, v| p.set_ack(v)),
            (flags::URG, |p| p.urg(), |p, v| p.set_urg(v)),
            (flags::ECE, |p| p.ece(), |p, v| p.set_ece(v)),
            (flags::CWR, |p| p.cwr(), |p, v| p.set_cwr(v)),
        ];
        for (bit, get, set) in cases {
            let mut bytes = [0u8; 20];
            bytes[12] = 0x51; // data offset 5, reserved/NS bit set: must survive
            let mut p = TcpPacket::new_unchecked(&mut bytes[..]);
            set(&mut p, true);
            assert!(get(&p));
            assert_eq!(p.flags(), bit);
            p.set_flags(0xff);
            set(&mut p, false);
            assert!(!get(&p));
            assert_eq!(p.flags(), !bit);
            assert_eq!(bytes[12], 0x51);
        }
    }

    #[test]
    fn checksum_matches_reference_and_verifies() {
        let mut bytes = segment();
        let mut p = TcpPacket::new_checked(&mut bytes[..]).unwrap();
        p.fill_checksum(SRC, DST);
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, Ipv4Addr::new(198, 51, 100, 21)));
        let ck = p.checksum();
        let mut zeroed = segment();
        zeroed[16] = 0;
        zeroed[17] = 0;
        assert_eq!(ck, reference_checksum(&zeroed));
        // Computed independently (Python, RFC 1071 by the book).
        assert_eq!(ck, 0xa052);
        assert_eq!(&bytes[16..18], &[0xa0, 0x52]);
        // Odd length: drop the last data byte.
        let mut odd = [0u8; 29];
        odd.copy_from_slice(&segment()[..29]);
        let mut p = TcpPacket::new_checked(&mut odd[..]).unwrap();
        p.fill_checksum(SRC, DST);
        assert!(p.verify_checksum(SRC, DST));
        let ck = p.checksum();
        let mut z = odd;
        z[16] = 0;
        z[17] = 0;
        assert_eq!(ck, reference_checksum(&z));
        // Any flipped bit fails.
        odd[28] ^= 0x40;
        assert!(!TcpPacket::new_unchecked(&odd[..]).verify_checksum(SRC, DST));
    }

    #[test]
    fn check_len_errors() {
        let bytes = segment();
        for len in 0..HEADER_LEN {
            assert_eq!(
                TcpPacket::new_checked(&bytes[..len]).unwrap_err(),
                Error::Truncated
            );
        }
        // Header claims 28 bytes: 20..27 are truncated, 28 is a header with no data.
        for len in HEADER_LEN..28 {
            assert_eq!(
                TcpPacket::new_checked(&bytes[..len]).unwrap_err(),
                Error::Truncated
            );
        }
        let p = TcpPacket::new_checked(&bytes[..28]).unwrap();
        assert!(p.payload().is_empty());
        for off in 0..5u8 {
            let mut b = segment();
            b[12] = off << 4;
            assert_eq!(
                TcpPacket::new_checked(&b[..]).unwrap_err(),
                Error::Malformed
            );
        }
        let mut b = [0u8; 60];
        b[12] = 0xf0;
        assert_eq!(TcpPacket::new_checked(&b[..]).unwrap().header_len(), 60);
        assert_eq!(
            TcpPacket::new_checked(&b[..59]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn no_accessor_panics_after_check_len() {
        let mut x: u32 = 0x2545_f491;
        let mut buf = [0u8; 80];
        for round in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            let len = round % buf.len();
            let Ok(mut p) = TcpPacket::new_checked(&mut buf[..len]) else {
                continue;
            };
            let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
            let _ = (p.flags(), p.window_len(), p.checksum(), p.urgent_at());
            let _ = (
                p.options().len(),
                p.payload().len(),
                p.verify_checksum(SRC, DST),
            );
            assert_eq!(
                usize::from(p.header_len()) + p.payload().len(),
                p.as_ref().len()
            );
            p.options_mut();
            p.payload_mut();
            p.fill_checksum(SRC, DST);
            assert!(p.verify_checksum(SRC, DST));
        }
    }
}
