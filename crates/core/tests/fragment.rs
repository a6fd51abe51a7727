//! IPv4 fragmentation (RFC 791 section 3.2) with exact bytes: offsets, lengths, flags,
//! option copying, re-fragmenting a fragment, reassembly, and hostile input.

#![allow(clippy::unwrap_used)]

use hvrouter_core::fragment::{fragment, FragmentError, Fragmenter};

const ETH: [u8; 14] = [
    0x02, 0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x08, 0x00,
];

/// RFC 1071 checksum, written out independently of `wire`.
fn rfc1071(bytes: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        sum += hi | u32::from(*pair.get(1).unwrap_or(&0));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame with an IPv4 datagram: `options` (a multiple of 4), flags/offset
/// word `frag`, protocol UDP, `data_len` bytes of data (i % 251) after the header.
fn datagram(options: &[u8], frag: u16, data_len: usize) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hlen = 20 + options.len();
    let total = (hlen + data_len) as u16;
    let mut ip = vec![
        0x40 | (hlen / 4) as u8,
        0x00,
        (total >> 8) as u8,
        total as u8,
        0x12,
        0x34,
        (frag >> 8) as u8,
        frag as u8,
        63,
        17,
        0,
        0,
        192,
        0,
        2,
        10,
        198,
        51,
        100,
        7,
    ];
    ip.extend_from_slice(options);
    let ck = rfc1071(&ip);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    let mut f = ETH.to_vec();
    f.extend_from_slice(&ip);
    f.extend((0..data_len).map(|i| (i % 251) as u8));
    f
}

fn all_fragments(frame: &[u8], mtu: u16) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let mut scratch = vec![0u8; 14 + usize::from(mtu)];
    fragment(frame, mtu, &mut scratch, |f| out.push(f.to_vec())).unwrap();
    out
}

/// (header length, total length, flags/offset word) of a fragment, after checking that
/// its header checksum verifies and its length matches the frame.
fn fields(f: &[u8]) -> (usize, usize, u16) {
    let ip = &f[14..];
    let hlen = usize::from(ip[0] & 0x0f) * 4;
    assert_eq!(ip[0] >> 4, 4);
    assert_eq!(rfc1071(&ip[..hlen]), 0, "header checksum verifies");
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert_eq!(total, ip.len(), "total length matches the frame");
    (hlen, total, u16::from_be_bytes([ip[6], ip[7]]))
}

/// Place every fragment's data at its offset; the original data comes back, covered
/// exactly once.
fn reassemble(frags: &[Vec<u8>], base_offset: usize) -> Vec<u8> {
    let mut data = vec![None; 65536];
    let mut end = 0;
    for f in frags {
        let (hlen, total, word) = fields(f);
        let at = usize::from(word & 0x1fff) * 8 - base_offset;
        for (i, &b) in f[14 + hlen..14 + total].iter().enumerate() {
            assert!(data[at + i].is_none(), "byte {} covered twice", at + i);
            data[at + i] = Some(b);
        }
        end = end.max(at + total - hlen);
    }
    data[..end].iter().map(|b| b.unwrap()).collect()
}

#[test]
fn a_3000_byte_udp_datagram_at_mtu_1500_gives_three_fragments() {
    // 20-byte header + 2980 bytes of data (UDP header included): 1480 + 1480 + 20.
    let frame = datagram(&[], 0, 2980);
    let frags = all_fragments(&frame, 1500);
    assert_eq!(frags.len(), 3);
    let expect = [(1500, 0x2000), (1500, 0x2000 | 185), (40, 370)];
    for (f, (total, word)) in frags.iter().zip(expect) {
        assert_eq!(fields(f), (20, total, word));
        assert_eq!(&f[..14], &ETH, "link-layer header copied");
        // Everything but length, flags/offset and checksum is the original's.
        assert_eq!(f[14..16], frame[14..16]);
        assert_eq!(f[18..20], [0x12, 0x34], "identification kept");
        assert_eq!(f[22..24], frame[22..24], "TTL and protocol kept");
        assert_eq!(f[26..34], frame[26..34], "addresses kept");
    }
    // Exact first header: 45 00 05dc 1234 2000 3f 11 cksum c000020a c6336407.
    assert_eq!(
        &frags[0][14..24],
        &[0x45, 0x00, 0x05, 0xdc, 0x12, 0x34, 0x20, 0x00, 63, 17]
    );
    assert_eq!(
        &frags[2][14..22],
        &[0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x01, 0x72]
    );
    assert_eq!(reassemble(&frags, 0), frame[34..].to_vec());
}

