//! The cost of handing a frame to another worker (`hvrouter_dataplane::handoff`) next
//! to forwarding the same frames on one worker, in one run, on in-memory ports (no
//! devices: the router's and the handoff's own cost, none of AF_XDP's).
//!
//! ```text
//! hvr-bench-handoff [--secs 2] [--burst 32] [--capacity 4096]
//! ```
//! Two paths, 64-byte UDP frames (60 without FCS) from a generator port:
//! - `vlan->guest`: uplink to a guest. Handoff: received and routed on worker 0, the
//!   rewritten frame copied through the ring and sent on worker 1 (which owns the guest).
//! - `guest->vlan`: a guest to the VLAN's gateway (resolved). Handoff: worker 1 (a
//!   follower) receives and checks the frame, worker 0 (the home) resolves, rewrites
//!   and sends it (`Action::Resolve`).
//!
//! `local` runs both ports on one pipeline on one thread. `stepped` runs two pipelines
//! joined by a mesh on one thread, one pass of each in turn (the handoff's own work,
//! without cache lines crossing cores). `threads` runs them on two threads; the sender
//! waits (untimed) while the ring has no room for a burst, so nothing is dropped and
//! both workers run at the pace of the slower. Each worker times its passes that moved
//! frames; ns/frame is that busy time over the frames it moved (idle polling costs
//! nothing here). `total` is both workers' ns/frame together, the CPU time the path
//! costs per frame; `total - local` is the handoff's cost per frame. The machine is
//! shared: run it a few times and read ranges.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant as WallClock};

use hvrouter_bench::{tool_main, Args, ToolResult};
use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::handoff::HandoffEnds;
use hvrouter_dataplane::{mesh, MemPool, MemPort, Pipeline};
use std::net::Ipv4Addr;
use wire::EthernetAddress;

const UPLINK: PortId = PortId(0);
const TAP1: PortId = PortId(1);
const TAP2: PortId = PortId(2);
const UPLINK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const GUEST_SIDE_MAC: [u8; 6] = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff];
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const MAC1: [u8; 6] = [0x02, 0, 0, 0, 1, 0x01];
const MAC2: [u8; 6] = [0x02, 0, 0, 0, 2, 0x02];
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ROUTER_SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
const GUEST1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const GUEST2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// A fixed router clock: timers stay quiet.
const NOW: Instant = Instant::from_secs(1000);

fn main() {
    tool_main("hvr-bench-handoff", run);
}

#[derive(Clone, Copy)]
enum Path {
    VlanToGuest,
    GuestToVlan,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::VlanToGuest => "vlan->guest",
            Path::GuestToVlan => "guest->vlan",
        }
    }

    /// The generated frame, its ingress and egress ports.
    fn traffic(self) -> Result<(Vec<u8>, PortId, PortId), Box<dyn std::error::Error>> {
        let stream = |dst_mac, src_mac, src_ip, dst_ip| hvrouter_bench::frames::UdpStream {
            dst_mac,
            src_mac,
            src_ip,
            dst_ip,
            dst_port: 5201,
            frame_len: 60,
        };
        let (s, ingress, egress) = match self {
            Path::VlanToGuest => (stream(UPLINK_MAC, GW_MAC, REMOTE, GUEST2), UPLINK, TAP2),
            Path::GuestToVlan => (stream(GUEST_SIDE_MAC, MAC2, GUEST2, REMOTE), TAP2, UPLINK),
        };
        let frame = s.frame(40000).ok_or("bad frame")?;
        Ok((frame, ingress, egress))
    }
}

