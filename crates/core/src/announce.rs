//! Gratuitous ARP for guests that appear on this node (added, live-migrated in, or
//! present when the router starts), so the VLAN's gateway moves their addresses here at
//! once instead of waiting for its ARP entries to expire; and, toward the guest, for the
//! network's gateway address at our guest-side MAC, so a guest that cached another MAC
//! for its gateway (the kernel setup's tap MAC, the previous node's) moves too.
//!
//! Both forms are sent, as RFC 5227 section 3 and RFC 5944 section 4.6 describe: an ARP
//! request and an ARP reply whose sender and target protocol addresses are both the
//! guest's address and whose sender hardware address is our uplink MAC (the reply's
//! target hardware address too; the request's is zero). Each is repeated `count` times,
//! `interval` apart. A guest removed (or whose port went down) before its announcements
//! are done is not announced any further.

use std::time::Duration;

use wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Ipv4Addr,
};

use crate::ids::{GuestId, NetworkId};
use crate::outbox::Outbox;
use crate::tables::Tables;
use crate::time::Instant;

/// Shortest Ethernet frame without FCS.
const MIN_FRAME: usize = 60;

/// How guests are announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceConfig {
    /// Rounds of announcements per address (each round sends both forms); 0 disables.
    pub count: u32,
    /// Time between rounds.
    pub interval: Duration,
}

impl Default for AnnounceConfig {
    fn default() -> Self {
        AnnounceConfig {
            count: 3,
            interval: Duration::from_secs(1),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    guest: GuestId,
    network: NetworkId,
    ip: Ipv4Addr,
    remaining: u32,
    due: Instant,
}

/// Announcements waiting to be sent.
#[derive(Clone, Debug, Default)]
pub struct Announcer {
    config: AnnounceConfig,
    pending: Vec<Pending>,
    sent: u64,
}

impl Announcer {
    /// An announcer with `config`.
    pub fn new(config: AnnounceConfig) -> Announcer {
        Announcer {
            config,
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// Announce every address of `guest` (first round at the next poll at or after
    /// `now`). Scheduling again restarts its rounds.
    pub fn schedule(&mut self, tables: &Tables, guest: GuestId, now: Instant) {
        self.cancel(guest);
        if self.config.count == 0 {
            return;
        }
        let Some(g) = tables.guests().by_id(guest) else {
            return;
        };
        for &ip in &g.ips {
            self.pending.push(Pending {
                guest,
                network: g.network,
                ip,
                remaining: self.config.count,
                due: now,
            });
        }
    }

    /// Stop announcing `guest`.
    pub fn cancel(&mut self, guest: GuestId) {
        self.pending.retain(|p| p.guest != guest);
    }

    /// Announcements still to send (address-rounds).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Frames sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The earliest time a round is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.due).min()
    }

    /// Send the rounds that are due on the uplinks; returns the frames queued. A guest
    /// that is gone, down, or no longer owns the address is dropped from the schedule.
    pub fn poll(&mut self, tables: &Tables, now: Instant, out: &mut Outbox) -> u32 {
        let mut frames = 0;
        let interval = self.config.interval;
        self.pending.retain_mut(|p| {
            let Some(g) = tables.guests().by_id(p.guest) else {
                return false;
            };
            if !g.up || g.network != p.network || !g.ips.contains(&p.ip) {
                return false;
            }
            if p.due > now {
                return true;
            }
            let Some(network) = tables.network(p.network) else {
                return false;
            };
            for op in [ArpOperation::Request, ArpOperation::Reply] {
                out.push_with(network.uplink, MIN_FRAME, |buf| {
                    write_gratuitous(buf, op, network.uplink_mac, p.ip)
                });
                frames += 1;
            }
            // Toward the guest, once per round (with its first address's rounds): the
            // gateway is at our guest-side MAC. A guest that cached the kernel setup's
            // tap MAC or another node's moves at once (Linux overrides a cached entry on
            // a gratuitous ARP, `arp_is_garp` in net/ipv4/arp.c).
            if g.ips.first() == Some(&p.ip) {
                for op in [ArpOperation::Request, ArpOperation::Reply] {
                    out.push_with(g.port, MIN_FRAME, |buf| {
                        write_gratuitous(buf, op, network.guest_mac, network.gateway)
                    });
                    frames += 1;
                }
            }
            p.remaining -= 1;
            p.due = now + interval;
            p.remaining > 0
        });
        self.sent += u64::from(frames);
        frames
    }
}

/// Write a gratuitous ARP of form `op` announcing `ip` at `mac` into `buf` (at least 42
/// bytes), broadcast.
pub fn write_gratuitous(buf: &mut [u8], op: ArpOperation, mac: EthernetAddress, ip: Ipv4Addr) {
    let eth = EthernetRepr {
        src_addr: mac,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    };
    let arp = ArpRepr {
        operation: op,
        source_hardware_addr: mac,
        source_protocol_addr: ip,
        target_hardware_addr: if op == ArpOperation::Reply {
            mac
        } else {
            EthernetAddress::ZERO
        },
        target_protocol_addr: ip,
    };
    let mut frame = EthernetFrame::new_unchecked(buf);
    eth.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
}
