use super::*;

fn frame(len: usize, fill: u8) -> Vec<u8> {
    vec![fill; len]
}

fn config(max_bytes: usize, snaplen: u32, ports: &[u16]) -> CaptureConfig {
    CaptureConfig {
        ports: ports.iter().map(|&p| PortId(p)).collect(),
        snaplen,
        max_bytes,
    }
}

#[test]
fn off_by_default_and_after_stop() {
    let mut c = Capture::default();
    assert!(!c.is_running());
    assert!(!c.wants(PortId(0)));
    assert_eq!(c.take().records().count(), 0);
    c.start(&CaptureConfig::default());
    assert!(c.wants(PortId(0)) && c.wants(PortId(700)));
    c.record_tx(
        PortId(1),
        Instant::from_secs(1),
        [&[1u8, 2][..]].into_iter(),
        Verdict::Sent,
    );
    let last = c.stop();
    assert_eq!(last.records().count(), 1);
    assert!(!c.is_running() && !c.wants(PortId(1)));
}

#[test]
fn buffer_is_bounded_and_full_means_counted_drops() {
    let mut c = Capture::default();
    c.start(&config(MIN_CAPTURE_BYTES, 65535, &[]));
    let cap = c.buf.capacity();
    let frames: Vec<Vec<u8>> = (0..200).map(|i| frame(1000, i as u8)).collect();
    c.record_rx(PortId(0), Instant::from_secs(1), &frames);
    let fits = MIN_CAPTURE_BYTES / (RECORD_HEADER + 1000);
    assert_eq!(c.captured, fits as u64);
    assert_eq!(c.dropped, (200 - fits) as u64);
    assert!(c.buf.len() <= MIN_CAPTURE_BYTES);
    assert_eq!(c.buf.capacity(), cap, "the buffer never grows");
    // The records that fit are the first ones, intact.
    let batch = c.take();
    let recs: Vec<_> = batch.records().collect();
    assert_eq!(recs.len(), fits);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.data, &frames[i][..]);
        assert_eq!(r.len, 1000);
        assert_eq!(r.direction, Direction::Rx);
    }
    // After a take there is room again; the drop count is cumulative.
    c.record_rx(PortId(0), Instant::from_secs(2), &frames[..1]);
    let b = c.take();
    assert_eq!(b.records().count(), 1);
    assert_eq!(b.dropped, (200 - fits) as u64);
    assert_eq!(b.captured, fits as u64 + 1);
}

#[test]
fn sizes_are_clamped() {
    let mut c = Capture::default();
    c.start(&config(usize::MAX, u32::MAX, &[]));
    assert_eq!(c.max_bytes, MAX_CAPTURE_BYTES);
    assert_eq!(c.snaplen, MAX_CAPTURE_BYTES - RECORD_HEADER);
    c.start(&config(0, 0, &[]));
    assert_eq!(c.max_bytes, MIN_CAPTURE_BYTES);
    assert_eq!(c.snaplen, 1);
}

#[test]
fn snaplen_truncates_but_keeps_the_length() {
    let mut c = Capture::default();
    c.start(&config(MIN_CAPTURE_BYTES, 64, &[]));
    let f = frame(1500, 7);
    c.record_tx(
        PortId(3),
        Instant::from_nanos(42),
        [&f[..]].into_iter(),
        Verdict::Originated(true),
    );
    let b = c.take();
    let r = b.records().next().unwrap();
    assert_eq!(r.data.len(), 64);
    assert_eq!(r.len, 1500);
    assert_eq!(r.port, PortId(3));
    assert_eq!(r.time, Instant::from_nanos(42));
    assert_eq!(r.direction, Direction::Tx);
    assert_eq!(r.verdict, Verdict::Originated(true));
    assert_eq!(b.bytes(), RECORD_HEADER + 64);
}

