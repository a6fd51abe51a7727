//! Guest offloads: checksum completion and TCP super-frame segmentation, byte for byte.
//!
//! Expected segments are built independently by [`Spec::frame`] (headers written field by
//! field, checksums computed from scratch) and compared with what the segmenter wrote.

#![allow(clippy::unwrap_used)]

use hvrouter_core::offload::{
    complete_l4_checksum, segment_tcp, ChecksumFix, OffloadError, TcpSegmenter,
};
use wire::checksum;
use wire::tcp::flags::{ACK, CWR, ECE, FIN, PSH, SYN, URG};
use wire::{Ipv4Addr, Ipv4Packet, TcpPacket, UdpPacket};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
const ETH: usize = 14;

/// Deterministic xorshift32.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// An Ethernet + IPv4 + TCP frame, described field by field.
#[derive(Clone)]
struct Spec {
    vlan: bool,
    ident: u16,
    ip_options: Vec<u8>,
    seq: u32,
    flags: u8,
    tcp_options: Vec<u8>,
    payload: Vec<u8>,
}

impl Spec {
    fn new(payload_len: usize) -> Spec {
        Spec {
            vlan: false,
            ident: 0x1234,
            ip_options: Vec::new(),
            seq: 0x0100_0000,
            flags: ACK,
            tcp_options: Vec::new(),
            payload: Rng(0x9e37_79b9).bytes(payload_len),
        }
    }

    fn l2_len(&self) -> usize {
        if self.vlan {
            18
        } else {
            ETH
        }
    }

    fn tcp_len(&self) -> usize {
        20 + self.tcp_options.len() + self.payload.len()
    }

    /// The frame with both checksums correct.
    fn frame(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
        if self.vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x5a]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let ihl = 20 + self.ip_options.len();
        let total = (ihl + self.tcp_len()) as u16;
        f.push(0x40 | (ihl / 4) as u8);
        f.push(0x02); // ECT(0)
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&self.ident.to_be_bytes());
        f.extend_from_slice(&[0x40, 0x00, 64, 6, 0, 0]); // DF, TTL 64, TCP, checksum 0
        f.extend_from_slice(&SRC.octets());
        f.extend_from_slice(&DST.octets());
        f.extend_from_slice(&self.ip_options);
        let ip_ck = !checksum::data(&f[self.l2_len()..]);
        let at = self.l2_len() + 10;
        f[at..at + 2].copy_from_slice(&ip_ck.to_be_bytes());

        let tcp_at = f.len();
        f.extend_from_slice(&[0xc0, 0x01, 0x1f, 0x90]); // 49153 -> 8080
        f.extend_from_slice(&self.seq.to_be_bytes());
        f.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        f.push((((20 + self.tcp_options.len()) / 4) as u8) << 4);
        f.push(self.flags);
        f.extend_from_slice(&[0x01, 0xf5, 0, 0, 0, 7]); // window 501, checksum 0, urgent 7
        f.extend_from_slice(&self.tcp_options);
        f.extend_from_slice(&self.payload);
        let sum = checksum::combine(&[
            checksum::pseudo_header(SRC, DST, 6, self.tcp_len() as u32),
            checksum::data(&f[tcp_at..]),
        ]);
        f[tcp_at + 16..tcp_at + 18].copy_from_slice(&(!sum).to_be_bytes());
        f
    }

    /// The frame as a guest hands it over with CHECKSUM_PARTIAL: the TCP checksum field
    /// holds the pseudo-header sum, not inverted.
    fn partial_frame(&self) -> Vec<u8> {
        let mut f = self.frame();
        let at = self.l2_len() + 20 + self.ip_options.len() + 16;
        let partial = checksum::pseudo_header(SRC, DST, 6, self.tcp_len() as u32);
        f[at..at + 2].copy_from_slice(&partial.to_be_bytes());
        f
    }
}

/// Timestamps option, as Linux sends on every data segment.
const TIMESTAMPS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];
/// Router Alert (RFC 2113), a real 4-byte IPv4 option.
const ROUTER_ALERT: [u8; 4] = [0x94, 0x04, 0x00, 0x00];

fn collect(frame: &[u8], mtu: u16) -> Result<Vec<Vec<u8>>, OffloadError> {
    let mut out = Vec::new();
    let mut scratch = [0u8; 9018 + 18];
    segment_tcp(frame, mtu, &mut scratch, |s| out.push(s.to_vec()))?;
    Ok(out)
}

