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
use crate::router::Action;
use crate::spoof::check_source_mac;
use crate::tables::Tables;
use crate::time::Instant;

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
    /// ICMPv6 errors sent.
    pub errors_sent: u64,
    /// ICMPv6 errors not sent because of the rate limit.
    pub errors_limited: u64,
    /// Echo replies from the router's own link-local addresses.
    pub echo_replies: u64,
}

/// The router's IPv6 state.
#[derive(Debug)]
pub struct Router6 {
    tables6: Tables6,
    neighbors: HashMap<NetworkId, Neighbor6Cache, FastBuildHasher>,
    ra: RaScheduler,
    icmp_limit: TokenBucket,
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
            neighbor_config,
            announce: HashMap::default(),
            stats: Router6Stats::default(),
            wake: now,
            overrides: HashMap::new(),
            refused: HashMap::default(),
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

    /// Guest `id` was added to `tables`: give it its IPv6 side if its network has one:
    /// the one asked for by name, or by default the EUI-64 address of its MAC in a /64
    /// subnet6 (what gnt-networking's `mac2eui64` gives every routed NIC). A refusal
    /// (an address another guest owns) is kept for [`Router6::refusal`]; the guest's
    /// IPv4 side is not affected.
    pub fn guest_added(&mut self, tables: &Tables, id: GuestId) {
        self.refused.remove(&id);
        let Some(guest) = tables.guest(id) else {
            return;
        };
        let Some(st) = self.tables6.network6(guest.network) else {
            return;
        };
        let spec = match self.overrides.get(&guest.name) {
            Some(s) => s.clone(),
            None if st.net.slaac() => Guest6Spec {
                eui64: true,
                ..Guest6Spec::default()
            },
            None => return,
        };
        // Due at once: the next poll sends its RA and announcements.
        if let Err(e) = self.set_guest6(tables, id, spec, Instant::ZERO) {
            self.refused.insert(id, e);
        }
    }

    /// Why guest `id`'s IPv6 side was refused when it was added, if it was.
    pub fn refusal(&self, id: GuestId) -> Option<&Tables6Error> {
        self.refused.get(&id)
    }

    /// Forget guest `id`'s IPv6 side (the guest was removed).
    pub fn guest_removed(&mut self, id: GuestId) {
        self.refused.remove(&id);
        self.tables6.remove_guest6(id);
        self.ra.guest_gone(id);
        self.announce.remove(&id);
    }

