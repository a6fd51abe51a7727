//! The validated configuration: plain typed values, no spans.
//!
//! Every value here passed validation ([`crate::Config::parse_str`]); the defaults are the
//! constants below and are documented key by key in `configs/example.toml`.

use core::fmt;
use std::net::{Ipv4Addr as StdIpv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use hvrouter_core::dhcp::{DhcpConfig, DhcpSettings};
use hvrouter_core::guests::GuestSpec;
use hvrouter_core::ipv6::{Guest6Spec, Network6Spec};
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::RouterConfig;
use hvrouter_core::{NetworkId, PortId};
use ipnet::Ipv4Net;
use wire::{EthernetAddress, Ipv4Addr};

/// Default `router.control_socket`.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/hvrouter/control.sock";
/// Default `router.state_dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hvrouter";
/// Default `router.metrics_listen`: loopback only.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(StdIpv4Addr::LOCALHOST, 9477));
/// Default `networks.NAME.mtu`.
pub const DEFAULT_MTU: u16 = 1500;
/// Default `networks.NAME.guest_mac`: the router's MAC toward guests. Ganeti itself sets
/// none on routed taps (each tap keeps its random MAC; gnt-networking sets
/// cc:47:52:4e:45:54): guests learn this one from the router's gratuitous ARP when
/// their tap is attached, and frames they still send to an old MAC are accepted.
pub const DEFAULT_GUEST_MAC: EthernetAddress =
    EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);

/// The whole validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `[router]`: process-level settings.
    pub router: RouterSection,
    /// `[dataplane]`: AF_XDP and polling.
    pub dataplane: DataplaneSection,
    /// `[icmp]`: ICMP error rate limit.
    pub icmp: IcmpSection,
    /// `[announce]`: gratuitous ARP for guests that appear here.
    pub announce: AnnounceSection,
    /// `[networks.NAME]`, in file order.
    pub networks: Vec<NetworkConfig>,
    /// `[guests.TAP]`, in file order.
    pub guests: Vec<GuestConfig>,
}

/// `[router]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterSection {
    /// Unix socket of the control protocol (absolute path).
    pub control_socket: PathBuf,
    /// Where state that survives restarts is kept (absolute path).
    pub state_dir: PathBuf,
    /// Where metrics are served; `None` when set to `"off"`.
    pub metrics_listen: Option<SocketAddr>,
    /// Least severe log level printed.
    pub log_level: LogLevel,
}

impl Default for RouterSection {
    fn default() -> Self {
        RouterSection {
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            metrics_listen: Some(DEFAULT_METRICS_LISTEN),
            log_level: LogLevel::Info,
        }
    }
}

/// `router.log_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// `error`
    Error,
    /// `warn`
    Warn,
    /// `info` (default)
    #[default]
    Info,
    /// `debug`
    Debug,
    /// `trace`
    Trace,
}

/// `[dataplane]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataplaneSection {
    /// How XDP programs are attached.
    pub xdp_mode: XdpMode,
    /// How XDP programs are attached on guests' devices; `None` (the key left out): as
    /// `xdp_mode`. Generic keeps a veth guest's TSO on (native XDP on a veth turns it off
    /// on the peer), so its TCP super-frames arrive whole; taps run generic anyway.
    pub guest_xdp_mode: Option<XdpMode>,
    /// Poll-loop threads (1: this build runs one worker).
    pub workers: u16,
    /// How workers wait for frames.
    pub poll: PollMode,
    /// CPU of each worker (`cpus[i]` for worker `i`), or no pinning.
    pub cpus: Option<Vec<u16>>,
    /// Most frames received or sent per port per loop iteration.
    pub burst: u16,
    /// UMEM chunk size in bytes: 2048 or 4096.
    pub frame_size: u32,
    /// UMEM frames per worker, a power of two; `None` (the key left out): sized by the
    /// router from the ports it serves (docs/FRAMES.md).
    pub frames: Option<u32>,
    /// `gso = "auto"` (true): a guest's TCP super-frame leaves whole and segments of a
    /// TCP flow are coalesced, sent with segmentation metadata through a packet socket
    /// next to each port's AF_XDP socket; `"off"` (false): segmented in software and
    /// sent one by one through AF_XDP, as before.
    pub gso: bool,
    /// `fast_path = "on"`: an XDP program in front of each port forwards the plain IPv4
    /// case itself (`hvrouter_core::fastpath`); `"off"` (default): every frame the
    /// router handles reaches it.
    pub fast_path: bool,
}

