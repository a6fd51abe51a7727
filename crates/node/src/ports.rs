//! The router's devices: which interface is which port, opening them as AF_XDP ports
//! on one shared UMEM, and following them through link events.
//!
//! Link down/up keeps the socket and the XDP program: both survive on the same device,
//! so nothing is torn down by the incident's `ifdown; ifup`; a guest whose tap is down is
//! simply not answered for until it is up again. A device that is deleted (and maybe
//! recreated with a new ifindex, e.g. a VM restart) is detached and re-attached when it
//! comes back. The worker's UMEM is registered by the first socket bound on it and
//! outlives it: later sockets share it through any socket of it still bound, and when
//! none is, the next one registers the same area again (`sys::Umem`), so a port closing
//! never makes the worker's other ports close and open again. How much of the UMEM each
//! port's fill ring holds, and how many guests it serves, is in [`frames`].
//!
//! `Ports` lives on the packet worker with the pool; opening and closing a device is
//! split so that its slow half runs on the control thread (see [`open`]) and the worker
//! adopts the result ([`adopt`]).

use std::net::Ipv4Addr;

use hvrouter_core::router::Router;
use hvrouter_core::{NetworkId, PortId};
use hvrouter_dataplane::xdp_port::{XdpPort, XdpPortConfig, XdpPortError};
use hvrouter_dataplane::Pipeline;
use ipnet::Ipv4Net;
use sys::netlink::LinkEvent;
use sys::{FramePool, Reclaim, UmemConfig, UmemError};

use crate::log;
use open::{Effects, OpenRequest, Why};
use table::LinkAction;

mod adopt;
pub mod frames;
pub mod open;
pub mod owners;
pub mod queues;
mod table;

/// What a port is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The VLAN uplink of a network.
    Uplink(NetworkId),
    /// A guest's tap or veth.
    Guest,
    /// A slot whose guest was removed (reused by the next guest added).
    Unused,
}

/// Why a device could not be attached.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The interface does not exist (yet).
    #[error("{dev}: {source}")]
    Device {
        /// Interface name.
        dev: String,
        /// Cause.
        #[source]
        source: sys::netdev::NetdevError,
    },
    /// The AF_XDP socket or XDP program could not be set up.
    #[error("{dev}: {source}")]
    Attach {
        /// Interface name.
        dev: String,
        /// Cause.
        #[source]
        source: XdpPortError,
    },
    /// The name now belongs to another device than the one the guest was added on.
    #[error(
        "{dev}: the guest was added on device {bound}, the name now belongs to device \
         {ifindex}: not attached (the cluster manager adds it again for the new device)"
    )]
    Replaced {
        /// Interface name.
        dev: String,
        /// The ifindex the guest is bound to.
        bound: u32,
        /// The ifindex the name has now.
        ifindex: u32,
    },
    /// The worker's UMEM could not be created (at start).
    #[error("creating the UMEM: {0}")]
    Umem(#[source] UmemError),
}

/// One configured device.
#[derive(Debug)]
pub struct Entry {
    /// Port id in the router and pipeline.
    pub id: PortId,
    /// Interface name.
    pub ifname: String,
    /// Uplink or guest.
    pub kind: Kind,
    /// Interface index while attached.
    pub ifindex: Option<u32>,
    /// Last known link state (administratively and operationally up).
    pub link_up: bool,
    /// For a guest added at run time, the device (ifindex) it was added on: the guest
    /// lives as long as that device, and another device with the same name (the kernel
    /// hands `tapN` names out again) is never attached for it. `None`: the entry follows
    /// its name (uplinks and the configuration file's guests).
    pub bound: Option<u32>,
}

/// What a link event means for the guests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Nothing to do beyond what the ports did.
    Handled,
    /// The device a runtime guest was bound to is gone (deleted, or its name now names
    /// another device): the guest must be removed.
    GuestGone {
        /// The guest's tap name.
        tap: String,
        /// Why, for the log.
        why: &'static str,
    },
}