fn run(args: Args) -> ToolResult {
    let secs: f64 = args.get("secs").unwrap_or("2").parse()?;
    let burst: usize = args.get("burst").unwrap_or("32").parse()?;
    let capacity: usize = args.get("capacity").unwrap_or("4096").parse()?;
    let dur = Duration::from_secs_f64(secs);
    println!(
        "{:<12} {:<8} {:>10} {:>7} {:>10} {:>10} {:>10} {:>8}",
        "path", "mode", "frames", "Mpps", "w0 ns/f", "w1 ns/f", "total ns/f", "dropped"
    );
    for path in [Path::VlanToGuest, Path::GuestToVlan] {
        let local = local(path, burst, dur)?;
        local.print(path, "local");
        let stepped = stepped(path, burst, capacity, dur)?;
        stepped.print(path, "stepped");
        let handed = handoff(path, burst, capacity, dur)?;
        handed.print(path, "threads");
        println!(
            "{:<12} handoff cost per frame: stepped {:.1} ns, threads {:.1} ns (total - local)",
            path.name(),
            stepped.total() - local.total(),
            handed.total() - local.total(),
        );
    }
    Ok(())
}

/// What one run measured.
#[derive(Default)]
struct Figure {
    /// Frames that left the egress port.
    delivered: u64,
    elapsed: Duration,
    /// Per worker: busy time, frames it moved.
    workers: Vec<(Duration, u64)>,
    dropped: u64,
}

impl Figure {
    fn ns_per_frame(&self, w: usize) -> Option<f64> {
        let (busy, frames) = *self.workers.get(w)?;
        (frames > 0).then(|| busy.as_nanos() as f64 / frames as f64)
    }

    fn total(&self) -> f64 {
        (0..self.workers.len())
            .filter_map(|w| self.ns_per_frame(w))
            .sum()
    }

    fn print(&self, path: Path, mode: &str) {
        let ns = |w| {
            self.ns_per_frame(w)
                .map_or("-".into(), |v| format!("{v:.1}"))
        };
        println!(
            "{:<12} {:<8} {:>10} {:>7.3} {:>10} {:>10} {:>10.1} {:>8}",
            path.name(),
            mode,
            self.delivered,
            self.delivered as f64 / self.elapsed.as_secs_f64() / 1e6,
            ns(0),
            ns(1),
            self.total(),
            self.dropped
        );
    }
}

/// The replica router every worker runs: one network, guests tap1 and tap2.
fn replica() -> Result<Router, Box<dyn std::error::Error>> {
    let mut r = Router::new(RouterConfig::default(), NOW);
    let net = r.add_network(
        NetworkSpec {
            name: "public_90".into(),
            subnet: "192.0.2.0/24".parse()?,
            gateway: GATEWAY,
            uplink: UPLINK,
            mtu: 1500,
            uplink_mac: EthernetAddress(UPLINK_MAC),
            guest_mac: EthernetAddress(GUEST_SIDE_MAC),
            arp_source: Some(ROUTER_SRC),
        },
        NOW,
    )?;
    for (name, port, mac, ip) in [("tap1", TAP1, MAC1, GUEST1), ("tap2", TAP2, MAC2, GUEST2)] {
        r.add_guest(GuestSpec {
            name: name.into(),
            port,
            mac: EthernetAddress(mac),
            ips: vec![ip],
            network: net,
            extra_prefixes: vec![],
        })?;
    }
    Ok(r)
}

/// Resolve the gateway on `pipe` (which has the uplink and tap1): a frame from tap1 and
/// the gateway's ARP reply, as in steady state.
fn resolve_gateway(pipe: &mut Pipeline<MemPort>) -> Result<(), Box<dyn std::error::Error>> {
    pipe.attach(UPLINK, MemPort::new());
    pipe.attach(TAP1, MemPort::new());
    let s = hvrouter_bench::frames::UdpStream {
        dst_mac: GUEST_SIDE_MAC,
        src_mac: MAC1,
        src_ip: GUEST1,
        dst_ip: REMOTE,
        dst_port: 5201,
        frame_len: 60,
    };
    let frame = s.frame(40000).ok_or("bad frame")?;
    pipe.port_mut(TAP1).ok_or("no tap1")?.inject(&frame);
    pipe.run_once(NOW);
    let mut reply = vec![0u8; 60];
    let eth = wire::EthernetRepr {
        src_addr: EthernetAddress(GW_MAC),
        dst_addr: EthernetAddress(UPLINK_MAC),
        ethertype: wire::EtherType::Arp,
    };
    let mut f = wire::EthernetFrame::new_unchecked(&mut reply[..]);
    eth.emit(&mut f);
    wire::ArpRepr {
        operation: wire::ArpOperation::Reply,
        source_hardware_addr: EthernetAddress(GW_MAC),
        source_protocol_addr: GATEWAY,
        target_hardware_addr: EthernetAddress(UPLINK_MAC),
        target_protocol_addr: ROUTER_SRC,
    }
    .emit(&mut wire::ArpPacket::new_unchecked(f.payload_mut()));
    pipe.port_mut(UPLINK).ok_or("no uplink")?.inject(&reply);
    pipe.run_once(NOW);
    let sent = pipe.port_mut(UPLINK).ok_or("no uplink")?.take_sent();
    if sent.len() != 2 {
        return Err("the gateway was not resolved".into());
    }
    Ok(())
}

