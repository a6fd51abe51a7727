//! Jobs for the packet worker: the control thread sends closures over a channel; the
//! worker runs them between bursts ([`JobQueue::drain`]) with its own state, and the
//! answer comes back over a one-shot channel. Nothing is shared: the worker's state never
//! leaves its thread and needs no lock; a job copies out what a query needs.
//!
//! A job must be short (no system call that can wait: those stay on the control thread,
//! see the router's `ports::open` module). The control thread sends the next job as
//! soon as it has the answer to the last, so the worker bounds what one housekeeping
//! tick runs by time ([`JobQueue::drain_for`]): the rest waits for the next tick.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

/// A closure the worker runs with its pipeline `P` and its side state `S`.
pub type Job<P, S> = Box<dyn FnOnce(&mut P, &mut S) + Send>;

/// The worker is gone (stopped, or panicked): nothing more can be asked of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerGone;

impl std::error::Error for WorkerGone {}

impl std::fmt::Display for WorkerGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the packet worker stopped")
    }
}

/// The control thread's end: sends jobs.
pub struct WorkerLink<P, S> {
    tx: Sender<Job<P, S>>,
}

impl<P, S> std::fmt::Debug for WorkerLink<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerLink")
    }
}

impl<P, S> Clone for WorkerLink<P, S> {
    fn clone(&self) -> Self {
        WorkerLink {
            tx: self.tx.clone(),
        }
    }
}

/// The worker's end: runs jobs.
pub struct JobQueue<P, S> {
    rx: Receiver<Job<P, S>>,
}

impl<P, S> std::fmt::Debug for JobQueue<P, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobQueue")
    }
}

/// A connected pair.
pub fn channel<P, S>() -> (WorkerLink<P, S>, JobQueue<P, S>) {
    let (tx, rx) = mpsc::channel();
    (WorkerLink { tx }, JobQueue { rx })
}

impl<P: 'static, S: 'static> WorkerLink<P, S> {
    /// Run `f` on the worker and wait for its answer (at most until the worker's next
    /// housekeeping tick plus the jobs queued before it).
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut P, &mut S) -> R + Send + 'static,
    ) -> Result<R, WorkerGone> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(move |p, s| {
            // The caller may have gone; the answer is then dropped here.
            let _ = tx.send(f(p, s));
        })?;
        rx.recv().map_err(|_| WorkerGone)
    }

    /// Run `f` on the worker without waiting for it.
    pub fn send(&self, f: impl FnOnce(&mut P, &mut S) + Send + 'static) -> Result<(), WorkerGone> {
        self.tx.send(Box::new(f)).map_err(|_| WorkerGone)
    }
}

impl<P, S> JobQueue<P, S> {
    /// Run up to `max` waiting jobs; returns how many ran. Never waits.
    pub fn drain(&self, p: &mut P, s: &mut S, max: usize) -> usize {
        self.drain_for(p, s, max, Duration::MAX)
    }

    /// Run waiting jobs, up to `max` of them, and no new one once `budget` has passed
    /// since the call (the first always runs); returns how many ran. Never waits.
    pub fn drain_for(&self, p: &mut P, s: &mut S, max: usize, budget: Duration) -> usize {
        let start = Instant::now();
        let mut n = 0;
        while n < max && (n == 0 || start.elapsed() < budget) {
            match self.rx.try_recv() {
                Ok(job) => {
                    job(p, s);
                    n += 1;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn calls_run_on_the_worker_with_its_state_and_answer() {
        let (link, queue) = channel::<Vec<u32>, u32>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let worker = std::thread::spawn(move || {
            let (mut table, mut passes) = (Vec::new(), 0u32);
            while !stop2.load(Ordering::Relaxed) {
                passes += 1;
                queue.drain(&mut table, &mut passes, 4);
                std::thread::yield_now();
            }
            table
        });
        for i in 0..10 {
            link.send(move |t: &mut Vec<u32>, _| t.push(i))
                .expect("worker");
        }
        let len = link.call(|t: &mut Vec<u32>, _| t.len()).expect("worker");
        assert_eq!(len, 10, "jobs run in the order they were sent");
        let ran_on = link
            .call(|_, _| std::thread::current().id())
            .expect("worker");
        assert_ne!(ran_on, std::thread::current().id());
        stop.store(true, Ordering::Relaxed);
        let table = worker.join().expect("worker thread");
        assert_eq!(table, (0..10).collect::<Vec<_>>());
        assert_eq!(link.call(|t: &mut Vec<u32>, _| t.len()), Err(WorkerGone));
    }

    #[test]
    fn drain_runs_at_most_max_and_never_waits() {
        let (link, queue) = channel::<u32, ()>();
        for _ in 0..5 {
            link.send(|n: &mut u32, _| *n += 1).expect("queue");
        }
        let mut n = 0;
        assert_eq!(queue.drain(&mut n, &mut (), 3), 3);
        assert_eq!(n, 3);
        assert_eq!(queue.drain(&mut n, &mut (), 10), 2);
        assert_eq!(
            queue.drain(&mut n, &mut (), 10),
            0,
            "empty: returns at once"
        );
        drop(link);
        assert_eq!(
            queue.drain(&mut n, &mut (), 10),
            0,
            "disconnected: returns at once"
        );
    }

    #[test]
    fn drain_for_stops_taking_jobs_once_its_budget_is_spent() {
        let (link, queue) = channel::<u32, ()>();
        for _ in 0..5 {
            link.send(|n: &mut u32, _| {
                *n += 1;
                std::thread::sleep(Duration::from_millis(20));
            })
            .expect("queue");
        }
        let mut n = 0;
        assert_eq!(
            queue.drain_for(&mut n, &mut (), 10, Duration::ZERO),
            1,
            "the first job always runs"
        );
        assert_eq!(
            queue.drain_for(&mut n, &mut (), 10, Duration::from_millis(10)),
            1,
            "a job of at least 20 ms spent the 10 ms budget"
        );
        assert_eq!(queue.drain_for(&mut n, &mut (), 2, Duration::MAX), 2, "max");
        assert_eq!(queue.drain_for(&mut n, &mut (), 10, Duration::MAX), 1);
        assert_eq!(n, 5);
    }
}
