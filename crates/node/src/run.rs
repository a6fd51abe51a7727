//! `hvrouter run`: build the router from the configuration (plus the persisted runtime
//! guests), attach the uplinks and guest taps with AF_XDP, serve the control socket and
//! metrics, and poll until SIGTERM/SIGINT.

use std::path::Path;

use hvrouter_config::{Config, XdpMode};
use hvrouter_control::metrics::http::MetricsServer;
use hvrouter_control::server::ControlServer;
use hvrouter_control::state::{StateSaver, StateStore};
use hvrouter_dataplane::xdp_port::XdpPortConfig;
use hvrouter_dataplane::MonotonicClock;
use sys::{AttachMode, LinkMonitor, UmemConfig};

use crate::control::workers::Workers;
use crate::control::{config_specs, Control};
use crate::log;

mod worker;

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
    let d = &config.dataplane;
    let count = usize::from(d.workers).max(1);
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
        fast_path,
        ..XdpPortConfig::default()
    };
    // Each port's fill ring holds a quota that follows its traffic (docs/FRAMES.md); the
    // UMEM grows at start if the guests known now need more than `frames`, and later
    // guests it cannot serve are refused (`Ports::admit_guest`). Every worker has one.
    let umem = crate::ports::frames::sized_for_start(
        UmemConfig {
            frame_count: d.frames.unwrap_or(crate::ports::frames::AUTO_MIN_FRAMES),
            frame_size: d.frame_size,
            headroom: 0,
        },
        &port_cfg,
        guests.len(),
        config.networks.len(),
        d.frames.is_none(),
    );
    let stop = sys::signal::stop_flag();
    let (worker_links, threads) = worker::spawn_all(
        &worker::Plan {
            config: config.clone(),
            port_cfg,
            umem,
            clock,
        },
        count,
        stop,
    )?;

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
    let mut control = Control {
        config_path: path.to_path_buf(),
        config: config.clone(),
        state,
        saver,
        commands,
        metrics: metrics_handle,
        started: std::time::Instant::now(),
        workers: Workers::new(worker_links),
        links,
        traces: Vec::new(),
        trace_count: 0,
    };
    // Uplinks first (the first socket on a worker's UMEM registers it), then every
    // guest, as `guest add` would: steering, port, gratuitous ARP.
    if control.start(&guests).is_ok() {
        log::info(
            "started",
            &[
                ("config", &path.display()),
                ("networks", &config.networks.len()),
                ("guests", &guests.len()),
                ("workers", &count),
                ("control", &control_server.path().display()),
            ],
        );
        // This thread is the control plane from now on; the workers poll.
        control.run(stop);
    }
    // The workers stop at the flag (or are gone); each sends its final router
    // advertisements and returns its counters.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut reports = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Some(r)) => reports.push(r),
            Ok(None) => {}
            Err(_) => log::error("worker", &[("error", &"panicked")]),
        }
    }
    log::info(
        "stopping",
        &[
            (
                "final_router_advertisements",
                &reports.iter().map(|r| r.ra_final).sum::<u64>(),
            ),
            (
                "passes",
                &reports.iter().map(|r| r.stats.passes).sum::<u64>(),
            ),
            ("rx", &reports.iter().map(|r| r.stats.rx).sum::<u64>()),
            ("tx", &reports.iter().map(|r| r.stats.tx).sum::<u64>()),
        ],
    );
    // The same table as `hvrouter show counters`.
    let all = reports
        .into_iter()
        .map(|r| (r.counters, r.owned))
        .collect::<Vec<_>>();
    if let Some(counters) = crate::control::merge::counters(all) {
        print!(
            "{}",
            hvrouter_control::render::human(&hvrouter_control::protocol::Response::Ok(
                hvrouter_control::protocol::Payload::Counters(counters)
            ))
        );
    }
    drop(control_server); // removes the socket
    drop(metrics_server);
    Ok(())
}
