//! The router: all tables plus the stages that decide what happens to each frame.
//!
//! `Router::process` takes one received frame, decides, and returns an [`Action`]; it may
//! rewrite the frame in place (MACs, TTL, an ARP request turned into its reply) and may
//! queue frames it originates on an [`Outbox`]. It never does I/O: the dataplane loop
//! receives bursts, calls `process` for each frame, transmits, and calls [`Router::poll`]
//! for timers. Stages live one per file: [`arp_input`] and [`ip_forward`] decide, [`ip_output`] and
//! [`arp_output`] transmit (both input stages use them; neither uses the other).

mod arp_input;
mod arp_output;
#[cfg(test)]
mod follower_tests;
mod guest_offload;
mod ip_forward;
mod ip_fragment;
mod ip_output;
#[cfg(test)]
mod tests;

use wire::EthernetFrame;

use crate::announce::{AnnounceConfig, Announcer};
use crate::counters::{Counters, PortCounters};
use crate::dhcp::{DhcpConfig, DhcpServer, HostnameError};
use crate::drop::DropReason;
use crate::guests::{Guest, GuestSpec};
use crate::ids::{GuestId, NetworkId, PortId};
use crate::ipv6::router6::Router6;
use crate::neighbor::{NeighborCache, NeighborConfig};
use crate::network::NetworkSpec;
use crate::outbox::Outbox;
use crate::ratelimit::TokenBucket;
use crate::tables::{PortRole, Tables, TablesError};
use crate::time::Instant;
use crate::trace::{self, Trace, TraceRecord};

/// EtherType numbers the router dispatches on (`wire::EtherType::{Ipv4, Arp, Vlan}`),
/// matched as raw values so the header is read once.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// What the dataplane should do with a frame after [`Router::process`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// Transmit the frame (rewritten in place) on this port.
    Forward(PortId),
    /// The router kept what it needed (an ARP reply it learned from, a frame it queued
    /// while resolving its next hop); the receive buffer can be recycled.
    Consumed,
    /// Dropped for this reason (already counted).
    Drop(DropReason),
    /// Only from a follower router ([`Router::set_follower`]): the frame leaves through
    /// the uplink `port` toward `next_hop`, whose MAC only the home worker resolves. The
    /// frame passed every check the forwarding stage makes (validation, anti-spoofing,
    /// TTL or hop limit, MTU, checksum completion); the home finishes it with
    /// [`Router::output_resolved`]. An IPv4 frame is as received (the home rewrites the
    /// MACs and decrements the TTL, as for a frame released from its neighbor queue); an
    /// IPv6 frame has its hop limit decremented and source MAC set (the home sets the
    /// destination MAC, as for a frame released from its IPv6 neighbor queue). Either
    /// way the datagram is decremented exactly once.
    Resolve {
        /// The uplink port.
        port: PortId,
        /// The next hop on the VLAN: the gateway or the on-link destination.
        next_hop: NextHopAddr,
    },
}

/// A next hop's address on the VLAN, IPv4 or IPv6 ([`Action::Resolve`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NextHopAddr {
    /// Resolved with ARP.
    V4(wire::Ipv4Addr),
    /// Resolved with neighbor discovery.
    V6(wire::Ipv6Addr),
}

impl std::fmt::Display for NextHopAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextHopAddr::V4(a) => write!(f, "{a}"),
            NextHopAddr::V6(a) => write!(f, "{a}"),
        }
    }
}

/// Router-wide settings.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// ICMP errors per second, all ports together (RFC 1812 4.3.2.8).
    pub icmp_rate_per_sec: u32,
    /// ICMP error burst.
    pub icmp_burst: u32,
    /// Settings of each network's neighbor cache.
    pub neighbor: NeighborConfig,
    /// Gratuitous ARP when a guest appears.
    pub announce: AnnounceConfig,
    /// The DHCP server's settings per network ([`crate::dhcp`]).
    pub dhcp: DhcpConfig,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            icmp_rate_per_sec: 100,
            icmp_burst: 50,
            neighbor: NeighborConfig::default(),
            announce: AnnounceConfig::default(),
            dhcp: DhcpConfig::default(),
        }
    }
}