/// Both ports on one pipeline, one thread.
fn local(path: Path, burst: usize, dur: Duration) -> Result<Figure, Box<dyn std::error::Error>> {
    let (frame, ingress, egress) = path.traffic()?;
    let mut pipe = Pipeline::new(replica()?, burst);
    resolve_gateway(&mut pipe)?;
    let pool = MemPool::default();
    pipe.attach(ingress, MemPort::generator(frame, pool.clone()));
    pipe.attach(egress, MemPort::sink(pool));
    let start = WallClock::now();
    let (mut busy, mut frames) = (Duration::ZERO, 0u64);
    while start.elapsed() < dur {
        let t = WallClock::now();
        let s = pipe.run_once(NOW);
        busy += t.elapsed();
        frames += s.rx as u64;
    }
    let c = pipe.router().port_counters(egress);
    Ok(Figure {
        delivered: c.tx_packets,
        elapsed: start.elapsed(),
        workers: vec![(busy, frames)],
        dropped: pipe.router().port_counters(ingress).drops.iter().sum(),
    })
}

/// Worker `w`'s pipeline for `path`: worker 0 has the uplink (and the resolved
/// gateway), worker 1 guest tap2 and a follower router. The ingress port generates.
fn worker(
    w: usize,
    path: Path,
    burst: usize,
    ends: HandoffEnds,
) -> Result<Pipeline<MemPort>, Box<dyn std::error::Error>> {
    let (frame, ingress, _) = path.traffic()?;
    let mut pipe = Pipeline::new(replica()?, burst);
    let pool = MemPool::default();
    let port = |p: PortId| {
        if p == ingress {
            MemPort::generator(frame.clone(), pool.clone())
        } else {
            MemPort::sink(pool.clone())
        }
    };
    if w == 0 {
        resolve_gateway(&mut pipe)?;
        pipe.detach(TAP1);
        pipe.attach(UPLINK, port(UPLINK));
        pipe.set_port_owner(TAP2, Some(1));
    } else {
        pipe.router_mut().set_follower(true);
        pipe.attach(TAP2, port(TAP2));
        pipe.set_port_owner(UPLINK, Some(0));
    }
    pipe.set_handoff(ends);
    Ok(pipe)
}

/// Frames that left `egress` and were dropped on the uplink or tap2 of `pipe`.
fn delivered_dropped(pipe: &Pipeline<MemPort>, egress: PortId) -> (u64, u64) {
    let c = pipe.router().port_counters(egress);
    let mut dropped = 0;
    for p in [UPLINK, TAP2] {
        let drops = pipe.router().port_counters(p).drops;
        for (i, &n) in drops.iter().enumerate().filter(|(_, &n)| n > 0) {
            let name = hvrouter_core::drop::DropReason::ALL
                .get(i)
                .map_or("?", |r| r.name());
            eprintln!("  dropped on {p}: {n} {name}");
            dropped += n;
        }
    }
    (c.tx_packets, dropped)
}

/// Frames a pass moved: received, or (on the receiving worker) transmitted.
fn moved(s: hvrouter_dataplane::PassStats) -> u64 {
    if s.rx > 0 {
        s.rx as u64
    } else {
        s.tx as u64
    }
}

