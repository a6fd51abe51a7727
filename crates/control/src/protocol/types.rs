//! The plain data the router answers with. No behaviour beyond small helpers: the
//! dataplane fills these from its tables between bursts, the CLI renders them.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use wire::{EthernetAddress, Ipv4Addr};

use super::fields;
use super::ipv6::GuestIpv6;
use super::PROTOCOL_VERSION;

/// A guest NIC as the cluster manager describes it: the body of `guest_add`, the entries
/// of the persisted state and of `guest list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestSpec {
    /// The tap (or veth) interface, e.g. `tap3`; also the guest's name.
    pub tap: String,
    /// The guest's MAC.
    #[serde(with = "fields::mac")]
    pub mac: EthernetAddress,
    /// The guest's own addresses (at least one).
    #[serde(with = "fields::ips")]
    pub ips: Vec<Ipv4Addr>,
    /// Name of the network (VLAN) the guest belongs to.
    pub network: String,
    /// Extra prefixes routed to the guest.
    #[serde(default, with = "fields::prefixes")]
    pub routed_prefixes: Vec<Ipv4Net>,
    /// The host name DHCP gives the guest (option 12; Ganeti's instance name). Absent
    /// in state files and requests from before DHCP: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Its IPv6 side, when asked for explicitly. Absent (also in requests and state
    /// files from before IPv6): the default of its network (the EUI-64 address of its
    /// MAC on a /64 subnet6, nothing on a network without IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<GuestIpv6>,
}

impl GuestSpec {
    /// The same spec with `ips` and `routed_prefixes` (and the IPv6 side's) sorted and
    /// deduplicated, so specs that mean the same thing compare equal.
    pub fn normalized(mut self) -> GuestSpec {
        self.ips.sort_unstable();
        self.ips.dedup();
        self.routed_prefixes.sort_unstable();
        self.routed_prefixes.dedup();
        self.ipv6 = self.ipv6.map(GuestIpv6::normalized);
        self
    }

    /// Same guest, ignoring order and duplicates of addresses and prefixes, and the
    /// host name (DHCP data, changed in place without re-adding the guest). No IPv6
    /// side asked for is the same as the EUI-64 address alone (the default).
    pub fn same_as(&self, other: &GuestSpec) -> bool {
        let strip = |g: &GuestSpec| {
            let g = g.clone().normalized();
            GuestSpec {
                hostname: None,
                ipv6: g.ipv6.filter(|v| !v.is_default()),
                ..g
            }
        };
        strip(self) == strip(other)
    }
}

/// Where a guest comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestOrigin {
    /// The configuration file.
    Config,
    /// `guest add` at run time (persisted in the state directory).
    Runtime,
}

impl GuestOrigin {
    /// `config` or `runtime`.
    pub const fn name(self) -> &'static str {
        match self {
            GuestOrigin::Config => "config",
            GuestOrigin::Runtime => "runtime",
        }
    }
}

/// One guest, for `guest list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestInfo {
    /// See [`GuestSpec::tap`].
    pub tap: String,
    /// See [`GuestSpec::mac`].
    #[serde(with = "fields::mac")]
    pub mac: EthernetAddress,
    /// See [`GuestSpec::ips`].
    pub ips: Vec<Ipv4Addr>,
    /// See [`GuestSpec::network`].
    pub network: String,
    /// See [`GuestSpec::routed_prefixes`].
    #[serde(default, with = "fields::prefixes")]
    pub routed_prefixes: Vec<Ipv4Net>,
    /// Whether its port is up (the router answers ARP for it only then).
    pub up: bool,
    /// Configuration file or runtime.
    pub origin: GuestOrigin,
    /// See [`GuestSpec::hostname`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// See [`GuestSpec::ipv6`] (what was asked for; `show ipv6` has the addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<GuestIpv6>,
}

impl GuestInfo {
    /// A guest listed with its state.
    pub fn new(spec: GuestSpec, up: bool, origin: GuestOrigin) -> GuestInfo {
        GuestInfo {
            tap: spec.tap,
            mac: spec.mac,
            ips: spec.ips,
            network: spec.network,
            routed_prefixes: spec.routed_prefixes,
            up,
            origin,
            hostname: spec.hostname,
            ipv6: spec.ipv6,
        }
    }

    /// The spec it was added with.
    pub fn spec(&self) -> GuestSpec {
        GuestSpec {
            tap: self.tap.clone(),
            mac: self.mac,
            ips: self.ips.clone(),
            network: self.network.clone(),
            routed_prefixes: self.routed_prefixes.clone(),
            hostname: self.hostname.clone(),
            ipv6: self.ipv6.clone(),
        }
    }
}