/// The router's whole state.
#[derive(Debug)]
pub struct Router {
    tables: Tables,
    /// One neighbor cache per network, indexed by `NetworkId`.
    neighbors: Vec<Option<NeighborCache>>,
    icmp_limit: TokenBucket,
    counters: Counters,
    announcer: Announcer,
    trace: Trace,
    /// Ports whose transmit takes whole TCP super-frames (GSO), by port index.
    gso_ports: Vec<bool>,
    dhcp: DhcpServer,
    /// The IPv6 side ([`crate::ipv6`]).
    v6: Router6,
    config: RouterConfig,
    /// Bumped on every change to the tables (see [`Router::generation`]).
    generation: u64,
    /// Uplink next hops are resolved by another router ([`Router::set_follower`]).
    follower: bool,
    /// Ports another worker transmits on, by port index ([`Router::set_port_remote`]).
    remote_ports: Vec<bool>,
    /// Gratuitous ARP frames sent (on ports this worker transmits on).
    announced: u64,
}

impl Router {
    /// An empty router: no networks, no guests. It answers nothing (fails closed).
    pub fn new(config: RouterConfig, now: Instant) -> Router {
        Router {
            tables: Tables::new(),
            neighbors: Vec::new(),
            icmp_limit: TokenBucket::new(config.icmp_rate_per_sec, config.icmp_burst, now),
            counters: Counters::default(),
            announcer: Announcer::new(config.announce),
            trace: Trace::default(),
            gso_ports: Vec::new(),
            dhcp: DhcpServer::new(config.dhcp.clone()),
            v6: Router6::new(
                config.neighbor.clone(),
                config.icmp_rate_per_sec,
                config.icmp_burst,
                now,
            ),
            config,
            generation: 0,
            follower: false,
            remote_ports: Vec::new(),
            announced: 0,
        }
    }

    /// Make this router a follower (`true`) or not (`false`, the default).
    ///
    /// With N workers every worker runs a full replica of the router, but the uplinks
    /// belong to the home worker, and so does neighbor resolution on them: ARP and
    /// neighbor discovery are done once, from one cache per network. A follower never
    /// looks up, creates or queues on its uplink neighbor caches (IPv4 and IPv6): where
    /// the forwarding stage would resolve a next hop on the VLAN it returns
    /// [`Action::Resolve`] instead, and the home finishes the frame with
    /// [`Router::output_resolved`]. Everything else (validation, anti-spoofing, ICMP
    /// errors, MTU checks, checksum completion) is done by the follower as by any router.
    pub fn set_follower(&mut self, on: bool) {
        self.follower = on;
        self.v6.set_follower(on);
    }

    /// This router is one of `workers` replicas, each on its own worker: every
    /// router-wide rate limit (ICMP errors, RFC 1812 4.3.2.8, and ICMPv6 errors, RFC 4443
    /// 2.4 (f); DHCPv6 replies) gets its share of the configured rate and burst, rounded
    /// up, so that all workers together stay within them (up to one per worker). A busy
    /// worker does not borrow an idle one's share. 1 (the default): the whole rate.
    pub fn share_rate_limits(&mut self, workers: usize, now: Instant) {
        let n = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
        let (rate, burst) = (self.config.icmp_rate_per_sec, self.config.icmp_burst);
        self.icmp_limit
            .set_rate(rate.div_ceil(n), burst.div_ceil(n), now);
        self.v6.share_rate_limits(n, rate, burst, now);
    }

    /// Whether this router is a follower ([`Router::set_follower`]).
    pub fn is_follower(&self) -> bool {
        self.follower
    }

    /// Say whether `port` is transmitted on by another worker (`true`) or by this one
    /// (`false`, the default for every port).
    ///
    /// Every worker's replica runs the same timers, so each would originate the same
    /// periodic frames (Router Advertisements, gratuitous ARP, unsolicited Neighbor
    /// Advertisements, MLD reports). [`Router::poll`] keeps only those for ports this
    /// worker transmits on, and counts only those: a guest gets its advertisements from
    /// the worker that owns its port, the VLAN its announcements from the home.
    pub fn set_port_remote(&mut self, port: PortId, remote: bool) {
        self.v6.set_port_remote(port, remote);
        let idx = port.index();
        if self.remote_ports.len() <= idx {
            if !remote {
                return;
            }
            self.remote_ports.resize(idx + 1, false);
        }
        self.remote_ports[idx] = remote;
    }

    /// Whether `port` is transmitted on by another worker ([`Router::set_port_remote`]).
    pub fn port_remote(&self, port: PortId) -> bool {
        self.remote_ports
            .get(port.index())
            .copied()
            .unwrap_or(false)
    }