/// Two pipelines on one thread, a pass of each in turn.
fn stepped(
    path: Path,
    burst: usize,
    capacity: usize,
    dur: Duration,
) -> Result<Figure, Box<dyn std::error::Error>> {
    let (_, _, egress) = path.traffic()?;
    let mut ends = mesh(2, capacity).into_iter();
    let mut w0 = worker(0, path, burst, ends.next().ok_or("mesh")?)?;
    let mut w1 = worker(1, path, burst, ends.next().ok_or("mesh")?)?;
    let mut busy = [(Duration::ZERO, 0u64); 2];
    let start = WallClock::now();
    while start.elapsed() < dur {
        for (i, pipe) in [&mut w0, &mut w1].into_iter().enumerate() {
            let t = WallClock::now();
            let s = pipe.run_once(NOW);
            let d = t.elapsed();
            if moved(s) > 0 {
                busy[i].0 += d;
                busy[i].1 += moved(s);
            }
        }
    }
    let elapsed = start.elapsed();
    let (d0, x0) = delivered_dropped(&w0, egress);
    let (d1, x1) = delivered_dropped(&w1, egress);
    Ok(Figure {
        delivered: d0 + d1,
        elapsed,
        workers: busy.to_vec(),
        dropped: x0 + x1,
    })
}

/// What one worker thread measured: busy time, frames moved, delivered on its egress,
/// drops on its ports.
struct WorkerRun {
    busy: Duration,
    frames: u64,
    delivered: u64,
    dropped: u64,
}

/// Two pipelines on two threads. The sending worker waits, untimed, until the ring has
/// room for a burst (`taken` is what the receiving worker took so far).
fn handoff(
    path: Path,
    burst: usize,
    capacity: usize,
    dur: Duration,
) -> Result<Figure, Box<dyn std::error::Error>> {
    let (_, ingress, egress) = path.traffic()?;
    let mut ends = mesh(2, capacity).into_iter();
    let (e0, e1) = (ends.next().ok_or("mesh")?, ends.next().ok_or("mesh")?);
    let stop = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(Barrier::new(3));
    let sender = usize::from(ingress == TAP2);
    let spawn = |w: usize, ends: HandoffEnds| {
        let (stop, ready, taken) = (Arc::clone(&stop), Arc::clone(&ready), Arc::clone(&taken));
        std::thread::spawn(move || -> Result<WorkerRun, String> {
            let mut pipe = worker(w, path, burst, ends).map_err(|e| e.to_string())?;
            let peer = 1 - w;
            ready.wait();
            let (mut busy, mut frames) = (Duration::ZERO, 0u64);
            while !stop.load(Ordering::Relaxed) {
                if w == sender {
                    let out = pipe.handoff_stats().peers[peer].handed_out;
                    if out.saturating_sub(taken.load(Ordering::Acquire)) + burst as u64
                        > capacity as u64
                    {
                        std::hint::spin_loop();
                        continue;
                    }
                }
                let t = WallClock::now();
                let s = pipe.run_once(NOW);
                let d = t.elapsed();
                if w != sender {
                    let got = pipe.handoff_stats().peers[peer].handed_in;
                    taken.store(got, Ordering::Release);
                }
                if moved(s) > 0 {
                    busy += d;
                    frames += moved(s);
                }
            }
            let (delivered, dropped) = delivered_dropped(&pipe, egress);
            Ok(WorkerRun {
                busy,
                frames,
                delivered,
                dropped,
            })
        })
    };
    let t0 = spawn(0, e0);
    let t1 = spawn(1, e1);
    ready.wait();
    let start = WallClock::now();
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let r0 = t0.join().map_err(|_| "worker 0 panicked")??;
    let r1 = t1.join().map_err(|_| "worker 1 panicked")??;
    Ok(Figure {
        delivered: r0.delivered + r1.delivered,
        elapsed,
        workers: vec![(r0.busy, r0.frames), (r1.busy, r1.frames)],
        dropped: r0.dropped + r1.dropped,
    })
}