/// What `guest add` / `guest del` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The guest is new.
    Added,
    /// The guest existed with the same data: nothing changed (idempotent add).
    Unchanged,
    /// The guest was removed.
    Removed,
    /// There was no such guest: nothing changed (idempotent delete).
    Absent,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Added => "added",
            Change::Unchanged => "unchanged (already present with the same data)",
            Change::Removed => "removed",
            Change::Absent => "absent (nothing to remove)",
        })
    }
}

/// The answer to `guest add` / `guest del`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestChange {
    /// The guest's tap.
    pub tap: String,
    /// What happened.
    pub change: Change,
}

/// One network (VLAN), for `show networks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// e.g. `public_90`.
    pub name: String,
    /// The uplink interface, e.g. `bond0.90`.
    pub uplink: String,
    /// Whether the uplink is up.
    pub uplink_up: bool,
    /// The on-link subnet.
    #[serde(with = "fields::prefix")]
    pub subnet: Ipv4Net,
    /// The VLAN's router.
    pub gateway: Ipv4Addr,
    /// IP MTU.
    pub mtu: u16,
    /// Our MAC on the VLAN.
    #[serde(with = "fields::mac")]
    pub uplink_mac: EthernetAddress,
    /// The MAC we answer with toward guests.
    #[serde(with = "fields::mac")]
    pub guest_mac: EthernetAddress,
    /// Sender IP of our ARP requests on the VLAN; `None`: probe form (0.0.0.0).
    pub arp_source: Option<Ipv4Addr>,
    /// Guests of this network.
    pub guests: u32,
}

/// Where a route sends packets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextHopInfo {
    /// Out of the uplink toward this router.
    Gateway(Ipv4Addr),
    /// On-link on the uplink.
    Connected,
    /// To this guest (tap).
    Guest(String),
}

impl fmt::Display for NextHopInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHopInfo::Gateway(gw) => write!(f, "via {gw}"),
            NextHopInfo::Connected => f.write_str("connected"),
            NextHopInfo::Guest(tap) => write!(f, "dev {tap}"),
        }
    }
}

/// Why a route exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteOrigin {
    /// The network's default route via its gateway.
    Default,
    /// The network's on-link subnet.
    Connected,
    /// A guest's own address (/32).
    Guest,
    /// An extra prefix routed to a guest.
    GuestPrefix,
    /// Added by an operator.
    Static,
}

impl fmt::Display for RouteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteOrigin::Default => "default",
            RouteOrigin::Connected => "connected",
            RouteOrigin::Guest => "guest",
            RouteOrigin::GuestPrefix => "guest-prefix",
            RouteOrigin::Static => "static",
        })
    }
}

/// One route, for `show routes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// The network whose table holds the route.
    pub network: String,
    /// Destination prefix.
    #[serde(with = "fields::prefix")]
    pub prefix: Ipv4Net,
    /// Where matching packets go.
    pub next_hop: NextHopInfo,
    /// Why the route exists.
    pub origin: RouteOrigin,
}

/// State of a neighbor (ARP cache) entry, as Linux names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeighborState {
    /// Resolution in progress.
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Known MAC, not confirmed recently.
    Stale,
    /// Used while stale, waiting before probing.
    Delay,
    /// Being verified with unicast requests.
    Probe,
    /// Resolution failed.
    Failed,
}

impl NeighborState {
    /// Every state, in display order.
    pub const ALL: [NeighborState; 6] = [
        NeighborState::Incomplete,
        NeighborState::Reachable,
        NeighborState::Stale,
        NeighborState::Delay,
        NeighborState::Probe,
        NeighborState::Failed,
    ];

    /// Lower-case name (JSON, metrics labels).
    pub const fn name(self) -> &'static str {
        match self {
            NeighborState::Incomplete => "incomplete",
            NeighborState::Reachable => "reachable",
            NeighborState::Stale => "stale",
            NeighborState::Delay => "delay",
            NeighborState::Probe => "probe",
            NeighborState::Failed => "failed",
        }
    }
}

impl fmt::Display for NeighborState {
    /// Upper case, as `ip neigh` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_ascii_uppercase())
    }
}

/// One neighbor (ARP cache) entry of a network's uplink, for `show neighbors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborInfo {
    /// The network whose cache holds the entry.
    pub network: String,
    /// The neighbor's address.
    pub ip: Ipv4Addr,
    /// Its MAC; `None` while INCOMPLETE or FAILED.
    #[serde(with = "fields::opt_mac")]
    pub mac: Option<EthernetAddress>,
    /// The entry's state.
    pub state: NeighborState,
    /// Frames waiting for resolution.
    pub queued: u32,
    /// Requests sent in the current INCOMPLETE or PROBE phase.
    pub probes: u32,
    /// Milliseconds since the state or MAC last changed.
    pub age_ms: u64,
    /// Milliseconds since forwarding last used the entry.
    pub idle_ms: u64,
}