    /// A number that changes whenever the tables may have changed (networks, guests,
    /// routes, port states): what is derived from them ([`crate::fastpath`]) is derived
    /// again when it differs from the last one seen.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The tables (networks, routes, guests, ports).
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Mutable tables, for operator route changes. Guests and networks are added
    /// through the router so its per-network state follows.
    pub fn tables_mut(&mut self) -> &mut Tables {
        self.generation += 1;
        &mut self.tables
    }

    /// Per-port counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Mutable counters (the dataplane counts rx/tx here).
    pub fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    /// Counters of one port.
    pub fn port_counters(&self, port: PortId) -> PortCounters {
        self.counters.port(port)
    }

    /// The neighbor cache of a network.
    pub fn neighbors(&self, network: NetworkId) -> Option<&NeighborCache> {
        self.neighbors.get(network.0 as usize)?.as_ref()
    }

    /// The neighbor cache of a network, to change it.
    pub(crate) fn neighbors_mut(&mut self, network: NetworkId) -> Option<&mut NeighborCache> {
        self.neighbors.get_mut(network.0 as usize)?.as_mut()
    }

    /// Add a network (a VLAN) with its uplink port.
    pub fn add_network(
        &mut self,
        spec: NetworkSpec,
        now: Instant,
    ) -> Result<NetworkId, TablesError> {
        let uplink = spec.uplink;
        self.generation += 1;
        let id = self.tables.add_network(spec)?;
        let idx = id.0 as usize;
        if self.neighbors.len() <= idx {
            self.neighbors.resize_with(idx + 1, || None);
        }
        self.neighbors[idx] = Some(NeighborCache::new(self.config.neighbor.clone(), now));
        if let Some(n) = self.tables.network(id) {
            self.dhcp.network_added(id, &n.name);
        }
        self.counters.ensure(uplink);
        Ok(id)
    }

    /// Register a guest (idempotent for identical data).
    pub fn add_guest(&mut self, spec: GuestSpec) -> Result<GuestId, TablesError> {
        let port = spec.port;
        self.generation += 1;
        let id = self.tables.add_guest(spec)?;
        self.counters.ensure(port);
        self.v6.guest_added(&self.tables, id);
        Ok(id)
    }

    /// Remove a guest by name: from this moment it is not answered for nor forwarded to,
    /// and its pending announcements are cancelled.
    pub fn remove_guest(&mut self, name: &str) -> Result<Guest, TablesError> {
        self.generation += 1;
        let guest = self.tables.remove_guest(name)?;
        self.announcer.cancel(guest.id);
        self.v6.guest_removed(guest.id);
        self.dhcp.forget_guest(&guest);
        Ok(guest)
    }

    /// Announce a guest on its VLAN with gratuitous ARP (both forms, repeated), e.g.
    /// after it was added or live-migrated here. False if there is no such guest.
    pub fn announce_guest(&mut self, name: &str, now: Instant) -> bool {
        let Some(id) = self.tables.guests().by_name(name).map(|g| g.id) else {
            return false;
        };
        self.announcer.schedule(&self.tables, id, now);
        self.v6.announce_guest6(id, now);
        true
    }

    /// The router stops: guests get a final Router Advertisement with router lifetime 0
    /// at the next [`Router::poll`], and none after ([`Router6::cease_advertising`]).
    pub fn cease_advertising(&mut self) {
        self.v6.cease_advertising();
    }

    /// The IPv6 side: its tables, neighbor caches and what it sent.
    pub fn ipv6(&self) -> &Router6 {
        &self.v6
    }

    /// The tables with the IPv6 side, to give networks and guests their IPv6 side.
    pub fn ipv6_mut(&mut self) -> (&Tables, &mut Router6) {
        (&self.tables, &mut self.v6)
    }

    /// The DHCP server: settings, host names, per-guest records, counters.
    pub fn dhcp(&self) -> &DhcpServer {
        &self.dhcp
    }

    /// Replace the DHCP settings (reload); leases and records stay.
    pub fn set_dhcp_config(&mut self, config: DhcpConfig) {
        self.dhcp.set_config(config.clone(), &self.tables);
        self.config.dhcp = config;
    }

    /// The DHCPDECLINEs received since the last call (guest, address), for the log.
    pub fn take_dhcp_declines(&mut self) -> Vec<(String, wire::Ipv4Addr)> {
        self.dhcp.take_declines()
    }

