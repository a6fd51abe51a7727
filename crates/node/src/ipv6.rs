//! The node's IPv6 wiring: the networks' and configured guests' IPv6 sides
//! from the configuration, and the uplink's IPv6 steering (its XDP program's IPv6 maps)
//! kept in step with the router's IPv6 tables.
//!
//! What the uplink steers for a network: the router's own VLAN link-local address (the
//! gateway's answers to its solicitations, its NUD probes) and every guest's IPv6
//! address (traffic to it and solicitations for it), plus the guests' routed IPv6
//! prefixes (traffic only); and, for MLD, the solicited-node groups of those addresses
//! (Multicast Address Specific Queries are sent to the group, RFC 3810 5.1.15). General
//! Queries to all-nodes are recognised by the program itself (a hop-by-hop header to
//! ff02::1): the rest of all-nodes traffic (router advertisements) stays with the kernel.

use std::net::Ipv6Addr;

use hvrouter_config::Config;
use hvrouter_control::protocol::{
    Decision, Guest6Info, GuestSpec, Ipv6NetworkInfo, Ipv6Report, Ipv6Sent, NdpExplanation,
    Neighbor6Row,
};
use hvrouter_core::ids::NetworkId;
use hvrouter_core::ipv6::proxy_ndp::{self, NdpDecision};
use hvrouter_core::router::Router;
use hvrouter_core::Instant;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use ipnet::Ipv6Net;
use wire::ipv6_addr::solicited_node;

use crate::log;
use crate::ports::Ports;

/// Give the configured networks their IPv6 side and record the configured guests' IPv6
/// keys by name (applied when each guest is added, by whatever path; `guest add`
/// records its own). Call after the
/// networks are added and before the guests are.
pub fn configure(router: &mut Router, config: &Config, now: Instant) {
    for net in &config.networks {
        let Some(spec) = &net.ipv6 else { continue };
        let (tables, v6) = router.ipv6_mut();
        let Some(id) = tables.network_by_name(&net.name).map(|n| n.id) else {
            continue;
        };
        if let Err(e) = v6.set_network6(tables, id, spec.clone(), now) {
            log::warn("network_ipv6", &[("network", &net.name), ("error", &e)]);
        }
    }
    set_overrides(router, &crate::control::config_specs(config));
}

/// Record the IPv6 sides `specs` ask for, by name (replacing what was recorded); a spec
/// without one gets its network's default.
pub fn set_overrides(router: &mut Router, specs: &[GuestSpec]) {
    let (_, v6) = router.ipv6_mut();
    v6.clear_guest6_overrides();
    for g in specs {
        v6.set_guest6_override(&g.tap, g.ipv6.as_ref().map(crate::guests6::wanted));
    }
}

/// Give every guest whose IPv6 side differs from what is now asked for (after
/// [`set_overrides`]) its new one, in place, and re-steer; returns their names.
pub fn reapply(pipe: &mut Pipeline<XdpPort>, ports: &mut Ports) -> Vec<String> {
    let mut changed = Vec::new();
    let guests: Vec<(String, hvrouter_core::GuestId, NetworkId)> = pipe
        .router()
        .tables()
        .guests()
        .iter()
        .map(|g| (g.name.clone(), g.id, g.network))
        .collect();
    for (tap, id, net) in guests {
        let before = pipe.router().ipv6().tables6().guest6(id).cloned();
        let gone = Steered6::of_guest(pipe.router(), &tap);
        let (tables, v6) = pipe.router_mut().ipv6_mut();
        // What guest_added would give it now, compared with what it has.
        let probe = v6.wanted_guest6(tables, id);
        if probe == before.as_ref().map(|g| g.spec.clone()) {
            continue;
        }
        v6.reapply_guest6(tables, id);
        ports.sync_steering6(pipe, net, &gone);
        changed.push(tap);
    }
    changed
}

/// IPv6 addresses and prefixes the uplink of `net` steers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Steered6 {
    /// Exact addresses.
    pub addrs: Vec<Ipv6Addr>,
    /// Prefixes (host bits clear).
    pub prefixes: Vec<Ipv6Net>,
}

