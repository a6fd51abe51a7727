//! `[router]`, `[dataplane]` and `[icmp]`: process-wide settings.

use std::net::SocketAddr;

use crate::check::{Checker, MAX_SOCKET_PATH_LEN};
use crate::model::{
    AnnounceSection, DataplaneSection, IcmpSection, LogLevel, PollMode, RouterSection, XdpMode,
};
use crate::raw::{RawAnnounce, RawDataplane, RawIcmp, RawRouter, S};

/// Most poll-loop workers the file format accepts.
pub const MAX_WORKERS: i64 = 256;
/// Highest CPU number (glibc `CPU_SETSIZE` is 1024).
pub const MAX_CPU: i64 = 1023;
/// Largest burst.
pub const MAX_BURST: i64 = 1024;
/// Fewest and most UMEM frames per worker (at 4096 bytes, 256 KiB to 1 GiB).
pub const FRAMES_RANGE: (i64, i64) = (64, 262_144);
/// UMEM chunk sizes AF_XDP accepts in aligned mode (a power of two, at least 2048, at
/// most the page size).
pub const FRAME_SIZES: [i64; 2] = [2048, 4096];
/// Highest ICMP rate and burst accepted.
pub const MAX_ICMP: i64 = 1_000_000;

/// The value `router.metrics_listen` takes to turn metrics off.
pub const METRICS_OFF: &str = "off";

pub(crate) fn router(c: &mut Checker<'_>, raw: Option<&S<RawRouter>>) -> RouterSection {
    let mut out = RouterSection::default();
    let Some(raw) = raw.map(|r| r.get_ref()) else {
        return out;
    };
    if let Some(v) = &raw.control_socket {
        if let Some(p) = c.abs_path(v, "router.control_socket", Some(MAX_SOCKET_PATH_LEN)) {
            out.control_socket = p;
        }
    }
    if let Some(v) = &raw.state_dir {
        if let Some(p) = c.abs_path(v, "router.state_dir", None) {
            out.state_dir = p;
        }
    }
    if let Some(v) = &raw.metrics_listen {
        let s = v.get_ref().trim();
        if s == METRICS_OFF {
            out.metrics_listen = None;
        } else {
            match s.parse::<SocketAddr>() {
                Ok(a) => out.metrics_listen = Some(a),
                Err(_) => c.report(
                    v.span(),
                    "router.metrics_listen",
                    format!(
                        "{s:?} is not an address and port like 127.0.0.1:9477 \
                         (or \"{METRICS_OFF}\" to turn metrics off)"
                    ),
                ),
            }
        }
    }
    if let Some(v) = &raw.log_level {
        let levels = [
            ("error", LogLevel::Error),
            ("warn", LogLevel::Warn),
            ("info", LogLevel::Info),
            ("debug", LogLevel::Debug),
            ("trace", LogLevel::Trace),
        ];
        if let Some(l) = c.choice(v, "router.log_level", &levels) {
            out.log_level = l;
        }
    }
    out
}