    /// Set or clear the host name DHCP gives guest `name` (option 12).
    pub fn set_guest_hostname(
        &mut self,
        name: &str,
        hostname: Option<&str>,
    ) -> Result<(), HostnameError> {
        self.dhcp.set_hostname(name, hostname)
    }

    /// Record the next `count` frames' path (see [`crate::trace`]).
    pub fn start_trace(&mut self, count: u32) {
        self.trace.start(count);
    }

    /// Frames the running trace still waits for (0: done or none running).
    pub fn trace_remaining(&self) -> u32 {
        self.trace.remaining()
    }

    /// Stop the trace and take its records.
    pub fn take_trace(&mut self) -> Vec<TraceRecord> {
        self.trace.take()
    }

    /// Gratuitous ARP frames sent so far.
    pub fn announced(&self) -> u64 {
        self.announced
    }

    /// Say whether `port`'s transmit takes a whole TCP super-frame with its
    /// segmentation metadata (the dataplane's GSO send): a guest's super-frame toward it
    /// is then forwarded whole instead of segmented here ([`crate::offload::gso`]).
    pub fn set_port_gso(&mut self, port: PortId, on: bool) {
        let idx = port.index();
        if self.gso_ports.len() <= idx {
            self.gso_ports.resize(idx + 1, false);
        }
        self.gso_ports[idx] = on;
    }

    /// Whether `port` takes GSO sends ([`Router::set_port_gso`]).
    pub fn port_gso(&self, port: PortId) -> bool {
        self.gso_ports.get(port.index()).copied().unwrap_or(false)
    }

    /// Mark a guest port up or down (link events).
    pub fn set_port_up(&mut self, port: PortId, up: bool) -> bool {
        self.generation += 1;
        self.tables.set_port_up(port, up)
    }

    /// Run timers: neighbor retransmissions and aging. Requests go on `out`; frames for
    /// ports another worker transmits on are not ([`Router::set_port_remote`]).
    pub fn poll(&mut self, now: Instant, out: &mut Outbox) {
        let start = out.len();
        for (idx, cache) in self.neighbors.iter_mut().enumerate() {
            let Some(cache) = cache else { continue };
            let Some(network) = self.tables.network(NetworkId(idx as u16)) else {
                continue;
            };
            arp_output::poll_neighbors(network, cache, &mut self.counters, now, out);
        }
        self.v6.poll(&self.tables, now, out);
        if self.announcer.pending() > 0 {
            let before = out.len();
            self.announcer.poll(&self.tables, now, out);
            for f in &out.frames()[before..] {
                if !remote(&self.remote_ports, f.port) {
                    self.counters.port_mut(f.port).arp_sent += 1;
                    self.announced += 1;
                }
            }
        }
        if self.remote_ports.iter().any(|&r| r) {
            let remote_ports = &self.remote_ports;
            out.retain_from(start, |f| !remote(remote_ports, f.port));
        }
    }

    /// Decide what to do with one frame received on `port`. The frame may be rewritten
    /// in place; frames the router originates are queued on `out`.
    #[inline]
    pub fn process(
        &mut self,
        port: PortId,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let action = self.decide(port, frame, now, out);
        if let Action::Drop(reason) = action {
            self.count_drop(port, reason);
        }
        action
    }

