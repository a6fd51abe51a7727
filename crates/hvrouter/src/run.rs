//! `hvrouter run`: build the router from the configuration (plus the persisted runtime
//! guests), attach the uplinks and guest taps with AF_XDP, serve the control socket and
//! metrics, and poll until SIGTERM/SIGINT.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use hvrouter_config::{Config, PollMode as ConfigPoll, XdpMode};
use hvrouter_control::metrics::http::MetricsServer;
use hvrouter_control::server::ControlServer;
use hvrouter_control::state::{StateSaver, StateStore};
use hvrouter_core::router::Router;
use hvrouter_core::PortId;
use hvrouter_dataplane::xdp_port::{XdpPort, XdpPortConfig};
use hvrouter_dataplane::{worker, MonotonicClock, Pipeline, PollMode, WorkerConfig};
use sys::{AttachMode, LinkMonitor, UmemConfig};
use wire::EthernetAddress;

use crate::control::side::{settle_here, WorkerSide};
use crate::control::{config_specs, Control};
use crate::guests::MetDevice;
use crate::log;
use crate::ports::{Entry, Kind, Ports};
use crate::views;

/// Most control jobs the worker runs per housekeeping tick.
const JOBS_PER_TICK: usize = 64;
/// No new control job starts once this much of a housekeeping tick is spent on them:
/// the control thread sends the next job as soon as it has an answer, and the worker
/// must get back to its ports.
const JOBS_BUDGET: Duration = Duration::from_millis(1);

