#![no_main]
//! TCP: the first 8 input bytes are the IPv4 source and destination, the rest the
//! segment. check_len agrees with RFC 9293 section 3.1 (data offset in 32-bit words, at
//! least 5, within the buffer), the accessors read the header fields where the RFC puts
//! them, verify_checksum agrees with a plain RFC 1071 reference over pseudo-header and
//! segment, fill_checksum makes any segment verify, and setters write back what getters
//! read.

use libfuzzer_sys::fuzz_target;
use wire::tcp::{TcpPacket, HEADER_LEN};
use wire::{Error, Ipv4Addr};

mod common;

fn reference_verify(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> bool {
    let mut pseudo = Vec::with_capacity(12 + seg.len());
    pseudo.extend(src.octets());
    pseudo.extend(dst.octets());
    pseudo.extend([0, 6]);
    pseudo.extend((seg.len() as u16).to_be_bytes());
    pseudo.extend(seg);
    common::reference_sum(&pseudo) == 0xffff
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 8 || input.len() > 8 + 65515 {
        return;
    }
    let src = Ipv4Addr::new(input[0], input[1], input[2], input[3]);
    let dst = Ipv4Addr::new(input[4], input[5], input[6], input[7]);
    let data = &input[8..];
    let p = match TcpPacket::new_checked(data) {
        Ok(p) => p,
        Err(e) => {
            let expected = if data.len() < HEADER_LEN {
                Error::Truncated
            } else if usize::from(data[12] >> 4) * 4 < HEADER_LEN {
                Error::Malformed
            } else {
                assert!(usize::from(data[12] >> 4) * 4 > data.len());
                Error::Truncated
            };
            assert_eq!(e, expected);
            return;
        }
    };
    let hlen = usize::from(data[12] >> 4) * 4;
    assert_eq!(usize::from(p.header_len()), hlen);
    assert_eq!(p.options(), &data[HEADER_LEN..hlen]);
    assert_eq!(p.payload(), &data[hlen..]);
    assert_eq!(p.src_port(), common::be16(data, 0));
    assert_eq!(p.dst_port(), common::be16(data, 2));
    assert_eq!(
        p.seq_number(),
        u32::from_be_bytes([data[4], data[5], data[6], data[7]])
    );
    assert_eq!(
        p.ack_number(),
        u32::from_be_bytes([data[8], data[9], data[10], data[11]])
    );
    assert_eq!(p.window_len(), common::be16(data, 14));
    assert_eq!(p.checksum(), common::be16(data, 16));
    assert_eq!(p.urgent_at(), common::be16(data, 18));
    let f = data[13];
    assert_eq!(
        [
            p.fin(),
            p.syn(),
            p.rst(),
            p.psh(),
            p.ack(),
            p.urg(),
            p.ece(),
            p.cwr()
        ],
        [0, 1, 2, 3, 4, 5, 6, 7].map(|b| f & (1 << b) != 0)
    );
    assert_eq!(
        p.verify_checksum(src, dst),
        reference_verify(src, dst, data)
    );

    let mut copy = data.to_vec();
    let mut q = TcpPacket::new_checked(&mut copy[..]).expect("same bytes");
    q.fill_checksum(src, dst);
    assert!(q.verify_checksum(src, dst));
    // Setters write back what the getters read; the rest of the segment is untouched.
    q.set_src_port(p.src_port());
    q.set_dst_port(p.dst_port());
    q.set_seq_number(p.seq_number());
    q.set_ack_number(p.ack_number());
    q.set_window_len(p.window_len());
    q.set_urgent_at(p.urgent_at());
    q.set_header_len(p.header_len());
    q.set_flags(p.flags());
    assert!(q.verify_checksum(src, dst));
    assert!(reference_verify(src, dst, &copy));
    assert_eq!(copy[..16], data[..16]);
    assert_eq!(copy[18..], data[18..]);
});
