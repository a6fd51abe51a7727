//! The router's devices: which interface is which port, opening them as AF_XDP ports
//! on one shared UMEM, and following them through link events.
//!
//! Link down/up keeps the socket and the XDP program: both survive on the same device,
//! so nothing is torn down by the incident's `ifdown; ifup`; a guest whose tap is down is
//! simply not answered for until it is up again. A device that is deleted (and maybe
//! recreated with a new ifindex, e.g. a VM restart) is detached and re-attached when it
//! comes back. The UMEM is registered by the first socket bound on it: if that socket's
//! device goes away, every port is re-attached on a fresh UMEM. How much of the UMEM each
//! port's fill ring holds, and how many guests it serves, is in [`frames`].

use std::net::Ipv4Addr;

use hvrouter_core::router::Router;
use hvrouter_core::{NetworkId, PortId};
use hvrouter_dataplane::xdp_port::{PortSpec, XdpPort, XdpPortConfig, XdpPortError};
use hvrouter_dataplane::{GsoStatus, Pipeline};
use ipnet::Ipv4Net;
use sys::netlink::{LinkEvent, LinkEventKind};
use sys::{FramePool, UmemConfig, UmemError};

use crate::log;

pub mod frames;
mod queues;

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
    /// The shared UMEM could not be created.
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
    /// The port whose socket registered the current UMEM.
    owner: Option<PortId>,
    /// Next port whose kernel counters the frame tick reads (round robin).
    frames_cursor: usize,
    /// Networks whose uplink MAC the configuration sets (`uplink_mac`); the others take
    /// their device's MAC each time it is attached.
    fixed_uplink_mac: Vec<NetworkId>,
    /// Reads multi-queue taps' queue counts off the packet thread (see `queues`),
    /// started with the first such tap.
    queue_watcher: Option<queues::QueueWatcher>,
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
            owner: None,
            frames_cursor: 0,
            fixed_uplink_mac: Vec::new(),
            queue_watcher: None,
        })
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
        if let Some(e) = self.entries.iter_mut().find(|e| e.kind == Kind::Unused) {
            e.kind = Kind::Guest;
            e.ifname = ifname.to_string();
            e.ifindex = None;
            e.link_up = false;
            e.bound = None;
            return e.id;
        }
        let id = PortId(self.entries.len() as u16);
        self.entries.push(Entry {
            id,
            ifname: ifname.to_string(),
            kind: Kind::Guest,
            ifindex: None,
            link_up: false,
            bound: None,
        });
        id
    }

    /// The uplink port of network `net`.
    pub fn uplink_of(&self, net: NetworkId) -> Option<PortId> {
        self.entries
            .iter()
            .find(|e| e.kind == Kind::Uplink(net))
            .map(|e| e.id)
    }

    /// Open every device: uplinks must attach; a guest whose device is missing is
    /// marked down and attached when it appears.
    ///
    /// An uplink that cannot be attached (missing, or its XDP or socket set-up failed)
    /// does not stop the other networks: it is logged as an error with the fix, its
    /// network answers nothing on the VLAN (fails closed), and it is attached when its
    /// device appears (link event). Only a frame memory that cannot be created fails.
    pub fn open_all(&mut self, pipe: &mut Pipeline<XdpPort>) -> Result<(), OpenError> {
        let ids: Vec<PortId> = self
            .entries
            .iter()
            .filter(|e| e.kind != Kind::Unused)
            .map(|e| e.id)
            .collect();
        for id in ids {
            match self.open(id, pipe) {
                Ok(()) => {}
                Err(e @ OpenError::Umem(_)) => return Err(e),
                Err(e) => {
                    let entry = &self.entries[id.index()];
                    pipe.router_mut().set_port_up(id, false);
                    if matches!(entry.kind, Kind::Uplink(_)) {
                        log::error(
                            "uplink_down",
                            &[
                                ("dev", &entry.ifname),
                                ("error", &log::chain(&e)),
                                (
                                    "fix",
                                    &"create or repair the VLAN device: it is attached when it appears; its network answers nothing until then",
                                ),
                            ],
                        );
                    } else {
                        log::warn(
                            "guest_port_down",
                            &[("dev", &entry.ifname), ("error", &log::chain(&e))],
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The uplink of `net` is being attached on `dev`: unless configured, the network's
    /// uplink MAC becomes the device's (a device created after the router started, or
    /// recreated, may have another one than the one read at start).
    fn follow_uplink_mac(&self, net: NetworkId, dev: &str, pipe: &mut Pipeline<XdpPort>) {
        if self.fixed_uplink_mac.contains(&net) {
            return;
        }
        match sys::netdev::mac_address(dev) {
            Ok(mac) => match pipe
                .router_mut()
                .tables_mut()
                .set_uplink_mac(net, wire::EthernetAddress(mac))
            {
                Ok(true) => log::info(
                    "uplink_mac",
                    &[("dev", &dev), ("mac", &wire::EthernetAddress(mac))],
                ),
                Ok(false) => {}
                Err(e) => log::warn("uplink_mac", &[("dev", &dev), ("error", &e)]),
            },
            Err(e) => log::warn("uplink_mac", &[("dev", &dev), ("error", &e)]),
        }
    }

    /// Open the device of `id` and attach it to the pipeline; marks the port up.
    pub fn open(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>) -> Result<(), OpenError> {
        if let Some(Entry {
            kind: Kind::Uplink(net),
            ifname,
            ..
        }) = self.entries.get(id.index())
        {
            let (net, dev) = (*net, ifname.clone());
            self.follow_uplink_mac(net, &dev, pipe);
        }
        let Some(entry) = self.entries.get_mut(id.index()) else {
            return Ok(());
        };
        let dev = entry.ifname.clone();
        let ifindex = sys::netdev::ifindex(&dev).map_err(|source| OpenError::Device {
            dev: dev.clone(),
            source,
        })?;
        if let Some(bound) = entry.bound.filter(|&b| b != ifindex) {
            return Err(OpenError::Replaced {
                dev,
                bound,
                ifindex,
            });
        }
        let spec = match entry.kind {
            Kind::Uplink(net) => PortSpec::uplink(ifindex, steered_ips(pipe.router(), net))
                .with_prefixes(
                    steered_prefixes(pipe.router(), net)
                        .into_iter()
                        .map(|p| (p.network(), p.prefix_len())),
                ),
            Kind::Guest => PortSpec::guest(ifindex),
            Kind::Unused => return Ok(()),
        };
        // The kernel fails closed too: it must never proxy-answer for our guests, also
        // while the router is down.
        match sys::sysctl::set_proxy_arp(&dev, false) {
            Ok(true) => log::info("kernel_proxy_arp_disabled", &[("dev", &dev)]),
            Ok(false) => {}
            Err(e) => log::warn("kernel_proxy_arp", &[("dev", &dev), ("error", &e)]),
        }
        match sys::sysctl::set_proxy_ndp(&dev, false) {
            Ok(Some(true)) => log::info("kernel_proxy_ndp_disabled", &[("dev", &dev)]),
            Ok(_) => {}
            Err(e) => log::warn("kernel_proxy_ndp", &[("dev", &dev), ("error", &e)]),
        }
        let cfg = frames::port_config(&self.cfg, self.umem, entry.kind);
        let port = XdpPort::open(&self.pool, &spec, &cfg).map_err(|source| OpenError::Attach {
            dev: dev.clone(),
            source,
        })?;
        log::info(
            "port_attached",
            &[
                ("dev", &dev),
                ("port", &id.0),
                ("ifindex", &ifindex),
                ("mode", &format!("{:?}", port.attach_mode())),
                ("gso", &port.gso_status().name()),
            ],
        );
        if let GsoStatus::Unavailable { reason, fix } = port.gso_status() {
            // TCP still flows, segmented in software, at a fraction of the rate.
            log::warn(
                "gso_unavailable",
                &[("dev", &dev), ("error", reason), ("fix", fix)],
            );
        }
        self.owner.get_or_insert(id);
        entry.ifindex = Some(ifindex);
        entry.link_up = true;
        let guest = entry.kind == Kind::Guest;
        let uplink_net = match entry.kind {
            Kind::Uplink(net) => Some(net),
            _ => None,
        };
        pipe.attach(id, port);
        pipe.router_mut().set_port_up(id, true);
        if let Some(net) = uplink_net {
            // IPv6 steering is not part of the PortSpec: fill it in now (issue 13).
            self.sync_steering6(pipe, net, &Default::default());
        }
        if guest {
            // Attached (added, re-attached, at start, migrated in): announce the guest
            // on its VLAN and the gateway toward the guest. Due at once: the next poll
            // sends the first round.
            pipe.router_mut()
                .announce_guest(&dev, hvrouter_core::Instant::ZERO);
            self.watch_queues(id, pipe);
        }
        Ok(())
    }

    /// Detach the device of `id`: its guest is no longer answered for and its traffic
    /// is dropped until it comes back; routes and guests stay.
    pub fn close(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>, why: &str) {
        let Some(entry) = self.entries.get_mut(id.index()) else {
            return;
        };
        if entry.ifindex.take().is_some() {
            pipe.detach(id);
            log::info("port_detached", &[("dev", &entry.ifname), ("why", &why)]);
        }
        pipe.router_mut().set_port_up(id, false);
        self.unwatch_queues(id);
    }

    /// Follow a link event for one of our devices. A runtime guest whose device is gone
    /// is reported ([`LinkOutcome::GuestGone`]) for the caller to remove; everything
    /// else is handled here.
    pub fn on_link_event(&mut self, ev: &LinkEvent, pipe: &mut Pipeline<XdpPort>) -> LinkOutcome {
        let Some(id) = self
            .entries
            .iter()
            .find(|e| e.kind != Kind::Unused && e.ifname == ev.link.name)
            .map(|e| e.id)
        else {
            return LinkOutcome::Handled;
        };
        let entry = &self.entries[id.index()];
        if let Some(bound) = entry.bound {
            let why = match ev.kind {
                LinkEventKind::Del if ev.link.ifindex == bound => Some("device deleted"),
                LinkEventKind::New if ev.link.ifindex != bound => {
                    Some("name reused by another device")
                }
                _ => None,
            };
            if let Some(why) = why {
                let tap = entry.ifname.clone();
                self.close(id, pipe, why);
                return LinkOutcome::GuestGone { tap, why };
            }
        }
        let attached = entry.ifindex;
        let up = ev.link.admin_up && ev.link.oper_up;
        match (ev.kind, attached) {
            (LinkEventKind::Del, Some(old)) if old == ev.link.ifindex => {
                self.close(id, pipe, "deleted");
            }
            (LinkEventKind::New, Some(old)) if old != ev.link.ifindex => {
                // Deleted and recreated under the same name before we saw the deletion.
                self.close(id, pipe, "recreated");
                if up {
                    self.reopen(id, pipe);
                }
            }
            (LinkEventKind::New, Some(_)) => {
                // Same device, down or up: the socket and program stay attached; a
                // guest is answered for and forwarded to only while its link is up.
                let entry = &mut self.entries[id.index()];
                if entry.link_up != up {
                    entry.link_up = up;
                    pipe.router_mut().set_port_up(id, up);
                    let state = if up { "up" } else { "down" };
                    log::info("port_link", &[("dev", &ev.link.name), ("state", &state)]);
                }
            }
            (LinkEventKind::New, None) if up => self.reopen(id, pipe),
            _ => {}
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
        let names: Vec<(String, Option<u32>)> = self
            .entries
            .iter()
            .filter(|e| e.kind != Kind::Unused)
            .map(|e| (e.ifname.clone(), e.bound.or(e.ifindex)))
            .collect();
        for (name, known) in names {
            let event = match links.iter().find(|l| l.name == name) {
                Some(link) => LinkEvent {
                    kind: LinkEventKind::New,
                    link: link.clone(),
                },
                None => match known {
                    Some(ifindex) => LinkEvent {
                        kind: LinkEventKind::Del,
                        link: sys::netlink::Link {
                            ifindex,
                            name: name.clone(),
                            admin_up: false,
                            oper_up: false,
                            operstate: None,
                            mtu: None,
                            mac: None,
                            flags: 0,
                        },
                    },
                    None => continue,
                },
            };
            if let LinkOutcome::GuestGone { tap, why } = self.on_link_event(&event, pipe) {
                gone.push((tap, why));
            }
        }
        gone
    }

    fn reopen(&mut self, id: PortId, pipe: &mut Pipeline<XdpPort>) {
        let result = if self
            .owner
            .is_some_and(|o| self.entries[o.index()].ifindex.is_none())
        {
            self.rebuild(pipe)
        } else {
            self.open(id, pipe)
        };
        if let Err(e) = result {
            let name = self.entries[id.index()].ifname.clone();
            log::warn(
                "port_attach_failed",
                &[("dev", &name), ("error", &log::chain(&e))],
            );
        }
    }

    /// The device that registered the UMEM is gone: re-attach every port on a new UMEM.
    fn rebuild(&mut self, pipe: &mut Pipeline<XdpPort>) -> Result<(), OpenError> {
        log::info("umem_rebuild", &[("ports", &self.entries.len())]);
        let ids: Vec<PortId> = self.entries.iter().map(|e| e.id).collect();
        for &id in &ids {
            self.close(id, pipe, "umem_rebuild");
        }
        self.owner = None;
        self.pool = FramePool::with_config(self.umem).map_err(OpenError::Umem)?;
        self.open_all(pipe)
    }
}