/// Why the router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration file is unreadable or invalid.
    #[error("{0}")]
    Config(#[from] hvrouter_config::ConfigError),
    /// The configuration asks for something this machine does not have.
    #[error("{0}")]
    Machine(String),
    /// A network was rejected by the router's tables.
    #[error("{0}")]
    Tables(#[from] hvrouter_core::tables::TablesError),
    /// An uplink could not be attached (guests that cannot are only logged).
    #[error("{0}")]
    Ports(#[from] crate::ports::OpenError),
    /// A system call or service failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Where an XDP program runs, from the configuration's mode.
fn attach_mode(mode: XdpMode) -> AttachMode {
    match mode {
        XdpMode::Auto => AttachMode::NativeOrGeneric,
        XdpMode::Native => AttachMode::Native,
        XdpMode::Generic => AttachMode::Generic,
    }
}

fn sys_err(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> RunError {
    RunError::Sys {
        what,
        source: Box::new(e),
    }
}

/// Wait while idle: in interrupt mode block in `poll(2)` on every port's socket, so the
/// first frame wakes the worker; in adaptive mode sleep (the back-off is short).
fn idle_wait(pipe: &Pipeline<XdpPort>, mode: PollMode, wait: Duration) {
    if mode == PollMode::Interrupt {
        let fds: Vec<BorrowedFd<'_>> = pipe
            .ports()
            .flat_map(|p| std::iter::once(p.as_fd()).chain(p.extra_fds()))
            .collect();
        if sys::poll::wait_readable(&fds, wait).is_ok() {
            return;
        }
    }
    std::thread::sleep(wait);
}

/// The uplink MAC used until a missing uplink device appears (locally administered,
/// unicast); nothing is sent on a missing uplink.
const PLACEHOLDER_UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0]);

/// What `run` would refuse in a valid configuration on this machine (also checked by
/// `check-config`, so a unit's `ExecStartPre` fails instead of the router
/// crash-looping): a worker CPU this process may not run on.
pub fn machine_check(path: &Path, config: &Config) -> Result<(), String> {
    let Some(cpus) = config.dataplane.cpus.as_ref() else {
        return Ok(());
    };
    let allowed = sys::affinity::allowed_cpus().map_err(|e| {
        format!(
            "{}: reading the CPUs this process may use: {e}",
            path.display()
        )
    })?;
    for cpu in cpus {
        if !allowed.contains(&usize::from(*cpu)) {
            return Err(format!(
                "{}: dataplane.cpus: CPU {cpu} is not one this machine lets hvrouter run on \
                 (allowed: {allowed:?})",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Run the router configured in `path` until asked to stop.
pub fn run(path: &Path) -> Result<(), RunError> {
    // Everything the file alone can refuse, `check-config` refuses too (the same
    // validation): past this point only runtime facts (devices, CPUs, sockets) fail.
    let config = Config::load(path)?;
    log::set_level(config.router.log_level);
    sys::signal::install().map_err(|e| sys_err("install signal handlers", e))?;
    machine_check(path, &config).map_err(RunError::Machine)?;
    if let Some(cpu) = config.dataplane.cpus.as_ref().and_then(|c| c.first()) {
        sys::affinity::pin_current_thread(usize::from(*cpu))
            .map_err(|e| sys_err("pin worker to its CPU", e))?;
        log::info("worker_pinned", &[("cpu", cpu)]);
    }
    // The kernel ORs conf/all/proxy_arp into every interface's setting: with it on, the
    // per-device switch-off below is not enough. It is host-wide, so say so loudly
    // rather than change it behind the operator's back.
    if sys::sysctl::get_proxy_arp("all").unwrap_or(false) {
        log::warn(
            "kernel_proxy_arp_all_on",
            &[("fix", &"sysctl -w net.ipv4.conf.all.proxy_arp=0")],
        );
    }
    // The control socket first: a second router on the same socket is refused before it
    // touches any device.
    let (control_server, commands) = ControlServer::start(&config.router.control_socket, 64)
        .map_err(|e| sys_err("start the control socket", e))?;
    // Subscribe to link events before attaching, so no change is missed in between.
    let links = LinkMonitor::open().map_err(|e| sys_err("open rtnetlink", e))?;

    // Runtime guests (guest add/del since the configuration was written) survive
    // restarts; a damaged state file is reported and the last good one used.
    let store = StateStore::new(&config.router.state_dir);
    let loaded = store.load();
    for w in &loaded.warnings {
        log::warn("state", &[("problem", w)]);
    }
    let mut state = loaded.state;
    // A runtime guest belongs to the tap device it was added on: after a reboot none
    // is left, and within a boot only those whose device still has their name.
    let boot_id = sys::sysctl::boot_id().map_err(|e| sys_err("read the boot id", e))?;
    let dropped = state.keep_live(&boot_id, |tap| sys::netdev::ifindex(tap).ok());
    for (tap, why) in &dropped {
        log::info("guest_not_restored", &[("guest", tap), ("why", why)]);
        // It had replaced the configuration's guest on that name: that one stays
        // removed, as when the device goes while the router runs.
        state.record_del(tap, config.guest(tap).is_some());
    }
    let guests = state.apply(&config_specs(&config));
    let saver = StateSaver::spawn(store, |e| log::warn("state_save_failed", &[("error", e)]))
        .map_err(|e| sys_err("start the state saver", e))?;
    // The state now belongs to this boot (and lost what did not survive).
    saver.submit(state.clone(), None);

    let clock = MonotonicClock::default();
    let now = clock.now();
    let mut router = Router::new(config.router_config(), now);
    let mut entries = Vec::new();
    let mut fixed_macs = Vec::new();
    for net in &config.networks {
        let id = PortId(entries.len() as u16);
        // A missing uplink does not stop the other networks: its MAC is read again
        // when the device appears (see `Ports::open`); until then nothing is sent on it.
        let mac = sys::netdev::mac_address(&net.uplink)
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
    crate::ipv6::configure(&mut router, &config, now);

    let d = &config.dataplane;
    let fast_path = if d.fast_path {
        let maps =
            sys::FastPathMaps::create().map_err(|e| sys_err("create the fast path's maps", e))?;
        Some(std::sync::Arc::new(maps))
    } else {
        None
    };
    let port_cfg = XdpPortConfig {
        attach: attach_mode(d.xdp_mode),
        guest_attach: d.guest_xdp_mode.map(attach_mode),
        gso: d.gso,
        fast_path: fast_path.clone(),
        ..XdpPortConfig::default()
    };
    // Each port's fill ring holds a quota that follows its traffic (docs/FRAMES.md); the
    // UMEM grows at start if the guests known now need more than `frames`, and later
    // guests it cannot serve are refused (`Ports::admit_guest`).
    let umem = crate::ports::frames::sized_for_start(
        UmemConfig {
            frame_count: d.frames.unwrap_or(crate::ports::frames::AUTO_MIN_FRAMES),
            frame_size: d.frame_size,
            headroom: 0,
        },
        &port_cfg,
        guests.len(),
        entries.len(),
        d.frames.is_none(),
    );
    let mut pipe: Pipeline<XdpPort> = Pipeline::new(router, usize::from(d.burst));
    pipe.set_fast_path(fast_path.map(|m| hvrouter_dataplane::FastPath::new(m, now)));
    let mut ports = Ports::new(entries, umem, port_cfg)?;
    for net in fixed_macs {
        ports.fix_uplink_mac(net);
    }
    // Uplinks first: the first socket registers the UMEM. An uplink that cannot be
    // attached is logged and attached when its device appears; the others work.
    ports.open_all(&mut pipe);
    settle_here(&mut pipe, &mut ports);
    // Then every guest, as `guest add` would: steering, port, gratuitous ARP.
    for g in &guests {
        let added = ports
            .candidates(pipe.router(), g)
            .and_then(|(met, devices)| {
                hvrouter_runtime::plan::decide_add(&g.tap, &met, |name| {
                    devices
                        .iter()
                        .find(|d| d.name == name)
                        .is_none_or(MetDevice::is_gone)
                })
            })
            .and_then(|d| ports.apply_add(&mut pipe, g, state.device(&g.tap), d));
        if let Err(e) = added {
            log::warn("guest_rejected", &[("guest", &g.tap), ("error", &e)]);
        }
    }
    settle_here(&mut pipe, &mut ports);

    let metrics = match config.router.metrics_listen {
        Some(addr) => {
            let (server, handle) =
                MetricsServer::start(addr).map_err(|e| sys_err("start the metrics server", e))?;
            log::info("metrics", &[("listen", &server.local_addr())]);
            Some((server, handle))
        }
        None => None,
    };
    let (metrics_server, metrics_handle) = match metrics {
        Some((s, h)) => (Some(s), Some(h)),
        None => (None, None),
    };
    let (worker_link, jobs) = hvrouter_runtime::jobs::channel();
    let control = Control {
        config_path: path.to_path_buf(),
        config: config.clone(),
        state,
        saver,
        commands,
        metrics: metrics_handle,
        started: std::time::Instant::now(),
        worker: worker_link,
        links,
    };
    log::info(
        "started",
        &[
            ("config", &path.display()),
            ("networks", &config.networks.len()),
            ("guests", &guests.len()),
            ("control", &control_server.path().display()),
        ],
    );
    let stop = sys::signal::stop_flag();
    // The control plane runs on its own thread; the worker (this thread) runs its jobs
    // between bursts.
    let control_thread = std::thread::Builder::new()
        .name("hvr-control".into())
        .spawn(move || control.run(stop))
        .map_err(|e| sys_err("start the control thread", e))?;
    let mut side = WorkerSide::new(ports);

    let mode = match d.poll {
        ConfigPoll::Busy => PollMode::Busy,
        ConfigPoll::Adaptive => PollMode::Adaptive,
        ConfigPoll::Interrupt => PollMode::Interrupt,
    };
    let worker_cfg = WorkerConfig::for_mode(mode);
    let stats = {
        let jobs = jobs;
        worker::run(
            &mut pipe,
            &worker_cfg,
            &clock,
            stop,
            |pipe, now, worker| {
                side.now = now;
                side.worker = views::worker_counters(worker);
                jobs.drain_for(pipe, &mut side, JOBS_PER_TICK, JOBS_BUDGET);
                // Queues the watcher thread found on multi-queue taps (a channel read).
                side.ports.poll_queues(pipe);
                side.finish_traces(pipe);
                side.captures.tick(pipe, now);
                side.ports.tick_frames(pipe, now);
            },
            |pipe, wait| idle_wait(pipe, mode, wait),
        )
    };
    // The job queue is gone: the control thread stops at its next request to the worker
    // or at the stop flag.
    if control_thread.join().is_err() {
        log::error("control_thread", &[("error", &"panicked")]);
    }
    // RFC 4861 6.2.5: guests drop their default route through the router now, not
    // when its lifetime runs out. Two passes: the advertisements, then their completions.
    pipe.router_mut().cease_advertising();
    for _ in 0..2 {
        pipe.run_once(clock.now());
    }
    log::info(
        "stopping",
        &[
            (
                "final_router_advertisements",
                &pipe.router().ipv6().stats().ra_final,
            ),
            ("passes", &stats.passes),
            ("rx", &stats.rx),
            ("tx", &stats.tx),
        ],
    );
    // The same table as `hvrouter show counters`.
    let counters = views::counters_report(&mut pipe, &side.ports, views::worker_counters(&stats));
    print!(
        "{}",
        hvrouter_control::render::human(&hvrouter_control::protocol::Response::Ok(
            hvrouter_control::protocol::Payload::Counters(counters)
        ))
    );
    drop(control_server); // removes the socket
    drop(metrics_server);
    drop(pipe); // detaches every XDP program
    Ok(())
}