    /// [`Router::process`] for a burst of frames received on `port`, in order: pushes
    /// one action per frame onto `actions`. `data` gives a frame's bytes.
    ///
    /// The decisions are those of `process` called on each frame in turn (the tables do
    /// not change during a burst). The difference is cost: the port's context (on a
    /// guest's port the guest, its network and route table; on an uplink the network
    /// and route table) is looked up once for the leading run of IPv4 frames (normally
    /// the whole burst) instead of once per frame.
    pub fn process_burst<F>(
        &mut self,
        port: PortId,
        frames: &mut [F],
        data: impl Fn(&mut F) -> &mut [u8],
        now: Instant,
        out: &mut Outbox,
        actions: &mut Vec<Action>,
    ) {
        if self.trace.active() {
            // Slow path, only while `hvrouter trace` runs: one frame at a time, described
            // before and after its decision.
            for f in frames.iter_mut() {
                let frame = data(f);
                let summary = trace::summarize(frame);
                let steps = self.trace_steps(port, frame);
                let mut steps = steps;
                let action = self.process(port, frame, now, out);
                if let Some(step) =
                    crate::dhcp::trace_step(&self.tables, &self.dhcp, port, frame, now)
                {
                    steps.push(step);
                }
                self.trace.push(TraceRecord {
                    port,
                    summary,
                    steps,
                    decision: describe(action),
                });
                actions.push(action);
            }
            return;
        }
        let mut done = 0;
        let mut parts = self.parts();
        match parts.tables.port_role(port) {
            Some(PortRole::Guest(gid)) => {
                if let Ok(ctx) = ip_forward::GuestIngress::new(parts.tables, gid) {
                    for f in frames.iter_mut() {
                        let frame = data(f);
                        if !is_ipv4(frame) {
                            break;
                        }
                        let action =
                            ip_forward::from_guest_in(&mut parts, ctx, port, frame, now, out);
                        if let Action::Drop(reason) = action {
                            count_drop(parts.counters, port, reason);
                        }
                        actions.push(action);
                        done += 1;
                    }
                }
            }
            Some(PortRole::Uplink(net)) => {
                if let Some((network, routes)) = parts.tables.network_and_routes(net) {
                    for f in frames.iter_mut() {
                        let frame = data(f);
                        if !is_ipv4(frame) {
                            break;
                        }
                        let action = ip_forward::from_uplink_in(
                            &mut parts, network, routes, port, frame, now, out,
                        );
                        if let Action::Drop(reason) = action {
                            count_drop(parts.counters, port, reason);
                        }
                        actions.push(action);
                        done += 1;
                    }
                }
            }
            None => {}
        }
        for f in frames.iter_mut().skip(done) {
            actions.push(self.process(port, data(f), now, out));
        }
    }

    /// The home worker finishes a frame a follower decided to send out of the uplink
    /// `port` toward `next_hop` ([`Action::Resolve`], [`Router::set_follower`]):
    /// neighbor lookup and rewrite, or the frame queued while the next hop is resolved
    /// (one ARP request or neighbor solicitation for the frames of every worker),
    /// super-frames and larger datagrams segmented or fragmented, counters. `ingress`
    /// is the port the frame was received on (by the follower): drops are counted
    /// there, and an ICMP error about the frame goes back out of it. The result is what
    /// [`Router::process`] would have returned on a router that resolves itself.
    pub fn output_resolved(
        &mut self,
        ingress: PortId,
        port: PortId,
        next_hop: NextHopAddr,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let action = match self.tables.port_role(port) {
            Some(PortRole::Uplink(net)) => match next_hop {
                NextHopAddr::V4(ip) => {
                    let mut parts = self.parts();
                    ip_forward::output_resolved(&mut parts, net, ingress, ip, frame, now, out)
                }
                NextHopAddr::V6(ip) => {
                    self.v6
                        .output_resolved(&self.tables, net, ip, frame, now, out)
                }
            },
            _ => Action::Drop(DropReason::EgressPortMissing),
        };
        if let Action::Drop(reason) = action {
            self.count_drop(ingress, reason);
        }
        action
    }

    #[inline(always)]
    fn count_drop(&mut self, port: PortId, reason: DropReason) {
        count_drop(&mut self.counters, port, reason);
    }

    #[inline(always)]
    fn decide(&mut self, port: PortId, frame: &mut [u8], now: Instant, out: &mut Outbox) -> Action {
        let Some(role) = self.tables.port_role(port) else {
            return Action::Drop(DropReason::UnknownPort);
        };
        // The Ethernet header is read once, here; the stages read the MACs at fixed
        // offsets.
        let Some(eth) = frame.first_chunk::<{ EthernetFrame::HEADER_LEN }>() else {
            return Action::Drop(DropReason::Truncated);
        };
        let ethertype = u16::from_be_bytes([eth[12], eth[13]]);
        match role {
            PortRole::Uplink(net) => match ethertype {
                ETHERTYPE_IPV4 => ip_forward::from_uplink(self, net, port, frame, now, out),
                ETHERTYPE_ARP => arp_input::from_uplink(self, net, port, frame, now, out),
                ETHERTYPE_IPV6 => self
                    .v6
                    .from_uplink(&self.tables, net, port, frame, now, out),
                ETHERTYPE_VLAN => Action::Drop(DropReason::VlanTagged),
                _ => Action::Drop(DropReason::UnsupportedEthertype),
            },
            PortRole::Guest(guest) => match ethertype {
                ETHERTYPE_IPV4 => ip_forward::from_guest(self, guest, port, frame, now, out),
                ETHERTYPE_ARP => arp_input::from_guest(self, guest, frame),
                ETHERTYPE_IPV6 => self
                    .v6
                    .from_guest(&self.tables, guest, port, frame, now, out),
                ETHERTYPE_VLAN => Action::Drop(DropReason::VlanTagged),
                _ => Action::Drop(DropReason::UnsupportedEthertype),
            },
        }
    }

