//! Runtime control on its own thread: control-socket requests, SIGHUP reloads, link
//! events, the persisted runtime guest set, and the metrics snapshot. Everything that
//! can wait (configuration parsing, device lookups, `/proc/sys` writes, netlink, opening
//! and closing sockets and programs) runs here; the packet worker only runs short jobs
//! between bursts ([`side::Worker`]): table changes, adopting a ready socket, copying
//! its state out for a query.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use hvrouter_config::Config;
use hvrouter_control::metrics::http::MetricsHandle;
use hvrouter_control::protocol::{
    Change, GuestChange, GuestSpec, Payload, PongInfo, Request, Response,
};
use hvrouter_control::server::Command;
use hvrouter_control::state::{RuntimeState, StateSaver};
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use hvrouter_runtime::jobs::WorkerGone;
use sys::netlink::LinkEvent;
use sys::LinkMonitor;

use crate::guests::{self, Added, MetDevice};
use crate::log;
use crate::ports::LinkOutcome;

pub mod merge;
mod query;
mod reload;
pub mod side;
pub mod workers;

use side::WorkerSide;
use workers::Workers;

/// How often the metrics snapshot is refreshed (and DHCP declines logged).
const METRICS_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for a request before looking at links, signals and metrics.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// The control side of a running router.
#[derive(Debug)]
pub struct Control {
    /// The configuration file, re-read on reload.
    pub config_path: PathBuf,
    /// The configuration last applied.
    pub config: Config,
    /// Runtime changes relative to the configuration (persisted).
    pub state: RuntimeState,
    /// Saves `state` off this thread.
    pub saver: StateSaver,
    /// Requests from the control socket.
    pub commands: Receiver<Command>,
    /// Where metrics snapshots go, if metrics are on.
    pub metrics: Option<MetricsHandle>,
    /// When the router started.
    pub started: std::time::Instant,
    /// The packet workers.
    pub workers: Workers,
    /// Link events.
    pub links: LinkMonitor,
    /// `trace` requests waiting for frames from several workers, and the frame count
    /// the running trace asked of each.
    pub traces: Vec<Command>,
    /// The frame count of the running multi-worker trace.
    pub trace_count: u32,
}

/// The configuration's guests in control-protocol form.
pub fn config_specs(config: &Config) -> Vec<GuestSpec> {
    config
        .guests
        .iter()
        .map(|g| GuestSpec {
            tap: g.tap.clone(),
            mac: g.mac,
            ips: g.ips.clone(),
            network: g.network.clone(),
            routed_prefixes: g.routed_prefixes.clone(),
            hostname: g.hostname.clone(),
            ipv6: g.ipv6.as_ref().map(crate::guests6::asked),
        })
        .collect()
}

