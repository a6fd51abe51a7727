//! Merge rules, and the round trip: a super-frame cut again by the segmenter gives back
//! the segments that went in, byte for byte.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::offload::gso::{F_NEEDS_CSUM, GSO_ECN, GSO_TCPV4};
use crate::offload::TcpSegmenter;
use wire::tcp::flags::{ACK, CWR, FIN, PSH, RST, SYN, URG};

const MSS: usize = 1448;

/// One TCP segment of the flow 192.0.2.1:5001 -> 192.0.2.10:40000, checksums valid.
#[derive(Clone)]
pub(crate) struct Seg {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub id: u16,
    pub df: bool,
    pub ttl: u8,
    pub window: u16,
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
    pub sport: u16,
    pub dst_mac_last: u8,
}

impl Seg {
    pub fn data(seq: u32, len: usize) -> Seg {
        Seg {
            seq,
            ack: 77,
            flags: ACK,
            id: 100,
            df: true,
            ttl: 63,
            window: 500,
            // NOP NOP timestamp (10 bytes): 12 bytes of options, as Linux sends.
            options: vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            payload: (0..len).map(|i| (seq as usize + i) as u8).collect(),
            sport: 5001,
            dst_mac_last: 0x0a,
        }
    }

    pub fn frame(&self) -> Vec<u8> {
        let tcp_len = 20 + self.options.len() + self.payload.len();
        let mut f = vec![2, 0, 0, 0, 0, self.dst_mac_last, 2, 0, 0, 0, 1, 1, 8, 0];
        let total = (20 + tcp_len) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&self.id.to_be_bytes());
        f.extend_from_slice(&[if self.df { 0x40 } else { 0 }, 0, self.ttl, 6, 0, 0]);
        f.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 10]);
        let mut ip = [0u8; 20];
        ip.copy_from_slice(&f[14..34]);
        let ck = !checksum::header20(&ip);
        f[24..26].copy_from_slice(&ck.to_be_bytes());
        f.extend_from_slice(&self.sport.to_be_bytes());
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&self.seq.to_be_bytes());
        f.extend_from_slice(&self.ack.to_be_bytes());
        f.push(((20 + self.options.len()) / 4) as u8 * 16);
        f.push(self.flags);
        f.extend_from_slice(&self.window.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(&self.options);
        f.extend_from_slice(&self.payload);
        let pseudo = checksum::pseudo_header(
            wire::Ipv4Addr::new(192, 0, 2, 1),
            wire::Ipv4Addr::new(192, 0, 2, 10),
            6,
            tcp_len as u32,
        );
        let ck = !checksum::combine(&[pseudo, checksum::data(&f[34..])]);
        f[50..52].copy_from_slice(&ck.to_be_bytes());
        f
    }
}

/// `n` full segments of a stream starting at `seq`, identification counting up.
fn stream(seq: u32, n: usize) -> Vec<Seg> {
    (0..n)
        .map(|i| {
            let mut s = Seg::data(seq + (i * MSS) as u32, MSS);
            s.id = 100 + i as u16;
            s
        })
        .collect()
}

fn frames(segs: &[Seg]) -> Vec<Vec<u8>> {
    segs.iter().map(Seg::frame).collect()
}

fn plan(frames: &[Vec<u8>], verify: bool) -> (Planner, Vec<Item>) {
    let mut p = Planner::new();
    let items = p.plan(frames, |f| f.as_slice(), 1500, |_| verify).to_vec();
    (p, items)
}

/// The super-frame `n` as one buffer (header + payloads), as the dataplane sends it.
fn assemble(
    p: &Planner,
    n: usize,
    frames: &[Vec<u8>],
) -> (Vec<u8>, crate::offload::gso::VnetHeader) {
    let members = p.members(n);
    let mut out = vec![0u8; MAX_HEADER];
    let (len, vnet) = p
        .write_header(n, &frames[members[0].index], &mut out)
        .unwrap();
    out.truncate(len);
    for m in members {
        out.extend_from_slice(&frames[m.index][m.payload_start..m.payload_end]);
    }
    (out, vnet)
}

/// Cut a super-frame as the kernel would (with its gso_size) and return the segments.
fn cut(super_frame: &[u8], gso_size: usize, header_len: usize) -> Vec<Vec<u8>> {
    let mtu = (gso_size + header_len - 14) as u16;
    let seg = TcpSegmenter::new(super_frame, mtu).unwrap();
    (0..seg.count())
        .map(|i| {
            let mut b = vec![0u8; seg.segment_len(i).unwrap()];
            seg.write_segment(i, &mut b).unwrap();
            b
        })
        .collect()
}