/// The segments an independent reading of Linux tcp_gso_segment expects from `spec`.
fn expected_segments(spec: &Spec, mtu: u16) -> Vec<Vec<u8>> {
    let overhead = 20 + spec.ip_options.len() + 20 + spec.tcp_options.len();
    let mss = usize::from(mtu) - overhead;
    let chunks: Vec<&[u8]> = if spec.payload.is_empty() {
        vec![&[]]
    } else {
        spec.payload.chunks(mss).collect()
    };
    let n = chunks.len();
    let template = Spec {
        payload: Vec::new(),
        ..spec.clone()
    };
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut s = template.clone();
            s.payload = chunk.to_vec();
            s.ident = spec.ident.wrapping_add(i as u16);
            s.seq = spec.seq.wrapping_add((i * mss) as u32);
            if i + 1 != n {
                s.flags &= !(FIN | PSH);
            }
            if i != 0 {
                s.flags &= !CWR;
            }
            s.frame()
        })
        .collect()
}

/// Checks that hold for every segment of every valid super-frame.
fn check_invariants(segments: &[Vec<u8>], original_payload: &[u8], l2: usize, mtu: u16) {
    let mut data = Vec::new();
    let mut next_seq = None;
    for seg in segments {
        assert!(seg.len() <= l2 + usize::from(mtu), "{} > mtu", seg.len());
        let ip = Ipv4Packet::new_checked(&seg[l2..]).unwrap();
        assert_eq!(usize::from(ip.total_len()), seg.len() - l2);
        assert!(ip.verify_checksum());
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(tcp.verify_checksum(ip.src_addr(), ip.dst_addr()));
        if let Some(seq) = next_seq {
            assert_eq!(tcp.seq_number(), seq);
        }
        next_seq = Some(tcp.seq_number().wrapping_add(tcp.payload().len() as u32));
        data.extend_from_slice(tcp.payload());
    }
    assert_eq!(data, original_payload);
}

#[test]
fn super_frame_20k_partial_checksum_to_mtu_1500() {
    let mut spec = Spec::new(20 * 1024);
    spec.flags = ACK | PSH | FIN | CWR | ECE;
    let frame = spec.partial_frame();
    assert_eq!(frame.len(), ETH + 40 + 20480);
    let segs = collect(&frame, 1500).unwrap();
    assert_eq!(segs.len(), 20480usize.div_ceil(1460));
    assert_eq!(segs.len(), 15);
    check_invariants(&segs, &spec.payload, ETH, 1500);
    for (i, seg) in segs.iter().enumerate() {
        let expect_len = if i < 14 {
            1514
        } else {
            ETH + 40 + 20480 - 14 * 1460
        };
        assert_eq!(seg.len(), expect_len);
        let ip = Ipv4Packet::new_checked(&seg[ETH..]).unwrap();
        assert_eq!(ip.ident(), 0x1234 + i as u16);
        assert!(ip.dont_frag());
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.ecn(), 2);
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(tcp.seq_number(), 0x0100_0000 + (i * 1460) as u32);
        let expect_flags = match i {
            0 => ACK | ECE | CWR,
            14 => ACK | ECE | PSH | FIN,
            _ => ACK | ECE,
        };
        assert_eq!(tcp.flags(), expect_flags, "segment {i}");
        assert_eq!(&seg[..ETH], &frame[..ETH]);
        assert_eq!(
            (tcp.ack_number(), tcp.window_len(), tcp.urgent_at()),
            (0xdead_beef, 501, 7)
        );
    }
    assert_eq!(segs, expected_segments(&spec, 1500));
}

#[test]
fn options_vlan_and_wrapping_fields() {
    let mut spec = Spec::new(10_000);
    spec.vlan = true;
    spec.ip_options = ROUTER_ALERT.to_vec();
    spec.tcp_options = TIMESTAMPS.to_vec();
    spec.seq = 0xffff_f000; // wraps within the frame
    spec.ident = 0xfffe; // wraps after two segments
    spec.flags = ACK | PSH | URG;
    let frame = spec.partial_frame();
    let segs = collect(&frame, 1500).unwrap();
    let mss = 1500 - 24 - 32;
    assert_eq!(segs.len(), 10_000usize.div_ceil(mss));
    check_invariants(&segs, &spec.payload, 18, 1500);
    assert_eq!(segs, expected_segments(&spec, 1500));
    let seg = TcpSegmenter::new(&frame, 1500).unwrap();
    assert_eq!(
        (seg.mss(), seg.count(), seg.payload_len()),
        (mss, segs.len(), 10_000)
    );
    assert_eq!(seg.max_segment_len(), 18 + 1500);
}

