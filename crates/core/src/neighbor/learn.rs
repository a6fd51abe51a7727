//! Learning from received ARP, and upper-layer confirmations.
//!
//! The VLAN is shared with hosts we do not fully trust, so the cache learns only what
//! RFC 826 and Linux's `arp_process` would, and nothing more:
//! - a reply updates an entry that exists (we asked, or are refreshing it); a reply for
//!   an address we have no entry for (unsolicited, gratuitous) is ignored and counted;
//! - a request updates its sender's existing entry, and creates one only when it was
//!   addressed to us. RFC 826: "If the pair <protocol type, sender protocol address> is
//!   already in my translation table, update the sender hardware address field of the
//!   entry with the new information in the packet and set Merge_flag to true. ... ?Am I
//!   the target protocol address? Yes: If Merge_flag is false, add the triplet <protocol
//!   type, sender protocol address, sender hardware address> to the translation table."
//! - a different MAC for a valid entry is accepted from a request addressed to us at any
//!   time (Linux `neigh_event_ns` overrides), otherwise only once `locktime` has passed
//!   since the last change, so that the first of several answers wins.

use wire::{EthernetAddress, Ipv4Addr};

use super::{ArpKind, LearnOutcome, NeighborCache, NeighborState};
use crate::time::Instant;

impl NeighborCache {
    /// Learn from a received ARP packet's sender fields.
    ///
    /// `for_us`: for a request, its target protocol address is one this router answers
    /// for on the uplink; for a reply, it answers our request (target address ours and
    /// sent unicast to our MAC). A reply that is not for us (broadcast, gratuitous) may
    /// still refresh an existing entry, but only to STALE (Linux: `pkt_type !=
    /// PACKET_HOST`). The caller should also check the sender is on the network's subnet.
    ///
    /// When the outcome is [`LearnOutcome::Resolved`] with queued frames, release them with
    /// [`NeighborCache::drain_queue`] right away.
    pub fn handle_arp(
        &mut self,
        sender_ip: Ipv4Addr,
        sender_mac: EthernetAddress,
        kind: ArpKind,
        for_us: bool,
        now: Instant,
    ) -> LearnOutcome {
        if !usable_sender(sender_ip, sender_mac) {
            self.counters.invalid_ignored += 1;
            return LearnOutcome::IgnoredInvalid;
        }
        let Some(idx) = self.table.find(sender_ip) else {
            return match (kind, for_us) {
                (ArpKind::Reply, _) => {
                    self.counters.unsolicited_ignored += 1;
                    LearnOutcome::IgnoredUnsolicited
                }
                (ArpKind::Request, false) => LearnOutcome::NotLearned,
                (ArpKind::Request, true) => self.create_learned(sender_ip, sender_mac, now),
            };
        };
        self.update(idx, sender_mac, kind, for_us, now)
    }

    /// Upper-layer proof that `ip` is reachable (RFC 1122 2.3.2.1 (4) "Higher-layer
    /// advice"), e.g. a TCP ACK from it. A REACHABLE, DELAY or PROBE entry becomes
    /// REACHABLE for another `reachable_time`; a STALE entry records the confirmation (it
    /// counts when the entry is next used, as in Linux). Returns whether the entry has a
    /// MAC.
    pub fn confirm(&mut self, ip: Ipv4Addr, now: Instant) -> bool {
        let reachable_time = self.config.reachable_time;
        let Some(e) = self.table.get_mut(ip) else {
            return false;
        };
        match e.state {
            NeighborState::Reachable | NeighborState::Delay | NeighborState::Probe => {
                if e.state != NeighborState::Reachable {
                    e.state = NeighborState::Reachable;
                    e.updated = now;
                }
                e.confirmed = Some(now);
                e.probes = 0;
                e.deferred = false;
                e.deadline = now + reachable_time;
                true
            }
            NeighborState::Stale => {
                e.confirmed = Some(now);
                true
            }
            NeighborState::Incomplete | NeighborState::Failed => false,
        }
    }