impl Default for DataplaneSection {
    fn default() -> Self {
        DataplaneSection {
            xdp_mode: XdpMode::Auto,
            guest_xdp_mode: None,
            workers: 1,
            poll: PollMode::Busy,
            cpus: None,
            burst: 64,
            frame_size: 4096,
            frames: None,
            gso: true,
            fast_path: false,
        }
    }
}

/// `dataplane.xdp_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum XdpMode {
    /// `auto` (default): native (driver) mode, falling back to generic where the driver
    /// refuses.
    #[default]
    Auto,
    /// `native`: driver mode only; fails where the driver has no XDP.
    Native,
    /// `generic`: skb mode, works on every device.
    Generic,
}

/// `dataplane.poll`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PollMode {
    /// `busy` (default): spin on the rings; lowest latency, one core per worker at 100%.
    #[default]
    Busy,
    /// `adaptive`: spin while traffic flows, sleep in `poll(2)` after an idle period.
    Adaptive,
    /// `interrupt`: always wait in `poll(2)`.
    Interrupt,
}

/// `[announce]`: gratuitous ARP (request and reply forms) when a guest is added,
/// live-migrated in, or present at start, so the gateway moves its address here at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceSection {
    /// Rounds per address (each sends both forms); 0 turns announcements off.
    pub count: u32,
    /// Milliseconds between rounds.
    pub interval_ms: u32,
}

impl Default for AnnounceSection {
    fn default() -> Self {
        let core = hvrouter_core::announce::AnnounceConfig::default();
        AnnounceSection {
            count: core.count,
            interval_ms: u32::try_from(core.interval.as_millis()).unwrap_or(1000),
        }
    }
}

/// `[icmp]`: the ICMP error rate limit (RFC 1812 4.3.2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpSection {
    /// ICMP errors per second, all ports together; 0 sends none.
    pub rate_per_sec: u32,
    /// ICMP errors that may be sent at once.
    pub burst: u32,
}

impl Default for IcmpSection {
    fn default() -> Self {
        let core = RouterConfig::default();
        IcmpSection {
            rate_per_sec: core.icmp_rate_per_sec,
            burst: core.icmp_burst,
        }
    }
}

/// `[networks.NAME]`: one VLAN the router serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// The table key, e.g. `public_90`.
    pub name: String,
    /// The VLAN's interface, e.g. `bond0.90`.
    pub uplink: String,
    /// On-link subnet, host bits clear.
    pub subnet: Ipv4Net,
    /// The VLAN's router.
    pub gateway: Ipv4Addr,
    /// IP MTU.
    pub mtu: u16,
    /// Sender IP of our ARP requests on the VLAN; `None` sends RFC 5227 probe-form
    /// requests (sender 0.0.0.0).
    pub arp_source: Option<Ipv4Addr>,
    /// Our MAC on the VLAN; `None` means the uplink device's own MAC at run time.
    pub uplink_mac: Option<EthernetAddress>,
    /// The MAC the router answers with toward guests.
    pub guest_mac: EthernetAddress,
    /// `dhcp`, `dns_servers`, `domain`, `search`, `lease_time`: the DHCP server on the
    /// network's guest ports. Applied by reload (a change here alone is not a network
    /// change).
    pub dhcp: DhcpSettings,
    /// `subnet6`, `gateway6`, `router_advertisements`, `dns_servers6`: the network's IPv6
    /// side; `None` when it has no `subnet6` (IPv6 is then dropped, as before).
    pub ipv6: Option<Network6Spec>,
}

