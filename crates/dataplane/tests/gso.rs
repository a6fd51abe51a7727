//! GSO across the router, on in-memory ports that take GSO sends: a guest's TCP
//! super-frame leaves whole with its virtio-net header, MTU-size segments of one flow
//! are coalesced, everything else leaves as before, and failed GSO sends fall back.

mod support;

use hvrouter_core::drop::DropReason;
use hvrouter_core::offload::gso::{VnetHeader, F_NEEDS_CSUM, GSO_TCPV4};
use hvrouter_core::offload::TcpSegmenter;
use hvrouter_dataplane::MemPort;
use support::*;

#[allow(clippy::unwrap_used)]
fn lab(fail: bool) -> Lab {
    let mut lab = Lab::new();
    for p in [UPLINK, TAP1, TAP2, TAP3] {
        lab.pipe.attach(p, MemPort::new().with_gso(fail));
    }
    resolve_gateway(&mut lab);
    lab
}

/// A first datagram toward the VLAN makes the router ask for the gateway; it answers.
fn resolve_gateway(lab: &mut Lab) {
    lab.inject(
        TAP1,
        &udp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 10),
    );
    lab.run();
    lab.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    lab.run();
    lab.sent_all();
    for p in [UPLINK, TAP1, TAP2, TAP3] {
        lab.pipe.port_mut(p).map(MemPort::take_sent_gso);
    }
}

fn gso_sent(lab: &mut Lab, port: hvrouter_core::PortId) -> Vec<(VnetHeader, Vec<u8>)> {
    let port = lab.pipe.port_mut(port).expect("port");
    port.take_sent_gso()
        .into_iter()
        .map(|(h, f)| (VnetHeader::from_bytes(&h), f))
        .collect()
}

/// The segments a device makes of a GSO send (as Linux's software GSO would).
#[allow(clippy::unwrap_used)]
fn cut(h: &VnetHeader, frame: &[u8]) -> Vec<Vec<u8>> {
    let mtu = h.gso_size + h.hdr_len - 14;
    // The device completes the checksum the header asks for (NEEDS_CSUM); the segmenter
    // computes every segment's checksum in full whatever the field holds.
    assert_eq!(h.flags, F_NEEDS_CSUM);
    let seg = TcpSegmenter::new(frame, mtu).unwrap();
    (0..seg.count())
        .map(|i| {
            let mut b = vec![0u8; seg.segment_len(i).unwrap()];
            seg.write_segment(i, &mut b).unwrap();
            b
        })
        .collect()
}

#[test]
fn a_guest_super_frame_leaves_whole_toward_the_vlan_and_toward_a_guest() {
    let mut lab = lab(false);
    let tx_before = lab.pipe.router().port_counters(UPLINK).tx_packets;
    let big = tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 20_000);
    lab.inject(TAP1, &big);
    let to_guest = tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, GUEST2, 9_000);
    lab.inject(TAP1, &to_guest);
    lab.run();
    assert!(lab.sent(UPLINK).is_empty(), "nothing through AF_XDP");
    let sends = gso_sent(&mut lab, UPLINK);
    assert_eq!(sends.len(), 1);
    let (h, frame) = &sends[0];
    assert_eq!(h.gso_type, GSO_TCPV4);
    assert_eq!(h.gso_size, 1460, "MSS from the VLAN's MTU");
    assert_eq!((h.csum_start, h.csum_offset, h.hdr_len), (34, 16, 54));
    assert_eq!(frame.len(), big.len());
    let segments = cut(h, frame);
    assert_eq!(segments.len(), 20_000usize.div_ceil(1460));
    let mut data = Vec::new();
    for s in &segments {
        let ip = parse_ip(s);
        assert_eq!(
            (ip.eth.src_addr, ip.eth.dst_addr, ip.ttl),
            (UPLINK_MAC, GW_MAC, 63)
        );
        data.extend(parse_tcp(s).2);
    }
    assert_eq!(&data[..], &big[54..]);

    let sends = gso_sent(&mut lab, TAP2);
    assert_eq!(sends.len(), 1, "guest to guest whole too");
    assert_eq!(
        cut(&sends[0].0, &sends[0].1).len(),
        9_000usize.div_ceil(1460)
    );
    let up = lab.pipe.router().port_counters(UPLINK);
    assert_eq!((up.gso_sent, up.gso_fallback, up.gro_merged), (1, 0, 0));
    assert_eq!(
        up.tx_packets - tx_before,
        14,
        "counted as the segments on the wire"
    );
}

