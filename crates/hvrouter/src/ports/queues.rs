//! Multi-queue taps (a guest with several virtio-net queues, Ganeti's
//! `virtio_net_queues`): every receive queue of the tap gets a socket, or the guest's
//! frames on that queue never reach the router (see `hvrouter_dataplane`'s
//! `xdp_queue`). QEMU attaches the queues as the guest's driver enables them, after
//! the tap was added, so multi-queue ports are watched: a thread of their own reads
//! their queue counts from sysfs every second (file I/O stays off the packet thread),
//! and the worker binds sockets on new queues between bursts.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hvrouter_core::PortId;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;

use super::Ports;
use crate::log;

/// How often the watcher reads the queue counts.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Ports to watch: (port, device name).
type Watched = Arc<Mutex<Vec<(PortId, String)>>>;

/// The queue-count watcher: the list it reads (changed at attach and detach, never per
/// packet) and the counts it found.
#[derive(Debug)]
pub struct QueueWatcher {
    watched: Watched,
    counts: Receiver<(PortId, String, u32)>,
}

impl QueueWatcher {
    /// Start the watcher thread; it ends when the watcher is dropped.
    pub fn spawn() -> std::io::Result<QueueWatcher> {
        let watched: Watched = Arc::default();
        let (tx, counts) = mpsc::channel();
        let list = Arc::clone(&watched);
        std::thread::Builder::new()
            .name("hvr-queues".into())
            .spawn(move || watch(&list, &tx))?;
        Ok(QueueWatcher { watched, counts })
    }

    fn set(&self, f: impl FnOnce(&mut Vec<(PortId, String)>)) {
        let mut list = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut list);
    }
}

fn watch(list: &Mutex<Vec<(PortId, String)>>, tx: &Sender<(PortId, String, u32)>) {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let ports = list.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (id, dev) in ports {
            if let Ok(n) = sys::netdev::rx_queue_count(&dev) {
                if tx.send((id, dev, n)).is_err() {
                    return; // the router is gone
                }
            }
        }
    }
}

impl Ports {
    /// Port `id` was just attached and its device is a multi-queue tap with `count`
    /// receive queues (read by the control thread): serve them all, and keep watching
    /// it.
    pub(super) fn watch_queues(
        &mut self,
        id: PortId,
        dev: &str,
        count: u32,
        pipe: &mut Pipeline<XdpPort>,
    ) {
        self.serve_queues(id, dev, count, pipe);
        let dev = dev.to_string();
        if self.queue_watcher.is_none() {
            match QueueWatcher::spawn() {
                Ok(w) => self.queue_watcher = Some(w),
                Err(e) => {
                    log::warn("port_queues", &[("dev", &dev), ("error", &e)]);
                    return;
                }
            }
        }
        if let Some(w) = &self.queue_watcher {
            w.set(|list| {
                list.retain(|(p, _)| *p != id);
                list.push((id, dev));
            });
        }
    }

    /// Port `id` is detached: stop watching it.
    pub(super) fn unwatch_queues(&mut self, id: PortId) {
        if let Some(w) = &self.queue_watcher {
            w.set(|list| list.retain(|(p, _)| *p != id));
        }
    }

    /// Between bursts: serve the queues the watcher found on multi-queue taps.
    pub fn poll_queues(&mut self, pipe: &mut Pipeline<XdpPort>) {
        let Some(w) = &self.queue_watcher else {
            return;
        };
        let found: Vec<(PortId, String, u32)> = w.counts.try_iter().collect();
        for (id, dev, count) in found {
            // The port may have been detached or reused since the count was read.
            let same = self
                .entries
                .get(id.index())
                .is_some_and(|e| e.ifname == dev && e.ifindex.is_some());
            if same {
                self.serve_queues(id, &dev, count, pipe);
            }
        }
    }

    fn serve_queues(&mut self, id: PortId, dev: &str, count: u32, pipe: &mut Pipeline<XdpPort>) {
        let Some(port) = pipe.port_mut(id) else {
            return;
        };
        for queue in 0..count {
            match port.add_queue(queue) {
                Ok(true) => log::info("port_queue_added", &[("dev", &dev), ("queue", &queue)]),
                Ok(false) => {}
                Err(e) => log::warn(
                    "port_queue_failed",
                    &[("dev", &dev), ("queue", &queue), ("error", &log::chain(&e))],
                ),
            }
        }
    }
}