#[test]
fn largest_super_frame_and_other_mtus() {
    let spec = Spec::new(65535 - 40);
    let frame = spec.partial_frame();
    for mtu in [68u16, 576, 1280, 1500, 9000] {
        let segs = collect(&frame, mtu).unwrap();
        assert_eq!(segs.len(), 65495usize.div_ceil(usize::from(mtu) - 40));
        check_invariants(&segs, &spec.payload, ETH, mtu);
        assert_eq!(segs, expected_segments(&spec, mtu), "mtu {mtu}");
    }
    // MSS of a single byte still works; no room for data at all does not.
    assert_eq!(collect(&Spec::new(3).frame(), 41).unwrap().len(), 3);
    assert_eq!(collect(&frame, 40), Err(OffloadError::MtuTooSmall));
}

#[test]
fn exactly_one_mss_and_one_more_byte() {
    let spec = Spec::new(1460);
    let partial = spec.partial_frame();
    let segs = collect(&partial, 1500).unwrap();
    assert_eq!(
        segs,
        vec![spec.frame()],
        "one segment: the frame, checksum completed"
    );
    let spec = Spec::new(1461);
    let segs = collect(&spec.partial_frame(), 1500).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[1].len(), ETH + 40 + 1);
    assert_eq!(segs, expected_segments(&spec, 1500));
}

#[test]
fn pure_ack_is_not_segmented() {
    let mut spec = Spec::new(0);
    spec.flags = ACK | FIN;
    let mut frame = spec.partial_frame();
    frame.extend_from_slice(&[0; 6]); // Ethernet padding to 60 bytes: dropped
    let seg = TcpSegmenter::new(&frame, 1500).unwrap();
    assert_eq!((seg.count(), seg.payload_len()), (1, 0));
    assert_eq!(collect(&frame, 1500).unwrap(), vec![spec.frame()]);
    // Even with an MTU smaller than the padded frame but not than its headers.
    assert_eq!(collect(&frame, 40).unwrap_err(), OffloadError::MtuTooSmall);
    assert_eq!(collect(&frame, 41).unwrap(), vec![spec.frame()]);
}

