//! The router's state as control-protocol payloads: what `show`, `guest list`,
//! `explain arp` and the metrics endpoint print. Read-only; runs between bursts.

use std::collections::BTreeMap;

use hvrouter_control::metrics::{MetricsSnapshot, NetworkMetrics};
use hvrouter_control::protocol::{
    ArpExplanation, CountersReport, Decision, GuestInfo, GuestOrigin, GuestSpec, NeighborInfo,
    NeighborState, NetworkCounters, NetworkInfo, NextHopInfo, PortCounters, PortFrames, PortInfo,
    PortRole, RouteInfo, RouteOrigin, WorkerCounters,
};
use hvrouter_core::drop::DropReason;
use hvrouter_core::guests::Guest;
use hvrouter_core::neighbor::NeighborState as CoreState;
use hvrouter_core::network::Network;
use hvrouter_core::proxy_arp::{self, ArpDecision};
use hvrouter_core::router::Router;
use hvrouter_core::routes::{NextHop, RouteOrigin as CoreOrigin};
use hvrouter_core::Instant;
use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::{GsoStatus, Pipeline, WorkerStats};
use wire::Ipv4Addr;

use crate::ports::{Kind, Ports};

mod dhcp;
pub use dhcp::{dhcp_explain, dhcp_report};

/// The control-protocol form of a core guest.
pub fn guest_spec(router: &Router, g: &Guest) -> GuestSpec {
    GuestSpec {
        tap: g.name.clone(),
        mac: g.mac,
        ips: g.ips.clone(),
        network: network_name(router, g.network.0),
        routed_prefixes: g.extra_prefixes.clone(),
        hostname: router.dhcp().hostname(&g.name).map(str::to_string),
        ipv6: router
            .ipv6()
            .guest6_override(&g.name)
            .map(crate::guests6::asked),
    }
}

fn network_name(router: &Router, id: u16) -> String {
    router
        .tables()
        .network(hvrouter_core::NetworkId(id))
        .map(|n| n.name.clone())
        .unwrap_or_default()
}

/// `guest list`.
pub fn guests(router: &Router, is_runtime: impl Fn(&str) -> bool) -> Vec<GuestInfo> {
    router
        .tables()
        .guests()
        .iter()
        .map(|g| {
            let origin = if is_runtime(&g.name) {
                GuestOrigin::Runtime
            } else {
                GuestOrigin::Config
            };
            GuestInfo::new(guest_spec(router, g), g.up, origin)
        })
        .collect()
}

/// `show networks`.
pub fn networks(router: &Router, ports: &Ports) -> Vec<NetworkInfo> {
    router
        .tables()
        .networks()
        .map(|n| NetworkInfo {
            name: n.name.clone(),
            uplink: ports.name(n.uplink).to_string(),
            uplink_up: ports.is_up(n.uplink),
            subnet: n.subnet,
            gateway: n.gateway,
            mtu: n.mtu,
            uplink_mac: n.uplink_mac,
            guest_mac: n.guest_mac,
            arp_source: n.arp_source,
            guests: router
                .tables()
                .guests()
                .iter()
                .filter(|g| g.network == n.id)
                .count() as u32,
        })
        .collect()
}

fn selected<'a>(router: &'a Router, only: Option<&'a str>) -> impl Iterator<Item = &'a Network> {
    router
        .tables()
        .networks()
        .filter(move |n| only.is_none_or(|o| o == n.name))
}

/// `show routes`.
pub fn routes(router: &Router, only: Option<&str>) -> Vec<RouteInfo> {
    let mut out = Vec::new();
    for n in selected(router, only) {
        let Some(table) = router.tables().routes(n.id) else {
            continue;
        };
        for r in table.iter() {
            out.push(RouteInfo {
                network: n.name.clone(),
                prefix: r.prefix,
                next_hop: match r.next_hop {
                    NextHop::Gateway(gw) => NextHopInfo::Gateway(gw),
                    NextHop::Connected => NextHopInfo::Connected,
                    NextHop::Guest(id) => NextHopInfo::Guest(
                        router
                            .tables()
                            .guests()
                            .by_id(id)
                            .map(|g| g.name.clone())
                            .unwrap_or_default(),
                    ),
                },
                origin: match r.origin {
                    CoreOrigin::Default => RouteOrigin::Default,
                    CoreOrigin::Connected => RouteOrigin::Connected,
                    CoreOrigin::Guest => RouteOrigin::Guest,
                    CoreOrigin::GuestPrefix => RouteOrigin::GuestPrefix,
                    CoreOrigin::Static => RouteOrigin::Static,
                },
            });
        }
    }
    out
}

