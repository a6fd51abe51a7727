//! The router's IPv6 side: the stages for IPv6 frames from the uplink and from guests,
//! and its timers (neighbor cache, Router Advertisements, unsolicited Neighbor
//! Advertisements). [`crate::router::Router`] holds one and hands it IPv6 frames.
//!
//! A network without an IPv6 side drops IPv6 as before (`unsupported_ethertype`).

use std::collections::HashMap;

use wire::icmpv6::Message;
use wire::ipv6_addr::{multicast_mac, ALL_NODES};
use wire::{EthernetAddress, Icmpv6Packet, Icmpv6Repr, Ipv6Packet};

use crate::drop::DropReason;
use crate::ids::{GuestId, NetworkId, PortId};
use crate::ipv6::control6::{guest_control, uplink_control, Control6, Learn6};
use crate::ipv6::forward6::{decide, parse, Egress6, Forward6};
use crate::ipv6::frames6::{
    push_icmpv6, push_na, Addressing, DEFAULT_HOP_LIMIT, NDP_HOP_LIMIT, UNSOLICITED_FLAGS,
};
use crate::ipv6::guest6::Guest6Spec;
use crate::ipv6::icmp6_error::{may_send_error, push_error, Icmp6Error};
use crate::ipv6::neighbor6::{push_solicit, Enqueue6, Neighbor6Cache};
use crate::ipv6::net6::{uplink_ll, Network6Spec};
use crate::ipv6::offload6;
use crate::ipv6::proxy_ndp::NaPlan;
use crate::ipv6::ra::RaScheduler;
use crate::ipv6::tables6::{Tables6, Tables6Error};
use crate::lpm::FastBuildHasher;
use crate::neighbor::NeighborConfig;
use crate::outbox::Outbox;
use crate::ratelimit::TokenBucket;
use crate::router::{Action, NextHopAddr};
use crate::spoof::check_source_mac;
use crate::tables::Tables;
use crate::time::Instant;

mod guest;
mod timers;
mod uplink;

const ETH: usize = 14;

/// Unsolicited advertisements per announcement (RFC 4861 7.2.6: "MAX_NEIGHBOR_ADVERTISEMENT
/// transmissions", 3), one `RETRANS_TIMER` apart (1 s).
const ANNOUNCE_COUNT: u32 = 3;
const ANNOUNCE_GAP: std::time::Duration = std::time::Duration::from_secs(1);

/// What the IPv6 side sent on its own, for `show` and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Router6Stats {
    /// Neighbor Advertisements answering solicitations.
    pub na_answered: u64,
    /// Unsolicited Neighbor Advertisements (guest added or migrated in).
    pub na_unsolicited: u64,
    /// Neighbor Solicitations sent on uplinks.
    pub ns_sent: u64,
    /// Router Advertisements sent to guests.
    pub ra_sent: u64,
    /// Final Router Advertisements (router lifetime 0) sent when the router stopped.
    pub ra_final: u64,
    /// ICMPv6 errors sent.
    pub errors_sent: u64,
    /// ICMPv6 errors not sent because of the rate limit.
    pub errors_limited: u64,
    /// Echo replies from the router's own link-local addresses.
    pub echo_replies: u64,
    /// DHCPv6 Replies to Information-requests.
    pub dhcp6_replies: u64,
    /// MLD reports for the guests' solicited-node groups, on uplinks.
    pub mld_reports: u64,
    /// MLD queries from the VLAN answered (general, or about one of those groups).
    pub mld_queries: u64,
    /// MLD reports leaving the groups of removed guests.
    pub mld_leaves: u64,
}

/// DHCPv6 replies per second and burst, all guests together (a guest asks once at
/// start and when its RA's information refresh comes: a handful per second is plenty).
const DHCP6_RATE: u32 = 20;
const DHCP6_BURST: u32 = 20;