    /// An IPv6 frame from the uplink of `net`.
    pub fn from_uplink(
        &mut self,
        tables: &Tables,
        net: NetworkId,
        port: PortId,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let (Some(network), Some(st)) = (tables.network(net), self.tables6.network6(net)) else {
            return Action::Drop(DropReason::UnsupportedEthertype);
        };
        let dst_mac = EthernetAddress::from_bytes(&frame[0..6]);
        let src_mac = EthernetAddress::from_bytes(&frame[6..12]);
        if dst_mac != network.uplink_mac && !is_v6_multicast_mac(dst_mac) {
            return Action::Drop(DropReason::NotForUs);
        }
        let (ip, ext) = match parse(&frame[ETH..]) {
            Ok(x) => x,
            Err(r) => return Action::Drop(r),
        };
        let total = ETH + 40 + usize::from(ip.payload_len);
        let payload = &frame[ETH + 40..total];
        let net6 = &st.net;
        match uplink_control(tables, &self.tables6, network, net6, &ip, &ext, payload) {
            Control6::NotControl => {}
            Control6::Answer(na, learn) => {
                let dst = if na.dst_ip == ALL_NODES {
                    multicast_mac(&ALL_NODES)
                } else {
                    src_mac
                };
                send_na(out, port, network.uplink_mac, uplink_ll(network), dst, &na);
                self.stats.na_answered += 1;
                if let Some(l) = learn {
                    self.learn(net, port, network.uplink_mac, &l, now, out);
                }
                return Action::Consumed;
            }
            Control6::Learn(l, r) => {
                self.learn(net, port, network.uplink_mac, &l, now, out);
                return Action::Drop(r);
            }
            Control6::RouterSolicit => return Action::Drop(DropReason::NdpConsumed),
            Control6::Drop(r) => return Action::Drop(r),
        }
        if ip.dst_addr == uplink_ll(network) {
            return self.echo(port, network.uplink_mac, src_mac, &frame[ETH..total], out);
        }
        let decision = decide(
            tables,
            &self.tables6,
            net,
            port,
            &ip,
            total - ETH,
            network.mtu,
        );
        match decision {
            Forward6::Forward(Egress6::Guest {
                guest,
                port: egress,
            }) => {
                let Some(g) = tables.guest(guest) else {
                    return Action::Drop(DropReason::DestinationGuestDown);
                };
                rewrite(frame, network.guest_mac, g.mac);
                Action::Forward(egress)
            }
            Forward6::Forward(Egress6::Uplink { .. }) => Action::Drop(DropReason::Hairpin),
            Forward6::Drop(r) => Action::Drop(r),
            Forward6::Error(r, e) => {
                // Only toward on-link sources: the router has no global address, and a
                // link-local source does not leave the link (RFC 4291 2.5.6).
                if net6.spec.subnet6.contains(&ip.src_addr) {
                    let a = Addressing {
                        port,
                        src_mac: network.uplink_mac,
                        dst_mac: src_mac,
                        src_ip: uplink_ll(network),
                        dst_ip: ip.src_addr,
                        hop_limit: DEFAULT_HOP_LIMIT,
                    };
                    self.error(
                        &frame[ETH..total],
                        &ext,
                        dst_mac != network.uplink_mac,
                        &a,
                        e,
                        now,
                        out,
                    );
                }
                Action::Drop(r)
            }
        }
    }