impl Steered6 {
    /// What the router's tables say the uplink of `net` must steer now.
    pub fn wanted(router: &Router, net: NetworkId) -> Steered6 {
        let t6 = router.ipv6().tables6();
        let mut s = Steered6::default();
        let (Some(network), Some(st)) = (router.tables().network(net), t6.network6(net)) else {
            return s;
        };
        s.addrs.push(hvrouter_core::ipv6::net6::uplink_ll(network));
        s.addrs.extend(st.net.spec.source6);
        for g in t6.guests6().filter(|g| g.network == net) {
            s.addrs.extend(g.addrs.iter().copied());
            s.prefixes.extend(g.prefixes.iter().copied());
        }
        let groups: Vec<Ipv6Addr> = s.addrs.iter().map(solicited_node).collect();
        s.addrs.extend(groups);
        s.addrs.sort_unstable();
        s.addrs.dedup();
        s
    }

    /// What of these (steered for a guest that is gone) is no longer `wanted`: another
    /// guest may still need an address's solicited-node group, or the same prefix.
    pub fn unwanted(&self, wanted: &Steered6) -> Steered6 {
        Steered6 {
            addrs: (self.addrs.iter().copied())
                .filter(|a| !wanted.addrs.contains(a))
                .collect(),
            prefixes: (self.prefixes.iter().copied())
                .filter(|p| !wanted.prefixes.contains(p))
                .collect(),
        }
    }

    /// What guest `tap` makes the uplink steer (call before removing it).
    pub fn of_guest(router: &Router, tap: &str) -> Steered6 {
        let Some(id) = router.tables().guest(tap).map(|g| g.id) else {
            return Steered6::default();
        };
        match router.ipv6().tables6().guest6(id) {
            Some(g) => Steered6 {
                addrs: g
                    .addrs
                    .iter()
                    .copied()
                    .chain(g.addrs.iter().map(solicited_node))
                    .collect(),
                prefixes: g.prefixes.clone(),
            },
            None => Steered6::default(),
        }
    }
}

impl Ports {
    /// Make the IPv6 maps of `net`'s uplink hold what the tables say: insert what is
    /// wanted (idempotent), remove what is `gone` unless still wanted.
    pub fn sync_steering6(
        &mut self,
        pipe: &mut Pipeline<XdpPort>,
        net: NetworkId,
        gone: &Steered6,
    ) {
        let wanted = Steered6::wanted(pipe.router(), net);
        let Some(uplink) = self.uplink_of(net) else {
            return;
        };
        let Some(port) = pipe.port_mut(uplink) else {
            return; // detached: re-steered when it is attached again
        };
        let unwanted = gone.unwanted(&wanted);
        for a in &unwanted.addrs {
            if let Err(e) = port.steer_ip6(*a, false) {
                log::warn("steering", &[("remove", a), ("error", &e)]);
            }
        }
        for a in &wanted.addrs {
            if let Err(e) = port.steer_ip6(*a, true) {
                log::warn("steering", &[("insert", a), ("error", &e)]);
            }
        }
        for p in &unwanted.prefixes {
            if let Err(e) = port.steer_prefix6(p.network(), p.prefix_len(), false) {
                log::warn("steering", &[("remove", p), ("error", &e)]);
            }
        }
        for p in &wanted.prefixes {
            if let Err(e) = port.steer_prefix6(p.network(), p.prefix_len(), true) {
                log::warn("steering", &[("insert", p), ("error", &e)]);
            }
        }
    }
}