/// The router's IPv6 state.
#[derive(Debug)]
pub struct Router6 {
    tables6: Tables6,
    neighbors: HashMap<NetworkId, Neighbor6Cache, FastBuildHasher>,
    ra: RaScheduler,
    icmp_limit: TokenBucket,
    /// DHCPv6 replies (all guests together).
    dhcp6_limit: TokenBucket,
    neighbor_config: NeighborConfig,
    /// Guests to announce: next due time and transmissions left.
    announce: HashMap<GuestId, (Instant, u32), FastBuildHasher>,
    stats: Router6Stats,
    /// [`Router6::poll`] has nothing to do before this (it runs every dataplane pass).
    wake: Instant,
    /// IPv6 sides asked for by guest name (the configuration file's guests); others get
    /// the default ([`Router6::guest_added`]).
    overrides: HashMap<String, Guest6Spec>,
    /// Why a guest's IPv6 side was refused when it was added, for `show`.
    refused: HashMap<GuestId, Tables6Error, FastBuildHasher>,
    /// When the next MLD reports go out on the uplinks ([`crate::ipv6::mld`]).
    mld_due: Instant,
    /// Advertising is ceasing or has ceased ([`Router6::cease_advertising`]).
    ceasing: Ceasing,
    /// Solicited-node groups of removed guests' addresses, for the leave reports of the
    /// next poll (those still listened to for another address are not left).
    leaving: Vec<(NetworkId, wire::Ipv6Addr)>,
    /// Uplink neighbors are resolved, and the uplinks' own frames (MLD, unsolicited
    /// advertisements) sent, by the home worker ([`crate::router::Router::set_follower`]).
    follower: bool,
    /// Ports another worker transmits on ([`crate::router::Router::set_port_remote`]):
    /// their advertisements are neither sent nor counted here.
    remote_ports: Vec<bool>,
}

/// Where the router is in ceasing to advertise (RFC 4861 6.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ceasing {
    /// Advertising normally.
    No,
    /// The next poll sends the final advertisements.
    Pending,
    /// Sent: no advertisement any more.
    Done,
}

/// Longest sleep of the timers while some neighbor entry exists (its retransmissions and
/// aging are checked at least this often).
const NEIGHBOR_TICK: std::time::Duration = std::time::Duration::from_millis(100);

impl Router6 {
    /// No network has IPv6 yet.
    pub fn new(
        neighbor_config: NeighborConfig,
        icmp_rate: u32,
        icmp_burst: u32,
        now: Instant,
    ) -> Self {
        Router6 {
            tables6: Tables6::new(),
            neighbors: HashMap::default(),
            ra: RaScheduler::new(),
            icmp_limit: TokenBucket::new(icmp_rate, icmp_burst, now),
            dhcp6_limit: TokenBucket::new(DHCP6_RATE, DHCP6_BURST, now),
            neighbor_config,
            announce: HashMap::default(),
            stats: Router6Stats::default(),
            wake: now,
            overrides: HashMap::new(),
            refused: HashMap::default(),
            mld_due: now,
            ceasing: Ceasing::No,
            leaving: Vec::new(),
            follower: false,
            remote_ports: Vec::new(),
        }
    }

    /// See [`crate::router::Router::share_rate_limits`]: this replica's share (one of
    /// `workers`) of the ICMPv6 error rate (`icmp_rate`, `icmp_burst`) and of the DHCPv6
    /// reply rate.
    pub fn share_rate_limits(
        &mut self,
        workers: u32,
        icmp_rate: u32,
        icmp_burst: u32,
        now: Instant,
    ) {
        let n = workers.max(1);
        self.icmp_limit
            .set_rate(icmp_rate.div_ceil(n), icmp_burst.div_ceil(n), now);
        self.dhcp6_limit
            .set_rate(DHCP6_RATE.div_ceil(n), DHCP6_BURST.div_ceil(n), now);
    }

    /// See [`crate::router::Router::set_port_remote`].
    pub fn set_port_remote(&mut self, port: PortId, remote: bool) {
        let idx = port.index();
        if self.remote_ports.len() <= idx {
            if !remote {
                return;
            }
            self.remote_ports.resize(idx + 1, false);
        }
        self.remote_ports[idx] = remote;
    }

