//! What to open: one device ([`PortSpec`]) and how its ports are opened and polled
//! ([`XdpPortConfig`]).

use std::net::Ipv4Addr;
use std::sync::Arc;

use sys::{AttachMode, BindFlags, FastPathMaps, Steering, XskConfig};

use crate::fill::FillBounds;

/// One device to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Interface index (in the calling thread's network namespace).
    pub ifindex: u32,
    /// Uplink (steer only `steered_ips` and `steered_prefixes`) or guest (steer
    /// everything).
    pub steering: Steering,
    /// Uplink only: the IPs whose ARP and IPv4 go to the router (guest IPs hosted here
    /// and the network's `arp_source`).
    pub steered_ips: Vec<Ipv4Addr>,
    /// Uplink only: the prefixes (address, length 0..=32) whose ARP and IPv4 go to the
    /// router (routed prefixes of guests hosted here).
    pub steered_prefixes: Vec<(Ipv4Addr, u8)>,
}

impl PortSpec {
    /// A VLAN uplink steering `ips` to the router (add prefixes with
    /// [`PortSpec::with_prefixes`]).
    pub fn uplink(ifindex: u32, ips: impl IntoIterator<Item = Ipv4Addr>) -> PortSpec {
        PortSpec {
            ifindex,
            steering: Steering::Uplink,
            steered_ips: ips.into_iter().collect(),
            steered_prefixes: Vec::new(),
        }
    }

    /// This spec, also steering every address in `prefixes` (address, length).
    pub fn with_prefixes(mut self, prefixes: impl IntoIterator<Item = (Ipv4Addr, u8)>) -> Self {
        self.steered_prefixes.extend(prefixes);
        self
    }

    /// A guest's tap or veth: every frame goes to the router.
    pub fn guest(ifindex: u32) -> PortSpec {
        PortSpec {
            ifindex,
            steering: Steering::Guest,
            steered_ips: Vec::new(),
            steered_prefixes: Vec::new(),
        }
    }
}

/// How ports are opened and polled.
#[derive(Clone, Debug)]
pub struct XdpPortConfig {
    /// Where the steering program runs.
    pub attach: AttachMode,
    /// Where it runs on guests' devices, if not `attach` (generic keeps a veth guest's
    /// TSO on: native XDP on a veth turns it off on the peer).
    pub guest_attach: Option<AttachMode>,
    /// Device queue to bind (and steer in the XSKMAP).
    pub queue: u32,
    /// Ring sizes and bind flags (flags apply to a pool's first socket only; later ones
    /// inherit them).
    pub xsk: XskConfig,
    /// The fill-ring quota of each port opened with this configuration.
    pub fill: FillBounds,
    /// Most `sendto` kicks per flush.
    pub max_kicks: u32,
    /// Open a packet socket next to the AF_XDP socket for GSO sends ([`Port::tx_gso`]:
    /// TCP super-frames leave whole, segmented by the device). If it cannot be opened
    /// the port works without and says why ([`crate::XdpPort::gso_status`]).
    pub gso: bool,
    /// The in-kernel fast path's maps: uplink and guest programs are loaded with the
    /// fast path in front (`sys::xdp_fast`), writing into these. `None`: no fast path.
    pub fast_path: Option<Arc<FastPathMaps>>,
}

impl PartialEq for XdpPortConfig {
    /// Equal settings, and the same fast-path maps (or none).
    fn eq(&self, other: &Self) -> bool {
        let same_maps = match (&self.fast_path, &other.fast_path) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        same_maps
            && (
                self.attach,
                self.guest_attach,
                self.queue,
                self.xsk,
                self.fill,
            ) == (
                other.attach,
                other.guest_attach,
                other.queue,
                other.xsk,
                other.fill,
            )
            && (self.max_kicks, self.gso) == (other.max_kicks, other.gso)
    }
}

impl Eq for XdpPortConfig {}

impl Default for XdpPortConfig {
    /// Native XDP with generic fallback, queue 0, 2048-entry rings, copy mode with
    /// need-wakeup and multi-buffer, fill ring kept half full (a fixed quota).
    fn default() -> Self {
        let xsk = XskConfig {
            flags: BindFlags::COPY | BindFlags::NEED_WAKEUP | BindFlags::SG,
            ..XskConfig::default()
        };
        XdpPortConfig {
            attach: AttachMode::NativeOrGeneric,
            guest_attach: None,
            queue: 0,
            fill: FillBounds::fixed(xsk.fill_size / 2),
            xsk,
            max_kicks: 64,
            gso: true,
            fast_path: None,
        }
    }
}