#[test]
fn port_filter() {
    let mut c = Capture::default();
    c.start(&config(MIN_CAPTURE_BYTES, 100, &[2, 5]));
    let wanted: Vec<u16> = (0..8).filter(|&p| c.wants(PortId(p))).collect();
    assert_eq!(wanted, [2, 5]);
    assert!(!c.wants(PortId(u16::MAX)));
    // Followed to other ports, or to none, without losing records.
    c.record_tx(
        PortId(2),
        Instant::ZERO,
        [&[1u8][..]].into_iter(),
        Verdict::Sent,
    );
    c.set_ports(Some(&[PortId(7)]));
    assert!(c.wants(PortId(7)) && !c.wants(PortId(2)));
    c.set_ports(Some(&[]));
    assert!((0..8).all(|p| !c.wants(PortId(p))));
    c.set_ports(None);
    assert!(c.wants(PortId(300)));
    assert_eq!(c.take().records().count(), 1);
}

#[test]
fn decisions_land_on_their_records_even_when_some_did_not_fit() {
    let mut c = Capture::default();
    c.start(&config(MIN_CAPTURE_BYTES, 65535, &[]));
    // Fill all but room for one 1000-byte record.
    let big = frame(MIN_CAPTURE_BYTES - 2 * RECORD_HEADER - 1000, 1);
    c.record_tx(
        PortId(0),
        Instant::ZERO,
        [&big[..]].into_iter(),
        Verdict::Sent,
    );
    let burst = vec![frame(2000, 2), frame(1000, 3), frame(1000, 4)];
    c.record_rx(PortId(1), Instant::ZERO, &burst);
    let actions = [
        Action::Forward(PortId(0)),
        Action::Drop(DropReason::SpoofedSourceIp),
        Action::Forward(PortId(9)),
    ];
    c.decide(&actions, |p| p != PortId(9));
    let b = c.take();
    let recs: Vec<_> = b.records().collect();
    assert_eq!(recs.len(), 2, "the big tx record and the second frame");
    assert_eq!(recs[1].data[0], 3);
    assert_eq!(
        recs[1].verdict,
        Verdict::Decided(Action::Drop(DropReason::SpoofedSourceIp))
    );
    assert_eq!(b.dropped, 2);
}

#[test]
fn verdicts_round_trip() {
    let mut all = vec![
        Verdict::Unknown,
        Verdict::Sent,
        Verdict::Originated(false),
        Verdict::Originated(true),
        Verdict::EgressMissing(PortId(7)),
        Verdict::Decided(Action::Consumed),
        Verdict::Decided(Action::Forward(PortId(u16::MAX))),
    ];
    all.extend(
        DropReason::ALL
            .iter()
            .map(|&r| Verdict::Decided(Action::Drop(r))),
    );
    for v in all {
        let (k, a) = encode_verdict(v);
        assert_eq!(decode_verdict(k, a), v);
    }
    assert_eq!(decode_verdict(200, 0), Verdict::Unknown);
    assert_eq!(decode_verdict(3, u16::MAX), Verdict::Unknown);
}

#[test]
fn take_reusing_keeps_one_buffer() {
    let mut c = Capture::default();
    c.start(&config(MIN_CAPTURE_BYTES, 100, &[]));
    c.record_tx(
        PortId(0),
        Instant::ZERO,
        [&[1u8][..]].into_iter(),
        Verdict::Sent,
    );
    let first = c.take();
    let ptr = first.buf.as_ptr();
    c.record_tx(
        PortId(0),
        Instant::ZERO,
        [&[2u8][..]].into_iter(),
        Verdict::Sent,
    );
    let second = c.take_reusing(first);
    assert_eq!(second.records().next().unwrap().data, [2]);
    assert_eq!(c.buf.as_ptr(), ptr, "the read buffer came back");
    assert_eq!(c.buf.len(), 0);
}

#[test]
fn a_truncated_batch_ends_the_iteration() {
    let mut c = Capture::default();
    c.start(&config(MIN_CAPTURE_BYTES, 100, &[]));
    c.record_tx(
        PortId(0),
        Instant::ZERO,
        [&[1u8; 50][..]].into_iter(),
        Verdict::Sent,
    );
    let mut b = c.take();
    b.buf.truncate(RECORD_HEADER + 10);
    assert_eq!(b.records().count(), 0);
}