/// All configured devices and the shared frame pool their sockets use.
#[derive(Debug)]
pub struct Ports {
    /// Entries, indexed by `PortId`.
    pub entries: Vec<Entry>,
    umem: UmemConfig,
    pool: FramePool,
    cfg: XdpPortConfig,
    /// Queues asked of the control thread and not answered yet: (port, queue, ticket).
    queues_pending: Vec<(PortId, u32, u64)>,
    /// The last queue request's ticket.
    queue_tickets: u64,
    /// Next port whose kernel counters the frame tick reads (round robin).
    frames_cursor: usize,
    /// Networks whose uplink MAC the configuration sets (`uplink_mac`); the others take
    /// their device's MAC each time it is attached.
    fixed_uplink_mac: Vec<NetworkId>,
    /// Reads multi-queue taps' queue counts off the packet thread (see `queues`),
    /// started with the first such tap.
    queue_watcher: Option<queues::QueueWatcher>,
    /// What the control thread must do next (open, close, tell the other workers).
    effects: Effects,
    /// Which worker this table belongs to, and how many there are ([`owners`]).
    worker: usize,
    workers: usize,
}

/// Addresses whose ARP and IPv4 the uplink of `net` must steer to the router (its
/// exact-address map): every guest address of the network, and the address our ARP
/// requests use (0.0.0.0 in probe form, so the answers reach us).
pub fn steered_ips(router: &Router, net: NetworkId) -> Vec<Ipv4Addr> {
    let tables = router.tables();
    let mut ips = Vec::new();
    if let Some(network) = tables.network(net) {
        ips.push(network.arp_request_source());
    }
    for g in tables.guests().iter().filter(|g| g.network == net) {
        ips.extend(g.ips.iter().copied());
    }
    ips
}

/// Prefixes whose ARP and IPv4 the uplink of `net` must steer to the router (its
/// prefix trie, which matches any length): the routed prefixes of the network's
/// guests, host bits cleared.
pub fn steered_prefixes(router: &Router, net: NetworkId) -> Vec<Ipv4Net> {
    router
        .tables()
        .guests()
        .iter()
        .filter(|g| g.network == net)
        .flat_map(|g| g.extra_prefixes.iter().map(Ipv4Net::trunc))
        .collect()
}

impl Ports {
    /// A port table on a new UMEM shaped by `umem`.
    pub fn new(
        entries: Vec<Entry>,
        umem: UmemConfig,
        cfg: XdpPortConfig,
    ) -> Result<Ports, OpenError> {
        let pool = FramePool::with_config(umem).map_err(OpenError::Umem)?;
        Ok(Ports {
            entries,
            umem,
            pool,
            cfg,
            queues_pending: Vec::new(),
            queue_tickets: 0,
            frames_cursor: 0,
            fixed_uplink_mac: Vec::new(),
            queue_watcher: None,
            effects: Effects::default(),
            worker: 0,
            workers: 1,
        })
    }

    /// What the control thread must do next: open the ports asked for (then
    /// [`Self::finish_open`] here), close the retired ones (then [`Self::reclaim`]).
    pub fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    /// The fill chunks of a closed port's sockets go back to the pool.
    pub fn reclaim(&mut self, chunks: Reclaim) {
        self.pool.reclaim(chunks);
    }

    /// Network `net`'s uplink MAC is configured: keep it whatever the device's MAC.
    pub fn fix_uplink_mac(&mut self, net: NetworkId) {
        self.fixed_uplink_mac.push(net);
    }

    /// The interface name of port `id` ("" if unknown).
    pub fn name(&self, id: PortId) -> &str {
        self.entries
            .get(id.index())
            .map_or("", |e| e.ifname.as_str())
    }

    /// Whether port `id` is attached and its link up.
    pub fn is_up(&self, id: PortId) -> bool {
        self.entries
            .get(id.index())
            .is_some_and(|e| e.ifindex.is_some() && e.link_up)
    }

    /// A port id for a new guest on `ifname`: a free slot, or a new one.
    pub fn slot_for(&mut self, ifname: &str) -> PortId {
        table::take_slot(&mut self.entries, ifname)
    }

    /// Give back the slot of a removed guest, for the next guest added.
    pub fn release_slot(&mut self, port: PortId) {
        table::free_slot(&mut self.entries, port);
    }

    /// The uplink port of network `net`.
    pub fn uplink_of(&self, net: NetworkId) -> Option<PortId> {
        self.entries
            .iter()
            .find(|e| e.kind == Kind::Uplink(net))
            .map(|e| e.id)
    }

    /// Open every device (asked of the control thread, see [`open`]): a device that
    /// cannot be attached is marked down, logged, and attached when it appears.
    ///
    /// An uplink that cannot be attached (missing, or its XDP or socket set-up failed)
    /// does not stop the other networks: it is logged as an error with the fix, its
    /// network answers nothing on the VLAN (fails closed), and it is attached when its
    /// device appears (link event).
    pub fn open_all(&mut self, pipe: &mut Pipeline<XdpPort>) {
        let ids: Vec<PortId> = self
            .entries
            .iter()
            .filter(|e| e.kind != Kind::Unused)
            .map(|e| e.id)
            .collect();
        for id in ids {
            self.request_open(id, pipe, Why::Start);
        }
    }

