//! Opening a port in two halves, so that nothing slow runs on the packet thread: the
//! worker asks ([`OpenRequest`], from the tables it owns), the control thread does the
//! slow part ([`prepare`]: device lookups, the kernel's proxy switches, loading the
//! program, binding the socket with its EBUSY retry, attaching), and the worker adopts
//! the ready socket between bursts ([`super::Ports::finish_open`]). Closing goes the same
//! way back: the worker retires a port ([`Effects::retired`]) and the control thread
//! detaches and closes it, then gives its fill chunks back to the worker's pool.

use std::net::Ipv4Addr;

use hvrouter_core::{NetworkId, PortId};
use hvrouter_dataplane::xdp_port::{
    PortSpec, PreparedPort, PreparedQueue, RetiredPort, XdpPort, XdpPortConfig,
};
use sys::SharedUmem;

use super::{Kind, OpenError};
use crate::log;

/// Why a port is opened (for the log when it cannot be).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// At start.
    Start,
    /// A guest was added.
    Add,
    /// Its device appeared again.
    Reopen,
}

/// A port the worker wants opened.
#[derive(Debug)]
pub struct OpenRequest {
    /// Its port id.
    pub id: PortId,
    /// Its device.
    pub ifname: String,
    /// Uplink or guest.
    pub kind: Kind,
    /// The device a runtime guest is bound to.
    pub bound: Option<u32>,
    /// An uplink: the addresses and prefixes it steers.
    pub steered_ips: Vec<Ipv4Addr>,
    /// An uplink: the prefixes it steers (address, length).
    pub steered_prefixes: Vec<(Ipv4Addr, u8)>,
    /// An uplink whose network takes its device's MAC.
    pub follow_mac: Option<NetworkId>,
    /// How to open it.
    pub cfg: XdpPortConfig,
    /// The worker's UMEM.
    pub umem: SharedUmem,
    /// Why.
    pub why: Why,
}

/// A port the control thread opened (or could not).
#[derive(Debug)]
pub struct OpenResult {
    /// Its port id.
    pub id: PortId,
    /// Its device.
    pub ifname: String,
    /// Uplink or guest.
    pub kind: Kind,
    /// Why it was opened.
    pub why: Why,
    /// The uplink's device MAC, if its network follows it.
    pub mac: Option<[u8; 6]>,
    /// The port, ready for the worker, and its ifindex; or why not.
    pub port: Result<(PreparedPort, u32), OpenError>,
    /// The receive queues of a multi-queue tap.
    pub queues: Option<u32>,
}

/// What the worker left for the control thread: ports to open, ports to close.
#[derive(Debug, Default)]
pub struct Effects {
    /// Ports to open.
    pub opens: Vec<OpenRequest>,
    /// Ports the worker dropped: detach and close them.
    pub retired: Vec<RetiredPort>,
    /// Ports opened for nothing (their entry changed meanwhile): close them.
    pub discard: Vec<PreparedPort>,
    /// Changes to this worker's ports the other workers' routers must follow.
    pub replicas: Vec<super::owners::Replica>,
    /// Queues of multi-queue ports to bind ([`super::queues::bind`]).
    pub queues: Vec<super::queues::QueueRequest>,
    /// Queue sockets bound for nothing (their port closed meanwhile): close them.
    pub discard_queues: Vec<PreparedQueue>,
}

/// The slow half of opening (control thread): everything that can wait on the kernel.
pub fn prepare(req: &OpenRequest) -> OpenResult {
    let dev = req.ifname.as_str();
    let mac = match req.follow_mac {
        Some(_) => match sys::netdev::mac_address(dev) {
            Ok(m) => Some(m),
            Err(e) => {
                log::warn("uplink_mac", &[("dev", &dev), ("error", &e)]);
                None
            }
        },
        None => None,
    };
    let port = prepare_port(req);
    let queues = match (&port, req.kind) {
        (Ok(_), Kind::Guest) if sys::netdev::is_multi_queue_tun(dev) => {
            match sys::netdev::rx_queue_count(dev) {
                Ok(n) => Some(n),
                Err(e) => {
                    log::warn("port_queues", &[("dev", &dev), ("error", &e)]);
                    None
                }
            }
        }
        _ => None,
    };
    OpenResult {
        id: req.id,
        ifname: req.ifname.clone(),
        kind: req.kind,
        why: req.why,
        mac,
        port,
        queues,
    }
}

fn prepare_port(req: &OpenRequest) -> Result<(PreparedPort, u32), OpenError> {
    let dev = req.ifname.clone();
    let ifindex = sys::netdev::ifindex(&dev).map_err(|source| OpenError::Device {
        dev: dev.clone(),
        source,
    })?;
    if let Some(bound) = req.bound.filter(|&b| b != ifindex) {
        return Err(OpenError::Replaced {
            dev,
            bound,
            ifindex,
        });
    }
    let spec = match req.kind {
        Kind::Uplink(_) => PortSpec::uplink(ifindex, req.steered_ips.iter().copied())
            .with_prefixes(req.steered_prefixes.iter().copied()),
        _ => PortSpec::guest(ifindex),
    };
    // The kernel fails closed too: it must never proxy-answer for our guests, also
    // while the router is down.
    match sys::sysctl::set_proxy_arp(&dev, false) {
        Ok(true) => log::info("kernel_proxy_arp_disabled", &[("dev", &dev)]),
        Ok(false) => {}
        Err(e) => log::warn("kernel_proxy_arp", &[("dev", &dev), ("error", &e)]),
    }
    match sys::sysctl::set_proxy_ndp(&dev, false) {
        Ok(Some(true)) => log::info("kernel_proxy_ndp_disabled", &[("dev", &dev)]),
        Ok(_) => {}
        Err(e) => log::warn("kernel_proxy_ndp", &[("dev", &dev), ("error", &e)]),
    }
    let port = XdpPort::prepare(&req.umem, &spec, &req.cfg)
        .map_err(|source| OpenError::Attach { dev, source })?;
    Ok((port, ifindex))
}

/// A port that could not be opened.
#[derive(Debug)]
pub struct OpenFailure {
    /// Its device.
    pub dev: String,
    /// Uplink or guest.
    pub kind: Kind,
    /// Why it was opened.
    pub why: Why,
    /// What failed.
    pub error: OpenError,
}

impl OpenFailure {
    /// Log it (control thread).
    pub fn report(&self) {
        report_failure(&self.dev, self.kind, self.why, &self.error);
    }
}

fn report_failure(dev: &str, kind: Kind, why: Why, e: &OpenError) {
    match (kind, why) {
        (Kind::Uplink(_), Why::Start) => log::error(
            "uplink_down",
            &[
                ("dev", &dev),
                ("error", &log::chain(e)),
                (
                    "fix",
                    &"create or repair the VLAN device: it is attached when it appears; its network answers nothing until then",
                ),
            ],
        ),
        (_, Why::Reopen) => log::warn(
            "port_attach_failed",
            &[("dev", &dev), ("error", &log::chain(e))],
        ),
        _ => log::warn(
            "guest_port_down",
            &[("dev", &dev), ("error", &log::chain(e))],
        ),
    }
}