    /// Whether another worker transmits on `port`.
    fn port_remote(&self, port: PortId) -> bool {
        self.remote_ports
            .get(port.index())
            .copied()
            .unwrap_or(false)
    }

    /// See [`crate::router::Router::set_follower`]: a follower never touches its
    /// neighbor caches, and leaves the uplinks' own frames (MLD reports and leaves,
    /// unsolicited Neighbor Advertisements) to the home worker, counting none of them.
    pub fn set_follower(&mut self, on: bool) {
        self.follower = on;
    }

    /// The router stops (SIGTERM): the next [`Router6::poll`] sends every guest with an
    /// IPv6 side whose port is up a final Router Advertisement with router lifetime 0
    /// ([`crate::ipv6::ra::push_final_ra`]), and none is sent after it, periodic or
    /// solicited.
    pub fn cease_advertising(&mut self) {
        if self.ceasing == Ceasing::No {
            self.ceasing = Ceasing::Pending;
            self.wake = Instant::ZERO;
        }
    }

    /// The IPv6 tables.
    pub fn tables6(&self) -> &Tables6 {
        &self.tables6
    }

    /// Counts of what it sent.
    pub fn stats(&self) -> Router6Stats {
        self.stats
    }

    /// The IPv6 neighbor cache of a network's uplink.
    pub fn neighbors(&self, network: NetworkId) -> Option<&Neighbor6Cache> {
        self.neighbors.get(&network)
    }

    /// Give network `id` an IPv6 side (or replace it). Returns guests whose IPv6 side no
    /// longer fits and was dropped.
    pub fn set_network6(
        &mut self,
        tables: &Tables,
        id: NetworkId,
        spec: Network6Spec,
        now: Instant,
    ) -> Result<Vec<GuestId>, Tables6Error> {
        let dropped = self.tables6.set_network6(tables, id, spec)?;
        let cfg = self.neighbor_config.clone();
        self.neighbors
            .entry(id)
            .or_insert_with(|| Neighbor6Cache::new(cfg, now));
        for g in &dropped {
            self.ra.guest_gone(*g);
        }
        Ok(dropped)
    }

    /// Remove network `id`'s IPv6 side.
    pub fn remove_network6(&mut self, id: NetworkId) -> bool {
        self.neighbors.remove(&id);
        self.tables6.remove_network6(id).is_some()
    }

    /// Give guest `id` an IPv6 side (or replace it); it gets a Router Advertisement now
    /// and its addresses are announced on the VLAN.
    pub fn set_guest6(
        &mut self,
        tables: &Tables,
        id: GuestId,
        spec: Guest6Spec,
        now: Instant,
    ) -> Result<(), Tables6Error> {
        self.tables6.set_guest6(tables, id, spec)?;
        self.ra.guest_up(id, now);
        self.announce.insert(id, (now, ANNOUNCE_COUNT));
        self.mld_due = self.mld_due.min(now);
        self.wake = self.wake.min(now);
        Ok(())
    }

    /// Announce guest `id`'s addresses on its VLAN (live migration in, port up) and send
    /// it a Router Advertisement. False if it has no IPv6 side.
    pub fn announce_guest6(&mut self, id: GuestId, now: Instant) -> bool {
        if self.tables6.guest6(id).is_none() {
            return false;
        }
        self.ra.guest_up(id, now);
        self.announce.insert(id, (now, ANNOUNCE_COUNT));
        self.mld_due = self.mld_due.min(now);
        self.wake = self.wake.min(now);
        true
    }

    /// Ask for `spec` as the IPv6 side of the guest named `name` whenever it is added
    /// (`None`: the default again).
    pub fn set_guest6_override(&mut self, name: &str, spec: Option<Guest6Spec>) {
        match spec {
            Some(s) => self.overrides.insert(name.to_string(), s),
            None => self.overrides.remove(name),
        };
    }

