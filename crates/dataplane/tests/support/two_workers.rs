//! Two workers, two pipelines over in-memory ports joined by a handoff mesh, stepped in
//! one thread: the uplink and guest A (tap1) on worker 0 (the home), guest B (tap2) on
//! worker 1 (a follower).

use std::time::Duration;

use hvrouter_core::drop::DropReason;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::{mesh, MemPort, Pipeline};

use super::*;

/// The two workers (index = worker) and the clock they are stepped with.
pub struct Workers {
    pub w: Vec<Pipeline<MemPort>>,
    pub now: Instant,
}

/// The same replica router for every worker (the control thread applies every change
/// to all of them).
pub fn replica(now: Instant) -> Router {
    let mut router = Router::new(RouterConfig::default(), now);
    let net = router
        .add_network(network_spec(Some(ROUTER_SRC)), now)
        .unwrap();
    router
        .add_guest(guest_spec(net, "tap1", TAP1, MAC1, GUEST1))
        .unwrap();
    router
        .add_guest(guest_spec(net, "tap2", TAP2, MAC2, GUEST2))
        .unwrap();
    router
}

impl Workers {
    pub fn new(capacity: usize) -> Workers {
        let now = Instant::from_secs(1000);
        let mut ends = mesh(2, capacity).into_iter();
        let mut home = Pipeline::new(replica(now), 32);
        home.attach(UPLINK, MemPort::new());
        home.attach(TAP1, MemPort::new());
        home.set_port_owner(TAP2, Some(1));
        home.set_handoff(ends.next().unwrap());
        let mut follower = Pipeline::new(replica(now), 32);
        follower.router_mut().set_follower(true);
        follower.attach(TAP2, MemPort::new());
        follower.set_port_owner(UPLINK, Some(0));
        follower.set_port_owner(TAP1, Some(0));
        follower.set_handoff(ends.next().unwrap());
        Workers {
            w: vec![home, follower],
            now,
        }
    }

    pub fn owner(&self, port: PortId) -> usize {
        usize::from(port == TAP2)
    }

    pub fn inject(&mut self, port: PortId, frame: &[u8]) {
        let w = self.owner(port);
        self.w[w].port_mut(port).unwrap().inject(frame);
    }

    pub fn sent(&mut self, port: PortId) -> Vec<Vec<u8>> {
        let w = self.owner(port);
        self.w[w].port_mut(port).unwrap().take_sent()
    }

    /// One pass of each worker, in turn, `passes` times; 1 ms per round.
    pub fn step(&mut self, passes: usize) {
        for _ in 0..passes {
            for w in &mut self.w {
                w.run_once(self.now);
            }
            self.now = self.now + Duration::from_millis(1);
        }
    }

    pub fn drops(&self, reason: DropReason) -> u64 {
        let ports = [UPLINK, TAP1, TAP2];
        self.w
            .iter()
            .flat_map(|w| ports.map(|p| w.router().port_counters(p).drops[reason.index()]))
            .sum()
    }

    /// (rx, tx) packets summed over every port and worker.
    pub fn totals(&self) -> (u64, u64) {
        let mut t = (0, 0);
        for w in &self.w {
            for p in [UPLINK, TAP1, TAP2] {
                let c = w.router().port_counters(p);
                t.0 += c.rx_packets;
                t.1 += c.tx_packets;
            }
        }
        t
    }
}
