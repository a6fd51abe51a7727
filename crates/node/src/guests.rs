//! Adding and removing guests at run time: the router's tables, the guest's port, the
//! uplink's steering map and the gratuitous ARP, in the order that never answers for an
//! address the router cannot yet (or no longer) deliver to. A `guest add` is read from
//! the tables on the worker ([`Ports::candidates`]), decided on the control thread after
//! it looked the devices up (`hvrouter_runtime::plan::decide_add`), and carried out on
//! the worker ([`Ports::apply_add`]); the guest's port is opened by the control thread.

use std::net::Ipv4Addr;

use hvrouter_control::protocol::{Change, GuestSpec};
use hvrouter_core::guests::GuestSpec as CoreSpec;
use hvrouter_core::router::Router;
use hvrouter_core::{NetworkId, PortId};
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use hvrouter_runtime::plan::{AddCandidates, AddDecision, Clash, SameName};
use ipnet::Ipv4Net;

use crate::log;
use crate::ports::open::Why;
use crate::ports::{steered_ips, steered_prefixes, Entry, Ports};

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

/// Where the device of a guest the new one meets is: the control thread looks it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetDevice {
    /// The guest.
    pub name: String,
    /// Its entry's device name.
    pub ifname: String,
    /// The device a runtime guest is bound to.
    pub bound: Option<u32>,
}

impl MetDevice {
    /// Whether its device is gone: no device has the name, or the name belongs to
    /// another device than the one a runtime guest was added on (an ioctl: control
    /// thread).
    pub fn is_gone(&self) -> bool {
        match sys::netdev::ifindex(&self.ifname) {
            Err(_) => true,
            Ok(now) => self.bound.is_some_and(|b| b != now),
        }
    }
}

impl Ports {
    /// The guests a new guest `spec` meets (same name, or one of its addresses or
    /// prefixes in the same network) and their devices, read from the tables (worker,
    /// copied out for [`hvrouter_runtime::plan::decide_add`] on the control thread).
    pub fn candidates(
        &self,
        router: &Router,
        spec: &GuestSpec,
    ) -> Result<(AddCandidates, Vec<MetDevice>), String> {
        candidates(&self.entries, router, spec)
    }

    /// Carry out a decided `guest add` (worker): `bound` is the device (ifindex) a
    /// runtime guest belongs to (see [`crate::ports::Entry::bound`]); `None` for the
    /// configuration file's guests, which follow their tap's name. The guest's port is
    /// asked of the control thread (see [`crate::ports::open`]).
    pub fn apply_add(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        spec: &GuestSpec,
        bound: Option<u32>,
        decision: AddDecision,
    ) -> Result<Added, String> {
        let stale = match decision {
            AddDecision::Unchanged => {
                // The same guest on the same live device; adopt the binding asked for
                // (a runtime add of exactly the configured guest follows the name).
                let port = pipe
                    .router()
                    .tables()
                    .guests()
                    .by_name(&spec.tap)
                    .map(|g| g.port);
                if let Some(e) = port.and_then(|p| self.entries.get_mut(p.index())) {
                    e.bound = bound;
                }
                set_hostname(pipe, spec);
                return Ok(Added {
                    change: Change::Unchanged,
                    replaced: Vec::new(),
                });
            }
            AddDecision::Add { stale } => stale,
        };
        let Some(net) = pipe
            .router()
            .tables()
            .network_by_name(&spec.network)
            .map(|n| n.id)
        else {
            return Err(format!(
                "guest {}: no such network {:?}",
                spec.tap, spec.network
            ));
        };
        // Frame memory: a guest the UMEM cannot give its fill floor is refused, never
        // attached without frames (docs/FRAMES.md).
        self.admit_guest(stale.len())?;
        for name in &stale {
            self.remove_guest(pipe, name)?;
            if self.worker() != 0 {
                continue;
            }
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
        self.sync_owner(pipe, port);
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
                self.sync_owner(pipe, port);
                return Err(e.to_string());
            }
        };
        if let Some(why) = spec.ipv6.as_ref().and(pipe.router().ipv6().refusal(id)) {
            let why = format!("guest {}: IPv6: {why}", spec.tap);
            let _ = pipe.router_mut().remove_guest(&spec.tap);
            self.release_slot(port);
            self.sync_owner(pipe, port);
            return Err(why);
        }
        set_hostname(pipe, spec);
        // Steer its addresses on the uplink, then attach its tap: only then can the
        // router deliver what it answers for. Attaching announces it.
        let prefixes: Vec<Ipv4Net> = spec.routed_prefixes.iter().map(Ipv4Net::trunc).collect();
        self.sync_steering(pipe, net, &spec.ips, &prefixes, &[], &[]);
        self.sync_steering6(pipe, net, &Default::default());
        self.request_open(port, pipe, Why::Add);
        if self.worker() != 0 {
            // Every worker applies the add; one says so.
            return Ok(Added {
                change: Change::Added,
                replaced: stale,
            });
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
        self.sync_steering(
            pipe,
            removed.network,
            &[],
            &[],
            &removed.ips,
            &gone_prefixes,
        );
        self.sync_steering6(pipe, removed.network, &gone6);
        self.close(removed.port, pipe, "guest_removed");
        self.release_slot(removed.port);
        self.sync_owner(pipe, removed.port);
        if self.worker() == 0 {
            log::info("guest_removed", &[("guest", &tap)]);
        }
        Ok(())
    }