#[test]
fn a_run_of_full_segments_becomes_one_super_frame_that_cuts_back_to_them() {
    let mut segs = stream(1000, 5);
    segs[4].payload.truncate(700);
    segs[4].flags |= PSH;
    let fs = frames(&segs);
    let (p, items) = plan(&fs, true);
    assert_eq!(items, vec![Item::Merged(0)]);
    assert_eq!(p.members(0).len(), 5);
    let (sf, vnet) = assemble(&p, 0, &fs);
    assert_eq!(vnet.flags, F_NEEDS_CSUM);
    assert_eq!(vnet.gso_type, GSO_TCPV4);
    assert_eq!(usize::from(vnet.gso_size), MSS);
    assert_eq!(usize::from(vnet.csum_start), 34);
    assert_eq!(vnet.csum_offset, 16);
    assert_eq!(usize::from(vnet.hdr_len), 66);
    // IPv4 length and header checksum of the whole.
    let total = usize::from(u16::from_be_bytes([sf[16], sf[17]]));
    assert_eq!(total + 14, sf.len());
    assert_eq!(total, 20 + 32 + 4 * MSS + 700);
    let mut ip = [0u8; 20];
    ip.copy_from_slice(&sf[14..34]);
    assert_eq!(checksum::header20(&ip), 0xffff);
    // PSH of the last member is on the whole; the checksum field is the pseudo-header.
    assert_eq!(sf[47], ACK | PSH);
    let pseudo = checksum::pseudo_header(
        wire::Ipv4Addr::new(192, 0, 2, 1),
        wire::Ipv4Addr::new(192, 0, 2, 10),
        6,
        (total - 20) as u32,
    );
    assert_eq!(u16::from_be_bytes([sf[50], sf[51]]), pseudo);
    // Cut again: the very same frames.
    assert_eq!(cut(&sf, MSS, 66), fs);
}

#[test]
fn never_merges_across_a_gap_a_flag_or_an_option_change() {
    // A gap: the third segment is missing.
    let mut segs = stream(1000, 4);
    segs.remove(2);
    let fs = frames(&segs);
    let (_, items) = plan(&fs, true);
    assert_eq!(items, vec![Item::Merged(0), Item::Single(2)]);

    // PSH ends a super-frame: nothing merges after it.
    let mut segs = stream(1000, 4);
    segs[1].flags |= PSH;
    segs[3].id = 103;
    let (p, items) = plan(&frames(&segs), true);
    assert_eq!(items, vec![Item::Merged(0), Item::Merged(1)]);
    assert_eq!(p.members(0).len(), 2);
    assert_eq!(p.members(1).len(), 2);

    // FIN likewise; RST, URG and SYN segments are never merged.
    for flag in [FIN, RST, URG, SYN] {
        let mut segs = stream(1000, 3);
        segs[1].flags |= flag;
        let (_, items) = plan(&frames(&segs), true);
        let expect = if flag == FIN {
            vec![Item::Merged(0), Item::Single(2)]
        } else {
            vec![Item::Single(0), Item::Single(1), Item::Single(2)]
        };
        assert_eq!(items, expect, "flag {flag:#x}");
    }

    // A timestamp that changes starts a new super-frame.
    let mut segs = stream(1000, 4);
    for s in &mut segs[2..] {
        s.options[11] = 3;
    }
    let (p, items) = plan(&frames(&segs), true);
    assert_eq!(items, vec![Item::Merged(0), Item::Merged(1)]);
    assert_eq!((p.members(0).len(), p.members(1).len()), (2, 2));

    // So do another ack, window, TTL, DF, a CWR after the first, another MAC.
    type Change = fn(&mut Seg);
    let changes: [(&str, Change); 6] = [
        ("ack", |s| s.ack += 1),
        ("window", |s| s.window += 1),
        ("ttl", |s| s.ttl -= 1),
        ("df", |s| s.df = false),
        ("cwr", |s| s.flags |= CWR),
        ("mac", |s| s.dst_mac_last = 0x0b),
    ];
    for (what, change) in changes {
        let mut segs = stream(1000, 3);
        change(&mut segs[2]);
        let (p, items) = plan(&frames(&segs), true);
        assert_eq!(items, vec![Item::Merged(0), Item::Single(2)], "{what}");
        assert_eq!(p.members(0).len(), 2, "{what}");
    }
}

#[test]
fn a_longer_segment_or_one_after_a_short_one_is_not_merged() {
    let mut segs = stream(1000, 3);
    segs[1].payload.truncate(1000);
    segs[2].seq = segs[1].seq + 1000;
    let (_, items) = plan(&frames(&segs), true);
    assert_eq!(items, vec![Item::Merged(0), Item::Single(2)]);

    let mut segs = vec![Seg::data(1000, 1000), Seg::data(2000, MSS)];
    segs[1].id = 101;
    let (_, items) = plan(&frames(&segs), true);
    assert_eq!(items, vec![Item::Single(0), Item::Single(1)]);
}

