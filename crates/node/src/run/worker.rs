//! The packet workers: each on its own thread (pinned to its CPU if the configuration
//! lists them), with its own router (a replica of the tables: every change is applied
//! on every worker by the control thread), its own UMEM and the ports it owns
//! (`crate::ports::owners`). Frames for a port another worker owns cross over a
//! handoff ring (`hvrouter_dataplane::handoff`).
//!
//! Everything a worker owns is built on its thread (the frame pool is not `Send`);
//! the thread reports once it is ready, or why it could not start.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use hvrouter_config::{Config, PollMode as ConfigPoll};
use hvrouter_control::protocol::{CountersReport, WorkerCounters};
use hvrouter_core::router::Router;
use hvrouter_core::{Instant, NetworkId, PortId};
use hvrouter_dataplane::xdp_port::{XdpPort, XdpPortConfig};
use hvrouter_dataplane::{handoff, worker, MonotonicClock, Pipeline, PollMode, WorkerConfig};
use hvrouter_dataplane::{FastPath, WorkerStats};
use hvrouter_runtime::jobs::{self, JobQueue};
use sys::UmemConfig;
use wire::EthernetAddress;

use super::{sys_err, RunError};
use crate::control::side::{Worker, WorkerSide};
use crate::log;
use crate::ports::{Entry, Kind, Ports};
use crate::views;

/// Most control jobs a worker runs per housekeeping tick.
const JOBS_PER_TICK: usize = 64;
/// No new control job starts once this much of a housekeeping tick is spent on them:
/// the control thread sends the next job as soon as it has an answer, and the worker
/// must get back to its ports.
const JOBS_BUDGET: Duration = Duration::from_millis(1);
/// Frames each handoff ring holds (one ring per ordered pair of workers).
const HANDOFF_RING: usize = 4096;

/// The uplink MAC used until a missing uplink device appears (locally administered,
/// unicast); nothing is sent on a missing uplink.
const PLACEHOLDER_UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0]);

/// What every worker is built from.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The configuration.
    pub config: Config,
    /// How ports are opened (the fast path's maps with one worker).
    pub port_cfg: XdpPortConfig,
    /// Each worker's UMEM.
    pub umem: UmemConfig,
    /// The clock all workers share (capture timestamps compare across workers).
    pub clock: MonotonicClock,
}

/// What a worker leaves when it stops.
#[derive(Debug)]
pub struct Finished {
    /// Its counters, as `show counters` gives them.
    pub counters: CountersReport,
    /// For each port row: whether it owned the port.
    pub owned: Vec<bool>,
    /// Its loop's figures.
    pub stats: WorkerStats,
    /// Final router advertisements it sent.
    pub ra_final: u64,
}

/// A worker's thread: it returns what it leaves when it stops (nothing if it could not
/// start).
pub type WorkerThread = JoinHandle<Option<Finished>>;

/// Start `count` workers; returns their job links once every one is ready (worker 0
/// first), or the first error (the others are stopped then).
pub fn spawn_all(
    plan: &Plan,
    count: usize,
    stop: &'static AtomicBool,
) -> Result<(Vec<Worker>, Vec<WorkerThread>), RunError> {
    let mut ends = if count > 1 {
        handoff::mesh(count, HANDOFF_RING)
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None]
    };
    let mut links = Vec::with_capacity(count);
    let mut threads = Vec::with_capacity(count);
    let mut failure = None;
    for index in 0..count {
        let (link, queue) = jobs::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let plan = plan.clone();
        let ends = ends.get_mut(index).and_then(Option::take);
        let spawned = std::thread::Builder::new()
            .name(format!("hvr-worker-{index}"))
            .spawn(move || {
                let built = build(&plan, index, count, ends);
                match built {
                    Ok((pipe, ports)) => {
                        let _ = ready_tx.send(Ok(()));
                        Some(serve(pipe, ports, &plan, queue, stop))
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        None
                    }
                }
            })
            .map_err(|e| sys_err("start a worker thread", e));
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        threads.push(thread);
        match ready_rx.recv() {
            Ok(Ok(())) => links.push(link),
            Ok(Err(e)) => {
                failure = Some(e);
                break;
            }
            Err(_) => {
                failure = Some(RunError::Machine(format!(
                    "worker {index} stopped at start"
                )));
                break;
            }
        }
    }
    if let Some(e) = failure {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(links);
        for t in threads {
            let _ = t.join();
        }
        return Err(e);
    }
    Ok((links, threads))
}

/// Worker `index`'s router, ports and pipeline (on its thread).
fn build(
    plan: &Plan,
    index: usize,
    count: usize,
    ends: Option<handoff::HandoffEnds>,
) -> Result<(Pipeline<XdpPort>, Ports), RunError> {
    let config = &plan.config;
    if let Some(cpu) = config.dataplane.cpus.as_ref().and_then(|c| c.get(index)) {
        sys::affinity::pin_current_thread(usize::from(*cpu))
            .map_err(|e| sys_err("pin a worker to its CPU", e))?;
        log::info("worker_pinned", &[("worker", &index), ("cpu", cpu)]);
    }
    let now = plan.clock.now();
    let (router, entries, fixed_macs) = tables(config, index, count, now, |dev| {
        sys::netdev::mac_address(dev).ok()
    })?;
    let mut pipe: Pipeline<XdpPort> = Pipeline::new(router, usize::from(config.dataplane.burst));
    if let Some(maps) = plan.port_cfg.fast_path.clone() {
        pipe.set_fast_path(Some(FastPath::new(maps, now)));
    }
    if let Some(ends) = ends {
        pipe.set_handoff(ends);
        // Idle in interrupt mode, the worker blocks in poll(2): the others ring this
        // when they hand it frames.
        pipe.enable_handoff_wakeup()
            .map_err(|e| sys_err("create a worker's wake-up eventfd", e))?;
    }
    let mut ports = Ports::new(entries, plan.umem, plan.port_cfg.clone())?;
    ports.set_worker(index, count);
    for net in fixed_macs {
        ports.fix_uplink_mac(net);
    }
    ports.sync_owners(&mut pipe);
    Ok((pipe, ports))
}