    /// What the stages will look at for `frame` on `port`, for a trace.
    fn trace_steps(&self, port: PortId, frame: &[u8]) -> Vec<String> {
        let mut steps = Vec::new();
        let network = match self.tables.port_role(port) {
            None => {
                steps.push(format!("{port}: not a port of this router"));
                return steps;
            }
            Some(PortRole::Uplink(net)) => {
                steps.push(format!("{port}: uplink of {net}"));
                net
            }
            Some(PortRole::Guest(gid)) => match self.tables.guests().by_id(gid) {
                Some(g) => {
                    let state = if g.up { "up" } else { "down" };
                    steps.push(format!("{port}: guest {} ({state})", g.name));
                    g.network
                }
                None => return steps,
            },
        };
        let dst = EthernetFrame::new_checked(frame)
            .ok()
            .filter(|e| e.ethertype() == wire::EtherType::Ipv4)
            .and_then(|e| {
                wire::Ipv4Packet::new_checked(e.payload())
                    .ok()
                    .map(|ip| ip.dst_addr())
            });
        let v6 = EthernetFrame::new_checked(frame)
            .ok()
            .filter(|e| e.ethertype() == wire::EtherType::Ipv6)
            .and_then(|e| {
                crate::ipv6::describe::route_step(self.v6.tables6(), network, e.payload())
            });
        steps.extend(v6);
        if let Some(dst) = dst {
            match self.tables.lookup_route(network, dst) {
                Some(r) => steps.push(format!("route {dst}: {r}")),
                None => steps.push(format!("route {dst}: none (dropped, never falls through)")),
            }
        }
        steps
    }

    /// Split borrows for the stages.
    fn parts(&mut self) -> Parts<'_> {
        Parts {
            tables: &self.tables,
            neighbors: &mut self.neighbors,
            icmp_limit: &mut self.icmp_limit,
            counters: &mut self.counters,
            gso_ports: &self.gso_ports,
            dhcp: &mut self.dhcp,
            follower: self.follower,
        }
    }
}

/// An action in words, for traces.
fn describe(action: Action) -> String {
    match action {
        Action::Forward(p) => format!("forwarded to {p}"),
        Action::Consumed => "consumed (learned, queued for resolution, or segmented)".into(),
        Action::Drop(reason) => format!("dropped: {}", reason.name()),
        Action::Resolve { port, next_hop } => {
            format!("to {port} via {next_hop}, resolved by the home worker")
        }
    }
}

/// Count a drop (out of line: the forwarding path does not drop).
#[cold]
#[inline(never)]
fn count_drop(counters: &mut Counters, port: PortId, reason: DropReason) {
    counters.count_drop(port, reason);
}

/// Whether `port` is marked remote in `remote_ports` ([`Router::set_port_remote`]).
#[inline]
fn remote(remote_ports: &[bool], port: PortId) -> bool {
    remote_ports.get(port.index()).copied().unwrap_or(false)
}

/// A frame long enough for an Ethernet header whose EtherType is IPv4.
#[inline(always)]
fn is_ipv4(frame: &[u8]) -> bool {
    frame
        .first_chunk::<{ EthernetFrame::HEADER_LEN }>()
        .is_some_and(|eth| u16::from_be_bytes([eth[12], eth[13]]) == ETHERTYPE_IPV4)
}

/// The router's fields borrowed separately, so a stage can hold `&Network` and `&Guest`
/// from the tables while it updates counters and caches.
struct Parts<'a> {
    tables: &'a Tables,
    neighbors: &'a mut Vec<Option<NeighborCache>>,
    icmp_limit: &'a mut TokenBucket,
    counters: &'a mut Counters,
    /// See [`Router::set_port_gso`].
    gso_ports: &'a [bool],
    dhcp: &'a mut DhcpServer,
    /// See [`Router::set_follower`].
    follower: bool,
}
