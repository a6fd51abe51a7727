//! One device's XDP side: the steering program, its maps and its BPF link. One per
//! interface, whatever number of queues (and of [`crate::XdpPort`] sockets) serve it.
//!
//! An [`XdpDevice`] holds no AF_XDP socket and no UMEM: it is `Send + Sync`, so a
//! control thread can load it, steer addresses into it and attach it, and share it
//! (`Arc`) with the ports of every worker that binds a socket on one of its queues.
//! Order matters when opening: load, register the queue sockets
//! ([`XdpDevice::register`]), then [`XdpDevice::attach`], so frames only flow once a
//! socket is ready for them. Dropping the last reference detaches the program.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::sync::OnceLock;

use sys::{AttachMode, Steering, XdpLink, XdpProgram};

use crate::xdp_error::XdpPortError;
use crate::xdp_spec::{PortSpec, XdpPortConfig};

/// A device's steering program, maps and (once attached) link.
#[derive(Debug)]
pub struct XdpDevice {
    // Declared first, dropped first: the program detaches before its maps close.
    link: OnceLock<XdpLink>,
    program: XdpProgram,
    ifindex: u32,
    mode: AttachMode,
    /// The program runs the fast path in front.
    fast_path: bool,
}

impl XdpDevice {
    /// Loads the program for `spec` and steers `spec.steered_ips` and
    /// `spec.steered_prefixes`; not attached yet.
    pub fn load(spec: &PortSpec, cfg: &XdpPortConfig) -> Result<XdpDevice, XdpPortError> {
        let ifindex = spec.ifindex;
        let fast = match spec.steering {
            Steering::DropIpv4 => None,
            _ => cfg.fast_path.as_deref(),
        };
        let program = XdpProgram::load_with(spec.steering, fast)
            .map_err(|source| XdpPortError::LoadProgram { ifindex, source })?;
        let mode = match spec.steering {
            Steering::Guest => cfg.guest_attach.unwrap_or(cfg.attach),
            _ => cfg.attach,
        };
        let device = XdpDevice {
            link: OnceLock::new(),
            program,
            ifindex,
            mode,
            fast_path: fast.is_some(),
        };
        for &ip in &spec.steered_ips {
            device.insert_guest_ip(ip)?;
        }
        for &(ip, prefix_len) in &spec.steered_prefixes {
            device.insert_guest_prefix(ip, prefix_len)?;
        }
        Ok(device)
    }

    /// Attaches the program (idempotent). Register the queue sockets first: from here
    /// on frames flow, and a queue without a socket drops them.
    pub fn attach(&self) -> Result<(), XdpPortError> {
        if self.link.get().is_some() {
            return Ok(());
        }
        let ifindex = self.ifindex;
        let link = self
            .program
            .attach(ifindex, self.mode)
            .map_err(|source| XdpPortError::Attach { ifindex, source })?;
        // A concurrent attach lost the race: its link (dropped here) detaches again.
        let _ = self.link.set(link);
        Ok(())
    }

    /// Steers device queue `queue` to `socket` (an AF_XDP socket bound to that queue).
    pub fn register(&self, queue: u32, socket: &impl AsFd) -> Result<(), XdpPortError> {
        self.program
            .insert_socket(queue, socket)
            .map_err(|source| XdpPortError::RegisterSocket {
                ifindex: self.ifindex,
                source,
            })
    }

    /// The device's interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Uplink or guest steering.
    pub fn steering(&self) -> Steering {
        self.program.steering()
    }

    /// The mode the program ended up in ([`AttachMode::Native`] or `Generic`), or the
    /// mode asked for while not attached.
    pub fn attach_mode(&self) -> AttachMode {
        self.link.get().map_or(self.mode, XdpLink::mode)
    }

    /// Whether the program runs the in-kernel fast path in front.
    pub fn has_fast_path(&self) -> bool {
        self.fast_path
    }

    /// Whether the program is attached.
    pub fn is_attached(&self) -> bool {
        self.link.get().is_some()
    }

    /// The loaded program (for the fast path's map writers and tests).
    pub fn program(&self) -> &XdpProgram {
        &self.program
    }

    /// Starts steering ARP and IPv4 for `ip` to the router (uplink only; idempotent).
    pub fn insert_guest_ip(&self, ip: Ipv4Addr) -> Result<(), XdpPortError> {
        self.program
            .insert_guest_ip(ip)
            .map_err(|source| XdpPortError::SteerIp {
                ifindex: self.ifindex,
                ip,
                source,
            })
    }

    /// Stops steering `ip`: its traffic goes to the kernel (uplink only; removing an
    /// absent IP is not an error).
    pub fn remove_guest_ip(&self, ip: Ipv4Addr) -> Result<(), XdpPortError> {
        self.program
            .remove_guest_ip(ip)
            .map_err(|source| XdpPortError::SteerIp {
                ifindex: self.ifindex,
                ip,
                source,
            })
    }

    /// Starts steering ARP and IPv4 for every address in `ip/prefix_len` to the router
    /// (uplink only; any length; idempotent).
    pub fn insert_guest_prefix(&self, ip: Ipv4Addr, prefix_len: u8) -> Result<(), XdpPortError> {
        self.program
            .insert_steered_prefix(ip, prefix_len)
            .map_err(|source| XdpPortError::SteerPrefix {
                ifindex: self.ifindex,
                ip,
                prefix_len,
                source,
            })
    }

    /// Stops steering the prefix `ip/prefix_len` (addresses also in the exact-address
    /// map or another prefix stay steered; uplink only; removing an absent prefix is
    /// not an error).
    pub fn remove_guest_prefix(&self, ip: Ipv4Addr, prefix_len: u8) -> Result<(), XdpPortError> {
        self.program
            .remove_steered_prefix(ip, prefix_len)
            .map_err(|source| XdpPortError::SteerPrefix {
                ifindex: self.ifindex,
                ip,
                prefix_len,
                source,
            })
    }

    /// Starts (`on`) or stops steering IPv6 to `addr` and Neighbor Solicitations for it
    /// to the router (uplink only; idempotent; see [`XdpProgram::insert_guest_ip6`]).
    pub fn steer_ip6(&self, addr: Ipv6Addr, on: bool) -> Result<(), XdpPortError> {
        let r = if on {
            self.program.insert_guest_ip6(addr)
        } else {
            self.program.remove_guest_ip6(addr)
        };
        r.map_err(|source| XdpPortError::SteerIpv6 {
            ifindex: self.ifindex,
            addr,
            prefix_len: 128,
            source,
        })
    }

    /// Starts (`on`) or stops steering IPv6 to every address in `addr/prefix_len`
    /// (uplink only; idempotent).
    pub fn steer_prefix6(
        &self,
        addr: Ipv6Addr,
        prefix_len: u8,
        on: bool,
    ) -> Result<(), XdpPortError> {
        let r = if on {
            self.program.insert_steered_prefix6(addr, prefix_len)
        } else {
            self.program.remove_steered_prefix6(addr, prefix_len)
        };
        r.map_err(|source| XdpPortError::SteerIpv6 {
            ifindex: self.ifindex,
            addr,
            prefix_len,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_can_be_handed_to_another_thread() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<XdpDevice>();
        send_sync::<std::sync::Arc<XdpDevice>>();
    }
}
