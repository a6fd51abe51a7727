//! The worker's side of the control plane: the state only the packet thread touches
//! (ports and their pool, captures), the read-only queries it answers by
//! copying data out, and the settling of what opening and closing ports left for the
//! control thread.

use hvrouter_control::protocol::{Payload, Request, Response, WorkerCounters};
use hvrouter_core::Instant;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use hvrouter_runtime::jobs::{WorkerGone, WorkerLink};

use super::workers::Workers;

use crate::capture::Captures;
use crate::ports::open::{self, Effects, OpenResult};
use crate::ports::queues::{self, QueueResult};
use crate::ports::{owners, Ports};
use crate::views;

/// What the packet worker owns besides its pipeline.
#[derive(Debug)]
pub struct WorkerSide {
    /// The devices and the frame pool.
    pub ports: Ports,
    /// The running `hvrouter capture`, if any.
    pub captures: Captures,
    /// The worker's clock at its last housekeeping.
    pub now: Instant,
    /// The worker's counters at its last housekeeping.
    pub worker: WorkerCounters,
}

/// The control thread's handle on the worker.
pub type Worker = WorkerLink<Pipeline<XdpPort>, WorkerSide>;

impl WorkerSide {
    /// A side for `ports`.
    pub fn new(ports: Ports) -> WorkerSide {
        WorkerSide {
            ports,
            captures: Captures::default(),
            now: Instant::ZERO,
            worker: WorkerCounters::default(),
        }
    }

    /// [`Self::query`], with an error for a request that is not a query.
    pub fn answer(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        req: &Request,
        runtime: &[String],
    ) -> Response {
        self.query(pipe, req, runtime)
            .unwrap_or_else(|| Response::error("request not handled"))
    }

    /// Answer a request that only reads the worker's state (`None`: not such a
    /// request). `runtime`: the guests added at run time (the control thread's state).
    pub fn query(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        req: &Request,
        runtime: &[String],
    ) -> Option<Response> {
        let now = self.now;
        let ok = |p| Response::Ok(p);
        Some(match req {
            Request::GuestList => ok(Payload::Guests(views::guests(pipe.router(), |t| {
                runtime.iter().any(|r| r == t)
            }))),
            Request::ShowNetworks => ok(Payload::Networks(views::networks(
                pipe.router(),
                &self.ports,
            ))),
            Request::ShowRoutes { network } => ok(Payload::Routes(views::routes(
                pipe.router(),
                network.as_deref(),
            ))),
            Request::ShowNeighbors { network } => ok(Payload::Neighbors(views::neighbors(
                pipe.router(),
                network.as_deref(),
                now,
            ))),
            Request::ShowPorts => ok(Payload::Ports(views::ports(pipe, &self.ports))),
            Request::ShowCounters => ok(Payload::Counters(views::counters_report(
                pipe,
                &self.ports,
                self.worker,
            ))),
            Request::ExplainArp { ip, network } => {
                let ex = views::explain(pipe.router(), *ip, network.as_deref());
                if ex.is_empty() {
                    return Some(Response::error(no_network(network.as_deref())));
                }
                ok(Payload::ArpExplanations(ex))
            }
            Request::ExplainNdp { addr, network } => {
                let ex = crate::ipv6::explain(pipe.router(), *addr, network.as_deref());
                if ex.is_empty() {
                    return Some(Response::error(no_network6(network.as_deref())));
                }
                ok(Payload::NdpExplanations(ex))
            }
            Request::ShowIpv6 { network } => {
                match crate::ipv6::report(pipe.router(), network.as_deref()) {
                    Some(r) => ok(Payload::Ipv6(r)),
                    None => Response::error(no_network(network.as_deref())),
                }
            }
            Request::ShowDhcp => ok(Payload::Dhcp(views::dhcp_report(pipe.router(), now))),
            Request::ExplainDhcp { tap } => match views::dhcp_explain(pipe.router(), tap, now) {
                Some(ex) => ok(Payload::DhcpExplanation(Box::new(ex))),
                None => Response::error(format!("no such guest: {tap}")),
            },
            Request::CaptureStart { .. }
            | Request::CaptureRead { .. }
            | Request::CaptureStop { .. } => {
                return self.captures.handle(pipe, &self.ports, req, now);
            }
            _ => return None,
        })
    }
}

/// Carry out what worker `index` left (control thread): close retired ports and give
/// their chunks back, tell the other workers what changed on its ports, open the ports
/// and bind the queues asked for and have the worker adopt them, until nothing is left.
pub fn settle(workers: &Workers, index: usize, mut fx: Effects) -> Result<(), WorkerGone> {
    let worker = workers.get(index).ok_or(WorkerGone)?;
    loop {
        let reclaims: Vec<_> = fx.retired.drain(..).flat_map(|r| r.close()).collect();
        fx.discard.clear(); // detaches and closes them, here
        fx.discard_queues.clear();
        if !reclaims.is_empty() {
            worker.send(move |_, s| {
                for c in reclaims {
                    s.ports.reclaim(c);
                }
            })?;
        }
        if !fx.replicas.is_empty() {
            let replicas = std::mem::take(&mut fx.replicas);
            workers.send_others(index, move |p, _| {
                for r in &replicas {
                    owners::apply(p, r);
                }
            })?;
        }
        if fx.opens.is_empty() && fx.queues.is_empty() {
            return Ok(());
        }
        let results: Vec<OpenResult> = fx.opens.iter().map(open::prepare).collect();
        let queues: Vec<QueueResult> = fx.queues.drain(..).map(queues::bind).collect();
        let (failed, next) = worker.call(move |p, s| {
            let failed: Vec<_> = results
                .into_iter()
                .filter_map(|r| s.ports.finish_open(r, p).err())
                .collect();
            s.ports.finish_queues(queues, p);
            (failed, s.ports.take_effects())
        })?;
        for f in &failed {
            f.report();
        }
        fx = next;
    }
}

fn no_network(name: Option<&str>) -> String {
    match name {
        Some(n) => format!("no such network: {n}"),
        None => "no networks configured".into(),
    }
}

fn no_network6(name: Option<&str>) -> String {
    match name {
        Some(n) => format!("no such network with IPv6 (subnet6): {n}"),
        None => "no network has IPv6 (subnet6)".into(),
    }
}