    /// Ask the control thread to open the device of `id` (see [`open`]); the port stays
    /// down until [`Self::finish_open`].
    pub fn request_open(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>, why: Why) {
        let Some((kind, ifname, bound)) = self
            .entries
            .get(id.index())
            .map(|e| (e.kind, e.ifname.clone(), e.bound))
        else {
            return;
        };
        if !self.owns(id) {
            return; // bound by its owner (`owners`), which tells when it is up
        }
        self.port_up(id, false, pipe);
        let (steered_ips, steered_prefixes, follow_mac) = match kind {
            Kind::Uplink(net) => (
                steered_ips(pipe.router(), net),
                steered_prefixes(pipe.router(), net)
                    .into_iter()
                    .map(|p| (p.network(), p.prefix_len()))
                    .collect(),
                (!self.fixed_uplink_mac.contains(&net)).then_some(net),
            ),
            Kind::Guest => (Vec::new(), Vec::new(), None),
            Kind::Unused => return,
        };
        self.effects.opens.push(OpenRequest {
            id,
            ifname,
            kind,
            bound,
            steered_ips,
            steered_prefixes,
            follow_mac,
            cfg: frames::port_config(&self.cfg, self.umem, kind),
            umem: self.pool.shared_umem(),
            why,
        });
    }

    /// Detach the device of `id`: its guest is no longer answered for and its traffic
    /// is dropped until it comes back; routes and guests stay.
    pub fn close(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>, why: &str) {
        if !self.owns(id) {
            return; // its owner closes it and tells
        }
        let Some(entry) = self.entries.get_mut(id.index()) else {
            return;
        };
        if entry.ifindex.take().is_some() {
            log::info("port_detached", &[("dev", &entry.ifname), ("why", &why)]);
            if let Some(mut port) = pipe.detach(id) {
                self.retire(&mut port);
            }
            self.replicate(id, owners::Replica::Gso(id, false));
        }
        self.port_up(id, false, pipe);
        self.unwatch_queues(id);
    }

    /// Follow a link event for one of our devices. A runtime guest whose device is gone
    /// is reported ([`LinkOutcome::GuestGone`]) for the caller to remove; everything
    /// else is handled here.
    pub fn on_link_event(&mut self, ev: &LinkEvent, pipe: &mut Pipeline<XdpPort>) -> LinkOutcome {
        let Some(id) = table::by_name(&self.entries, &ev.link.name) else {
            return LinkOutcome::Handled;
        };
        let entry = &self.entries[id.index()];
        match table::link_action(entry, ev, self.owns(id)) {
            LinkAction::Nothing => {}
            LinkAction::GuestGone(why) => {
                let tap = entry.ifname.clone();
                self.close(id, pipe, why);
                return LinkOutcome::GuestGone { tap, why };
            }
            LinkAction::Close => self.close(id, pipe, "deleted"),
            LinkAction::Recreated { reopen } => {
                self.close(id, pipe, "recreated");
                if reopen {
                    self.reopen(id, pipe);
                }
            }
            LinkAction::Link(up) => {
                self.entries[id.index()].link_up = up;
                self.port_up(id, up, pipe);
                let state = if up { "up" } else { "down" };
                log::info("port_link", &[("dev", &ev.link.name), ("state", &state)]);
            }
            LinkAction::Open => self.reopen(id, pipe),
        }
        LinkOutcome::Handled
    }

    /// Link events were lost (netlink overrun): compare every entry with the current
    /// links (`RTM_GETLINK` dump) as if each had sent an event. Returns the runtime
    /// guests whose device is gone.
    pub fn resync(
        &mut self,
        links: &[sys::netlink::Link],
        pipe: &mut Pipeline<XdpPort>,
    ) -> Vec<(String, &'static str)> {
        let mut gone = Vec::new();
        for event in table::resync_events(&self.entries, links) {
            if let LinkOutcome::GuestGone { tap, why } = self.on_link_event(&event, pipe) {
                gone.push((tap, why));
            }
        }
        gone
    }

    fn reopen(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>) {
        self.request_open(id, pipe, Why::Reopen);
    }
}

#[cfg(test)]
mod tests;
