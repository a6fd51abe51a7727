//! The IPv6 timers: neighbor solicitations, Router Advertisements, unsolicited
//! Neighbor Advertisements.

use super::*;

impl Router6 {
    /// Timers: neighbor solicitations, Router Advertisements, unsolicited advertisements.
    /// Cheap when nothing is due (one comparison): it runs on every dataplane pass.
    pub fn poll(&mut self, tables: &Tables, now: Instant, out: &mut Outbox) {
        if now < self.wake {
            return;
        }
        self.poll_due(tables, now, out);
        let mut wake = now + std::time::Duration::from_secs(1);
        if self.neighbors.values().any(|c| !c.is_empty()) {
            wake = wake.min(now + NEIGHBOR_TICK);
        }
        if let Some(d) = self.ra.next_due() {
            wake = wake.min(d);
        }
        if let Some(d) = self.announce.values().map(|(t, _)| *t).min() {
            wake = wake.min(d);
        }
        wake = wake.min(self.mld_due);
        self.wake = wake.max(now);
    }

    fn poll_due(&mut self, tables: &Tables, now: Instant, out: &mut Outbox) {
        for (&net, cache) in self.neighbors.iter_mut() {
            let (Some(network), Some(_)) = (tables.network(net), self.tables6.network6(net)) else {
                continue;
            };
            let mut sent = 0;
            cache.poll(now, &mut |s| {
                push_solicit(out, network, s);
                sent += 1;
            });
            self.stats.ns_sent += sent;
        }
        if self.follower {
            // The home worker reports and leaves on the uplinks.
            self.leaving.clear();
        }
        if !self.leaving.is_empty() {
            self.send_leaves(tables, out);
        }
        if self.mld_due <= now && self.follower {
            self.mld_due =
                now + std::time::Duration::from_secs(crate::ipv6::mld::REPORT_INTERVAL_SECS);
        } else if self.mld_due <= now {
            self.mld_due =
                now + std::time::Duration::from_secs(crate::ipv6::mld::REPORT_INTERVAL_SECS);
            for (net, _) in self.tables6.networks6() {
                let Some(network) = tables.network(net) else {
                    continue;
                };
                let addrs = self.reported_addrs(tables, net);
                let n = crate::ipv6::mld::push_reports(out, network, uplink_ll(network), &addrs);
                self.stats.mld_reports += n as u64;
            }
        }
        match self.ceasing {
            Ceasing::No => {
                if self.ra.next_due().is_some_and(|d| d <= now) {
                    // Every worker's replica keeps every guest's timer; only the worker
                    // that owns a guest's port sends (the router drops the others'
                    // frames) and counts its advertisements.
                    let before = out.len();
                    self.ra.poll(tables, &self.tables6, now, out);
                    let sent = out.frames()[before..]
                        .iter()
                        .filter(|f| !self.port_remote(f.port))
                        .count();
                    self.stats.ra_sent += sent as u64;
                }
            }
            Ceasing::Pending => {
                self.ceasing = Ceasing::Done;
                self.ra = RaScheduler::new();
                self.send_final_ras(tables, out);
            }
            Ceasing::Done => {}
        }
        let due: Vec<GuestId> = self
            .announce
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(&g, _)| g)
            .collect();
        for gid in due {
            let left = self.announce.get(&gid).map_or(0, |(_, n)| *n);
            if left <= 1 {
                self.announce.remove(&gid);
            } else {
                self.announce.insert(gid, (now + ANNOUNCE_GAP, left - 1));
            }
            let Some(g) = tables.guest(gid).filter(|g| g.up && !self.follower) else {
                continue;
            };
            let (Some(network), Some(_), Some(g6)) = (
                tables.network(g.network),
                self.tables6.network6(g.network),
                self.tables6.guest6(gid),
            ) else {
                continue;
            };
            for addr in &g6.addrs {
                let a = Addressing {
                    port: network.uplink,
                    src_mac: network.uplink_mac,
                    dst_mac: multicast_mac(&ALL_NODES),
                    src_ip: uplink_ll(network),
                    dst_ip: ALL_NODES,
                    hop_limit: NDP_HOP_LIMIT,
                };
                push_na(out, &a, *addr, UNSOLICITED_FLAGS, network.uplink_mac);
                self.stats.na_unsolicited += 1;
            }
        }
    }

    /// One final advertisement (router lifetime 0) to every guest with an IPv6 side whose
    /// port is up, on networks that advertise.
    fn send_final_ras(&mut self, tables: &Tables, out: &mut Outbox) {
        for g6 in self.tables6.guests6() {
            let Some(guest) = tables.guest(g6.guest).filter(|g| g.up) else {
                continue;
            };
            let (Some(network), Some(st)) = (
                tables.network(guest.network),
                self.tables6.network6(guest.network),
            ) else {
                continue;
            };
            if st.net.spec.ra.enabled && !self.port_remote(guest.port) {
                crate::ipv6::ra::push_final_ra(out, guest.port, network, &st.net);
                self.stats.ra_final += 1;
            }
        }
    }

    /// The addresses whose solicited-node groups the router reports on `net`'s VLAN:
    /// its own link-local address and source6, and the addresses of guests whose port
    /// is up (the ones it answers solicitations for).
    pub(super) fn reported_addrs(&self, tables: &Tables, net: NetworkId) -> Vec<wire::Ipv6Addr> {
        let (Some(network), Some(st)) = (tables.network(net), self.tables6.network6(net)) else {
            return Vec::new();
        };
        let mut addrs = vec![uplink_ll(network)];
        addrs.extend(st.net.spec.source6);
        for g6 in self.tables6.guests6().filter(|g| g.network == net) {
            if tables.guest(g6.guest).is_some_and(|g| g.up) {
                addrs.extend(g6.addrs.iter().copied());
            }
        }
        addrs
    }

    /// Leave the groups of removed guests that no address the router still answers for
    /// belongs to.
    fn send_leaves(&mut self, tables: &Tables, out: &mut Outbox) {
        let leaving = std::mem::take(&mut self.leaving);
        for (net, _) in self.tables6.networks6() {
            let Some(network) = tables.network(net) else {
                continue;
            };
            let kept: Vec<wire::Ipv6Addr> = self
                .reported_addrs(tables, net)
                .iter()
                .map(wire::ipv6_addr::solicited_node)
                .collect();
            let groups: Vec<wire::Ipv6Addr> = leaving
                .iter()
                .filter(|(n, g)| *n == net && !kept.contains(g))
                .map(|(_, g)| *g)
                .collect();
            if !groups.is_empty() {
                let n = crate::ipv6::mld::push_leaves(out, network, uplink_ll(network), groups);
                self.stats.mld_leaves += n as u64;
            }
        }
    }
}
