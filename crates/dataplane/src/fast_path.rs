//! Keeping the in-kernel fast path's maps (`sys::xdp_fast`) equal to what the router
//! says it may forward (`hvrouter_core::fastpath`), and its counters in the router's.
//!
//! The router is the only writer. Between bursts the pipeline asks [`FastPath::due`]
//! (a few compares), and when it is due derives the wanted entries again and writes the
//! difference: when the tables changed (a guest added, removed, down; a route), when
//! ports were attached or detached, when a neighbor's confirmation runs out, when a
//! trace or capture starts or ends, when a neighbor cache learned something (at most
//! every [`RESYNC`]), and every [`SAFETY_RESYNC`] anyway. New devices and entries go in before what refers to them (devmap, then
//! routes and sources, then ingress ports); removals go the other way round. A failed
//! write switches the fast path off (every frame to the router) until a later sync
//! succeeds: a stale entry must never forward.
//!
//! Counters: each port's frames forwarded in the kernel are counted per CPU in the
//! counter slot of its `PortId`; [`FastPath::fold`] adds what is new to the router's
//! port counters (rx/tx packets and bytes), so that they count every frame.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use hvrouter_core::fastpath::{FastHop, FastRole, FastState};
use hvrouter_core::router::Router;
use hvrouter_core::{Instant, NetworkId, PortId};
use sys::xdp_fast::FP_MAX_PORTS;
use sys::{FastPathMaps, FpHop, FpPort, FpStats, XdpError};

/// Shortest time between syncs for neighbor changes alone (an ARP storm from known
/// hosts costs at most one sync per this).
pub const RESYNC: Duration = Duration::from_millis(10);
/// Longest time between syncs.
pub const SAFETY_RESYNC: Duration = Duration::from_secs(1);
/// How often counters are folded when nobody asks.
const FOLD_EVERY: Duration = Duration::from_secs(1);

type RouteKey = (u32, Ipv4Addr, u8);
type SourceKey = (u32, Ipv4Addr, u8);

/// What the maps hold now.
#[derive(Debug, Default, PartialEq, Eq)]
struct Entries {
    ports: HashMap<u32, FpPort>,
    routes: HashMap<RouteKey, Option<FpHop>>,
    sources: HashSet<SourceKey>,
    tx: HashSet<u32>,
}

/// The fast path of one pipeline: its maps and what was written to them.
#[derive(Debug)]
pub struct FastPath {
    maps: Arc<FastPathMaps>,
    installed: Entries,
    generation: Option<u64>,
    /// The router's neighbor changes at the last sync, and when neighbor changes alone
    /// may cause the next one.
    neighbor_changes: u64,
    neighbor_due: Instant,
    due: Instant,
    ports_changed: bool,
    /// On in the maps (`None`: not written yet).
    on: Option<bool>,
    /// Counter slots in use and what was folded from each.
    folded: HashMap<u16, FpStats>,
    fold_due: Instant,
    /// Syncs that failed (the fast path was switched off meanwhile).
    pub errors: u64,
    /// The neighbors the written routes forward to (treated as used at each sync:
    /// [`Router::fast_path_used`]).
    held: Vec<(NetworkId, Ipv4Addr)>,
}

/// Why the fast path stands aside for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aside {
    /// A trace or capture runs: every frame must reach the router.
    pub observing: bool,
}

fn slot(port: PortId) -> Option<u32> {
    let s = u32::from(port.0);
    (s < FP_MAX_PORTS).then_some(s)
}

fn hop(h: &FastHop, ifindex_of: &impl Fn(PortId) -> Option<u32>) -> Option<FpHop> {
    Some(FpHop {
        ifindex: ifindex_of(h.port)?,
        dst_mac: h.dst_mac.0,
        src_mac: h.src_mac.0,
        mtu: h.mtu,
        to_guest: h.to_guest,
        coalesce_tcp: h.coalesce_tcp,
        slot: slot(h.port)?,
    })
}

/// The entries for `st`, given where each port is attached (`None`: not attached or
/// without the fast path: frames for it go to the router).
fn wanted(st: &FastState, ifindex_of: &impl Fn(PortId) -> Option<u32>) -> Entries {
    let mut e = Entries::default();
    for p in &st.ports {
        let (Some(ifindex), Some(slot)) = (ifindex_of(p.port), slot(p.port)) else {
            continue;
        };
        e.ports.insert(
            ifindex,
            FpPort {
                network: u32::from(p.network.0),
                slot,
                guest: p.role == FastRole::Guest,
                mac: p.mac.0,
            },
        );
    }
    for r in &st.routes {
        let h = r.hop.as_ref().and_then(|h| hop(h, ifindex_of));
        if let Some(h) = &h {
            e.tx.insert(h.ifindex);
        }
        let key = (
            u32::from(r.network.0),
            r.prefix.network(),
            r.prefix.prefix_len(),
        );
        e.routes.insert(key, h);
    }
    for s in &st.sources {
        if let Some(ifindex) = ifindex_of(s.port) {
            e.sources
                .insert((ifindex, s.prefix.network(), s.prefix.prefix_len()));
        }
    }
    e
}