/// Worker `index`'s (of `count`) router tables from the configuration: its networks
/// (each uplink with its device's MAC, `mac_of`, or a placeholder while the device is
/// missing) and their IPv6 sides, the IPv6 sides the configured guests ask for; the port
/// table's entries for the uplinks; and the networks whose uplink MAC is configured.
fn tables(
    config: &Config,
    index: usize,
    count: usize,
    now: Instant,
    mac_of: impl Fn(&str) -> Option<[u8; 6]>,
) -> Result<(Router, Vec<Entry>, Vec<NetworkId>), RunError> {
    let mut router = Router::new(config.router_config(), now);
    // RFC 1812 4.3.2.8's limit holds for the router as a whole: each worker sends its
    // share (a guest's errors come from the one worker that has its port).
    router.share_rate_limits(count, now);
    let mut entries = Vec::new();
    let mut fixed_macs = Vec::new();
    for net in &config.networks {
        let id = PortId(entries.len() as u16);
        // A missing uplink does not stop the other networks: its MAC is read again
        // when the device appears (see `Ports::open`); until then nothing is sent on it.
        let mac = mac_of(&net.uplink)
            .map(EthernetAddress)
            .unwrap_or(PLACEHOLDER_UPLINK_MAC);
        let net_id = router.add_network(net.network_spec(id, mac), now)?;
        if net.uplink_mac.is_some() {
            fixed_macs.push(net_id);
        }
        entries.push(Entry {
            id,
            ifname: net.uplink.clone(),
            kind: Kind::Uplink(net_id),
            ifindex: None,
            link_up: false,
            bound: None,
        });
    }
    crate::ipv6::configure(&mut router, config, now);
    if index > 0 {
        // The uplinks are worker 0's: it alone resolves their neighbors.
        router.set_follower(true);
    }
    Ok((router, entries, fixed_macs))
}

/// Poll until the stop flag, running the control thread's jobs between bursts; then
/// send the final router advertisements and report.
fn serve(
    mut pipe: Pipeline<XdpPort>,
    ports: Ports,
    plan: &Plan,
    jobs: JobQueue<Pipeline<XdpPort>, WorkerSide>,
    stop: &AtomicBool,
) -> Finished {
    let mut side = WorkerSide::new(ports);
    let mode = match plan.config.dataplane.poll {
        ConfigPoll::Busy => PollMode::Busy,
        ConfigPoll::Adaptive => PollMode::Adaptive,
        ConfigPoll::Interrupt => PollMode::Interrupt,
    };
    let worker_cfg = WorkerConfig::for_mode(mode);
    let clock = plan.clock;
    let stats = worker::run(
        &mut pipe,
        &worker_cfg,
        &clock,
        stop,
        |pipe, now, worker| {
            side.now = now;
            side.worker = views::worker_counters(worker);
            with_handoff(&mut side.worker, pipe);
            jobs.drain_for(pipe, &mut side, JOBS_PER_TICK, JOBS_BUDGET);
            side.captures.tick(pipe, now);
            side.ports.tick_frames(pipe, now);
        },
        |pipe, wait| idle_wait(pipe, mode, wait),
    );
    // The job queue goes with this thread: the control thread stops at its next
    // request to the worker or at the stop flag.
    drop(jobs);
    // RFC 4861 6.2.5: guests drop their default route through the router now, not
    // when its lifetime runs out. Two passes: the advertisements, then their completions.
    pipe.router_mut().cease_advertising();
    for _ in 0..2 {
        pipe.run_once(clock.now());
    }
    let ra_final = pipe.router().ipv6().stats().ra_final;
    let mut worker = views::worker_counters(&stats);
    with_handoff(&mut worker, &pipe);
    let counters = views::counters_report(&mut pipe, &side.ports, worker);
    let owned = side.ports.owned_rows();
    // Dropping the pipeline detaches the programs of the ports it holds.
    drop(pipe);
    Finished {
        counters,
        owned,
        stats,
        ra_final,
    }
}

/// Wait while idle: in interrupt mode block in `poll(2)` on every port's socket and the
/// worker's wake-up eventfd (rung by a worker handing it frames), so the first frame
/// wakes it; in adaptive mode sleep (the back-off is short).
fn idle_wait(pipe: &Pipeline<XdpPort>, mode: PollMode, wait: Duration) {
    if mode == PollMode::Interrupt {
        let fds: Vec<BorrowedFd<'_>> = pipe
            .ports()
            .flat_map(|p| std::iter::once(p.as_fd()).chain(p.extra_fds()))
            .chain(pipe.handoff_wake_fd())
            .collect();
        if sys::poll::wait_readable(&fds, wait).is_ok() {
            return;
        }
    }
    std::thread::sleep(wait);
}

/// The worker's handoff figures, into its counters.
fn with_handoff(w: &mut WorkerCounters, pipe: &Pipeline<XdpPort>) {
    let h = pipe.handoff_stats().total();
    w.workers = 1;
    w.handed_out = h.handed_out;
    w.handed_in = h.handed_in;
}

#[cfg(test)]
mod tests;
