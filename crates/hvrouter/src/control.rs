//! Runtime control, applied by the worker between bursts: control-socket requests,
//! SIGHUP reloads, the persisted runtime guest set, and the metrics snapshot.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use hvrouter_config::Config;
use hvrouter_control::metrics::http::MetricsHandle;
use hvrouter_control::protocol::{
    Change, GuestChange, GuestSpec, Payload, PongInfo, ReloadSummary, Request, Response,
    TraceRecord, WorkerCounters,
};
use hvrouter_control::server::Command;
use hvrouter_control::state::{RuntimeState, StateSaver};
use hvrouter_core::Instant;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::{Pipeline, WorkerStats};

use crate::ports::Ports;
use crate::{log, views};

/// How often the metrics snapshot is refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// The control side of a running router.
#[derive(Debug)]
pub struct Control {
    /// The configuration file, re-read on reload.
    pub config_path: PathBuf,
    /// The configuration last applied.
    pub config: Config,
    /// Runtime changes relative to the configuration (persisted).
    pub state: RuntimeState,
    /// Saves `state` off the worker thread.
    pub saver: StateSaver,
    /// Requests from the control socket.
    pub commands: Receiver<Command>,
    /// Where metrics snapshots go, if metrics are on.
    pub metrics: Option<MetricsHandle>,
    /// When the router started.
    pub started: std::time::Instant,
    next_metrics: Instant,
    /// `trace` requests waiting for their frames.
    tracing: Vec<Command>,
    /// The running `hvrouter capture`, if any.
    captures: crate::capture::session::Captures,
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
    /// A control side for a router started from `config`.
    pub fn new(
        config_path: PathBuf,
        config: Config,
        state: RuntimeState,
        saver: StateSaver,
        commands: Receiver<Command>,
        metrics: Option<MetricsHandle>,
    ) -> Control {
        Control {
            config_path,
            config,
            state,
            saver,
            commands,
            metrics,
            started: std::time::Instant::now(),
            next_metrics: Instant::ZERO,
            tracing: Vec::new(),
            captures: Default::default(),
        }
    }