impl Control {
    /// Run until `stop` is set or the worker is gone.
    pub fn run(mut self, stop: &AtomicBool) {
        let mut events = Vec::new();
        let mut next_metrics = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let step = self.step(&mut events, &mut next_metrics);
            if step.is_err() {
                return; // the worker stopped
            }
        }
    }

    fn step(
        &mut self,
        events: &mut Vec<LinkEvent>,
        next_metrics: &mut std::time::Instant,
    ) -> Result<(), WorkerGone> {
        let next = self.commands.recv_timeout(POLL_EVERY);
        // Link changes first: a device that appeared before a request came is known
        // when the request is handled (a guest added on a new VLAN's uplink).
        self.link_events(events)?;
        match next {
            Ok(cmd) => self.command(cmd)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL_EVERY),
        }
        if sys::signal::take_reload() {
            match self.reload()? {
                Ok(summary) => log::info(
                    "reloaded",
                    &[
                        ("added", &summary.added.len()),
                        ("removed", &summary.removed.len()),
                        ("changed", &summary.changed.len()),
                    ],
                ),
                Err(e) => log::warn("reload_failed", &[("error", &e)]),
            }
        }
        if !self.traces.is_empty() {
            self.poll_traces()?;
        }
        if std::time::Instant::now() >= *next_metrics {
            *next_metrics = std::time::Instant::now() + METRICS_EVERY;
            self.housekeeping()?;
        }
        Ok(())
    }

    /// At start, before serving requests: open every device (uplinks first: the
    /// first socket bound on a worker's UMEM registers it), then add every guest as
    /// `guest add` would, in batches.
    pub fn start(&mut self, guests: &[GuestSpec]) -> Result<(), WorkerGone> {
        self.run_job(|p, s| s.ports.open_all(p))?;
        for chunk in guests.chunks(reload::BATCH) {
            let batch: Vec<(GuestSpec, Option<u32>)> = chunk
                .iter()
                .map(|g| (g.clone(), self.state.device(&g.tap)))
                .collect();
            for (g, added) in chunk.iter().zip(self.add_guests(batch)?) {
                if let Err(e) = added {
                    log::warn("guest_rejected", &[("guest", &g.tap), ("error", &e)]);
                }
            }
        }
        Ok(())
    }

    /// Run `f` on every worker (each applies the same change to its replica of the
    /// tables), then carry out the opens, closes and replicas each left. Worker 0's
    /// answer is returned (the others' are the same).
    fn run_job<R: Send + 'static>(
        &mut self,
        f: impl Fn(&mut Pipeline<XdpPort>, &mut WorkerSide) -> R + Send + Sync + 'static,
    ) -> Result<R, WorkerGone> {
        let answers = self.workers.call_all(move |p, s| {
            let r = f(p, s);
            (r, s.ports.take_effects())
        })?;
        let mut first = None;
        for (i, (r, fx)) in answers.into_iter().enumerate() {
            side::settle(&self.workers, i, fx)?;
            first.get_or_insert(r);
        }
        first.ok_or(WorkerGone)
    }

    /// Every second: the metrics snapshot, the DHCP declines logged, and the sockets of
    /// queues multi-queue taps' guests enabled bound.
    fn housekeeping(&mut self) -> Result<(), WorkerGone> {
        let with_metrics = self.metrics.is_some();
        let answers = self.workers.call_all(move |p, s| {
            // Queues the watcher found on multi-queue taps: bound below, by `settle`.
            s.ports.poll_queues(p);
            let d = p.router_mut().take_dhcp_declines();
            let m = with_metrics.then(|| {
                let m = crate::views::metrics(p, &s.ports, s.worker);
                (m, s.ports.owned_rows())
            });
            ((d, m), s.ports.take_effects())
        })?;
        let mut found = Vec::with_capacity(answers.len());
        for (i, (answer, fx)) in answers.into_iter().enumerate() {
            side::settle(&self.workers, i, fx)?;
            found.push(answer);
        }
        let (declines, snapshots): (Vec<_>, Vec<_>) = found.into_iter().unzip();
        let declines: Vec<_> = declines.into_iter().flatten().collect();
        let snapshot = merge::metrics(snapshots.into_iter().flatten().collect());
        for (guest, address) in declines {
            // RFC 2131 4.3.3: a DHCPDECLINE "SHOULD notify the local system administrator".
            log::warn(
                "dhcp_decline",
                &[
                    ("guest", &guest),
                    ("address", &address),
                    ("why", &"the guest says another host uses its address"),
                ],
            );
        }
        if let (Some(m), Some(snapshot)) = (&self.metrics, snapshot) {
            m.publish(snapshot);
        }
        Ok(())
    }

    /// Follow the kernel's link events (a full dump when some were lost).
    fn link_events(&mut self, events: &mut Vec<LinkEvent>) -> Result<(), WorkerGone> {
        events.clear();
        let gone = match self.links.recv_events(events) {
            Ok(_) if events.is_empty() => return Ok(()),
            Ok(_) => {
                let evs = std::mem::take(events);
                // Worker 0's answer: every worker finds the same runtime guests gone.
                self.run_job(move |p, s| {
                    evs.iter()
                        .filter_map(|ev| match s.ports.on_link_event(ev, p) {
                            LinkOutcome::GuestGone { tap, why } => Some((tap, why)),
                            LinkOutcome::Handled => None,
                        })
                        .collect::<Vec<_>>()
                })?
            }
            Err(sys::netlink::NetlinkError::Overrun) => {
                // Events were lost: compare every device with the links now.
                log::warn("link_events_lost", &[("action", &"resync")]);
                match sys::netlink::link_dump() {
                    Ok(all) => self.run_job(move |p, s| s.ports.resync(&all, p))?,
                    Err(e) => {
                        log::warn("link_resync", &[("error", &e)]);
                        Vec::new()
                    }
                }
            }
            Err(e) => {
                log::warn("link_events", &[("error", &e)]);
                Vec::new()
            }
        };
        for (tap, why) in gone {
            self.device_gone(&tap, why)?;
        }
        Ok(())
    }

    /// One request from the control socket.
    fn command(&mut self, cmd: Command) -> Result<(), WorkerGone> {
        if cmd.is_expired() {
            return Ok(()); // the client was already told "router busy"
        }
        if let Request::Trace { count } = cmd.request() {
            // Every worker records; answered here (`query::poll_traces`).
            let count = *count;
            return self.start_trace(cmd, count);
        }
        let (answer, changed) = self.handle(cmd.request().clone())?;
        if changed {
            // Answered once the change is on disk.
            self.saver.submit(self.state.clone(), Some((cmd, answer)));
        } else {
            cmd.reply(answer);
        }
        Ok(())
    }

    fn runtime_taps(&self) -> Vec<String> {
        self.state.added().map(|g| g.tap.clone()).collect()
    }

    /// Answer one request; the bool says whether the persisted state changed.
    fn handle(&mut self, req: Request) -> Result<(Response, bool), WorkerGone> {
        Ok(match req {
            Request::Ping => (
                Response::Ok(Payload::Pong(PongInfo::new(
                    self.started.elapsed().as_secs(),
                ))),
                false,
            ),
            Request::Reload => match self.reload()? {
                Ok(summary) => (Response::Ok(Payload::Reloaded(summary)), false),
                Err(e) => (Response::error(e), false),
            },
            Request::GuestAdd(spec) => match self.add_guest(&spec)? {
                Ok((change, changed)) => {
                    let answer = Response::Ok(Payload::GuestChanged(GuestChange {
                        tap: spec.tap.clone(),
                        change,
                    }));
                    (answer, changed)
                }
                Err(e) => (Response::error(e), false),
            },
            Request::GuestDel { tap } => {
                let t = tap.clone();
                match self.run_job(move |p, s| s.ports.remove_guest(p, &t))? {
                    Ok(()) => {
                        let in_config = self.config.guest(&tap).is_some();
                        let changed = self.state.record_del(&tap, in_config);
                        let answer = Response::Ok(Payload::GuestChanged(GuestChange {
                            tap,
                            change: Change::Removed,
                        }));
                        (answer, changed)
                    }
                    Err(e) => (Response::error(e), false),
                }
            }
            other => (self.query(other)?, false),
        })
    }

    /// `guest add`: a guest that is exactly the configuration's guest on that tap
    /// follows the tap's name like every configured guest; any other belongs to the
    /// device that has the name now, and there must be one. Returns the change and
    /// whether the persisted state changed.
    fn add_guest(
        &mut self,
        spec: &GuestSpec,
    ) -> Result<Result<(Change, bool), String>, WorkerGone> {
        let configured = self.config_spec(&spec.tap);
        let device = if configured.as_ref().is_some_and(|c| c.same_as(spec)) {
            None
        } else {
            match sys::netdev::ifindex(&spec.tap) {
                Ok(i) => Some(i),
                Err(e) => {
                    return Ok(Err(format!(
                        "guest {}: no such device ({e}): a guest added at run time belongs \
                         to its tap device, so the tap must exist first",
                        spec.tap
                    )))
                }
            }
        };
        let added = match self.add_guests(vec![(spec.clone(), device)])?.pop() {
            Some(Ok(a)) => a,
            Some(Err(e)) => return Ok(Err(e)),
            None => return Ok(Err("guest add: no answer".into())),
        };
        let mut changed = false;
        for old in &added.replaced {
            changed |= self.state.record_del(old, self.config.guest(old).is_some());
        }
        changed |= self.state.record_add(spec, configured.as_ref(), device);
        Ok(Ok((added.change, changed)))
    }

    /// Add guests (each with the device it is bound to): read what each meets on the
    /// worker, look the devices up here, decide, and apply on the worker; their ports
    /// are opened here.
    fn add_guests(
        &mut self,
        guests: Vec<(GuestSpec, Option<u32>)>,
    ) -> Result<Vec<Result<Added, String>>, WorkerGone> {
        let specs: Vec<GuestSpec> = guests.iter().map(|(g, _)| g.clone()).collect();
        let met = self.workers.home().call(move |p, s| {
            specs
                .iter()
                .map(|spec| s.ports.candidates(p.router(), spec))
                .collect::<Vec<_>>()
        })?;
        let mut decided = Vec::new();
        for ((spec, bound), met) in guests.into_iter().zip(met) {
            let decision = met.and_then(|(met, devices)| {
                guests::decide(&spec.tap, &met, &devices, MetDevice::is_gone)
            });
            decided.push((spec, bound, decision));
        }
        self.run_job(move |p, s| {
            decided
                .iter()
                .map(|(spec, bound, decision)| {
                    decision
                        .clone()
                        .and_then(|d| s.ports.apply_add(p, spec, *bound, d))
                })
                .collect()
        })
    }

    /// The device of the runtime guest on `tap` is gone (its VM stopped or migrated
    /// away; released Ganeti runs no down hook): remove the guest and record it as
    /// removed, so nothing answers for its addresses and a later device with the same
    /// name is not attached for it (a guest the configuration lists on that name stays
    /// removed too: it was replaced at run time).
    pub fn device_gone(&mut self, tap: &str, why: &str) -> Result<(), WorkerGone> {
        let t = tap.to_string();
        if let Err(e) = self.run_job(move |p, s| s.ports.remove_guest(p, &t))? {
            log::warn("guest_gone", &[("guest", &tap), ("error", &e)]);
            return Ok(());
        }
        log::info("guest_gone", &[("guest", &tap), ("why", &why)]);
        if self.state.record_del(tap, self.config.guest(tap).is_some()) {
            self.saver.submit(self.state.clone(), None);
        }
        Ok(())
    }

    fn config_spec(&self, tap: &str) -> Option<GuestSpec> {
        config_specs(&self.config)
            .into_iter()
            .find(|g| g.tap == tap)
    }
}