    /// The IPv6 side asked for by name for the guest named `name`, if one was.
    pub fn guest6_override(&self, name: &str) -> Option<&Guest6Spec> {
        self.overrides.get(name)
    }

    /// Forget every IPv6 side asked for by name (before setting them again on reload).
    pub fn clear_guest6_overrides(&mut self) {
        self.overrides.clear();
    }

    /// Guest `id` was added to `tables`: give it its IPv6 side if its network has one:
    /// the one asked for by name, or by default the EUI-64 address of its MAC in a /64
    /// subnet6 (what gnt-networking's `mac2eui64` gives every routed NIC). A refusal
    /// (an address another guest owns) is kept for [`Router6::refusal`]; the guest's
    /// IPv4 side is not affected.
    pub fn guest_added(&mut self, tables: &Tables, id: GuestId) {
        self.refused.remove(&id);
        let Some(spec) = self.wanted_guest6(tables, id) else {
            return;
        };
        // Due at once: the next poll sends its RA and announcements.
        if let Err(e) = self.set_guest6(tables, id, spec, Instant::ZERO) {
            self.refused.insert(id, e);
        }
    }

    /// The IPv6 side guest `id` is asked to have now: the one recorded for its name, or
    /// the default on a /64; `None` when it gets none (no IPv6 on its network).
    pub fn wanted_guest6(&self, tables: &Tables, id: GuestId) -> Option<Guest6Spec> {
        let guest = tables.guest(id)?;
        let st = self.tables6.network6(guest.network)?;
        match self.overrides.get(&guest.name) {
            Some(s) => Some(s.clone()),
            None if st.net.slaac() => Some(Guest6Spec {
                eui64: true,
                ..Guest6Spec::default()
            }),
            None => None,
        }
    }

    /// Give guest `id` the IPv6 side it is asked to have now (reload), replacing or
    /// removing the one it has.
    pub fn reapply_guest6(&mut self, tables: &Tables, id: GuestId) {
        if self.wanted_guest6(tables, id).is_none() {
            self.tables6.remove_guest6(id);
            self.ra.guest_gone(id);
            self.announce.remove(&id);
            self.refused.remove(&id);
            return;
        }
        self.guest_added(tables, id);
    }

    /// Why guest `id`'s IPv6 side was refused when it was added, if it was.
    pub fn refusal(&self, id: GuestId) -> Option<&Tables6Error> {
        self.refused.get(&id)
    }

    /// Forget guest `id`'s IPv6 side (the guest was removed).
    pub fn guest_removed(&mut self, id: GuestId) {
        self.refused.remove(&id);
        if let Some(g6) = self.tables6.remove_guest6(id) {
            self.leaving.extend(
                g6.addrs
                    .iter()
                    .map(|a| (g6.network, wire::ipv6_addr::solicited_node(a))),
            );
            self.wake = Instant::ZERO;
        }
        self.ra.guest_gone(id);
        self.announce.remove(&id);
    }
}

fn send_na(
    out: &mut Outbox,
    port: PortId,
    our_mac: EthernetAddress,
    our_ll: wire::Ipv6Addr,
    dst_mac: EthernetAddress,
    na: &NaPlan,
) {
    let a = Addressing {
        port,
        src_mac: our_mac,
        dst_mac,
        src_ip: our_ll,
        dst_ip: na.dst_ip,
        hop_limit: NDP_HOP_LIMIT,
    };
    push_na(out, &a, na.target, na.flags, na.lladdr);
}

/// 33:33:xx:xx:xx:xx (RFC 2464 7).
fn is_v6_multicast_mac(m: EthernetAddress) -> bool {
    m.0[0] == 0x33 && m.0[1] == 0x33
}

fn rewrite(frame: &mut [u8], src: EthernetAddress, dst: EthernetAddress) {
    frame[0..6].copy_from_slice(&dst.0);
    frame[6..12].copy_from_slice(&src.0);
}

/// Decrement the hop limit in place (the caller checked it is above 1).
fn hop(frame: &mut [u8]) {
    frame[ETH + 7] = frame[ETH + 7].saturating_sub(1);
}