#[test]
fn scattered_input_gives_the_same_segments() {
    let mut spec = Spec::new(20_000);
    spec.tcp_options = TIMESTAMPS.to_vec();
    let frame = spec.partial_frame();
    let want = collect(&frame, 1500).unwrap();
    let mut rng = Rng(7);
    // Cuts inside the headers, at chunk-like sizes, and random ones; empty pieces too.
    let plans: Vec<Vec<usize>> = vec![
        vec![1, 13, 14, 20, 33, 34, 53, 66, 67],
        vec![3840, 7936, 12032, 16128],
        vec![0, 0, 100, 100, 20_000],
        (0..20).map(|_| rng.next() as usize % frame.len()).collect(),
    ];
    for mut cuts in plans {
        cuts.sort_unstable();
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut at = 0;
        for c in cuts {
            pieces.push(&frame[at..c]);
            at = c;
        }
        pieces.push(&frame[at..]);
        let seg = TcpSegmenter::new_scattered(&pieces, 1500).unwrap();
        let mut buf = [0u8; 1514];
        let got: Vec<Vec<u8>> = (0..seg.count())
            .map(|i| {
                let n = seg.write_segment(i, &mut buf).unwrap();
                assert_eq!(Some(n), seg.segment_len(i));
                buf[..n].to_vec()
            })
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn segmentation_errors() {
    let spec = Spec::new(3000);
    let frame = spec.partial_frame();
    // Truncated: total length larger than what arrived, header checksum fine.
    assert_eq!(
        collect(&frame[..frame.len() - 1], 1500),
        Err(OffloadError::Truncated)
    );
    // Non-TCP super-frame (UDP GSO is out of scope).
    let mut udp = frame.clone();
    udp[ETH + 9] = 17;
    fix_ip_checksum(&mut udp[ETH..]);
    assert_eq!(collect(&udp, 1500), Err(OffloadError::NotTcp));
    // Not IPv4.
    let mut arp = frame.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(collect(&arp, 1500), Err(OffloadError::NotIpv4));
    // A fragment.
    let mut frag = frame.clone();
    frag[ETH + 6] = 0x20; // MF
    fix_ip_checksum(&mut frag[ETH..]);
    assert_eq!(collect(&frag, 1500), Err(OffloadError::Fragment));
    // Bad IPv4 header checksum: not laundered into good segments.
    let mut bad = frame.clone();
    bad[ETH + 8] = 63;
    assert_eq!(collect(&bad, 1500), Err(OffloadError::Ipv4Checksum));
    // Bad TCP data offset.
    let mut doff = frame.clone();
    doff[ETH + 20 + 12] = 0x40;
    assert_eq!(collect(&doff, 1500), Err(OffloadError::Malformed));
    // Scratch too small: nothing emitted.
    let mut small = [0u8; 1513];
    let mut emitted = 0;
    let r = segment_tcp(&frame, 1500, &mut small, |_| emitted += 1);
    assert_eq!((r, emitted), (Err(OffloadError::BufferTooSmall), 0));
    // Index past the end, buffer too small for one segment.
    let seg = TcpSegmenter::new(&frame, 1500).unwrap();
    assert_eq!(seg.count(), 3);
    assert_eq!(seg.segment_len(3), None);
    assert_eq!(
        seg.write_segment(3, &mut [0u8; 2000]),
        Err(OffloadError::NoSuchSegment)
    );
    assert_eq!(
        seg.write_segment(2, &mut [0u8; 133]),
        Err(OffloadError::BufferTooSmall)
    );
    assert_eq!(seg.write_segment(2, &mut [0u8; 134]), Ok(134));
}

#[test]
fn every_truncation_is_an_error() {
    let mut spec = Spec::new(3000);
    spec.vlan = true;
    spec.ip_options = ROUTER_ALERT.to_vec();
    spec.tcp_options = TIMESTAMPS.to_vec();
    let frame = spec.partial_frame();
    for len in 0..frame.len() {
        let r = TcpSegmenter::new(&frame[..len], 1500);
        assert_eq!(
            r.map(|s| s.count()),
            Err(OffloadError::Truncated),
            "len {len}"
        );
        let mut ip = frame[18..len.max(18)].to_vec();
        assert!(complete_l4_checksum(&mut ip).is_err(), "len {len}");
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x1234_5678);
    let spec = Spec::new(4000);
    let good = spec.partial_frame();
    let mut scratch = [0u8; 1600];
    let (mut segmented, mut completed) = (0, 0);
    for round in 0..20_000u32 {
        let mut f = if round.is_multiple_of(2) {
            // A valid frame with a few header bytes mutated and maybe cut short.
            let mut f = good.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = rng.next() as usize % 80;
                f[at] = rng.next() as u8;
            }
            if rng.next().is_multiple_of(2) {
                f.truncate(rng.next() as usize % (f.len() + 1));
            }
            f
        } else {
            let n = rng.next() as usize % 200;
            let mut f = rng.bytes(n);
            if f.len() > 24 && rng.next().is_multiple_of(2) {
                f[12..14].copy_from_slice(&[0x08, 0x00]);
                f[14] = 0x45;
            }
            f
        };
        let mtu = 68 + (rng.next() % 1500) as u16;
        let mut segs = Vec::new();
        if let Ok(n) = segment_tcp(&f, mtu, &mut scratch, |s| segs.push(s.to_vec())) {
            segmented += 1;
            assert_eq!(n, segs.len());
            for s in &segs {
                let l2 = if s[12..14] == [0x81, 0x00] { 18 } else { ETH };
                let ip = Ipv4Packet::new_checked(&s[l2..]).unwrap();
                assert!(ip.verify_checksum() && usize::from(ip.total_len()) <= usize::from(mtu));
                let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
                assert!(tcp.verify_checksum(ip.src_addr(), ip.dst_addr()));
            }
        }
        if f.len() > ETH {
            if let Ok(ChecksumFix::Completed { .. }) = complete_l4_checksum(&mut f[ETH..]) {
                completed += 1;
                let ip = Ipv4Packet::new_checked(&f[ETH..]).unwrap();
                let ok = match ip.protocol() {
                    wire::Protocol::Tcp => TcpPacket::new_checked(ip.payload())
                        .unwrap()
                        .verify_checksum(ip.src_addr(), ip.dst_addr()),
                    _ => UdpPacket::new_checked(ip.payload())
                        .unwrap()
                        .verify_checksum(ip.src_addr(), ip.dst_addr()),
                };
                assert!(ok);
            }
        }
    }
    // The invariants above were exercised, not only the error paths.
    assert!(
        segmented > 1000 && completed > 1000,
        "{segmented} {completed}"
    );
}

fn fix_ip_checksum(ip: &mut [u8]) {
    let mut p = Ipv4Packet::new_unchecked(ip);
    p.fill_checksum();
}

// ---- checksum completion ----

#[test]
fn tcp_partial_checksum_is_completed() {
    for (payload, ip_opts) in [(0, false), (1, false), (1460, false), (777, true)] {
        let mut spec = Spec::new(payload);
        spec.flags = SYN | ACK;
        spec.tcp_options = TIMESTAMPS.to_vec();
        if ip_opts {
            spec.ip_options = ROUTER_ALERT.to_vec();
        }
        let good = spec.frame();
        let mut f = spec.partial_frame();
        assert_ne!(f, good);
        let fix = complete_l4_checksum(&mut f[ETH..]).unwrap();
        assert_eq!(fix, ChecksumFix::Completed { changed: true });
        assert_eq!(f, good, "payload {payload}");
        // Already complete: recomputed, unchanged.
        let fix = complete_l4_checksum(&mut f[ETH..]).unwrap();
        assert_eq!(fix, ChecksumFix::Completed { changed: false });
        assert_eq!(f, good);
    }
}

/// A UDP datagram in an IPv4 packet (no Ethernet), checksum correct; `adjust` is the first
/// payload word.
fn udp_packet(payload: &[u8]) -> Vec<u8> {
    let ulen = (8 + payload.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0xab, 0xcd, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&(20 + ulen).to_be_bytes());
    p.extend_from_slice(&SRC.octets());
    p.extend_from_slice(&DST.octets());
    fix_ip_checksum(&mut p);
    p.extend_from_slice(&[0x13, 0x88, 0x00, 0x35]);
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let mut u = UdpPacket::new_unchecked(&mut p[20..]);
    u.fill_checksum(SRC, DST);
    p
}

fn set_udp_checksum(p: &mut [u8], v: u16) {
    p[26..28].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn udp_partial_checksum_is_completed() {
    for len in [0usize, 1, 2, 3, 100, 1472] {
        let good = udp_packet(&Rng(len as u32 + 1).bytes(len));
        let mut p = good.clone();
        let partial = checksum::pseudo_header(SRC, DST, 17, 8 + len as u32);
        assert_ne!(partial, 0, "a partial UDP checksum is never 0");
        set_udp_checksum(&mut p, partial);
        let fix = complete_l4_checksum(&mut p).unwrap();
        assert_eq!(fix, ChecksumFix::Completed { changed: true });
        assert_eq!(p, good, "len {len}");
    }
}

#[test]
fn udp_zero_stays_zero_and_computed_zero_is_ffff() {
    let mut p = udp_packet(b"no checksum here");
    set_udp_checksum(&mut p, 0);
    let before = p.clone();
    assert_eq!(complete_l4_checksum(&mut p), Ok(ChecksumFix::UdpNoChecksum));
    assert_eq!(p, before);

    // Choose the first payload word so that the sum without the checksum is 0xffff: the
    // checksum computes to 0 and must be sent as 0xffff (RFC 768).
    let mut p = udp_packet(&[0, 0, 1, 2, 3, 4, 5]);
    set_udp_checksum(&mut p, 0);
    let s = checksum::combine(&[
        checksum::pseudo_header(SRC, DST, 17, 15),
        checksum::data(&p[20..]),
    ]);
    p[28..30].copy_from_slice(&(!s).to_be_bytes());
    let partial = checksum::pseudo_header(SRC, DST, 17, 15);
    set_udp_checksum(&mut p, partial);
    assert_eq!(
        complete_l4_checksum(&mut p),
        Ok(ChecksumFix::Completed { changed: true })
    );
    assert_eq!(&p[26..28], &[0xff, 0xff]);
    assert!(UdpPacket::new_checked(&p[20..])
        .unwrap()
        .verify_checksum(SRC, DST));
}

#[test]
fn padding_is_not_covered() {
    // UDP length shorter than the IPv4 payload, IPv4 shorter than the buffer.
    let good = udp_packet(b"abcd");
    let mut p = good.clone();
    p[2..4].copy_from_slice(&(good.len() as u16 + 2).to_be_bytes());
    p.extend_from_slice(&[0xee, 0xee, 0x77, 0x77]);
    fix_ip_checksum(&mut p[..20]);
    let mut want = p.clone();
    want[26..28].copy_from_slice(&good[26..28]);
    set_udp_checksum(&mut p, 0x1234);
    assert_eq!(
        complete_l4_checksum(&mut p),
        Ok(ChecksumFix::Completed { changed: true })
    );
    assert_eq!(p, want);
    // TCP: Ethernet padding after total_len.
    let spec = Spec::new(2);
    let mut f = spec.partial_frame();
    f.extend_from_slice(&[0xaa; 4]);
    complete_l4_checksum(&mut f[ETH..]).unwrap();
    assert_eq!(&f[..f.len() - 4], &spec.frame()[..]);
}

#[test]
fn fragments_and_other_protocols_are_left_alone() {
    let mut p = udp_packet(b"first fragment");
    p[6] = 0x20; // MF
    fix_ip_checksum(&mut p[..20]);
    set_udp_checksum(&mut p, 0x4242);
    let before = p.clone();
    assert_eq!(complete_l4_checksum(&mut p), Ok(ChecksumFix::Fragment));
    assert_eq!(p, before);
    p[9] = 1; // ICMP
    p[6] = 0x40;
    fix_ip_checksum(&mut p[..20]);
    let before = p.clone();
    assert_eq!(complete_l4_checksum(&mut p), Ok(ChecksumFix::OtherProtocol));
    assert_eq!(p, before);
}

#[test]
fn completion_errors() {
    // IPv4 total length beyond the buffer, header checksum fine.
    let mut p = udp_packet(b"xyz");
    p.truncate(p.len() - 1);
    assert_eq!(complete_l4_checksum(&mut p), Err(OffloadError::Truncated));
    // UDP length beyond the IPv4 payload; below 8.
    let mut p = udp_packet(b"xyz");
    p[24..26].copy_from_slice(&12u16.to_be_bytes());
    assert_eq!(complete_l4_checksum(&mut p), Err(OffloadError::Truncated));
    p[24..26].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(complete_l4_checksum(&mut p), Err(OffloadError::Malformed));
    // TCP shorter than its fixed header; data offset below 5 or past the segment.
    let spec = Spec::new(0);
    let mut ip = spec.frame()[ETH..].to_vec();
    ip[2..4].copy_from_slice(&39u16.to_be_bytes());
    fix_ip_checksum(&mut ip[..20]);
    assert_eq!(complete_l4_checksum(&mut ip), Err(OffloadError::Truncated));
    let mut ip = spec.frame()[ETH..].to_vec();
    ip[32] = 0x40;
    assert_eq!(complete_l4_checksum(&mut ip), Err(OffloadError::Malformed));
    ip[32] = 0x60;
    assert_eq!(complete_l4_checksum(&mut ip), Err(OffloadError::Truncated));
    // Version and header length.
    let mut ip = spec.frame()[ETH..].to_vec();
    ip[0] = 0x65;
    assert_eq!(complete_l4_checksum(&mut ip), Err(OffloadError::Malformed));
    ip[0] = 0x44;
    assert_eq!(complete_l4_checksum(&mut ip), Err(OffloadError::Malformed));
}

#[test]
fn error_names_are_unique() {
    use OffloadError::*;
    let all = [
        Truncated,
        Malformed,
        NotIpv4,
        NotTcp,
        Fragment,
        Ipv4Checksum,
        MtuTooSmall,
        BufferTooSmall,
        NoSuchSegment,
    ];
    let mut names: Vec<_> = all.iter().map(|e| e.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
}