/// `n` MSS-size segments of one stream from the VLAN to guest 1, checksums complete.
fn stream_from_vlan(n: usize, seq: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = tcp_partial_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 1460);
            let s = seq.wrapping_add((i * 1460) as u32);
            f[38..42].copy_from_slice(&s.to_be_bytes());
            f[47] = wire::tcp::flags::ACK;
            let id = 0x2000u16 + i as u16;
            f[18..20].copy_from_slice(&id.to_be_bytes());
            fix_checksums(&mut f);
            f
        })
        .collect()
}

fn fix_checksums(f: &mut [u8]) {
    f[24..26].fill(0);
    let mut ip = [0u8; 20];
    ip.copy_from_slice(&f[14..34]);
    let ck = !wire::checksum::header20(&ip);
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f[50..52].fill(0);
    let pseudo = wire::checksum::pseudo_header(REMOTE, GUEST1, 6, (f.len() - 34) as u32);
    let ck = !wire::checksum::combine(&[pseudo, wire::checksum::data(&f[34..])]);
    f[50..52].copy_from_slice(&ck.to_be_bytes());
}

#[test]
fn segments_from_the_vlan_are_coalesced_toward_the_guest() {
    let mut lab = lab(false);
    let segs = stream_from_vlan(10, 5000);
    for s in &segs {
        lab.inject(UPLINK, s);
    }
    // A corrupted segment of another stream: never merged, forwarded as received.
    let mut bad = stream_from_vlan(2, 900_000);
    bad[0][60] ^= 1;
    lab.inject(UPLINK, &bad[0]);
    lab.run();
    let sends = gso_sent(&mut lab, TAP1);
    assert_eq!(sends.len(), 1);
    let (h, frame) = &sends[0];
    assert_eq!((h.gso_type, h.gso_size), (GSO_TCPV4, 1460));
    let out = cut(h, frame);
    assert_eq!(out.len(), 10);
    for (o, s) in out.iter().zip(&segs) {
        let ip = parse_ip(o);
        assert_eq!(
            (ip.eth.src_addr, ip.eth.dst_addr, ip.ttl),
            (GUEST_SIDE_MAC, MAC1, 63)
        );
        // Same bytes as the segment the router would have forwarded alone.
        let mut alone = s.clone();
        alone[0..6].copy_from_slice(&MAC1.0);
        alone[6..12].copy_from_slice(&GUEST_SIDE_MAC.0);
        alone[22] -= 1;
        fix_checksums(&mut alone);
        assert_eq!(o, &alone);
    }
    let single = lab.sent(TAP1);
    assert_eq!(single.len(), 1, "the corrupted segment, alone");
    let c = lab.pipe.router().port_counters(TAP1);
    assert_eq!((c.gso_sent, c.gro_merged, c.tx_packets), (1, 10, 11));
}

#[test]
fn failed_gso_sends_fall_back_to_segments_and_singles() {
    let mut lab = lab(true);
    let big = tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 5_000);
    lab.inject(TAP1, &big);
    for s in stream_from_vlan(3, 1) {
        lab.inject(UPLINK, &s);
    }
    lab.run();
    let up = lab.sent(UPLINK);
    assert_eq!(up.len(), 4, "cut in software, as before");
    for f in &up {
        assert!(f.len() <= 1514);
        parse_tcp(f); // checksums complete
    }
    let guest = lab.sent(TAP1);
    assert_eq!(guest.len(), 3, "segments one by one");
    for f in &guest {
        parse_tcp(f);
    }
    assert_eq!(lab.pipe.router().port_counters(UPLINK).gso_fallback, 1);
    assert_eq!(lab.pipe.router().port_counters(TAP1).gso_fallback, 1);
    assert_eq!(lab.drops(UPLINK, DropReason::GsoInvalid), 0);
}

#[test]
fn frames_that_fit_and_other_protocols_leave_through_af_xdp_complete() {
    let mut lab = lab(false);
    lab.inject(
        TAP1,
        &tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 1000),
    );
    lab.inject(
        TAP1,
        &udp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 100),
    );
    lab.run();
    assert!(gso_sent(&mut lab, UPLINK).is_empty());
    let up = lab.sent(UPLINK);
    assert_eq!(up.len(), 2);
    parse_tcp(&up[0]);
    parse_ip(&up[1]);
}

