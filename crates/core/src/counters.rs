//! Per-port counters: traffic, drops by reason, ARP answers, ICMP errors.
//!
//! Plain `u64`s owned by the worker that runs the pipeline: no atomics, no locks on the
//! packet path. The control plane reads a snapshot between bursts.

use crate::drop::DropReason;
use crate::ids::PortId;

/// Counters of one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received (Ethernet header included).
    pub rx_bytes: u64,
    /// Frames transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// ARP requests received on this port that the router answered.
    pub arp_answered: u64,
    /// Gratuitous ARP and ARP requests the router originated on this port.
    pub arp_sent: u64,
    /// ICMP errors sent out of this port.
    pub icmp_errors_sent: u64,
    /// ICMP errors RFC 1812 allowed but not sent: rate limit, or no source address on that side.
    pub icmp_errors_suppressed: u64,
    /// IPv4 datagrams larger than this port's MTU, DF clear, sent out of it as fragments
    /// (RFC 1812 5.2.6).
    pub fragmented: u64,
    /// TCP super-frames sent out of this port as one GSO send (a virtio-net header that
    /// lets the device segment): a guest's super-frame whole, or segments coalesced.
    pub gso_sent: u64,
    /// Segments that went out of this port inside coalesced GSO sends (GRO-like).
    pub gro_merged: u64,
    /// GSO sends that failed and went out as before (segments cut in software, or the
    /// coalesced segments one by one).
    pub gso_fallback: u64,
    /// Frames received on this port and forwarded by the in-kernel fast path (also in
    /// `rx_packets`).
    pub fast_path_rx: u64,
    /// Frames the in-kernel fast path sent out of this port (also in `tx_packets`).
    pub fast_path_tx: u64,
    /// Frames the in-kernel fast path meant to send out of this port but the kernel's
    /// devmap refused: the router forwarded them instead.
    pub fast_path_redirect_failed: u64,
    /// Frames dropped, indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::COUNT],
}

impl Default for PortCounters {
    fn default() -> Self {
        PortCounters {
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
            arp_answered: 0,
            arp_sent: 0,
            icmp_errors_sent: 0,
            icmp_errors_suppressed: 0,
            fragmented: 0,
            gso_sent: 0,
            gro_merged: 0,
            gso_fallback: 0,
            fast_path_rx: 0,
            fast_path_tx: 0,
            fast_path_redirect_failed: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl PortCounters {
    /// Count of one drop reason.
    pub fn drop_count(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Total drops over all reasons.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Non-zero drop counters by name.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.drops[r.index()]))
            .filter(|&(_, n)| n != 0)
    }
}

/// Counters of every port, indexed by [`PortId`].
#[derive(Clone, Debug, Default)]
pub struct Counters {
    ports: Vec<PortCounters>,
}

impl Counters {
    /// Make sure `port` has counters (called when a port is added, not per packet).
    pub fn ensure(&mut self, port: PortId) {
        if self.ports.len() <= port.index() {
            self.ports
                .resize_with(port.index() + 1, PortCounters::default);
        }
    }

    /// Counters of `port`; ports never seen read as zero.
    pub fn port(&self, port: PortId) -> PortCounters {
        self.ports.get(port.index()).cloned().unwrap_or_default()
    }

    /// Mutable counters of `port`, created on first use.
    #[inline]
    pub fn port_mut(&mut self, port: PortId) -> &mut PortCounters {
        if self.ports.len() <= port.index() {
            self.ensure(port);
        }
        &mut self.ports[port.index()]
    }

    /// Count one drop.
    #[inline]
    pub fn count_drop(&mut self, port: PortId, reason: DropReason) {
        self.port_mut(port).drops[reason.index()] += 1;
    }

    /// Sum of one drop reason over all ports.
    pub fn total_drop(&self, reason: DropReason) -> u64 {
        self.ports.iter().map(|p| p.drops[reason.index()]).sum()
    }

    /// All ports with counters, by id.
    pub fn iter(&self) -> impl Iterator<Item = (PortId, &PortCounters)> {
        self.ports
            .iter()
            .enumerate()
            .map(|(i, c)| (PortId(i as u16), c))
    }
}