    /// A STALE entry from a request addressed to us.
    fn create_learned(&mut self, ip: Ipv4Addr, mac: EthernetAddress, now: Instant) -> LearnOutcome {
        let Some(idx) = self.create(ip, NeighborState::Stale, now) else {
            return LearnOutcome::IgnoredFull;
        };
        let e = &mut self.table.slots[idx];
        e.mac = mac;
        e.deadline = now + self.config.gc_stale_time;
        let deadline = e.deadline;
        self.wake_at(deadline);
        self.counters.requests_learned += 1;
        LearnOutcome::Created
    }

    /// Merge what an ARP packet says into existing entry `idx` (Linux `__neigh_update`).
    fn update(
        &mut self,
        idx: usize,
        mac: EthernetAddress,
        kind: ArpKind,
        for_us: bool,
        now: Instant,
    ) -> LearnOutcome {
        let cfg = &self.config;
        let e = &mut self.table.slots[idx];
        // A reply to our own request proves reachability; anything else only says the
        // binding exists (Linux arp_process: REACHABLE only for ARPOP_REPLY to us).
        let new_state = if kind == ArpKind::Reply && for_us {
            NeighborState::Reachable
        } else {
            NeighborState::Stale
        };

        if !e.state.has_mac() {
            // INCOMPLETE (we asked) or FAILED (we asked and gave up): resolved now.
            let queued = e.queue.len();
            e.mac = mac;
            e.probes = 0;
            e.deferred = false;
            e.updated = now;
            if new_state == NeighborState::Reachable {
                e.state = NeighborState::Reachable;
                e.confirmed = Some(now);
                e.deadline = now + cfg.reachable_time;
            } else if queued > 0 {
                // The caller transmits the queued frames now: that is a use of a STALE
                // entry, which starts verification (Linux neigh_event_send).
                e.state = NeighborState::Delay;
                e.used = now;
                e.deadline = now + cfg.delay_first_probe_time;
            } else {
                e.state = NeighborState::Stale;
                e.deadline = now + cfg.gc_stale_time;
            }
            let deadline = e.deadline;
            self.count_learned(kind);
            self.wake_at(deadline);
            return LearnOutcome::Resolved { mac, queued };
        }

        let mac_changed = e.mac != mac;
        // Linux arp_process: requests addressed to us go through neigh_event_ns, which
        // overrides; otherwise "If several different ARP replies follows back-to-back,
        // use the FIRST one" (locktime).
        let may_override = (kind == ArpKind::Request && for_us) || now >= e.updated + cfg.locktime;
        if mac_changed && !may_override {
            self.counters.locktime_ignored += 1;
            return LearnOutcome::IgnoredLocked;
        }
        if new_state == NeighborState::Reachable {
            e.confirmed = Some(now);
        }
        // Linux __neigh_update: "If entry was valid and address is not changed, do not
        // change entry state, if new one is STALE."
        let target = if !mac_changed && new_state == NeighborState::Stale {
            e.state
        } else {
            new_state
        };
        if target != e.state || mac_changed {
            e.updated = now;
        }
        e.mac = mac;
        if target != e.state || target == NeighborState::Reachable {
            e.state = target;
            e.probes = 0;
            e.deferred = false;
            e.deadline = match target {
                NeighborState::Reachable => now + cfg.reachable_time,
                _ => now + cfg.gc_stale_time,
            };
        }
        let deadline = e.deadline;
        self.count_learned(kind);
        self.wake_at(deadline);
        LearnOutcome::Updated { mac_changed }
    }

    fn count_learned(&mut self, kind: ArpKind) {
        match kind {
            ArpKind::Reply => self.counters.replies_learned += 1,
            ArpKind::Request => self.counters.requests_learned += 1,
        }
    }
}

/// Whether an ARP sender can be a neighbor: a unicast IPv4 address (not 0.0.0.0, which
/// RFC 5227 probes use, nor broadcast, multicast or loopback) and a unicast MAC.
fn usable_sender(ip: Ipv4Addr, mac: EthernetAddress) -> bool {
    !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.is_loopback())
        && mac.is_unicast()
}