#[test]
fn without_gso_ports_super_frames_are_segmented_as_before() {
    let mut lab = Lab::new();
    resolve_gateway(&mut lab);
    lab.inject(
        TAP1,
        &tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 5_000),
    );
    lab.run();
    let up = lab.sent(UPLINK);
    assert_eq!(up.len(), 4);
    assert_eq!(lab.pipe.router().port_counters(UPLINK).gso_sent, 0);
}

/// `n` MSS-size segments of one stream from guest 1 toward the VLAN, checksums partial.
fn stream_from_guest(n: usize, dst: wire::Ipv4Addr) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, dst, 1460);
            let s = 1_000_000u32 + (i * 1460) as u32;
            f[38..42].copy_from_slice(&s.to_be_bytes());
            f[47] = wire::tcp::flags::ACK;
            let id = 0x2000u16 + i as u16;
            f[18..20].copy_from_slice(&id.to_be_bytes());
            f[24..26].fill(0);
            let mut ip = [0u8; 20];
            ip.copy_from_slice(&f[14..34]);
            let ck = !wire::checksum::header20(&ip);
            f[24..26].copy_from_slice(&ck.to_be_bytes());
            f
        })
        .collect()
}

#[test]
fn partial_segments_from_a_guest_leave_coalesced_or_completed() {
    let mut lab = lab(false);
    for s in stream_from_guest(6, REMOTE) {
        lab.inject(TAP1, &s);
    }
    // A lone segment of another connection: through AF_XDP, its checksum completed.
    let mut lone = tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 300);
    lone[34..36].copy_from_slice(&40001u16.to_be_bytes());
    let partial = wire::checksum::pseudo_header(GUEST1, REMOTE, 6, 320);
    lone[50..52].copy_from_slice(&partial.to_be_bytes());
    lab.inject(TAP1, &lone);
    lab.run();
    let sends = gso_sent(&mut lab, UPLINK);
    assert_eq!(sends.len(), 1);
    let (h, frame) = &sends[0];
    assert_eq!(
        (h.gso_type, h.gso_size, h.flags),
        (GSO_TCPV4, 1460, F_NEEDS_CSUM)
    );
    let segments = cut(h, frame);
    assert_eq!(segments.len(), 6);
    for s in &segments {
        parse_tcp(s); // the device's checksums verify
    }
    let single = lab.sent(UPLINK);
    assert_eq!(single.len(), 1);
    assert_eq!(
        parse_tcp(&single[0]).2.len(),
        300,
        "completed before AF_XDP"
    );
}

#[test]
fn a_segment_queued_for_the_gateway_leaves_completed() {
    let mut lab = Lab::new();
    for p in [UPLINK, TAP1, TAP2, TAP3] {
        lab.pipe.attach(p, MemPort::new().with_gso(false));
    }
    // The gateway is not resolved yet: the segment waits in the neighbor queue.
    lab.inject(
        TAP1,
        &tcp_partial_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 500),
    );
    lab.run();
    assert_eq!(lab.sent(UPLINK).len(), 1, "the ARP request only");
    lab.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    lab.run();
    let sent = lab.sent(UPLINK);
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_tcp(&sent[0]).2.len(), 500, "checksum complete");
}

#[test]
fn segments_from_one_guest_to_another_are_coalesced_with_valid_checksums() {
    let mut lab = lab(false);
    // Partial checksums from guest 1 (completed by the router, not verified again when
    // merged), and a corrupted segment from the VLAN toward the same guest (verified:
    // never merged).
    for s in stream_from_guest(6, GUEST2) {
        lab.inject(TAP1, &s);
    }
    let mut bad = stream_from_vlan(2, 700_000);
    for f in &mut bad {
        f[30..34].copy_from_slice(&GUEST2.octets());
        fix_checksums(f);
    }
    bad[0][60] ^= 1;
    lab.inject(UPLINK, &bad[0]);
    lab.run();
    let sends = gso_sent(&mut lab, TAP2);
    assert_eq!(sends.len(), 1);
    let (h, frame) = &sends[0];
    assert_eq!((h.gso_type, h.gso_size), (GSO_TCPV4, 1460));
    let segments = cut(h, frame);
    assert_eq!(segments.len(), 6);
    for s in &segments {
        let ip = parse_ip(s);
        assert_eq!((ip.eth.dst_addr, ip.ttl), (MAC2, 63));
        parse_tcp(s); // checksums verify
    }
    assert_eq!(lab.sent(TAP2).len(), 1, "the corrupted segment, alone");
}