pub(crate) fn dataplane(c: &mut Checker<'_>, raw: Option<&S<RawDataplane>>) -> DataplaneSection {
    let mut out = DataplaneSection::default();
    let Some(raw) = raw.map(|r| r.get_ref()) else {
        return out;
    };
    if let Some(v) = &raw.xdp_mode {
        let modes = [
            ("auto", XdpMode::Auto),
            ("native", XdpMode::Native),
            ("generic", XdpMode::Generic),
        ];
        if let Some(m) = c.choice(v, "dataplane.xdp_mode", &modes) {
            out.xdp_mode = m;
        }
    }
    if let Some(v) = &raw.guest_xdp_mode {
        let modes = [
            ("auto", XdpMode::Auto),
            ("native", XdpMode::Native),
            ("generic", XdpMode::Generic),
        ];
        out.guest_xdp_mode = c.choice(v, "dataplane.guest_xdp_mode", &modes);
    }
    if let Some(v) = &raw.gso {
        if let Some(on) = c.choice(v, "dataplane.gso", &[("auto", true), ("off", false)]) {
            out.gso = on;
        }
    }
    if let Some(v) = &raw.fast_path {
        let choices = [("on", true), ("off", false)];
        if let Some(on) = c.choice(v, "dataplane.fast_path", &choices) {
            out.fast_path = on;
        }
    }
    if let Some(v) = &raw.poll {
        let modes = [
            ("busy", PollMode::Busy),
            ("adaptive", PollMode::Adaptive),
            ("interrupt", PollMode::Interrupt),
        ];
        if let Some(m) = c.choice(v, "dataplane.poll", &modes) {
            out.poll = m;
        }
    }
    let workers_ok = match &raw.workers {
        Some(v) => match c.int(v, "dataplane.workers", 1..=MAX_WORKERS) {
            // The in-kernel fast path's maps have one writer, the pipeline of the one
            // worker (docs/FAST_PATH.md).
            Some(w) if w > 1 && out.fast_path => {
                c.report(
                    v.span(),
                    "dataplane.workers",
                    format!(
                        "{w} workers asked, but the fast path runs with one worker: set \
                         workers = 1 or turn fast_path off"
                    ),
                );
                false
            }
            Some(w) => {
                out.workers = w;
                true
            }
            None => false,
        },
        None => true,
    };
    if let Some(v) = &raw.cpus {
        out.cpus = cpus(c, v, out.workers, workers_ok);
    }
    if let Some(v) = &raw.frame_size {
        let n = *v.get_ref();
        if FRAME_SIZES.contains(&n) {
            out.frame_size = n as u32;
        } else {
            c.report(
                v.span(),
                "dataplane.frame_size",
                format!("{n} is not a valid UMEM frame size: use 2048 or 4096"),
            );
        }
    }
    let mut frames_ok = true;
    if let Some(v) = &raw.frames {
        let n = *v.get_ref();
        frames_ok = false;
        if n < FRAMES_RANGE.0 || n > FRAMES_RANGE.1 || n.count_ones() != 1 {
            c.report(
                v.span(),
                "dataplane.frames",
                format!(
                    "{n} is not valid: frames must be a power of two between {} and {}",
                    FRAMES_RANGE.0, FRAMES_RANGE.1
                ),
            );
        } else {
            out.frames = Some(n as u32);
            frames_ok = true;
        }
    }
    if let Some(v) = &raw.burst {
        if let Some(b) = c.int::<u16>(v, "dataplane.burst", 1..=MAX_BURST) {
            if frames_ok && out.frames.is_some_and(|f| u32::from(b) > f) {
                c.report(
                    v.span(),
                    "dataplane.burst",
                    format!(
                        "burst {b} is larger than the UMEM ({} frames per worker)",
                        out.frames.unwrap_or_default()
                    ),
                );
            } else {
                out.burst = b;
            }
        }
    }
    out
}

/// `dataplane.cpus`: distinct CPU numbers, one per worker.
fn cpus(
    c: &mut Checker<'_>,
    v: &S<Vec<S<i64>>>,
    workers: u16,
    workers_ok: bool,
) -> Option<Vec<u16>> {
    const KEY: &str = "dataplane.cpus";
    let mut list = Vec::new();
    let mut ok = true;
    for cpu in v.get_ref() {
        match c.int::<u16>(cpu, KEY, 0..=MAX_CPU) {
            Some(n) if list.contains(&n) => {
                c.report(cpu.span(), KEY, format!("CPU {n} is listed twice"));
                ok = false;
            }
            Some(n) => list.push(n),
            None => ok = false,
        }
    }
    if ok && workers_ok && list.len() != usize::from(workers) {
        c.report(
            v.span(),
            KEY,
            format!(
                "{} CPUs listed for {workers} worker(s): list exactly one CPU per worker, \
                 or leave cpus out",
                list.len()
            ),
        );
        ok = false;
    }
    ok.then_some(list)
}

pub(crate) fn icmp(c: &mut Checker<'_>, raw: Option<&S<RawIcmp>>) -> IcmpSection {
    let mut out = IcmpSection::default();
    let Some(raw) = raw.map(|r| r.get_ref()) else {
        return out;
    };
    if let Some(v) = &raw.rate_per_sec {
        if let Some(r) = c.int(v, "icmp.rate_per_sec", 0..=MAX_ICMP) {
            out.rate_per_sec = r;
        }
    }
    if let Some(v) = &raw.burst {
        if let Some(b) = c.int(v, "icmp.burst", 0..=MAX_ICMP) {
            if b == 0 && out.rate_per_sec > 0 {
                c.report(
                    v.span(),
                    "icmp.burst",
                    "a burst of 0 sends no ICMP errors at all: use at least 1, \
                     or set rate_per_sec = 0 to turn ICMP errors off",
                );
            } else {
                out.burst = b;
            }
        }
    }
    out
}

/// `[announce]`: gratuitous ARP when a guest appears here.
pub(crate) fn announce(c: &mut Checker<'_>, raw: Option<&S<RawAnnounce>>) -> AnnounceSection {
    let mut out = AnnounceSection::default();
    let Some(raw) = raw.map(|r| r.get_ref()) else {
        return out;
    };
    if let Some(v) = &raw.count {
        if let Some(n) = c.int(v, "announce.count", 0..=10) {
            out.count = n;
        }
    }
    if let Some(v) = &raw.interval_ms {
        if let Some(ms) = c.int(v, "announce.interval_ms", 10..=60_000) {
            out.interval_ms = ms;
        }
    }
    out
}