impl FastPath {
    /// A fast path writing `maps` (shared with the programs of the pipeline's ports).
    pub fn new(maps: Arc<FastPathMaps>, now: Instant) -> FastPath {
        FastPath {
            maps,
            installed: Entries::default(),
            generation: None,
            neighbor_changes: 0,
            neighbor_due: now,
            due: now,
            ports_changed: true,
            on: None,
            folded: HashMap::new(),
            fold_due: now + FOLD_EVERY,
            errors: 0,
            held: Vec::new(),
        }
    }

    /// The maps.
    pub fn maps(&self) -> &Arc<FastPathMaps> {
        &self.maps
    }

    /// Ports were attached or detached: sync at the next chance.
    pub fn ports_changed(&mut self) {
        self.ports_changed = true;
    }

    /// A device went away: stops redirecting to it and taking frames from it now (its
    /// routes and sources follow at the next sync). A failure switches the fast path
    /// off until then.
    pub fn forget_device(&mut self, ifindex: u32) {
        self.ports_changed = true;
        let tx = self.maps.remove_tx(ifindex);
        let port = self.maps.remove_port(ifindex);
        if tx.is_err() || port.is_err() {
            self.errors += 1;
            if self.maps.set_enabled(false).is_ok() {
                self.on = Some(false);
            } else {
                self.on = None;
            }
        }
        self.installed.tx.remove(&ifindex);
        self.installed.ports.remove(&ifindex);
    }

    /// Whether the maps must be written now (cheap: compares only).
    #[inline]
    pub fn due(&self, router: &Router, aside: Aside, now: Instant) -> bool {
        self.ports_changed
            || self.generation != Some(router.generation())
            || now >= self.due
            || self.on != Some(!aside.observing)
            || (now >= self.neighbor_due && router.neighbor_changes() != self.neighbor_changes)
    }

    /// Whether counters should be folded now; if so, the next fold is due a while
    /// after `now`.
    #[inline]
    pub fn fold_due(&mut self, now: Instant) -> bool {
        if now < self.fold_due {
            return false;
        }
        self.fold_due = now + FOLD_EVERY;
        true
    }

    /// Writes what changed. `ifindex_of` says where each port is attached with the
    /// fast path. First the neighbors the fast path forwarded to are marked used, so
    /// that one whose confirmation ran out is verified while the fast path keeps using
    /// it (the sync is due at that instant: [`FastState::valid_until`]).
    pub fn sync(
        &mut self,
        router: &mut Router,
        ifindex_of: impl Fn(PortId) -> Option<u32>,
        aside: Aside,
        now: Instant,
    ) {
        if self.on == Some(true) {
            router.fast_path_used(&self.held, now);
        }
        let st = router.fast_path_state(now);
        let want = wanted(&st, &ifindex_of);
        for p in &st.ports {
            if let Some(s) = slot(p.port) {
                self.track_slot(s as u16);
            }
        }
        let written = self.write(&want);
        let on = !aside.observing && written.is_ok();
        if written.is_err() {
            self.errors += 1;
        }
        match self.maps.set_enabled(on) {
            Ok(()) => self.on = Some(on),
            Err(_) => {
                self.errors += 1;
                self.on = None;
            }
        }
        self.generation = Some(router.generation());
        self.neighbor_changes = router.neighbor_changes();
        self.neighbor_due = now + RESYNC;
        self.ports_changed = false;
        let next = now
            + if written.is_ok() {
                SAFETY_RESYNC
            } else {
                RESYNC
            };
        self.due = st.valid_until.map_or(next, |t| t.min(next));
        self.held = st.neighbors;
    }

    fn track_slot(&mut self, slot: u16) {
        if self.folded.contains_key(&slot) {
            return;
        }
        // A slot starts from zero the first time this pipeline uses it.
        if self.maps.clear_stats(u32::from(slot)).is_ok() {
            self.folded.insert(slot, FpStats::default());
        }
    }

