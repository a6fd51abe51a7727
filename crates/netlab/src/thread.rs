//! A thread running until its stop flag is set; dropping it stops and joins it, so a
//! test that fails never leaves a busy dataplane thread behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// A thread given a stop flag; stopped and joined on drop.
#[derive(Debug)]
pub struct Worker<T> {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<T>>,
}

impl<T: Send + 'static> Worker<T> {
    /// Runs `f` on a new thread with the flag that tells it to stop.
    pub fn spawn(f: impl FnOnce(Arc<AtomicBool>) -> T + Send + 'static) -> Worker<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        Worker {
            stop,
            handle: Some(thread::spawn(move || f(flag))),
        }
    }

    /// Sets the flag and returns what the thread returned; fails the test if it panicked
    /// or was already joined.
    pub fn stop_and_join(&mut self) -> T {
        self.stop.store(true, Ordering::Relaxed);
        let Some(handle) = self.handle.take() else {
            panic!("worker joined twice");
        };
        match handle.join() {
            Ok(v) => v,
            Err(_) => panic!("worker thread panicked"),
        }
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_stops_the_thread_and_its_result_comes_back() {
        let mut w = Worker::spawn(|stop| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                thread::yield_now();
            }
            n
        });
        thread::sleep(std::time::Duration::from_millis(10));
        assert!(w.stop_and_join() > 0);
    }
}
