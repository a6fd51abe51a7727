//! The poll loop: one worker owns a pipeline and its ports and polls them until told to
//! stop. Between passes it runs housekeeping (control commands, link events) at a fixed
//! tick, never per packet.
//!
//! Idle behaviour is chosen by [`PollMode`]:
//! - `Busy`: poll continuously (lowest latency, one core at 100 %).
//! - `Adaptive`: busy while traffic flows; after a run of empty passes, back off with
//!   sleeps that double from 1 us up to `max_idle_sleep`, and snap back to busy polling on
//!   the first received frame.
//! - `Interrupt`: like `Adaptive` but with a long ceiling, for idle hosts; the wait is
//!   delegated to `idle_wait` (the AF_XDP ports block in `poll(2)` on their sockets).
//!
//! A deployment scales by running one worker per uplink queue, each with its own ports
//! and UMEM; nothing here is shared between workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hvrouter_core::Instant;

use crate::pipeline::Pipeline;
use crate::port::Port;

/// How a worker behaves when no frames arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    /// Never sleep.
    Busy,
    /// Busy under load, exponential back-off when idle.
    Adaptive,
    /// Block waiting for traffic when idle.
    Interrupt,
}

/// Worker settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Idle behaviour.
    pub mode: PollMode,
    /// Empty passes before backing off (`Adaptive`, `Interrupt`).
    pub spin_passes: u32,
    /// Longest single idle wait.
    pub max_idle_sleep: Duration,
    /// How often housekeeping runs.
    pub tick: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            mode: PollMode::Adaptive,
            spin_passes: 256,
            max_idle_sleep: Duration::from_millis(1),
            tick: Duration::from_millis(10),
        }
    }
}

impl WorkerConfig {
    /// Defaults for a mode: `Interrupt` waits up to the tick, the others as default.
    pub fn for_mode(mode: PollMode) -> WorkerConfig {
        let base = WorkerConfig::default();
        WorkerConfig {
            mode,
            max_idle_sleep: match mode {
                PollMode::Interrupt => base.tick,
                _ => base.max_idle_sleep,
            },
            ..base
        }
    }
}

/// A monotonic clock turned into the core's [`Instant`]: nanoseconds since creation.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock {
            origin: std::time::Instant::now(),
        }
    }
}