#[test]
fn fragmenter_reports_lengths_and_refuses_bad_indices_and_buffers() {
    let frame = datagram(&[], 0, 2980);
    let f = Fragmenter::new(&frame, 1500).unwrap();
    assert_eq!((f.count(), f.payload_len()), (3, 2980));
    assert_eq!(f.fragment_len(0), Some(1514));
    assert_eq!(f.fragment_len(2), Some(54));
    assert_eq!(f.fragment_len(3), None);
    assert_eq!(f.max_fragment_len(), 1514);
    let mut small = [0u8; 1513];
    assert_eq!(
        f.write_fragment(0, &mut small),
        Err(FragmentError::BufferTooSmall)
    );
    assert_eq!(
        f.write_fragment(3, &mut [0u8; 2000]),
        Err(FragmentError::NoSuchFragment)
    );
    assert_eq!(f.write_fragment(2, &mut small), Ok(54));
    let mut scratch = [0u8; 100];
    assert_eq!(
        fragment(&frame, 1500, &mut scratch, |_| panic!("nothing is emitted")),
        Err(FragmentError::BufferTooSmall)
    );
}

#[test]
fn only_options_with_the_copy_flag_reach_later_fragments() {
    // LSRR (0x83, copied, 7 bytes), record route (0x07, not copied, 3 bytes), router
    // alert (0x94, copied), NOP, EOL: 16 bytes, IHL 9.
    let options = [
        0x83, 7, 4, 192, 0, 2, 1, 0x07, 3, 4, 0x94, 4, 0, 0, 0x01, 0x00,
    ];
    let frame = datagram(&options, 0, 3000);
    let frags = all_fragments(&frame, 1500);
    // First: 36-byte header, (1500 - 36) / 8 * 8 = 1464 bytes; then 32-byte headers.
    assert_eq!(fields(&frags[0]), (36, 1500, 0x2000));
    assert_eq!(
        &frags[0][34..50],
        &options,
        "the first fragment keeps every option"
    );
    assert_eq!(frags.len(), 3);
    assert_eq!(fields(&frags[1]), (32, 32 + 1464, 0x2000 | 183));
    assert_eq!(fields(&frags[2]), (32, 32 + 72, 366));
    for f in &frags[1..] {
        assert_eq!(f[14], 0x48, "IHL 8");
        // LSRR then router alert, EOL-padded to a multiple of 4.
        assert_eq!(&f[34..46], &[0x83, 7, 4, 192, 0, 2, 1, 0x94, 4, 0, 0, 0]);
    }
    assert_eq!(reassemble(&frags, 0), frame[14 + 36..].to_vec());
}

#[test]
fn no_copied_options_gives_plain_20_byte_headers_after_the_first() {
    let options = [0x01, 0x07, 7, 4, 0, 0, 0, 0, 0x00, 0, 0, 0];
    let frame = datagram(&options, 0, 2000);
    let frags = all_fragments(&frame, 1000);
    assert_eq!(fields(&frags[0]).0, 32);
    for f in &frags[1..] {
        assert_eq!(f[14], 0x45);
    }
    assert_eq!(reassemble(&frags, 0), frame[14 + 32..].to_vec());
}

#[test]
fn refragmenting_a_fragment_keeps_its_mf_and_offset() {
    // A middle fragment: MF, offset 100 units (800 bytes), 2000 bytes of data.
    let frame = datagram(&[], 0x2000 | 100, 2000);
    let frags = all_fragments(&frame, 1000);
    let words: Vec<u16> = frags.iter().map(|f| fields(f).2).collect();
    // 976 bytes = 122 units per fragment: 976 + 976 + 48.
    assert_eq!(words, vec![0x2000 | 100, 0x2000 | 222, 0x2000 | 344]);
    assert_eq!(reassemble(&frags, 800), frame[34..].to_vec());
    // The last fragment of a datagram (no MF): only its new last piece lacks MF.
    let frame = datagram(&[], 100, 2000);
    let words: Vec<u16> = all_fragments(&frame, 1000)
        .iter()
        .map(|f| fields(f).2)
        .collect();
    assert_eq!(words, vec![0x2000 | 100, 0x2000 | 222, 344]);
}

#[test]
fn reassembly_gives_the_payload_back_at_many_sizes_and_mtus() {
    for mtu in [68u16, 69, 576, 1280, 1500, 9000] {
        for len in [1usize, 7, 8, 9, 47, 48, 1472, 1473, 2980, 8972, 65000] {
            let frame = datagram(&[0x94, 4, 0, 0], 0, len);
            let frags = all_fragments(&frame, mtu);
            for f in &frags {
                let (hlen, total, _) = fields(f);
                assert!(total <= usize::from(mtu), "fragment fits the MTU");
                assert!(hlen == 24);
            }
            for f in &frags[..frags.len() - 1] {
                let (hlen, total, word) = fields(f);
                assert_eq!((total - hlen) % 8, 0, "data a multiple of 8 but the last");
                assert!(word & 0x2000 != 0);
            }
            assert_eq!(fields(frags.last().unwrap()).2 & 0x2000, 0);
            assert_eq!(reassemble(&frags, 0), frame[14 + 24..].to_vec());
        }
    }
}

