//! Pipeline micro-benchmark: 64-byte UDP frames through the whole burst pipeline on
//! in-memory ports (receive from a generator port, all stages, transmit to a counting
//! port), VLAN to guest and guest to VLAN, bursts of 32 and 64.
//!
//! Run with `scripts/bench-pipeline.sh`, which prints ns per packet. The generator copies
//! its 60-byte template into a recycled buffer per frame, as a NIC's DMA would; no
//! allocation happens in the steady state.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hvrouter_dataplane::{MemPool, MemPort};

#[path = "../tests/support/mod.rs"]
mod support;

use support::*;

/// 64 bytes on the wire: 14 Ethernet + 20 IPv4 + 8 UDP + 18 payload (+ 4 FCS).
const PAYLOAD: usize = 18;

fn vlan_to_guest(burst: usize) -> Lab {
    let mut lab = Lab::new();
    let frame = udp_frame(GW_MAC, UPLINK_MAC, REMOTE, GUEST1, 64, PAYLOAD, false);
    let pool = MemPool::default();
    lab.pipe
        .attach(UPLINK, MemPort::generator(frame, pool.clone()));
    lab.pipe.attach(TAP1, MemPort::sink(pool));
    lab.set_burst(burst);
    assert_forwards(&mut lab, TAP1, burst);
    lab
}

/// One pass must forward the whole burst, or the benchmark measures drops.
fn assert_forwards(lab: &mut Lab, egress: hvrouter_core::PortId, burst: usize) {
    let before = lab.pipe.router().port_counters(egress).tx_packets;
    lab.pipe.run_once(lab.now);
    let after = lab.pipe.router().port_counters(egress).tx_packets;
    assert_eq!(
        after - before,
        burst as u64,
        "the benchmark must forward every frame"
    );
}

fn guest_to_vlan(burst: usize) -> Lab {
    let mut lab = Lab::new();
    let frame = udp_frame(MAC1, GUEST_SIDE_MAC, GUEST1, REMOTE, 64, PAYLOAD, false);
    // Resolve the gateway first, as in steady state.
    lab.inject(TAP1, &frame);
    lab.run();
    lab.inject(UPLINK, &is_at(GW_MAC, GATEWAY, UPLINK_MAC, ROUTER_SRC));
    lab.run();
    assert_eq!(
        lab.sent(UPLINK).len(),
        2,
        "ARP request and released datagram"
    );
    let pool = MemPool::default();
    lab.pipe
        .attach(TAP1, MemPort::generator(frame, pool.clone()));
    lab.pipe.attach(UPLINK, MemPort::sink(pool));
    lab.set_burst(burst);
    assert_forwards(&mut lab, UPLINK, burst);
    lab
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    for burst in [32usize, 64] {
        group.throughput(Throughput::Elements(burst as u64));
        let mut lab = vlan_to_guest(burst);
        let now = lab.now;
        group.bench_function(format!("vlan_to_guest/{burst}"), |b| {
            b.iter(|| black_box(lab.pipe.run_once(now)))
        });
        let mut lab = guest_to_vlan(burst);
        let now = lab.now;
        group.bench_function(format!("guest_to_vlan/{burst}"), |b| {
            b.iter(|| black_box(lab.pipe.run_once(now)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