impl MonotonicClock {
    /// Now, as the core's `Instant`.
    pub fn now(&self) -> Instant {
        let nanos = self.origin.elapsed().as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// What a worker did, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Passes over the ports.
    pub passes: u64,
    /// Passes that received nothing.
    pub idle_passes: u64,
    /// Frames received.
    pub rx: u64,
    /// Frames transmitted.
    pub tx: u64,
    /// Frames other workers handed to this one ([`crate::handoff`]).
    pub handed_in: u64,
    /// Times the worker slept or blocked.
    pub sleeps: u64,
    /// Nanoseconds spent in passes that moved frames (each pass runs from its clock read
    /// to the next one, so housekeeping after it is included).
    pub busy_ns: u64,
    /// Nanoseconds spent in passes that moved nothing, and in idle waits. The busy share
    /// nears 1 under any steady stream; frames per busy pass (`rx` over `passes -
    /// idle_passes`) is what shows how close the worker is to saturation.
    pub idle_ns: u64,
    /// The longest single housekeeping call in the loop (control jobs, frame
    /// housekeeping): the longest the worker stopped polling.
    pub longest_housekeeping_ns: u64,
    /// The same among calls during which the worker was not preempted (its own work
    /// and waits; on a busy machine other tasks take its CPU, too).
    pub longest_unpreempted_housekeeping_ns: u64,
}

/// Run `pipe` until `stop` is set. `housekeeping` runs every `config.tick` (and once
/// before the first pass) with the pipeline, the current time and the stats so far;
/// `idle_wait` is called with a timeout when the worker decides to wait (sleep, or block
/// in `poll(2)`; with N workers, watching [`Pipeline::handoff_wake_fd`] too, so that a
/// frame handed over by another worker ends the wait).
pub fn run<P: Port>(
    pipe: &mut Pipeline<P>,
    config: &WorkerConfig,
    clock: &MonotonicClock,
    stop: &AtomicBool,
    mut housekeeping: impl FnMut(&mut Pipeline<P>, Instant, &WorkerStats),
    mut idle_wait: impl FnMut(&mut Pipeline<P>, Duration),
) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut now = clock.now();
    housekeeping(pipe, now, &stats);
    let mut next_tick = now + config.tick;
    let mut empty_run = 0u32;
    let mut backoff = Duration::from_micros(1);
    // The previous pass: when it started and whether it moved frames. The time up to
    // this pass's clock read is charged to it (no extra clock reads on the hot path).
    let (mut last, mut last_busy) = (now, false);
    while !stop.load(Ordering::Relaxed) {
        now = clock.now();
        let spent = now.saturating_duration_since(last).as_nanos() as u64;
        if last_busy {
            stats.busy_ns += spent;
        } else {
            stats.idle_ns += spent;
        }
        let pass = pipe.run_once(now);
        stats.passes += 1;
        stats.rx += pass.rx as u64;
        stats.tx += pass.tx as u64;
        stats.handed_in += pass.handed_in as u64;
        // Frames handed over by another worker are work like received ones.
        let worked = pass.rx > 0 || pass.handed_in > 0;
        (last, last_busy) = (now, worked || pass.tx > 0);
        if now >= next_tick {
            let preempted = sys::rusage::involuntary_switches().ok();
            housekeeping(pipe, now, &stats);
            let spent = clock.now().saturating_duration_since(now).as_nanos() as u64;
            stats.longest_housekeeping_ns = stats.longest_housekeeping_ns.max(spent);
            if preempted.is_some() && preempted == sys::rusage::involuntary_switches().ok() {
                stats.longest_unpreempted_housekeeping_ns =
                    stats.longest_unpreempted_housekeeping_ns.max(spent);
            }
            next_tick = now + config.tick;
        }
        if worked {
            empty_run = 0;
            backoff = Duration::from_micros(1);
            continue;
        }
        stats.idle_passes += 1;
        if config.mode == PollMode::Busy {
            std::hint::spin_loop();
            continue;
        }
        empty_run = empty_run.saturating_add(1);
        if empty_run < config.spin_passes {
            std::hint::spin_loop();
            continue;
        }
        // Never wait past the next housekeeping tick.
        let until_tick = next_tick.saturating_duration_since(now);
        let wait = backoff.min(config.max_idle_sleep).min(until_tick);
        // Other workers' frames waiting: no wait; otherwise they wake this one (the
        // doorbell, for an `idle_wait` that watches `Pipeline::handoff_wake_fd`).
        if !wait.is_zero() && pipe.handoff_prepare_sleep() {
            idle_wait(pipe, wait);
            pipe.handoff_woke();
            stats.sleeps += 1;
        }
        backoff = (backoff * 2).min(config.max_idle_sleep);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemPort;
    use hvrouter_core::router::{Router, RouterConfig};

    #[test]
    fn stops_when_asked_and_runs_housekeeping() {
        let clock = MonotonicClock::default();
        let router = Router::new(RouterConfig::default(), clock.now());
        let mut pipe: Pipeline<MemPort> = Pipeline::new(router, 32);
        let stop = AtomicBool::new(false);
        let mut ticks = 0;
        let config = WorkerConfig {
            tick: Duration::ZERO,
            spin_passes: 2,
            ..WorkerConfig::default()
        };
        let stats = run(
            &mut pipe,
            &config,
            &clock,
            &stop,
            |_, _, _| {
                ticks += 1;
                if ticks == 50 {
                    stop.store(true, Ordering::Relaxed);
                }
            },
            |_, _| {},
        );
        assert_eq!(ticks, 50);
        assert_eq!(stats.rx, 0);
        assert_eq!(stats.passes, 49, "one pass per tick after the first");
        assert_eq!(stats.idle_passes, stats.passes);
        assert_eq!(stats.busy_ns, 0, "no pass moved a frame");
    }
}
