//! Frames the kernel drops before the router sees them are counted by cause, against a
//! real AF_XDP socket: a port that is not polled, with a small fill quota, loses the
//! frames beyond its quota as `no_fill` (the kernel's `rx_dropped`, the router's
//! `rx_no_frame`); with a small RX ring and a larger fill quota, as `ring_full`
//! (`rx_ring_full`). Needs root (AF_XDP, bpf(2), namespaces) and `ping`; skips with a
//! message otherwise. Topology: `xdp_lab` (192.0.2.0/24 only).

#![allow(clippy::unwrap_used)]

mod xdp_lab;

use std::sync::mpsc;
use std::time::Duration;

use hvrouter_dataplane::fill::FillBounds;
use hvrouter_dataplane::xdp_port::{AttachMode, UmemConfig};
use hvrouter_dataplane::{PortSpec, RxDrops, XdpPort, XdpPortConfig};
use sys::{FramePool, UmemError};
use xdp_lab::{is_root, ns_exec, run, Lab, Worker, SERIAL};

/// Frames sent at each port.
const SENT: u64 = 100;
/// Frames the kernel may see beyond ours (none expected: IPv6 is off in the lab).
const SLACK: u64 = 8;

/// `count` ICMP echo requests from `dev` in `ns` to an address with a static neighbor
/// entry: one frame each toward the port, nothing else needed.
fn send(ns: &str, dev: &str, count: u64) {
    run(&[
        "ip",
        "-n",
        ns,
        "neigh",
        "replace",
        "192.0.2.99",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        dev,
        "nud",
        "permanent",
    ]);
    let count = count.to_string();
    // Nothing answers: ping's status says so, and is not the point.
    ns_exec(
        ns,
        &[
            "ping",
            "-q",
            "-n",
            "-c",
            &count,
            "-i",
            "0.002",
            "-W",
            "1",
            "192.0.2.99",
        ],
    );
}

#[test]
fn kernel_drops_are_counted_by_cause() {
    let name = "kernel_drops_are_counted_by_cause";
    if !is_root() {
        eprintln!("SKIP {name}: needs root (AF_XDP, bpf(2), network namespaces)");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new('d');
    let (ns, uplink, guest_port) = (lab.hv.clone(), lab.uplink.clone(), lab.guest_port.clone());
    let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
    let (sent_tx, sent) = mpsc::channel::<()>();
    let mut worker = Worker::spawn(move |_stop| -> Option<[(RxDrops, u64, u64); 2]> {
        sys::netns::enter(&ns).unwrap();
        let umem = UmemConfig {
            frame_count: 512,
            frame_size: 2048,
            headroom: 0,
        };
        let pool = match FramePool::with_config(umem) {
            Err(e @ UmemError::CreateSocket(_)) => {
                ready_tx
                    .send(Err(format!("AF_XDP unavailable: {e}")))
                    .unwrap();
                return None;
            }
            r => r.unwrap(),
        };
        // The uplink's veth: 16 fill chunks, a roomy RX ring.
        let few_chunks = XdpPortConfig {
            attach: AttachMode::Generic,
            fill: FillBounds::fixed(16),
            ..XdpPortConfig::default()
        };
        // The guest's veth: 64 fill chunks, an RX ring of 16 entries.
        let mut short_ring = XdpPortConfig {
            attach: AttachMode::Generic,
            fill: FillBounds::fixed(64),
            ..XdpPortConfig::default()
        };
        short_ring.xsk.rx_size = 16;
        let mut ports = [(&uplink, &few_chunks), (&guest_port, &short_ring)].map(|(dev, cfg)| {
            let ifindex = sys::netdev::ifindex(dev).unwrap();
            XdpPort::open(&pool, &PortSpec::guest(ifindex), cfg).unwrap()
        });
        ready_tx.send(Ok(())).unwrap();
        // Not polled while the frames arrive.
        if sent.recv_timeout(Duration::from_secs(60)).is_err() {
            return None;
        }
        let now = hvrouter_core::Instant::ZERO;
        Some(ports.each_mut().map(|port| {
            port.fill_tick(now, true);
            let taken = port.take_kernel_drops();
            let k = port.kernel_stats().unwrap();
            (taken, k.rx_dropped, k.rx_ring_full)
        }))
    });
    // Declared after the worker, dropped before it: a failure below lets it finish.
    let sent_tx = sent_tx;
    match ready.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            eprintln!("SKIP {name}: {why}");
            return;
        }
        Err(e) => panic!("worker did not open its ports: {e}"),
    }
    send(&lab.gw, &lab.gw_if, SENT);
    send(&lab.g1, &lab.guest_if, SENT);
    sent_tx.send(()).unwrap();
    let [(few, few_dropped, few_full), (short, short_dropped, short_full)] = worker
        .stop_and_join()
        .expect("the worker read its ports' counters");
    eprintln!("16 fill chunks: {few:?}; RX ring of 16: {short:?}");

    // Taken exactly as the kernel counted them, each under its own cause.
    assert_eq!((few.no_fill, few.ring_full), (few_dropped, few_full));
    assert_eq!(
        (short.no_fill, short.ring_full),
        (short_dropped, short_full)
    );
    assert_eq!(few.invalid_descs + short.invalid_descs, 0);

    // 16 chunks: the first 16 frames land, the rest find no fill entry.
    assert!(
        (SENT - 16..=SENT - 16 + SLACK).contains(&few.no_fill),
        "no_fill {} of {SENT} sent into 16 chunks",
        few.no_fill
    );
    assert_eq!(few.ring_full, 0, "the RX ring had room");
    // An RX ring of 16: the first 16 frames fill it, the rest find no room; the fill
    // ring never ran dry (the kernel gives a chunk back when the ring is full).
    assert!(
        (SENT - 16..=SENT - 16 + SLACK).contains(&short.ring_full),
        "ring_full {} of {SENT} sent into an RX ring of 16",
        short.ring_full
    );
    assert_eq!(short.no_fill, 0, "64 chunks were never used up");
}