/// What a port is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortRole {
    /// A network's VLAN uplink.
    Uplink,
    /// A guest's tap.
    Guest,
}

impl PortRole {
    /// `uplink` or `guest`.
    pub const fn name(self) -> &'static str {
        match self {
            PortRole::Uplink => "uplink",
            PortRole::Guest => "guest",
        }
    }
}

/// Counters of one port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounters {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// ARP requests received here that the router answered.
    pub arp_answered: u64,
    /// ARP requests and gratuitous ARP the router sent here.
    pub arp_sent: u64,
    /// ICMP errors sent out of this port.
    pub icmp_errors_sent: u64,
    /// ICMP errors allowed but not sent (rate limit, no source address).
    pub icmp_errors_suppressed: u64,
    /// Datagrams larger than the MTU (DF clear) that left here as fragments.
    #[serde(default)]
    pub fragmented: u64,
    /// TCP super-frames sent as one GSO send (segmented by the device): a guest's
    /// super-frame whole, or segments coalesced.
    #[serde(default)]
    pub gso_sent: u64,
    /// Segments sent inside coalesced GSO sends.
    #[serde(default)]
    pub gro_merged: u64,
    /// GSO sends that failed and went out segment by segment instead.
    #[serde(default)]
    pub gso_fallback: u64,
    /// Frames received and forwarded by the in-kernel fast path (in `rx_packets` too).
    #[serde(default)]
    pub fast_path_rx: u64,
    /// Frames the in-kernel fast path sent out (in `tx_packets` too).
    #[serde(default)]
    pub fast_path_tx: u64,
    /// Frames the in-kernel fast path could not redirect to this port (the router
    /// forwarded them).
    #[serde(default)]
    pub fast_path_redirect_failed: u64,
    /// Frames dropped, by reason name (`no_route`, `arp_not_hosted_guest`, ...). The
    /// dataplane lists every reason, zeros included, so metrics series always exist.
    pub drops: BTreeMap<String, u64>,
}

/// Drop reason of an ARP reply that fed the neighbor cache: counted as a drop to explain
/// rx, but it is not an ignored request.
const ARP_CONSUMED: &str = "arp_reply_consumed";

impl PortCounters {
    /// Total drops over all reasons.
    pub fn total_drops(&self) -> u64 {
        self.drops.values().fold(0u64, |a, &b| a.saturating_add(b))
    }

    /// ARP the router stayed silent on: every `arp_*` drop reason except
    /// `arp_reply_consumed` (a reply the neighbor cache used).
    pub fn arp_ignored(&self) -> u64 {
        self.drops
            .iter()
            .filter(|(r, _)| r.starts_with("arp_") && r.as_str() != ARP_CONSUMED)
            .fold(0u64, |a, (_, &b)| a.saturating_add(b))
    }
}

/// One port, for `show ports` (and the metrics snapshot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    /// Interface name (`bond0.90`, `tap3`).
    pub name: String,
    /// Uplink or guest.
    pub role: PortRole,
    /// The network it belongs to.
    pub network: Option<String>,
    /// Link up (administratively and operationally).
    pub up: bool,
    /// An AF_XDP socket is bound to it.
    pub attached: bool,
    /// How its XDP program is attached (`native`, `generic`), if attached.
    pub xdp_mode: Option<String>,
    /// Its fill ring and frame quota (docs/FRAMES.md), if attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<PortFrames>,
    /// Whether it sends TCP super-frames whole, if attached: `on`, `off` (configured,
    /// `[dataplane] gso`), or `unavailable` (its packet socket could not be opened:
    /// super-frames are segmented in software; see `gso_reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gso: Option<String>,
    /// Why GSO sends are unavailable, and the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gso_reason: Option<String>,
    /// Its counters.
    pub counters: PortCounters,
}

/// A port's fill ring: the UMEM chunks it holds to receive into, and its quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortFrames {
    /// Chunks on the fill ring now.
    pub fill: u32,
    /// Chunks its quota asks for now (grows while busy, shrinks when quiet).
    pub target: u32,
    /// Chunks it always keeps.
    pub floor: u32,
    /// Most chunks it may keep.
    pub max: u32,
    /// It cannot get its floor from the UMEM: frames sent to it are lost. An error.
    pub starved: bool,
    /// Times its growth was held back by the UMEM's shared budget.
    pub held_back: u64,
}