impl NetworkConfig {
    /// The core spec of this network, with the port the dataplane attached to the uplink
    /// and the uplink device's MAC (used unless `uplink_mac` is configured).
    pub fn network_spec(&self, uplink: PortId, device_mac: EthernetAddress) -> NetworkSpec {
        NetworkSpec {
            name: self.name.clone(),
            subnet: self.subnet,
            gateway: self.gateway,
            uplink,
            mtu: self.mtu,
            uplink_mac: self.uplink_mac.unwrap_or(device_mac),
            guest_mac: self.guest_mac,
            arp_source: self.arp_source,
        }
    }
}

impl NetworkConfig {
    /// Equal in everything but the DHCP settings (which reload applies).
    pub fn same_but_dhcp(&self, other: &NetworkConfig) -> bool {
        let strip = |n: &NetworkConfig| NetworkConfig {
            dhcp: DhcpSettings::default(),
            ..n.clone()
        };
        strip(self) == strip(other)
    }
}

impl fmt::Display for NetworkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.subnet)
    }
}

/// `[guests.TAP]`: one guest NIC hosted on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestConfig {
    /// The table key: the tap (or veth) interface, e.g. `tap3`.
    pub tap: String,
    /// The guest's MAC.
    pub mac: EthernetAddress,
    /// The guest's addresses, as listed (no duplicates, at least one).
    pub ips: Vec<Ipv4Addr>,
    /// Name of the network (a key of `[networks]`).
    pub network: String,
    /// Extra prefixes routed to the guest, as listed (no duplicates).
    pub routed_prefixes: Vec<Ipv4Net>,
    /// Host name DHCP gives the guest (option 12); `None` sends none.
    pub hostname: Option<String>,
    /// `ip6`, `eui64`, `routed_prefixes6`: the guest's IPv6 side; `None` on a network
    /// without IPv6. Default on a /64: its EUI-64 address.
    pub ipv6: Option<Guest6Spec>,
}

impl GuestConfig {
    /// The core spec of this guest, given its network's id and the port attached to its
    /// tap. The guest's name in the core is its tap's name.
    pub fn guest_spec(&self, network: NetworkId, port: PortId) -> GuestSpec {
        GuestSpec {
            name: self.tap.clone(),
            port,
            mac: self.mac,
            ips: self.ips.clone(),
            network,
            extra_prefixes: self.routed_prefixes.clone(),
        }
    }

    /// Same guest data, ignoring the order of `ips` and `routed_prefixes`.
    pub fn same_as(&self, other: &GuestConfig) -> bool {
        let sorted = |g: &GuestConfig| {
            let mut ips = g.ips.clone();
            ips.sort_unstable();
            let mut prefixes = g.routed_prefixes.clone();
            prefixes.sort_unstable();
            (ips, prefixes)
        };
        self.tap == other.tap
            && self.mac == other.mac
            && self.network == other.network
            && sorted(self) == sorted(other)
            && self.ipv6 == other.ipv6
    }
}

impl Config {
    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&NetworkConfig> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The guest on tap `tap`.
    pub fn guest(&self, tap: &str) -> Option<&GuestConfig> {
        self.guests.iter().find(|g| g.tap == tap)
    }

    /// The guests of network `name`, in file order.
    pub fn guests_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a GuestConfig> + 'a {
        self.guests.iter().filter(move |g| g.network == name)
    }

    /// The DHCP settings of every network, by name.
    pub fn dhcp_config(&self) -> DhcpConfig {
        DhcpConfig {
            networks: self
                .networks
                .iter()
                .map(|n| (n.name.clone(), n.dhcp.clone()))
                .collect(),
            default: DhcpSettings::default(),
        }
    }

    /// The core router settings: the `[icmp]` limits, the DHCP settings and default
    /// neighbor-cache tunables.
    pub fn router_config(&self) -> RouterConfig {
        RouterConfig {
            icmp_rate_per_sec: self.icmp.rate_per_sec,
            icmp_burst: self.icmp.burst,
            announce: hvrouter_core::announce::AnnounceConfig {
                count: self.announce.count,
                interval: std::time::Duration::from_millis(u64::from(self.announce.interval_ms)),
            },
            dhcp: self.dhcp_config(),
            ..RouterConfig::default()
        }
    }
}