/// `show ipv6`: every network with an IPv6 side (or `only`).
pub fn report(router: &Router, only: Option<&str>) -> Option<Ipv6Report> {
    use hvrouter_core::ipv6::net6::uplink_ll;
    if let Some(n) = only {
        router.tables().network_by_name(n)?;
    }
    let v6 = router.ipv6();
    let t6 = v6.tables6();
    let mut networks = Vec::new();
    for n in router.tables().networks() {
        if only.is_some_and(|o| o != n.name) {
            continue;
        }
        let Some(st) = t6.network6(n.id) else {
            continue;
        };
        let mut guests: Vec<Guest6Info> = router
            .tables()
            .guests()
            .iter()
            .filter(|g| g.network == n.id)
            .map(|g| {
                let g6 = t6.guest6(g.id);
                Guest6Info {
                    tap: g.name.clone(),
                    addrs: g6.map(|x| x.addrs.clone()).unwrap_or_default(),
                    link_local: g6.map(|x| x.link_local),
                    prefixes: g6
                        .map(|x| x.prefixes.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    refused: v6.refusal(g.id).map(ToString::to_string),
                }
            })
            .collect();
        guests.sort_by(|a, b| a.tap.cmp(&b.tap));
        let mut neighbors: Vec<Neighbor6Row> = v6
            .neighbors(n.id)
            .map(|c| {
                c.iter()
                    .map(|e| Neighbor6Row {
                        addr: e.addr,
                        state: e.state.name().to_string(),
                        mac: e.mac.map(|m| m.to_string()),
                        queued: e.queued as u32,
                    })
                    .collect()
            })
            .unwrap_or_default();
        neighbors.sort_by_key(|r| r.addr);
        networks.push(Ipv6NetworkInfo {
            network: n.name.clone(),
            subnet6: st.net.spec.subnet6.to_string(),
            gateway6: st.net.spec.gateway6,
            guest_ll: st.net.guest_ll,
            uplink_ll: uplink_ll(n),
            source6: st.net.spec.source6,
            router_advertisements: st.net.spec.ra.enabled,
            guests,
            neighbors,
        });
    }
    let s = v6.stats();
    Some(Ipv6Report {
        networks,
        sent: Ipv6Sent {
            na_answered: s.na_answered,
            na_unsolicited: s.na_unsolicited,
            ns_sent: s.ns_sent,
            ra_sent: s.ra_sent,
            errors_sent: s.errors_sent,
            errors_limited: s.errors_limited,
            echo_replies: s.echo_replies,
            dhcp6_replies: s.dhcp6_replies,
        },
    })
}

fn decision(d: NdpDecision) -> Decision {
    match d {
        NdpDecision::Answer(na) => Decision {
            answer: true,
            reason: "answered".into(),
            mac: Some(na.lladdr),
        },
        NdpDecision::Ignore(reason) => Decision {
            answer: false,
            reason: reason.name().into(),
            mac: None,
        },
    }
}

/// `explain ndp ADDRESS`: in every network with IPv6 (or `only`), what the real decision
/// functions say.
pub fn explain(router: &Router, addr: Ipv6Addr, only: Option<&str>) -> Vec<NdpExplanation> {
    router
        .tables()
        .networks()
        .filter(|n| only.is_none_or(|o| o == n.name))
        .filter_map(|n| proxy_ndp::explain(router.tables(), router.ipv6().tables6(), n, addr))
        .map(|e| NdpExplanation {
            network: e.network,
            addr,
            in_subnet6: e.in_subnet,
            owner: e
                .owner
                .map(|(name, up)| if up { name } else { format!("{name} (down)") }),
            uplink: decision(e.uplink),
            uplink_dad: decision(e.uplink_dad),
            toward_guests: e.from_other_guest.map(decision),
            from_owner: e.from_owner.map(decision),
        })
        .collect()
}

/// `hvrouter_ipv6_sent_total` samples: (kind, count).
pub fn sent_metrics(router: &Router) -> Vec<(String, u64)> {
    let s = router.ipv6().stats();
    [
        ("na_answered", s.na_answered),
        ("na_unsolicited", s.na_unsolicited),
        ("ns", s.ns_sent),
        ("ra", s.ra_sent),
        ("ra_final", s.ra_final),
        ("dhcp6_reply", s.dhcp6_replies),
        ("icmp6_error", s.errors_sent),
        ("icmp6_error_limited", s.errors_limited),
        ("echo_reply", s.echo_replies),
        ("mld_report", s.mld_reports),
        ("mld_query_answered", s.mld_queries),
        ("mld_leave", s.mld_leaves),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect()
}

#[cfg(test)]
mod tests;