#[test]
fn a_datagram_that_fits_is_one_fragment_equal_to_it() {
    let mut frame = datagram(&[], 0x4000, 100);
    let original = frame.clone();
    frame.extend_from_slice(&[0; 10]); // Ethernet padding is dropped
    let frags = all_fragments(&frame, 1500);
    assert_eq!(frags, vec![original], "DF kept when nothing is fragmented");
}

#[test]
fn errors() {
    // DF set and too big: the caller sends "fragmentation needed".
    let frame = datagram(&[], 0x4000, 2000);
    assert_eq!(
        Fragmenter::new(&frame, 1500).err(),
        Some(FragmentError::DontFragment)
    );
    // RFC 791: 68 bytes always pass (a 60-byte header and 8 data bytes); 67 do not.
    let options = [0x94, 4, 0, 0].repeat(10);
    let frame = datagram(&options, 0, 100);
    assert_eq!(
        Fragmenter::new(&frame, 67).err(),
        Some(FragmentError::MtuTooSmall)
    );
    let frags = all_fragments(&frame, 68);
    assert_eq!(frags.len(), 13);
    assert_eq!(reassemble(&frags, 0), frame[14 + 60..].to_vec());
    // Not IPv4, bad version, bad checksum, bad option length.
    let mut arp = datagram(&[], 0, 100);
    arp[13] = 0x06;
    assert_eq!(
        Fragmenter::new(&arp, 1500).err(),
        Some(FragmentError::NotIpv4)
    );
    let mut bad = datagram(&[], 0, 100);
    bad[14] = 0x65;
    assert_eq!(
        Fragmenter::new(&bad, 50).err(),
        Some(FragmentError::Malformed)
    );
    let mut bad = datagram(&[], 0, 100);
    bad[24] ^= 1;
    assert_eq!(
        Fragmenter::new(&bad, 50).err(),
        Some(FragmentError::Ipv4Checksum)
    );
    for options in [[0x94, 1, 0, 0], [0x94, 8, 0, 0], [0x01, 0x01, 0x01, 0x94]] {
        let bad = datagram(&options, 0, 100);
        assert_eq!(
            Fragmenter::new(&bad, 64).err(),
            Some(FragmentError::Malformed)
        );
    }
    // The last fragment's offset would not fit 13 bits.
    let bad = datagram(&[], 0x1fff, 100);
    assert_eq!(
        Fragmenter::new(&bad, 68).err(),
        Some(FragmentError::Malformed)
    );
}

#[test]
fn every_truncation_errors_without_panicking() {
    let options = [0x83, 7, 4, 192, 0, 2, 1, 0x94, 4, 0, 0, 0];
    for frame in [datagram(&[], 0, 2980), datagram(&options, 0x2000 | 3, 700)] {
        for n in 0..frame.len() {
            assert!(Fragmenter::new(&frame[..n], 576).is_err(), "{n} bytes");
        }
        assert!(Fragmenter::new(&frame, 576).is_ok());
    }
}

#[test]
fn corrupted_input_never_panics_and_what_passes_is_consistent() {
    let options = [0x83, 7, 4, 192, 0, 2, 1, 0x94, 4, 0, 0, 0];
    let base = datagram(&options, 0, 1200);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut scratch = vec![0u8; 2000];
    for _ in 0..20_000 {
        let mut frame = base.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = 12 + (x as usize % 40);
            frame[at] = (x >> 32) as u8;
        }
        // Keep the checksum valid half the time so option parsing is reached.
        if x & 1 == 0 && frame[14] >> 4 == 4 {
            let hlen = (usize::from(frame[14] & 0x0f) * 4).clamp(20, 60);
            frame[24..26].fill(0);
            let ck = rfc1071(&frame[14..14 + hlen]);
            frame[24..26].copy_from_slice(&ck.to_be_bytes());
        }
        let mtu = 68 + (x >> 40) as u16 % 1500;
        if let Ok(n) = fragment(&frame, mtu, &mut scratch, |f| {
            let (_, total, _) = fields(f);
            assert!(total <= usize::from(mtu));
        }) {
            assert!(n >= 1);
        }
    }
}