    /// Keep the uplink's steering map and prefix trie of `net` in step with the
    /// tables: insert `added` and `added_prefixes` (a guest just added), remove `gone`
    /// and `gone_prefixes` unless another guest still owns them. Only the changed
    /// entries are written (one map update each), so adding guests one by one costs
    /// no more than adding them at once.
    fn sync_steering(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        net: NetworkId,
        added: &[Ipv4Addr],
        added_prefixes: &[Ipv4Net],
        gone: &[Ipv4Addr],
        gone_prefixes: &[Ipv4Net],
    ) {
        let (wanted, wanted_prefixes) = if gone.is_empty() && gone_prefixes.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (
                steered_ips(pipe.router(), net),
                steered_prefixes(pipe.router(), net),
            )
        };
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
        for ip in added {
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
        for p in added_prefixes {
            if let Err(e) = port.insert_guest_prefix(p.network(), p.prefix_len()) {
                log::warn("steering", &[("insert", p), ("error", &e)]);
            }
        }
    }
}

/// [`Ports::candidates`] from the port table's `entries` (where the met guests' devices
/// are).
fn candidates(
    entries: &[Entry],
    router: &Router,
    spec: &GuestSpec,
) -> Result<(AddCandidates, Vec<MetDevice>), String> {
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
    let mut met = AddCandidates::default();
    let mut devices = Vec::new();
    let device = |name: &str, port: PortId| {
        let e = entries.get(port.index());
        MetDevice {
            name: name.to_string(),
            ifname: e.map_or_else(String::new, |e| e.ifname.clone()),
            bound: e.and_then(|e| e.bound),
        }
    };
    if let Some(existing) = router.tables().guests().by_name(&spec.tap) {
        let current = crate::views::guest_spec(router, existing);
        met.same_name = Some(SameName {
            same_data: current.same_as(spec),
            describe: format!("{} {:?}", current.mac, current.ips),
        });
        devices.push(device(&existing.name, existing.port));
    }
    for g in router.tables().guests().iter() {
        if g.name == spec.tap || g.network != net {
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
        met.clashes.push(Clash {
            name: g.name.clone(),
            what,
        });
        devices.push(device(&g.name, g.port));
    }
    Ok((met, devices))
}

/// Decide a `guest add` of `tap` from what it meets ([`Ports::candidates`]): a guest it
/// meets is gone when its device is (`is_gone`: [`MetDevice::is_gone`], looked up on the
/// control thread) or when it has no device read with it.
pub fn decide(
    tap: &str,
    met: &AddCandidates,
    devices: &[MetDevice],
    is_gone: impl Fn(&MetDevice) -> bool,
) -> Result<AddDecision, String> {
    let gone = |name: &str| devices.iter().find(|d| d.name == name).is_none_or(&is_gone);
    hvrouter_runtime::plan::decide_add(tap, met, gone)
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

#[cfg(test)]
mod tests;
