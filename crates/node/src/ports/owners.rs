//! Which worker owns each port, and what the other workers are told when a port they
//! do not own changes.
//!
//! With several workers every worker keeps the same entries (the control thread applies
//! each change on every worker, in the same order, so slots are numbered alike) and the
//! same router tables, but each port's socket is bound on one worker only, on that
//! worker's UMEM: every uplink on worker 0 (the home worker, which also resolves the
//! uplinks' neighbors), each guest's tap on the worker its port number falls to.
//! What only the owner learns (the port attached and up, the uplink's MAC, a guest to
//! announce) goes to the others as [`Replica`]s, which the control thread delivers.

use hvrouter_core::{Instant, NetworkId, PortId};
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use wire::EthernetAddress;

use super::{Kind, Ports};

/// A change the owner of a port made that every other worker's router must follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replica {
    /// The port is attached and its link up (or not).
    PortUp(PortId, bool),
    /// The guest on this tap was attached: announce it (the home worker sends the
    /// gratuitous ARP on the uplink; each worker sends only on its own ports).
    Announce(String),
    /// The network's uplink MAC is now this one.
    UplinkMac(NetworkId, EthernetAddress),
    /// The port takes whole TCP super-frames (GSO) or not: a worker handing a guest's
    /// super-frame to it leaves it whole for the owner to send.
    Gso(PortId, bool),
}

/// Apply another worker's change to this worker's router.
pub fn apply(pipe: &mut Pipeline<XdpPort>, r: &Replica) {
    match r {
        Replica::PortUp(id, up) => {
            pipe.router_mut().set_port_up(*id, *up);
        }
        Replica::Announce(tap) => {
            pipe.router_mut().announce_guest(tap, Instant::ZERO);
        }
        Replica::Gso(id, on) => pipe.router_mut().set_port_gso(*id, *on),
        Replica::UplinkMac(net, mac) => {
            // The uplink's owner logged it (or the error).
            let _ = pipe.router_mut().tables_mut().set_uplink_mac(*net, *mac);
        }
    }
}

/// The worker that owns port `id` of `kind`, among `workers`.
pub fn owner(kind: Kind, id: PortId, workers: usize) -> Option<usize> {
    match kind {
        Kind::Uplink(_) => Some(0),
        Kind::Guest => Some(id.index() % workers.max(1)),
        Kind::Unused => None,
    }
}

impl Ports {
    /// This table belongs to worker `index` of `count`.
    pub fn set_worker(&mut self, index: usize, count: usize) {
        self.worker = index;
        self.workers = count.max(1);
    }

    /// Which worker this table belongs to.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// The worker that owns port `id` (`None`: an unused slot, or no such port).
    pub fn owner_of(&self, id: PortId) -> Option<usize> {
        let e = self.entries.get(id.index())?;
        owner(e.kind, id, self.workers)
    }

    /// Whether this worker owns port `id` (binds its socket).
    pub fn owns(&self, id: PortId) -> bool {
        self.owner_of(id) == Some(self.worker)
    }

    /// For each row of `show ports` (the entries in use, in order): whether this worker
    /// owns its port.
    pub fn owned_rows(&self) -> Vec<bool> {
        self.entries
            .iter()
            .filter(|e| e.kind != Kind::Unused)
            .map(|e| self.owns(e.id))
            .collect()
    }

    /// Tell the pipeline who owns each port (where frames for a port it does not have
    /// are handed over).
    pub fn sync_owners(&self, pipe: &mut Pipeline<XdpPort>) {
        if self.workers == 1 {
            return;
        }
        for e in &self.entries {
            pipe.set_port_owner(e.id, owner(e.kind, e.id, self.workers));
        }
    }

    /// The same for one port whose slot was taken or given back.
    pub fn sync_owner(&self, pipe: &mut Pipeline<XdpPort>, id: PortId) {
        if self.workers > 1 {
            pipe.set_port_owner(id, self.owner_of(id));
        }
    }

    /// Mark port `id` up or down in this worker's router, and in the others' if it is
    /// ours.
    pub(super) fn port_up(&mut self, id: PortId, up: bool, pipe: &mut Pipeline<XdpPort>) {
        pipe.router_mut().set_port_up(id, up);
        self.replicate(id, Replica::PortUp(id, up));
    }

    /// Queue `r` for the other workers if port `id` is ours and there are others.
    pub(super) fn replicate(&mut self, id: PortId, r: Replica) {
        if self.workers > 1 && self.owns(id) {
            self.effects.replicas.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uplinks_are_worker_0s_and_guests_spread_by_port() {
        let up = Kind::Uplink(NetworkId(0));
        assert_eq!(owner(up, PortId(0), 4), Some(0));
        assert_eq!(owner(up, PortId(3), 4), Some(0));
        let guests: Vec<_> = (1..=5).map(|p| owner(Kind::Guest, PortId(p), 2)).collect();
        assert_eq!(guests, [Some(1), Some(0), Some(1), Some(0), Some(1)]);
        assert_eq!(owner(Kind::Guest, PortId(7), 1), Some(0));
        assert_eq!(owner(Kind::Unused, PortId(2), 2), None);
        // A count of 0 is taken as 1, never a division by zero.
        assert_eq!(owner(Kind::Guest, PortId(9), 0), Some(0));
    }
}
