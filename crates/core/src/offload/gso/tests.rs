//! The virtio-net header's bytes, and preparing a guest super-frame for a GSO send.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::offload::gro::tests::Seg;

#[test]
fn header_bytes_are_the_kernel_layout_in_host_order() {
    let h = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 66,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    let b = h.to_bytes();
    assert_eq!(b[0], 1);
    assert_eq!(b[1], 1);
    assert_eq!(u16::from_ne_bytes([b[2], b[3]]), 66);
    assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 1448);
    assert_eq!(u16::from_ne_bytes([b[6], b[7]]), 34);
    assert_eq!(u16::from_ne_bytes([b[8], b[9]]), 16);
    assert_eq!(VnetHeader::from_bytes(&b), h);
    #[cfg(target_endian = "little")]
    assert_eq!(b, [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]);
}

#[test]
fn a_super_frame_gets_the_pseudo_header_and_an_mss_from_the_mtu() {
    // A 20,000-byte payload as a tap guest sends it: checksum field partial (garbage
    // here: whatever it holds is replaced).
    let mut s = Seg::data(5000, 20_000);
    s.flags |= wire::tcp::flags::PSH;
    let mut frame = s.frame();
    frame[50] ^= 0x5a;
    frame.extend_from_slice(&[0; 6]); // padding after the datagram is not sent
    let g = prepare_tcp(&mut frame, 1500).unwrap();
    let mss = 1500 - 20 - 32;
    assert_eq!(g.segments, 20_000usize.div_ceil(mss));
    assert_eq!(g.len, frame.len() - 6);
    assert_eq!(
        g.header,
        VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 66,
            gso_size: mss as u16,
            csum_start: 34,
            csum_offset: 16,
        }
    );
    let pseudo = checksum::pseudo_header(
        wire::Ipv4Addr::new(192, 0, 2, 1),
        wire::Ipv4Addr::new(192, 0, 2, 10),
        6,
        (32 + 20_000) as u32,
    );
    assert_eq!(u16::from_be_bytes([frame[50], frame[51]]), pseudo);
    // Completing it from there (what the device does) gives the real checksum.
    let mut done = frame[..g.len].to_vec();
    done[50..52].fill(0);
    let expect = s.frame();
    let full = !checksum::combine(&[pseudo, checksum::data(&done[34..])]);
    assert_eq!(full.to_be_bytes(), [expect[50], expect[51]]);
}

#[test]
fn a_frame_that_fits_needs_no_segmentation_and_a_bad_one_is_refused_unchanged() {
    let mut frame = Seg::data(1, 1000).frame();
    let g = prepare_tcp(&mut frame, 1500).unwrap();
    assert_eq!(g.segments, 1);
    assert_eq!(g.header.gso_type, GSO_NONE);
    assert_eq!(g.header.gso_size, 0);
    assert_eq!(g.header.flags, F_NEEDS_CSUM);

    let mut bad = Seg::data(1, 20_000).frame();
    bad[24] ^= 1; // IPv4 header checksum
    let before = bad.clone();
    assert_eq!(prepare_tcp(&mut bad, 1500), Err(OffloadError::Ipv4Checksum));
    assert_eq!(bad, before);
    let mut udp = Seg::data(1, 20_000).frame();
    udp[23] = 17;
    assert!(prepare_tcp(&mut udp, 1500).is_err());
}
