//! Multi-queue taps (a guest with several virtio-net queues, Ganeti's
//! `virtio_net_queues`): every receive queue of the tap gets a socket, or the guest's
//! frames on that queue never reach the router (see `hvrouter_dataplane`'s
//! `xdp_queue`). QEMU attaches the queues as the guest's driver enables them, after
//! the tap was added, so multi-queue ports are checked again every second.

use hvrouter_core::PortId;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;

use super::Ports;
use crate::log;

impl Ports {
    /// Port `id` was just attached: if its device is a multi-queue tap, serve every
    /// receive queue it has now, and keep checking it.
    pub(super) fn watch_queues(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>) {
        let Some(dev) = self.entries.get(id.index()).map(|e| e.ifname.clone()) else {
            return;
        };
        if !sys::netdev::is_multi_queue_tun(&dev) {
            return;
        }
        if !self.multi_queue.contains(&id) {
            self.multi_queue.push(id);
        }
        self.serve_queues(id, &dev, pipe);
    }

    /// Port `id` is detached: stop checking it.
    pub(super) fn unwatch_queues(&mut self, id: PortId) {
        self.multi_queue.retain(|&p| p != id);
    }

    /// Every second or so: multi-queue taps whose guest enabled more queues get them.
    pub fn poll_queues(&mut self, pipe: &mut Pipeline<XdpPort>) {
        for i in 0..self.multi_queue.len() {
            let id = self.multi_queue[i];
            if let Some(dev) = self.entries.get(id.index()).map(|e| e.ifname.clone()) {
                self.serve_queues(id, &dev, pipe);
            }
        }
    }

    fn serve_queues(&mut self, id: PortId, dev: &str, pipe: &mut Pipeline<XdpPort>) {
        let count = match sys::netdev::rx_queue_count(dev) {
            Ok(n) => n,
            Err(e) => {
                log::warn("port_queues", &[("dev", &dev), ("error", &e)]);
                return;
            }
        };
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