/// Named counters of one network (neighbor cache, ...), for `show counters`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCounters {
    /// The network.
    pub network: String,
    /// Counter name -> value.
    pub counters: BTreeMap<String, u64>,
}

/// The dataplane worker's own counters since start, for `show counters` and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerCounters {
    /// Passes over the ports.
    pub passes: u64,
    /// Passes that received nothing.
    pub idle_passes: u64,
    /// Frames received.
    pub rx: u64,
    /// Nanoseconds in passes that moved frames.
    pub busy_ns: u64,
    /// Nanoseconds in passes that moved nothing, and waiting.
    pub idle_ns: u64,
    /// Times the worker slept or blocked.
    pub sleeps: u64,
    /// The longest single housekeeping call (control jobs between bursts, frame
    /// housekeeping), in nanoseconds: the longest the worker stopped polling for work
    /// of its own.
    pub longest_housekeeping_ns: u64,
    /// The same among calls during which the worker was not preempted by another task.
    pub longest_unpreempted_housekeeping_ns: u64,
    /// Workers: how many run (0 in answers of routers that predate several).
    pub workers: u64,
    /// Frames handed to another worker (its port's egress, or worker 0 for the next hop).
    pub handed_out: u64,
    /// Frames other workers handed to this one.
    pub handed_in: u64,
}

impl WorkerCounters {
    /// `busy_ns` over all the time, 0.0..=1.0 (0 before any time has passed). Under a
    /// steady stream nearly every pass finds a frame, so this reaches 1 well before the
    /// worker is saturated; [`Self::frames_per_busy_pass`] tells how close it is.
    pub fn busy_share(&self) -> f64 {
        ratio(self.busy_ns, self.busy_ns.saturating_add(self.idle_ns))
    }

    /// Frames received per pass that received any: 1 at a trickle, the burst size when
    /// the worker cannot keep up (VPP's "vectors per call"). 0 before any frame.
    pub fn frames_per_busy_pass(&self) -> f64 {
        ratio(self.rx, self.passes.saturating_sub(self.idle_passes))
    }
}

/// `num / den`, 0 when `den` is 0.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// The answer to `show counters`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersReport {
    /// Per port.
    pub ports: Vec<PortInfo>,
    /// Per network.
    pub networks: Vec<NetworkCounters>,
    /// The worker (absent from answers of routers that predate it: zero).
    #[serde(default)]
    pub worker: WorkerCounters,
}

/// One side's proxy-ARP decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the router answers who-has for the address on this side.
    pub answer: bool,
    /// Why, in operator terms (and the drop-reason name when it stays silent).
    pub reason: String,
    /// The MAC it answers with.
    #[serde(default, with = "fields::opt_mac")]
    pub mac: Option<EthernetAddress>,
}

/// The answer to `explain arp IP` for one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpExplanation {
    /// The network.
    pub network: String,
    /// The address asked about.
    pub ip: Ipv4Addr,
    /// The guest that owns the address here, if any.
    pub owner: Option<String>,
    /// Who-has received on the uplink (from the VLAN).
    pub uplink: Decision,
    /// Who-has received from guests of this network (other than the owner).
    pub toward_guests: Decision,
}

/// One packet's path through the pipeline, for `trace N`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// The port it arrived on.
    pub port: String,
    /// One line about the frame (`ARP who-has 192.0.2.7 tell 192.0.2.1`, `IPv4 a > b ...`).
    pub summary: String,
    /// The stages it went through, with each one's decision.
    #[serde(default)]
    pub steps: Vec<String>,
    /// The final decision (`forward to tap3`, `reply`, `drop no_route`).
    pub decision: String,
}

/// The answer to `reload`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadSummary {
    /// Things added (`guest tap3`, `network public_91`).
    pub added: Vec<String>,
    /// Things removed.
    pub removed: Vec<String>,
    /// Things changed.
    pub changed: Vec<String>,
    /// Things left as they were.
    pub unchanged: u32,
    /// Anything else worth saying (what could not be applied without a restart).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The answer to `ping`: the router is alive and its dataplane answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PongInfo {
    /// Protocol version the router speaks.
    pub protocol: u64,
    /// hvrouter version.
    pub version: String,
    /// Process id.
    pub pid: u32,
    /// Seconds since the router started.
    pub uptime_secs: u64,
}

impl PongInfo {
    /// This process's pong, given its uptime.
    pub fn new(uptime_secs: u64) -> PongInfo {
        PongInfo {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_secs,
        }
    }
}