#[test]
fn identification_must_count_up_unless_df() {
    let mut segs = stream(1000, 3);
    for s in &mut segs {
        s.df = false;
    }
    segs[2].id = 7;
    let (_, items) = plan(&frames(&segs), true);
    assert_eq!(items, vec![Item::Merged(0), Item::Single(2)]);
    // With DF any identification goes (RFC 6864).
    let mut segs = stream(1000, 3);
    segs[2].id = 7;
    let (_, items) = plan(&frames(&segs), true);
    assert_eq!(items, vec![Item::Merged(0)]);
}

#[test]
fn interleaved_flows_merge_separately_and_keep_their_order() {
    let a = stream(1000, 3);
    let mut b = stream(50_000, 3);
    for s in &mut b {
        s.sport = 5002;
    }
    // a0 b0 a1 b1 [a pure ack of flow a] a2 b2
    let mut ack = Seg::data(a[2].seq, 0);
    ack.payload.clear();
    let segs = vec![
        a[0].clone(),
        b[0].clone(),
        a[1].clone(),
        b[1].clone(),
        ack,
        a[2].clone(),
        b[2].clone(),
    ];
    let fs = frames(&segs);
    let (p, items) = plan(&fs, true);
    // Flow a: a0+a1, then the ack (it ends a's super-frame), then a2 alone.
    assert_eq!(
        items,
        vec![
            Item::Merged(0),
            Item::Merged(1),
            Item::Single(4),
            Item::Single(5)
        ]
    );
    assert_eq!(
        p.members(0).iter().map(|m| m.index).collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert_eq!(
        p.members(1).iter().map(|m| m.index).collect::<Vec<_>>(),
        vec![1, 3, 6]
    );
}

#[test]
fn a_bad_checksum_is_not_merged_when_verifying() {
    let segs = stream(1000, 3);
    let mut fs = frames(&segs);
    let last = fs[1].len() - 1;
    fs[1][last] ^= 0xff;
    let (_, items) = plan(&fs, true);
    assert_eq!(
        items,
        vec![Item::Single(0), Item::Single(1), Item::Single(2)]
    );
    // Without verification (frames from guests, completed by the router) it would be.
    let (_, items) = plan(&fs, false);
    assert_eq!(items, vec![Item::Merged(0)]);
}

#[test]
fn verification_is_decided_per_frame() {
    // A queue toward a guest holds segments from the VLAN (verified) and from other
    // guests (checksums the router computed: not read again).
    let segs = stream(1000, 5);
    let mut fs = frames(&segs);
    for f in &mut fs[2..] {
        let last = f.len() - 1;
        f[last] ^= 0xff;
    }
    let mut p = Planner::new();
    let items = p.plan(&fs, |f| f.as_slice(), 1500, |i| i < 3).to_vec();
    // Frame 2 is checked and fails: it ends the first super-frame and stays single;
    // frames 3 and 4 are not checked and merge.
    assert_eq!(
        items,
        vec![Item::Merged(0), Item::Single(2), Item::Merged(1)]
    );
    assert_eq!(p.members(0).len(), 2);
    assert_eq!(p.members(1).len(), 2);
}

#[test]
fn non_tcp_and_short_frames_stay_single_and_limits_hold() {
    let segs = stream(1000, 2);
    let mut fs = frames(&segs);
    fs.insert(1, vec![0u8; 20]);
    let mut udp = fs[0].clone();
    udp[23] = 17;
    fs.insert(1, udp);
    let (_, items) = plan(&fs, true);
    assert_eq!(
        items,
        vec![Item::Merged(0), Item::Single(1), Item::Single(2)]
    );

    // At most MAX_MERGE segments and 64 KB per super-frame.
    let segs = stream(1000, 50);
    let (p, items) = plan(&frames(&segs), true);
    assert_eq!(items.len(), 2);
    let n0 = p.members(0).len();
    assert!(
        20 + 32 + n0 * MSS <= 65535 && 20 + 32 + (n0 + 1) * MSS > 65535,
        "{n0}"
    );
    assert_eq!(n0 + p.members(1).len(), 50);
}

#[test]
fn cwr_may_open_a_super_frame_and_marks_it_ecn() {
    let mut segs = stream(1000, 3);
    segs[0].flags |= CWR;
    let fs = frames(&segs);
    let (p, items) = plan(&fs, true);
    assert_eq!(items, vec![Item::Merged(0)]);
    let (sf, vnet) = assemble(&p, 0, &fs);
    assert_eq!(vnet.gso_type, GSO_TCPV4 | GSO_ECN);
    assert_eq!(cut(&sf, MSS, 66), fs, "CWR on the first segment only");
}