fn state(s: CoreState) -> NeighborState {
    match s {
        CoreState::Incomplete => NeighborState::Incomplete,
        CoreState::Reachable => NeighborState::Reachable,
        CoreState::Stale => NeighborState::Stale,
        CoreState::Delay => NeighborState::Delay,
        CoreState::Probe => NeighborState::Probe,
        CoreState::Failed => NeighborState::Failed,
    }
}

/// `show neighbors`.
pub fn neighbors(router: &Router, only: Option<&str>, now: Instant) -> Vec<NeighborInfo> {
    let mut out = Vec::new();
    for n in selected(router, only) {
        let Some(cache) = router.neighbors(n.id) else {
            continue;
        };
        for e in cache.iter(now) {
            out.push(NeighborInfo {
                network: n.name.clone(),
                ip: e.ip,
                mac: e.mac,
                state: state(e.state),
                queued: e.queued as u32,
                probes: e.probes,
                age_ms: e.age.as_millis() as u64,
                idle_ms: e.idle.as_millis() as u64,
            });
        }
    }
    out.sort_by_key(|e| (e.network.clone(), e.ip));
    out
}

fn counters(router: &Router, id: hvrouter_core::PortId) -> PortCounters {
    let c = router.port_counters(id);
    PortCounters {
        rx_packets: c.rx_packets,
        rx_bytes: c.rx_bytes,
        tx_packets: c.tx_packets,
        tx_bytes: c.tx_bytes,
        arp_answered: c.arp_answered,
        arp_sent: c.arp_sent,
        icmp_errors_sent: c.icmp_errors_sent,
        icmp_errors_suppressed: c.icmp_errors_suppressed,
        fragmented: c.fragmented,
        gso_sent: c.gso_sent,
        gro_merged: c.gro_merged,
        gso_fallback: c.gso_fallback,
        fast_path_rx: c.fast_path_rx,
        fast_path_tx: c.fast_path_tx,
        fast_path_redirect_failed: c.fast_path_redirect_failed,
        // Every reason, zeros included, so every metrics series exists from the start.
        drops: DropReason::ALL
            .iter()
            .map(|&r| (r.name().to_string(), c.drop_count(r)))
            .collect(),
    }
}

/// `show ports`.
pub fn ports(pipe: &mut Pipeline<XdpPort>, ports: &Ports) -> Vec<PortInfo> {
    pipe.fold_fast_path();
    let mut out = Vec::new();
    for e in ports.entries.iter().filter(|e| e.kind != Kind::Unused) {
        let (role, network) = match e.kind {
            Kind::Uplink(net) => (PortRole::Uplink, Some(network_name(pipe.router(), net.0))),
            _ => (
                PortRole::Guest,
                pipe.router()
                    .tables()
                    .guest_by_port(e.id)
                    .map(|g| network_name(pipe.router(), g.network.0)),
            ),
        };
        let attached = pipe.port_mut(e.id);
        let xdp_mode = attached
            .as_ref()
            .map(|p| format!("{:?}", p.attach_mode()).to_lowercase());
        let gso = attached.as_ref().map(|p| p.gso_status().clone());
        let frames = attached.map(|p| {
            let f = p.fill_status();
            PortFrames {
                fill: f.in_fill,
                target: f.target,
                floor: f.floor,
                max: f.max,
                starved: f.starved,
                held_back: f.held_back,
            }
        });
        out.push(PortInfo {
            name: e.ifname.clone(),
            role,
            network,
            up: e.link_up,
            attached: e.ifindex.is_some(),
            xdp_mode,
            frames,
            gso: gso.as_ref().map(|g| g.name().to_string()),
            gso_reason: match gso {
                Some(GsoStatus::Unavailable { reason, fix }) => {
                    Some(format!("{reason}; fix: {fix}"))
                }
                _ => None,
            },
            counters: counters(pipe.router(), e.id),
        });
    }
    out
}

