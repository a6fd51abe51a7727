//! Adding and removing guests at run time: the router's tables, the guest's port, the
//! uplink's steering map and the gratuitous ARP, in the order that never answers for an
//! address the router cannot yet (or no longer) deliver to.

use std::net::Ipv4Addr;

use hvrouter_control::protocol::{Change, GuestSpec};
use hvrouter_core::guests::GuestSpec as CoreSpec;
use hvrouter_core::{Instant, NetworkId};
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use ipnet::Ipv4Net;

use crate::log;
use crate::ports::{steered_ips, steered_prefixes, Ports};

impl Ports {
    /// Add (or confirm) a guest. Idempotent: the same data again is `Unchanged`; other
    /// data for an existing tap is refused (remove it first). A guest whose tap does not
    /// exist yet is kept, marked down, and attached when the tap appears.
    pub fn add_guest(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        spec: &GuestSpec,
        now: Instant,
    ) -> Result<Change, String> {
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
        if let Some(existing) = router.tables().guests().by_name(&spec.tap) {
            let current = crate::views::guest_spec(router, existing);
            if current.same_as(spec) {
                return Ok(Change::Unchanged);
            }
            return Err(format!(
                "guest {} exists with other data ({} {:?}); remove it first",
                spec.tap, current.mac, current.ips
            ));
        }
        let port = self.slot_for(&spec.tap);
        let core = CoreSpec {
            name: spec.tap.clone(),
            port,
            mac: spec.mac,
            ips: spec.ips.clone(),
            network: net,
            extra_prefixes: spec.routed_prefixes.clone(),
        };
        if let Err(e) = pipe.router_mut().add_guest(core) {
            self.release_slot(port);
            return Err(e.to_string());
        }
        // Steer its addresses on the uplink, then attach its tap: only then can the
        // router deliver what it answers for.
        self.sync_steering(pipe, net, &[], &[]);
        if let Err(e) = self.open(port, pipe) {
            pipe.router_mut().set_port_up(port, false);
            log::warn(
                "guest_port_down",
                &[("dev", &spec.tap), ("error", &log::chain(&e))],
            );
        }
        pipe.router_mut().announce_guest(&spec.tap, now);
        log::info(
            "guest_added",
            &[("guest", &spec.tap), ("network", &spec.network)],
        );
        Ok(Change::Added)
    }

    /// Remove a guest: from this moment nothing is answered for it, its traffic is
    /// dropped, its steering entries and port are gone.
    pub fn remove_guest(&mut self, pipe: &mut Pipeline<XdpPort>, tap: &str) -> Result<(), String> {
        let removed = pipe
            .router_mut()
            .remove_guest(tap)
            .map_err(|_| format!("no such guest: {tap}"))?;
        let gone_prefixes: Vec<Ipv4Net> =
            removed.extra_prefixes.iter().map(Ipv4Net::trunc).collect();
        self.sync_steering(pipe, removed.network, &removed.ips, &gone_prefixes);
        self.close(removed.port, pipe, "guest_removed");
        self.release_slot(removed.port);
        log::info("guest_removed", &[("guest", &tap)]);
        Ok(())
    }

    fn release_slot(&mut self, port: hvrouter_core::PortId) {
        if let Some(e) = self.entries.get_mut(port.index()) {
            e.kind = crate::ports::Kind::Unused;
            e.ifname.clear();
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
