//! Adding and removing guests at run time: the router's tables, the guest's port, the
//! uplink's steering map and the gratuitous ARP, in the order that never answers for an
//! address the router cannot yet (or no longer) deliver to.

use std::net::Ipv4Addr;

use hvrouter_control::protocol::{Change, GuestSpec};
use hvrouter_core::guests::GuestSpec as CoreSpec;
use hvrouter_core::{NetworkId, PortId};
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use ipnet::Ipv4Net;

use crate::log;
use crate::ports::{steered_ips, steered_prefixes, Ports};

/// What `guest add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Added, or already there with the same data.
    pub change: Change,
    /// Guests removed to make room: their tap device no longer exists (a VM that
    /// stopped or migrated away without a down hook), and the new guest takes their
    /// address or their tap name.
    pub replaced: Vec<String>,
}

impl Ports {
    /// Whether the device a guest's entry names is gone: no device has the name, or the
    /// name belongs to another device than the one a runtime guest was added on.
    fn device_gone(&self, port: PortId) -> bool {
        let Some(e) = self.entries.get(port.index()) else {
            return true;
        };
        match sys::netdev::ifindex(&e.ifname) {
            Err(_) => true,
            Ok(now) => e.bound.is_some_and(|b| b != now),
        }
    }

    /// Add (or confirm) a guest. `bound`: the device (ifindex) a runtime guest belongs
    /// to (see [`crate::ports::Entry::bound`]); `None` for the configuration file's
    /// guests, which follow their tap's name and are attached whenever it exists.
    ///
    /// Idempotent: the same data on the same device again is `Unchanged`. An entry for
    /// the same tap name, or one holding one of its addresses, whose device is gone is
    /// replaced; a live one is refused, naming both taps.
    pub fn add_guest(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        spec: &GuestSpec,
        bound: Option<u32>,
    ) -> Result<Added, String> {
        let router = pipe.router();
        let Some(net) = router.tables().network_by_name(&spec.network).map(|n| n.id) else {
            return Err(format!(
                "guest {}: no such network {:?} (configured: {})",
                spec.tap,
                spec.network,
                router
                    .tables()
                    .networks()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        // An IPv6 side asked for explicitly must fit its network, or the add is refused.
        let g6 = crate::guests6::resolve(router, net, spec)?;
        let mut stale = Vec::new();
        if let Some(existing) = router.tables().guests().by_name(&spec.tap) {
            let current = crate::views::guest_spec(router, existing);
            let port = existing.port;
            if self.device_gone(port) {
                // Its VM is gone (stopped or migrated away with no down hook): stale.
                stale.push(existing.name.clone());
            } else if current.same_as(spec) {
                // The same guest on the same live device; adopt the binding asked for
                // (a runtime add of exactly the configured guest follows the name).
                if let Some(e) = self.entries.get_mut(port.index()) {
                    e.bound = bound;
                }
                set_hostname(pipe, spec);
                return Ok(Added {
                    change: Change::Unchanged,
                    replaced: Vec::new(),
                });
            } else {
                return Err(format!(
                    "guest {} exists with other data ({} {:?}); remove it first",
                    spec.tap, current.mac, current.ips
                ));
            }
        }
        // Another guest holding one of its addresses or prefixes: replaced if that
        // guest's tap is gone, else the add is refused.
        for g in router.tables().guests().iter() {
            if g.name == spec.tap || g.network != net || stale.contains(&g.name) {
                continue;
            }
            let clash = spec
                .ips
                .iter()
                .find(|ip| g.ips.contains(ip))
                .map(ToString::to_string)
                .or_else(|| {
                    spec.routed_prefixes
                        .iter()
                        .find(|p| {
                            g.extra_prefixes
                                .iter()
                                .any(|q| q.contains(&p.network()) || p.contains(&q.network()))
                        })
                        .map(ToString::to_string)
                })
                .or_else(|| {
                    let other = router.ipv6().tables6().guest6(g.id)?;
                    crate::guests6::clash(g6.as_ref()?, other)
                });
            let Some(what) = clash else { continue };
            if self.device_gone(g.port) {
                stale.push(g.name.clone());
            } else {
                return Err(format!(
                    "{what} already belongs to guest {} whose tap is present: refusing it for {}; \
                     remove {} first",
                    g.name, spec.tap, g.name
                ));
            }
        }
        // Frame memory: a guest the UMEM cannot give its fill floor is refused, never
        // attached without frames (docs/FRAMES.md).
        self.admit_guest(stale.len())?;
        for name in &stale {
            self.remove_guest(pipe, name)?;
            log::info(
                "guest_replaced",
                &[
                    ("old", name),
                    ("new", &spec.tap),
                    ("why", &"its tap device is gone"),
                ],
            );
        }
        let port = self.slot_for(&spec.tap);
        if let Some(e) = self.entries.get_mut(port.index()) {
            e.bound = bound;
        }
        let core = CoreSpec {
            name: spec.tap.clone(),
            port,
            mac: spec.mac,
            ips: spec.ips.clone(),
            network: net,
            extra_prefixes: spec.routed_prefixes.clone(),
        };
        // Its IPv6 side, by name (none asked for: its network's default).
        let (_, v6) = pipe.router_mut().ipv6_mut();
        v6.set_guest6_override(&spec.tap, spec.ipv6.as_ref().map(crate::guests6::wanted));
        let id = match pipe.router_mut().add_guest(core) {
            Ok(id) => id,
            Err(e) => {
                self.release_slot(port);
                return Err(e.to_string());
            }
        };
        if let Some(why) = spec.ipv6.as_ref().and(pipe.router().ipv6().refusal(id)) {
            let why = format!("guest {}: IPv6: {why}", spec.tap);
            let _ = pipe.router_mut().remove_guest(&spec.tap);
            self.release_slot(port);
            return Err(why);
        }
        set_hostname(pipe, spec);
        // Steer its addresses on the uplink, then attach its tap: only then can the
        // router deliver what it answers for. Attaching announces it.
        self.sync_steering(pipe, net, &[], &[]);
        self.sync_steering6(pipe, net, &Default::default());
        if let Err(e) = self.open(port, pipe) {
            pipe.router_mut().set_port_up(port, false);
            log::warn(
                "guest_port_down",
                &[("dev", &spec.tap), ("error", &log::chain(&e))],
            );
        }
        log::info(
            "guest_added",
            &[
                ("guest", &spec.tap),
                ("network", &spec.network),
                (
                    "device",
                    &bound.map_or_else(|| "by name".to_string(), |i| i.to_string()),
                ),
            ],
        );
        Ok(Added {
            change: Change::Added,
            replaced: stale,
        })
    }

    /// Remove a guest: from this moment nothing is answered for it, its traffic is
    /// dropped, its steering entries and port are gone.
    pub fn remove_guest(&mut self, pipe: &mut Pipeline<XdpPort>, tap: &str) -> Result<(), String> {
        let gone6 = crate::ipv6::Steered6::of_guest(pipe.router(), tap);
        let removed = pipe
            .router_mut()
            .remove_guest(tap)
            .map_err(|_| format!("no such guest: {tap}"))?;
        let gone_prefixes: Vec<Ipv4Net> =
            removed.extra_prefixes.iter().map(Ipv4Net::trunc).collect();
        self.sync_steering(pipe, removed.network, &removed.ips, &gone_prefixes);
        self.sync_steering6(pipe, removed.network, &gone6);
        self.close(removed.port, pipe, "guest_removed");
        self.release_slot(removed.port);
        log::info("guest_removed", &[("guest", &tap)]);
        Ok(())
    }

    fn release_slot(&mut self, port: PortId) {
        if let Some(e) = self.entries.get_mut(port.index()) {
            e.kind = crate::ports::Kind::Unused;
            e.ifname.clear();
            e.bound = None;
        }
    }

    /// Make the uplink's steering map and prefix trie of `net` hold what the tables
    /// say: insert every current address and prefix (idempotent) and remove `gone` and
    /// `gone_prefixes` unless still owned.
    fn sync_steering(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        net: NetworkId,
        gone: &[Ipv4Addr],
        gone_prefixes: &[Ipv4Net],
    ) {
        let wanted = steered_ips(pipe.router(), net);
        let wanted_prefixes = steered_prefixes(pipe.router(), net);
        let Some(uplink) = self.uplink_of(net) else {
            return;
        };
        let Some(port) = pipe.port_mut(uplink) else {
            return; // detached: re-steered from the tables when it is re-attached
        };
        for ip in gone.iter().filter(|ip| !wanted.contains(ip)) {
            if let Err(e) = port.remove_guest_ip(*ip) {
                log::warn("steering", &[("remove", ip), ("error", &e)]);
            }
        }
        for ip in &wanted {
            if let Err(e) = port.insert_guest_ip(*ip) {
                log::warn("steering", &[("insert", ip), ("error", &e)]);
            }
        }
        for p in gone_prefixes
            .iter()
            .filter(|p| !wanted_prefixes.contains(p))
        {
            if let Err(e) = port.remove_guest_prefix(p.network(), p.prefix_len()) {
                log::warn("steering", &[("remove", p), ("error", &e)]);
            }
        }
        for p in &wanted_prefixes {
            if let Err(e) = port.insert_guest_prefix(p.network(), p.prefix_len()) {
                log::warn("steering", &[("insert", p), ("error", &e)]);
            }
        }
    }
}

/// The host name DHCP gives the guest (validated with the request; a bad one is logged
/// and none is sent).
fn set_hostname(pipe: &mut Pipeline<XdpPort>, spec: &GuestSpec) {
    if let Err(e) = pipe
        .router_mut()
        .set_guest_hostname(&spec.tap, spec.hostname.as_deref())
    {
        log::warn("guest_hostname", &[("guest", &spec.tap), ("error", &e)]);
    }
}
