//! Multi-queue taps (a guest with several virtio-net queues, Ganeti's
//! `virtio_net_queues`): every receive queue of the tap gets a socket, or the guest's
//! frames on that queue never reach the router (see `hvrouter_dataplane`'s
//! `xdp_queue`). QEMU attaches the queues as the guest's driver enables them, after
//! the tap was added, so multi-queue ports are watched: a thread of their own reads
//! their queue counts from sysfs every second (file I/O stays off the packet thread).
//! A new queue's socket is bound the way a port is opened ([`super::open`]): the worker
//! asks ([`QueueRequest`], in its effects, when it adopts a multi-queue port and when the
//! control thread's housekeeping polls it each second), the control thread binds it
//! ([`bind`]: with its EBUSY retry, on the worker's UMEM, into the device's XSKMAP), and
//! the worker adopts the ready socket between bursts ([`Ports::finish_queues`]: fills its
//! ring).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hvrouter_core::PortId;
use hvrouter_dataplane::xdp_port::{PreparedQueue, QueueBind, XdpPort, XdpPortError};
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

/// A queue of a multi-queue port the worker wants served.
#[derive(Debug)]
pub struct QueueRequest {
    /// The port.
    pub id: PortId,
    /// Its device.
    pub dev: String,
    /// Which request this is (a port closed meanwhile may ask again for the same queue).
    pub ticket: u64,
    /// What to bind.
    pub bind: QueueBind,
}

/// A queue's socket the control thread bound (or could not).
#[derive(Debug)]
pub struct QueueResult {
    /// The port.
    pub id: PortId,
    /// Its device.
    pub dev: String,
    /// The request's ticket.
    pub ticket: u64,
    /// The queue.
    pub queue: u32,
    /// The socket, bound and in the XSKMAP; or why not.
    pub socket: Result<PreparedQueue, XdpPortError>,
}

/// The slow half (control thread): bind the queue's socket.
pub fn bind(req: QueueRequest) -> QueueResult {
    let queue = req.bind.queue();
    QueueResult {
        id: req.id,
        dev: req.dev,
        ticket: req.ticket,
        queue,
        socket: req.bind.bind(),
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
        self.request_queues(id, dev, count, pipe);
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

    /// Port `id` is detached: stop watching it; its queue requests in flight are
    /// answered for nothing.
    pub(super) fn unwatch_queues(&mut self, id: PortId) {
        self.queues_pending.retain(|(p, _, _)| *p != id);
        if let Some(w) = &self.queue_watcher {
            w.set(|list| list.retain(|(p, _)| *p != id));
        }
    }

    /// Ask for the queues the watcher found on multi-queue taps (a channel read; the
    /// control thread's housekeeping calls it each second and binds what it asks).
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
                self.request_queues(id, &dev, count, pipe);
            }
        }
    }

    /// Ask the control thread to bind the queues of port `id` below `count` that it
    /// does not serve yet and were not asked for already.
    fn request_queues(&mut self, id: PortId, dev: &str, count: u32, pipe: &mut Pipeline<XdpPort>) {
        let Some(port) = pipe.port_mut(id) else {
            return;
        };
        for queue in 0..count {
            if self
                .queues_pending
                .iter()
                .any(|&(p, q, _)| p == id && q == queue)
            {
                continue;
            }
            let Some(bind) = port.queue_to_bind(queue) else {
                continue;
            };
            self.queue_tickets += 1;
            let ticket = self.queue_tickets;
            self.queues_pending.push((id, queue, ticket));
            self.effects.queues.push(QueueRequest {
                id,
                dev: dev.to_string(),
                ticket,
                bind,
            });
        }
    }

    /// Adopt the queue sockets the control thread bound (between bursts: each fill
    /// ring is filled from the pool). One bound for a port closed meanwhile goes back
    /// to be closed; a failed bind is logged and asked again at the watcher's next count.
    pub fn finish_queues(&mut self, results: Vec<QueueResult>, pipe: &mut Pipeline<XdpPort>) {
        for r in results {
            let asked = self.queues_pending.len();
            self.queues_pending.retain(|&(_, _, t)| t != r.ticket);
            let current = self.queues_pending.len() < asked;
            let (dev, queue) = (r.dev.as_str(), r.queue);
            let prepared = match r.socket {
                Ok(p) => p,
                Err(e) => {
                    log::warn(
                        "port_queue_failed",
                        &[("dev", &dev), ("queue", &queue), ("error", &log::chain(&e))],
                    );
                    continue;
                }
            };
            // Closing a socket waits for the kernel: one not adopted goes back.
            match pipe.port_mut(r.id).filter(|_| current) {
                Some(port) => match port.adopt_queue(prepared) {
                    Ok(()) => log::info("port_queue_added", &[("dev", &dev), ("queue", &queue)]),
                    Err(stale) => self.effects.discard_queues.push(*stale),
                },
                None => self.effects.discard_queues.push(prepared),
            }
        }
    }
}