/// The worker's counters in control-protocol form (its handoff figures are the
/// pipeline's, added by the caller).
pub fn worker_counters(w: &WorkerStats) -> WorkerCounters {
    WorkerCounters {
        passes: w.passes,
        idle_passes: w.idle_passes,
        rx: w.rx,
        busy_ns: w.busy_ns,
        idle_ns: w.idle_ns,
        sleeps: w.sleeps,
        longest_housekeeping_ns: w.longest_housekeeping_ns,
        longest_unpreempted_housekeeping_ns: w.longest_unpreempted_housekeeping_ns,
        workers: 1,
        handed_out: 0,
        handed_in: 0,
    }
}

/// `show counters`: ports plus each network's neighbor-cache counters.
pub fn counters_report(
    pipe: &mut Pipeline<XdpPort>,
    p: &Ports,
    worker: WorkerCounters,
) -> CountersReport {
    let ports = ports(pipe, p);
    let router = pipe.router();
    let networks = router
        .tables()
        .networks()
        .filter_map(|n| {
            let c = router.neighbors(n.id)?.counters();
            let pairs = [
                ("arp_requests_sent", c.requests_sent),
                ("arp_requests_rate_limited", c.requests_rate_limited),
                ("arp_replies_learned", c.replies_learned),
                ("arp_requests_learned", c.requests_learned),
                ("arp_unsolicited_ignored", c.unsolicited_ignored),
                ("neighbor_frames_queued", c.frames_queued),
                ("neighbor_queue_overflow_drops", c.queue_overflow_drops),
                ("neighbor_resolution_failures", c.resolution_failures),
                ("neighbor_entries_refused", c.entries_refused),
            ];
            Some(NetworkCounters {
                network: n.name.clone(),
                counters: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            })
        })
        .collect();
    CountersReport {
        ports,
        networks,
        worker,
    }
}

fn decision(d: ArpDecision) -> Decision {
    match d {
        ArpDecision::Answer(mac) => Decision {
            answer: true,
            reason: "answered".into(),
            mac: Some(mac),
        },
        ArpDecision::Ignore(reason) => Decision {
            answer: false,
            reason: reason.name().into(),
            mac: None,
        },
    }
}

/// `explain arp IP`: in every network (or one), what the real decision functions say.
pub fn explain(router: &Router, ip: Ipv4Addr, only: Option<&str>) -> Vec<ArpExplanation> {
    selected(router, only)
        .map(|n| {
            let e = proxy_arp::explain(router.tables(), n, ip);
            let owner = e.owner.as_ref().map(|(name, up)| {
                if *up {
                    name.clone()
                } else {
                    format!("{name} (down)")
                }
            });
            ArpExplanation {
                network: e.network,
                ip,
                owner,
                uplink: decision(e.uplink),
                toward_guests: decision(e.from_other_guest),
            }
        })
        .collect()
}

/// What the metrics endpoint exports.
pub fn metrics(pipe: &mut Pipeline<XdpPort>, p: &Ports, worker: WorkerCounters) -> MetricsSnapshot {
    pipe.fold_fast_path();
    let ports = ports(pipe, p);
    let router = pipe.router();
    let networks = router
        .tables()
        .networks()
        .map(|n| {
            let mut neighbors = BTreeMap::new();
            if let Some(cache) = router.neighbors(n.id) {
                let counts = cache.state_counts();
                for s in CoreState::ALL {
                    neighbors.insert(state(s), counts.get(s) as u64);
                }
            }
            NetworkMetrics {
                name: n.name.clone(),
                guests: router
                    .tables()
                    .guests()
                    .iter()
                    .filter(|g| g.network == n.id)
                    .count() as u64,
                neighbors,
            }
        })
        .collect();
    let dhcp = router
        .dhcp()
        .counters()
        .by_name()
        .iter()
        .map(|(d, t, n)| (d.to_string(), t.to_string(), *n))
        .collect();
    MetricsSnapshot {
        ports,
        networks,
        worker,
        dhcp,
        ipv6_sent: crate::ipv6::sent_metrics(router),
    }
}

#[cfg(test)]
mod tests;