    /// An IPv6 frame from guest `gid`'s port.
    pub fn from_guest(
        &mut self,
        tables: &Tables,
        gid: GuestId,
        port: PortId,
        frame: &mut [u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Action {
        let Some(guest) = tables.guest(gid).filter(|g| g.up) else {
            return Action::Drop(DropReason::GuestDown);
        };
        let (Some(network), Some(st)) = (
            tables.network(guest.network),
            self.tables6.network6(guest.network),
        ) else {
            return Action::Drop(DropReason::UnsupportedEthertype);
        };
        let dst_mac = EthernetAddress::from_bytes(&frame[0..6]);
        if let Err(r) = check_source_mac(guest, EthernetAddress::from_bytes(&frame[6..12])) {
            return Action::Drop(r);
        }
        if dst_mac != network.guest_mac && !is_v6_multicast_mac(dst_mac) {
            return Action::Drop(DropReason::NotForUs);
        }
        let (ip, ext) = match parse(&frame[ETH..]) {
            Ok(x) => x,
            Err(r) => return Action::Drop(r),
        };
        let total = ETH + 40 + usize::from(ip.payload_len);
        let net6 = &st.net;
        let g6 = self.tables6.guest6(gid);
        match guest_control(network, net6, guest, g6, &ip, &ext, &frame[ETH + 40..total]) {
            Control6::NotControl => {}
            Control6::Answer(na, _) => {
                send_na(out, port, network.guest_mac, net6.guest_ll, guest.mac, &na);
                self.stats.na_answered += 1;
                return Action::Consumed;
            }
            Control6::RouterSolicit => {
                let due = self.ra.solicited(gid, now);
                self.wake = self.wake.min(due);
                return Action::Consumed;
            }
            Control6::Learn(_, r) | Control6::Drop(r) => return Action::Drop(r),
        }
        if let Err(r) = crate::ipv6::spoof6::check_source(g6, &ip.src_addr) {
            return Action::Drop(r);
        }
        if ip.dst_addr == net6.guest_ll {
            return self.echo(port, network.guest_mac, guest.mac, &frame[ETH..total], out);
        }
        let guest_mac = guest.mac;
        let net = guest.network;
        // Guest frames carry partial TCP/UDP checksums ([`crate::offload`]).
        if ext.count == 0 {
            if let Err(r) = offload6::complete_checksum(&mut frame[ETH..total]) {
                return Action::Drop(r);
            }
        }
        let len = total - ETH;
        // A TCP super-frame larger than the MTU is segmented rather than refused.
        let mtu_for_decision = if ext.count == 0 && ip.next_header == wire::NextHeader::Tcp {
            u16::MAX
        } else {
            network.mtu
        };
        match decide(tables, &self.tables6, net, port, &ip, len, mtu_for_decision) {
            Forward6::Forward(egress) => {
                let (egress_port, src, dst) = match egress {
                    Egress6::Guest { guest: to, port: p } => match tables.guest(to) {
                        Some(g) => (p, network.guest_mac, g.mac),
                        None => return Action::Drop(DropReason::DestinationGuestDown),
                    },
                    Egress6::Uplink { next_hop } => {
                        let Some(cache) = self.neighbors.get_mut(&net) else {
                            return Action::Drop(DropReason::NoRoute);
                        };
                        match cache.lookup(next_hop, now) {
                            Some(mac) => (network.uplink, network.uplink_mac, mac),
                            None => {
                                rewrite(frame, network.uplink_mac, EthernetAddress::ZERO);
                                hop(frame);
                                return match cache.enqueue(next_hop, &frame[..total], now) {
                                    Enqueue6::Queued(s) | Enqueue6::QueuedDroppedOldest(s) => {
                                        if let Some(s) = s {
                                            push_solicit(out, network, s);
                                            self.stats.ns_sent += 1;
                                        }
                                        self.wake = self.wake.min(now + NEIGHBOR_TICK);
                                        Action::Consumed
                                    }
                                    Enqueue6::Dropped(r) => Action::Drop(r),
                                };
                            }
                        }
                    }
                };
                rewrite(frame, src, dst);
                hop(frame);
                if len > usize::from(network.mtu) {
                    return match offload6::segment(&frame[..total], network.mtu, egress_port, out) {
                        Ok(_) => Action::Consumed,
                        Err(r) => Action::Drop(r),
                    };
                }
                Action::Forward(egress_port)
            }
            Forward6::Drop(r) => Action::Drop(r),
            Forward6::Error(r, e) => {
                let a = Addressing {
                    port,
                    src_mac: network.guest_mac,
                    dst_mac: guest_mac,
                    src_ip: net6.guest_ll,
                    dst_ip: ip.src_addr,
                    hop_limit: DEFAULT_HOP_LIMIT,
                };
                self.error(&frame[ETH..total], &ext, false, &a, e, now, out);
                Action::Drop(r)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn error(
        &mut self,
        invoking: &[u8],
        ext: &wire::ipv6_ext::ExtWalk,
        link_multicast: bool,
        a: &Addressing,
        e: Icmp6Error,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Ok(p) = Ipv6Packet::new_checked(invoking) else {
            return;
        };
        if !may_send_error(&p, ext, link_multicast, e) {
            return;
        }
        if !self.icmp_limit.try_take(now) {
            self.stats.errors_limited += 1;
            return;
        }
        push_error(out, a, invoking, e);
        self.stats.errors_sent += 1;
    }

    /// Answer an echo request to one of the router's own link-local addresses.
    fn echo(
        &mut self,
        port: PortId,
        our_mac: EthernetAddress,
        to_mac: EthernetAddress,
        ip: &[u8],
        out: &mut Outbox,
    ) -> Action {
        let Ok(p) = Ipv6Packet::new_checked(ip) else {
            return Action::Drop(DropReason::Ipv6Malformed);
        };
        let Ok(icmp) = Icmpv6Packet::new_checked(p.payload()) else {
            return Action::Drop(DropReason::LocalDelivery);
        };
        if p.next_header() != wire::NextHeader::Icmpv6
            || icmp.msg_type() != Message::EchoRequest
            || !icmp.verify_checksum(&p.src_addr(), &p.dst_addr())
        {
            return Action::Drop(DropReason::LocalDelivery);
        }
        let repr = Icmpv6Repr::EchoReply {
            ident: icmp.echo_ident(),
            seq_no: icmp.echo_seq_no(),
            data: icmp.data(),
        };
        let a = Addressing {
            port,
            src_mac: our_mac,
            dst_mac: to_mac,
            src_ip: p.dst_addr(),
            dst_ip: p.src_addr(),
            hop_limit: DEFAULT_HOP_LIMIT,
        };
        push_icmpv6(out, &a, &repr);
        self.stats.echo_replies += 1;
        Action::Consumed
    }

    /// Learn a neighbor on `net`'s uplink `port` and release the frames waiting for it.
    fn learn(
        &mut self,
        net: NetworkId,
        port: PortId,
        uplink_mac: EthernetAddress,
        l: &Learn6,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(cache) = self.neighbors.get_mut(&net) else {
            return;
        };
        if cache.learn(l, now) {
            cache.drain_queue(l.addr, |f, mac| {
                rewrite(f, uplink_mac, mac);
                out.push_copy(port, f);
            });
        }
    }

    /// Timers: neighbor solicitations, Router Advertisements, unsolicited advertisements.
    /// Cheap when nothing is due (one comparison): it runs on every dataplane pass.
    pub fn poll(&mut self, tables: &Tables, now: Instant, out: &mut Outbox) {
        if now < self.wake {
            return;
        }
        self.poll_due(tables, now, out);
        let mut wake = now + std::time::Duration::from_secs(1);
        if self.neighbors.values().any(|c| !c.is_empty()) {
            wake = wake.min(now + NEIGHBOR_TICK);
        }
        if let Some(d) = self.ra.next_due() {
            wake = wake.min(d);
        }
        if let Some(d) = self.announce.values().map(|(t, _)| *t).min() {
            wake = wake.min(d);
        }
        self.wake = wake.max(now);
    }

    fn poll_due(&mut self, tables: &Tables, now: Instant, out: &mut Outbox) {
        for (&net, cache) in self.neighbors.iter_mut() {
            let (Some(network), Some(_)) = (tables.network(net), self.tables6.network6(net)) else {
                continue;
            };
            let mut sent = 0;
            cache.poll(now, &mut |s| {
                push_solicit(out, network, s);
                sent += 1;
            });
            self.stats.ns_sent += sent;
        }
        if self.ra.next_due().is_some_and(|d| d <= now) {
            self.stats.ra_sent += u64::from(self.ra.poll(tables, &self.tables6, now, out));
        }
        let due: Vec<GuestId> = self
            .announce
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(&g, _)| g)
            .collect();
        for gid in due {
            let left = self.announce.get(&gid).map_or(0, |(_, n)| *n);
            if left <= 1 {
                self.announce.remove(&gid);
            } else {
                self.announce.insert(gid, (now + ANNOUNCE_GAP, left - 1));
            }
            let Some(g) = tables.guest(gid).filter(|g| g.up) else {
                continue;
            };
            let (Some(network), Some(_), Some(g6)) = (
                tables.network(g.network),
                self.tables6.network6(g.network),
                self.tables6.guest6(gid),
            ) else {
                continue;
            };
            for addr in &g6.addrs {
                let a = Addressing {
                    port: network.uplink,
                    src_mac: network.uplink_mac,
                    dst_mac: multicast_mac(&ALL_NODES),
                    src_ip: uplink_ll(network),
                    dst_ip: ALL_NODES,
                    hop_limit: NDP_HOP_LIMIT,
                };
                push_na(out, &a, *addr, UNSOLICITED_FLAGS, network.uplink_mac);
                self.stats.na_unsolicited += 1;
            }
        }
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