    /// Run between bursts: answer requests, reload on SIGHUP, refresh metrics.
    pub fn tick(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        ports: &mut Ports,
        now: Instant,
        worker: &WorkerStats,
    ) {
        let worker = views::worker_counters(worker);
        while let Ok(cmd) = self.commands.try_recv() {
            if cmd.is_expired() {
                continue; // the client was already told "router busy"
            }
            if let Request::Trace { count } = cmd.request() {
                // Answered when the frames have passed, or just before the deadline.
                if self.tracing.is_empty() {
                    pipe.router_mut().start_trace(*count);
                }
                self.tracing.push(cmd);
                continue;
            }
            let (answer, changed) = self.handle(pipe, ports, cmd.request(), now, worker);
            if changed {
                // Answered once the change is on disk.
                self.saver.submit(self.state.clone(), Some((cmd, answer)));
            } else {
                cmd.reply(answer);
            }
        }
        for (guest, address) in pipe.router_mut().take_dhcp_declines() {
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
        self.finish_traces(pipe, ports);
        self.captures.tick(pipe, now);
        if sys::signal::take_reload() {
            match self.reload(pipe, ports) {
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
        if now >= self.next_metrics {
            self.next_metrics = now + METRICS_EVERY;
            if let Some(m) = &self.metrics {
                m.publish(views::metrics(pipe, ports, worker));
            }
        }
    }

    /// Answer waiting `trace` requests once the trace is complete or a client's deadline
    /// is near, with what was recorded.
    fn finish_traces(&mut self, pipe: &mut Pipeline<XdpPort>, ports: &Ports) {
        if self.tracing.is_empty() {
            return;
        }
        let due = pipe.router().trace_remaining() == 0
            || self
                .tracing
                .iter()
                .any(|c| c.remaining() < Duration::from_millis(500));
        if !due {
            return;
        }
        let records: Vec<TraceRecord> = pipe
            .router_mut()
            .take_trace()
            .into_iter()
            .map(|r| TraceRecord {
                port: ports.name(r.port).to_string(),
                summary: r.summary,
                steps: r.steps,
                decision: r.decision,
            })
            .collect();
        for cmd in self.tracing.drain(..) {
            cmd.reply(Response::Ok(Payload::Trace(records.clone())));
        }
    }

    fn is_runtime(&self, tap: &str) -> bool {
        self.state.added().any(|g| g.tap == tap)
    }

    /// Answer one request; the bool says whether the persisted state changed.
    fn handle(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        ports: &mut Ports,
        req: &Request,
        now: Instant,
        worker: WorkerCounters,
    ) -> (Response, bool) {
        let ok = |p| (Response::Ok(p), false);
        match req {
            Request::Ping => ok(Payload::Pong(PongInfo::new(
                self.started.elapsed().as_secs(),
            ))),
            Request::GuestList => ok(Payload::Guests(views::guests(pipe.router(), |t| {
                self.is_runtime(t)
            }))),
            Request::ShowNetworks => ok(Payload::Networks(views::networks(pipe.router(), ports))),
            Request::ShowRoutes { network } => ok(Payload::Routes(views::routes(
                pipe.router(),
                network.as_deref(),
            ))),
            Request::ShowNeighbors { network } => ok(Payload::Neighbors(views::neighbors(
                pipe.router(),
                network.as_deref(),
                now,
            ))),
            Request::ShowPorts => ok(Payload::Ports(views::ports(pipe, ports))),
            Request::ShowCounters => ok(Payload::Counters(views::counters_report(
                pipe, ports, worker,
            ))),
            Request::ExplainArp { ip, network } => {
                let ex = views::explain(pipe.router(), *ip, network.as_deref());
                if ex.is_empty() {
                    return (Response::error(no_network(network.as_deref())), false);
                }
                ok(Payload::ArpExplanations(ex))
            }
            Request::ExplainNdp { addr, network } => {
                let ex = crate::ipv6::explain(pipe.router(), *addr, network.as_deref());
                if ex.is_empty() {
                    return (Response::error(no_network6(network.as_deref())), false);
                }
                ok(Payload::NdpExplanations(ex))
            }
            Request::ShowIpv6 { network } => {
                match crate::ipv6::report(pipe.router(), network.as_deref()) {
                    Some(r) => ok(Payload::Ipv6(r)),
                    None => (Response::error(no_network(network.as_deref())), false),
                }
            }
            Request::ShowDhcp => ok(Payload::Dhcp(views::dhcp_report(pipe.router(), now))),
            Request::ExplainDhcp { tap } => match views::dhcp_explain(pipe.router(), tap, now) {
                Some(ex) => ok(Payload::DhcpExplanation(Box::new(ex))),
                None => (Response::error(format!("no such guest: {tap}")), false),
            },
            Request::Trace { .. } => (Response::error("trace is answered by the tick"), false),
            Request::CaptureStart { .. }
            | Request::CaptureRead { .. }
            | Request::CaptureStop { .. } => match self.captures.handle(pipe, &*ports, req, now) {
                Some(answer) => (answer, false),
                None => (Response::error("not a capture request"), false),
            },
            Request::Reload => match self.reload(pipe, ports) {
                Ok(summary) => ok(Payload::Reloaded(summary)),
                Err(e) => (Response::error(e), false),
            },
            Request::GuestAdd(spec) => match self.add_guest(pipe, ports, spec) {
                Ok((change, changed)) => {
                    let answer = Response::Ok(Payload::GuestChanged(GuestChange {
                        tap: spec.tap.clone(),
                        change,
                    }));
                    (answer, changed)
                }
                Err(e) => (Response::error(e), false),
            },
            Request::GuestDel { tap } => match ports.remove_guest(pipe, tap) {
                Ok(()) => {
                    let in_config = self.config.guest(tap).is_some();
                    let changed = self.state.record_del(tap, in_config);
                    let answer = Response::Ok(Payload::GuestChanged(GuestChange {
                        tap: tap.clone(),
                        change: Change::Removed,
                    }));
                    (answer, changed)
                }
                Err(e) => (Response::error(e), false),
            },
        }
    }

    /// `guest add`: a guest that is exactly the configuration's guest on that tap
    /// follows the tap's name like every configured guest; any other belongs to the
    /// device that has the name now, and there must be one. Returns the change and
    /// whether the persisted state changed.
    fn add_guest(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        ports: &mut Ports,
        spec: &GuestSpec,
    ) -> Result<(Change, bool), String> {
        let configured = self.config_spec(&spec.tap);
        let device = if configured.as_ref().is_some_and(|c| c.same_as(spec)) {
            None
        } else {
            Some(sys::netdev::ifindex(&spec.tap).map_err(|e| {
                format!(
                    "guest {}: no such device ({e}): a guest added at run time belongs to \
                     its tap device, so the tap must exist first",
                    spec.tap
                )
            })?)
        };
        let added = ports.add_guest(pipe, spec, device)?;
        let mut changed = false;
        for old in &added.replaced {
            changed |= self.state.record_del(old, self.config.guest(old).is_some());
        }
        changed |= self.state.record_add(spec, configured.as_ref(), device);
        Ok((added.change, changed))
    }

    /// The device of the runtime guest on `tap` is gone (its VM stopped or migrated
    /// away; released Ganeti runs no down hook): remove the guest and record it as
    /// removed, so nothing answers for its addresses and a later device with the same
    /// name is not attached for it (a guest the configuration lists on that name stays
    /// removed too: it was replaced at run time).
    pub fn device_gone(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        ports: &mut Ports,
        tap: &str,
        why: &str,
    ) {
        if let Err(e) = ports.remove_guest(pipe, tap) {
            log::warn("guest_gone", &[("guest", &tap), ("error", &e)]);
            return;
        }
        log::info("guest_gone", &[("guest", &tap), ("why", &why)]);
        if self.state.record_del(tap, self.config.guest(tap).is_some()) {
            self.saver.submit(self.state.clone(), None);
        }
    }

    fn config_spec(&self, tap: &str) -> Option<GuestSpec> {
        config_specs(&self.config)
            .into_iter()
            .find(|g| g.tap == tap)
    }

    /// Re-read the configuration and apply the difference in guests. Network changes
    /// need a restart (they are reported, not applied).
    fn reload(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        ports: &mut Ports,
    ) -> Result<ReloadSummary, String> {
        let new = Config::load(&self.config_path).map_err(|e| e.to_string())?;
        log::set_level(new.router.log_level);
        let mut summary = ReloadSummary::default();
        let diff = hvrouter_config::diff(&self.config, &new);
        if !diff.networks_added.is_empty()
            || !diff.networks_removed.is_empty()
            || !diff.networks_changed.is_empty()
        {
            summary
                .notes
                .push("network changes are not applied by reload: restart hvrouter".into());
        }
        // DHCP settings and host names change in place (no guest is re-added for them).
        pipe.router_mut().set_dhcp_config(new.dhcp_config());
        let specs = config_specs(&new);
        self.state.prune(&specs);
        let desired = self.state.apply(&specs);
        for d in &desired {
            let _ = pipe
                .router_mut()
                .set_guest_hostname(&d.tap, d.hostname.as_deref());
        }
        let current: Vec<GuestSpec> = pipe
            .router()
            .tables()
            .guests()
            .iter()
            .map(|g| views::guest_spec(pipe.router(), g))
            .collect();
        // The IPv6 sides asked for (configuration and runtime guests), for the guests
        // (re-)added below and those changed in place after.
        crate::ipv6::set_overrides(pipe.router_mut(), &desired);
        for g in &current {
            match desired.iter().find(|d| d.tap == g.tap) {
                None => {
                    ports.remove_guest(pipe, &g.tap)?;
                    summary.removed.push(g.tap.clone());
                }
                // IPv6 sides alone are changed in place below.
                Some(d) if !without_ipv6(d).same_as(&without_ipv6(g)) => {
                    ports.remove_guest(pipe, &g.tap)?;
                    ports.add_guest(pipe, d, self.state.device(&d.tap))?;
                    summary.changed.push(g.tap.clone());
                }
                Some(_) => summary.unchanged += 1,
            }
        }
        for d in &desired {
            if !current.iter().any(|g| g.tap == d.tap) {
                ports.add_guest(pipe, d, self.state.device(&d.tap))?;
                summary.added.push(d.tap.clone());
            }
        }
        // Guests whose IPv6 keys alone changed: applied in place (and announced).
        for tap in crate::ipv6::reapply(pipe, ports) {
            if !summary.changed.contains(&tap) && !summary.added.contains(&tap) {
                summary.unchanged = summary.unchanged.saturating_sub(1);
                summary.changed.push(tap);
            }
        }
        self.config = new;
        self.saver.submit(self.state.clone(), None);
        Ok(summary)
    }
}

fn without_ipv6(g: &GuestSpec) -> GuestSpec {
    GuestSpec {
        ipv6: None,
        ..g.clone()
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