    fn write(&mut self, want: &Entries) -> Result<(), XdpError> {
        let m = &self.maps;
        let have = &mut self.installed;
        for &t in want.tx.difference(&have.tx.clone()) {
            m.insert_tx(t)?;
            have.tx.insert(t);
        }
        for (&(net, addr, len), h) in &want.routes {
            if have.routes.get(&(net, addr, len)) != Some(h) {
                m.insert_route(net, addr, len, h.as_ref())?;
                have.routes.insert((net, addr, len), *h);
            }
        }
        for &(ifindex, addr, len) in want.sources.difference(&have.sources.clone()) {
            m.insert_source(ifindex, addr, len)?;
            have.sources.insert((ifindex, addr, len));
        }
        for (&ifindex, p) in &want.ports {
            if have.ports.get(&ifindex) != Some(p) {
                m.insert_port(ifindex, p)?;
                have.ports.insert(ifindex, *p);
            }
        }
        // Removals: ingress ports, sources, routes, then devices.
        let gone: Vec<u32> = have
            .ports
            .keys()
            .filter(|k| !want.ports.contains_key(k))
            .copied()
            .collect();
        for ifindex in gone {
            m.remove_port(ifindex)?;
            have.ports.remove(&ifindex);
        }
        let gone: Vec<SourceKey> = have.sources.difference(&want.sources).copied().collect();
        for (ifindex, addr, len) in gone {
            m.remove_source(ifindex, addr, len)?;
            have.sources.remove(&(ifindex, addr, len));
        }
        let gone: Vec<RouteKey> = have
            .routes
            .keys()
            .filter(|k| !want.routes.contains_key(k))
            .copied()
            .collect();
        for (net, addr, len) in gone {
            m.remove_route(net, addr, len)?;
            have.routes.remove(&(net, addr, len));
        }
        let gone: Vec<u32> = have.tx.difference(&want.tx).copied().collect();
        for t in gone {
            m.remove_tx(t)?;
            have.tx.remove(&t);
        }
        Ok(())
    }

    /// Adds what the kernel forwarded since the last fold to the router's counters.
    pub fn fold(&mut self, router: &mut Router) {
        for (&slot, last) in self.folded.iter_mut() {
            let Ok(s) = self.maps.stats(u32::from(slot)) else {
                continue;
            };
            let c = router.counters_mut().port_mut(PortId(slot));
            c.rx_packets += s.rx_packets.saturating_sub(last.rx_packets);
            c.rx_bytes += s.rx_bytes.saturating_sub(last.rx_bytes);
            c.tx_packets += s.tx_packets.saturating_sub(last.tx_packets);
            c.tx_bytes += s.tx_bytes.saturating_sub(last.tx_bytes);
            c.fast_path_rx += s.rx_packets.saturating_sub(last.rx_packets);
            c.fast_path_tx += s.tx_packets.saturating_sub(last.tx_packets);
            c.fast_path_redirect_failed += s.redirect_failed.saturating_sub(last.redirect_failed);
            *last = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvrouter_core::fastpath::{FastPort, FastRoute, FastSource};
    use hvrouter_core::NetworkId;
    use wire::EthernetAddress;

    #[test]
    fn hops_to_ports_without_the_fast_path_go_to_the_router() {
        let mac = EthernetAddress([2, 0, 0, 0, 0, 1]);
        let st = FastState {
            ports: vec![
                FastPort {
                    port: PortId(0),
                    network: NetworkId(0),
                    role: FastRole::Uplink,
                    mac,
                },
                FastPort {
                    port: PortId(1),
                    network: NetworkId(0),
                    role: FastRole::Guest,
                    mac,
                },
            ],
            routes: vec![FastRoute {
                network: NetworkId(0),
                prefix: "192.0.2.10/32".parse().unwrap(),
                hop: Some(FastHop {
                    port: PortId(1),
                    dst_mac: mac,
                    src_mac: mac,
                    mtu: 1500,
                    to_guest: true,
                    coalesce_tcp: false,
                }),
            }],
            sources: vec![FastSource {
                port: PortId(1),
                prefix: "192.0.2.10/32".parse().unwrap(),
            }],
            valid_until: None,
            neighbors: Vec::new(),
        };
        // Only the uplink is attached (ifindex 7).
        let e = wanted(&st, &|p: PortId| (p == PortId(0)).then_some(7));
        assert_eq!(e.ports.len(), 1);
        assert_eq!(e.routes.values().copied().collect::<Vec<_>>(), vec![None]);
        assert!(e.sources.is_empty() && e.tx.is_empty());
        // Both attached.
        let e = wanted(&st, &|p: PortId| Some(7 + u32::from(p.0)));
        assert_eq!(e.ports.len(), 2);
        assert_eq!(e.tx, HashSet::from([8]));
        assert_eq!(
            e.sources,
            HashSet::from([(8, Ipv4Addr::new(192, 0, 2, 10), 32)])
        );
        let h = e.routes.values().next().copied().flatten().expect("hop");
        assert_eq!((h.ifindex, h.slot, h.to_guest), (8, 1, true));
    }
}
