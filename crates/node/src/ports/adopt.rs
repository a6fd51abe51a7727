//! The worker's half of opening a device: adopting the port the control thread opened
//! and bound ([`super::open`]) between bursts: the uplink's MAC, attaching it to the
//! pipeline, telling the other workers, announcing a guest; and handing a port the
//! pipeline let go of back to the control thread to close.

use hvrouter_core::NetworkId;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::{GsoStatus, Pipeline};

use super::open::{OpenFailure, OpenResult};
use super::{owners, Kind, Ports};
use crate::log;

impl Ports {
    /// Adopt a port the control thread opened: attach it to the pipeline and mark it
    /// up. A port opened for an entry that changed meanwhile goes back to be closed.
    /// Gives back the error of one that could not be opened, for the control thread to
    /// log.
    pub fn finish_open(
        &mut self,
        res: OpenResult,
        pipe: &mut Pipeline<XdpPort>,
    ) -> Result<(), Box<OpenFailure>> {
        let OpenResult {
            id,
            ifname,
            kind,
            why,
            mac,
            port,
            queues,
        } = res;
        let current = self
            .entries
            .get(id.index())
            .is_some_and(|e| e.ifname == ifname && e.kind == kind && e.ifindex.is_none());
        let (prepared, ifindex) = match port {
            Err(e) => {
                if current {
                    self.port_up(id, false, pipe);
                }
                return Err(Box::new(OpenFailure {
                    dev: ifname,
                    kind,
                    why,
                    error: e,
                }));
            }
            Ok(p) => p,
        };
        if !current {
            self.effects.discard.push(prepared);
            return Ok(());
        }
        if let (Kind::Uplink(net), Some(mac)) = (kind, mac) {
            if self.set_uplink_mac(net, &ifname, mac, pipe) {
                let mac = wire::EthernetAddress(mac);
                self.replicate(id, owners::Replica::UplinkMac(net, mac));
            }
        }
        let port = match XdpPort::finish(&self.pool, prepared) {
            Ok(p) => p,
            Err(stale) => {
                // Bound on another UMEM than the pool's (never, with one pool per
                // worker for its lifetime): open it again on this one.
                self.effects.discard.push(*stale);
                self.request_open(id, pipe, why);
                return Ok(());
            }
        };
        log::info(
            "port_attached",
            &[
                ("dev", &ifname),
                ("port", &id.0),
                ("ifindex", &ifindex),
                ("mode", &format!("{:?}", port.attach_mode())),
                ("gso", &port.gso_status().name()),
                (
                    "umem",
                    &if port.shares_umem() {
                        "shared"
                    } else {
                        "registered"
                    },
                ),
            ],
        );
        if let GsoStatus::Unavailable { reason, fix } = port.gso_status() {
            // TCP still flows, segmented in software, at a fraction of the rate.
            log::warn(
                "gso_unavailable",
                &[("dev", &ifname), ("error", reason), ("fix", fix)],
            );
        }
        if let Some(entry) = self.entries.get_mut(id.index()) {
            entry.ifindex = Some(ifindex);
            entry.link_up = true;
        }
        let gso = hvrouter_dataplane::Port::takes_gso(&port);
        if let Some(mut old) = pipe.attach(id, port) {
            self.retire(&mut old);
        }
        self.replicate(id, owners::Replica::Gso(id, gso));
        self.port_up(id, true, pipe);
        if let Kind::Uplink(net) = kind {
            // IPv6 steering is not part of the PortSpec: fill it in now (issue 13).
            self.sync_steering6(pipe, net, &Default::default());
        }
        if kind == Kind::Guest {
            // Attached (added, re-attached, at start, migrated in): announce the guest
            // on its VLAN and the gateway toward the guest. Due at once: the next poll
            // sends the first round.
            pipe.router_mut()
                .announce_guest(&ifname, hvrouter_core::Instant::ZERO);
            self.replicate(id, owners::Replica::Announce(ifname.clone()));
            if let Some(n) = queues {
                self.watch_queues(id, &ifname, n, pipe);
            }
        }
        Ok(())
    }

    /// Unless configured, the network's uplink MAC becomes its device's (a device
    /// created after the router started, or recreated, may have another one than the
    /// one read at start). True if it changed.
    fn set_uplink_mac(
        &self,
        net: NetworkId,
        dev: &str,
        mac: [u8; 6],
        pipe: &mut Pipeline<XdpPort>,
    ) -> bool {
        if self.fixed_uplink_mac.contains(&net) {
            return false;
        }
        match pipe
            .router_mut()
            .tables_mut()
            .set_uplink_mac(net, wire::EthernetAddress(mac))
        {
            Ok(true) => {
                log::info(
                    "uplink_mac",
                    &[("dev", &dev), ("mac", &wire::EthernetAddress(mac))],
                );
                true
            }
            Ok(false) => false,
            Err(e) => {
                log::warn("uplink_mac", &[("dev", &dev), ("error", &e)]);
                false
            }
        }
    }

    /// Hand a port the pipeline let go of to the control thread, which detaches and
    /// closes it (both wait on the kernel). If its descriptors cannot be duplicated it
    /// is closed here, as before.
    pub(super) fn retire(&mut self, port: &mut XdpPort) {
        match port.retire() {
            Ok(r) => self.effects.retired.push(r),
            Err(e) => log::warn("port_retire", &[("error", &e)]),
        }
    }
}
