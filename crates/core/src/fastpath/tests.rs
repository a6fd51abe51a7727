//! The fast path's state follows the router: guests, routes, confirmed neighbors.

use std::time::Duration;

use super::*;
use crate::outbox::Outbox;
use crate::router::Action;
use crate::testkit::*;

/// The fixture's two guests, up, tap1 also routing 203.0.113.0/28.
fn router() -> Router {
    two_guests(vec![net("203.0.113.0/28")], true)
}

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn route(st: &FastState, prefix: &str) -> Option<FastRoute> {
    // The last entry for a prefix wins, as in the map.
    st.routes
        .iter()
        .rev()
        .find(|r| r.prefix == net(prefix))
        .copied()
}

/// Guest 1 sends to a remote host (the gateway is asked for), the gateway answers.
fn resolve_gateway(r: &mut Router, now: Instant) {
    let mut out = Outbox::new();
    let mut f = ipv4(
        GUEST_SIDE_MAC,
        MAC1,
        GUEST1,
        REMOTE,
        64,
        wire::Protocol::Icmp,
    );
    assert_eq!(r.process(TAP1, &mut f, now, &mut out), Action::Consumed);
    let mut reply = arp(UPLINK_MAC, GW_MAC, 2, GW_MAC, GW, UPLINK_MAC, ARP_SOURCE);
    r.process(UPLINK, &mut reply, now, &mut out);
}

#[test]
fn guests_and_their_sources_are_listed() {
    let r = router();
    let st = r.fast_path_state(Instant::ZERO);
    assert_eq!(st.ports.len(), 3);
    assert!(st.ports.contains(&FastPort {
        port: UPLINK,
        network: NetworkId(0),
        role: FastRole::Uplink,
        mac: UPLINK_MAC
    }));
    assert!(st.ports.contains(&FastPort {
        port: TAP1,
        network: NetworkId(0),
        role: FastRole::Guest,
        mac: MAC1
    }));
    let hop = route(&st, "192.0.2.10/32")
        .and_then(|r| r.hop)
        .expect("guest hop");
    assert_eq!(
        hop,
        FastHop {
            port: TAP1,
            dst_mac: MAC1,
            src_mac: GUEST_SIDE_MAC,
            mtu: 1500,
            to_guest: true,
            coalesce_tcp: false
        }
    );
    assert_eq!(route(&st, "203.0.113.0/28").and_then(|r| r.hop), Some(hop));
    let sources: Vec<_> = st.sources.iter().filter(|s| s.port == TAP1).collect();
    assert_eq!(sources.len(), 2);
    // Nothing resolved yet: the default and connected routes are listed, without hop.
    assert_eq!(route(&st, "0.0.0.0/0").map(|r| r.hop), Some(None));
    assert_eq!(route(&st, "192.0.2.0/24").map(|r| r.hop), Some(None));
    // The router's own address and the subnet broadcast never take a hop.
    assert_eq!(route(&st, "192.0.2.254/32").map(|r| r.hop), Some(None));
    assert_eq!(route(&st, "192.0.2.255/32").map(|r| r.hop), Some(None));
    assert_eq!(st.valid_until, None);
}

#[test]
fn a_confirmed_gateway_gives_the_default_route_a_hop_until_it_ages() {
    let mut r = router();
    let now = Instant::ZERO + Duration::from_secs(1);
    let learned = r.neighbor_changes();
    resolve_gateway(&mut r, now);
    assert!(
        r.neighbor_changes() > learned,
        "learning moves the neighbor count"
    );
    let st = r.fast_path_state(now);
    let hop = route(&st, "0.0.0.0/0")
        .and_then(|r| r.hop)
        .expect("gateway hop");
    assert_eq!(
        hop,
        FastHop {
            port: UPLINK,
            dst_mac: GW_MAC,
            src_mac: UPLINK_MAC,
            mtu: 1500,
            to_guest: false,
            coalesce_tcp: false
        }
    );
    let until = st.valid_until.expect("a deadline");
    assert!(until > now);
    // Past its confirmation the entry is the router's again (it verifies it first).
    let st = r.fast_path_state(until);
    assert_eq!(route(&st, "0.0.0.0/0").map(|r| r.hop), Some(None));
}

#[test]
fn a_removed_or_down_guest_is_gone_at_once() {
    let mut r = router();
    let g0 = r.generation();
    r.set_port_up(TAP2, false);
    assert_ne!(r.generation(), g0);
    let st = r.fast_path_state(Instant::ZERO);
    assert_eq!(route(&st, "192.0.2.20/32").map(|r| r.hop), Some(None));
    assert!(!st.ports.iter().any(|p| p.port == TAP2));
    assert!(!st.sources.iter().any(|s| s.port == TAP2));
    let g1 = r.generation();
    r.remove_guest("tap1").unwrap();
    assert_ne!(r.generation(), g1);
    let st = r.fast_path_state(Instant::ZERO);
    assert_eq!(route(&st, "192.0.2.10/32"), None);
    assert_eq!(route(&st, "203.0.113.0/28"), None);
    assert!(!st.ports.iter().any(|p| p.port == TAP1));
}

/// The gateway's state in the router's cache.
fn gw_state(r: &Router, now: Instant) -> Option<crate::neighbor::NeighborState> {
    r.neighbors(NetworkId(0))
        .and_then(|c| c.get(GW, now))
        .map(|i| i.state)
}

#[test]
fn a_gateway_the_fast_path_uses_is_verified_and_keeps_its_hop_meanwhile() {
    use crate::neighbor::NeighborState;
    let mut r = router();
    let now = Instant::ZERO + Duration::from_secs(1);
    resolve_gateway(&mut r, now);
    let st = r.fast_path_state(now);
    assert_eq!(st.neighbors, vec![(NetworkId(0), GW)]);
    let until = st.valid_until.expect("a deadline");
    // Its confirmation ran out while only the fast path forwarded to it: marked used,
    // it is verified (DELAY, then PROBE) and the default route keeps its hop.
    assert_eq!(r.fast_path_used(&st.neighbors, until), 1);
    assert_eq!(gw_state(&r, until), Some(NeighborState::Delay));
    let st = r.fast_path_state(until);
    assert!(route(&st, "0.0.0.0/0").and_then(|r| r.hop).is_some());
    assert!(st.valid_until.expect("a deadline") > until);
    // Marking it again while it is verified changes nothing.
    assert_eq!(r.fast_path_used(&st.neighbors, until), 0);
    let mut out = Outbox::new();
    let probe_at = until + Duration::from_secs(6);
    r.poll(probe_at, &mut out);
    assert_eq!(gw_state(&r, probe_at), Some(NeighborState::Probe));
    assert!(!out.is_empty(), "a unicast probe is sent");
    let st = r.fast_path_state(probe_at);
    assert!(route(&st, "0.0.0.0/0").and_then(|r| r.hop).is_some());
    // Unanswered, it fails: the hop is gone and the router has the frames again.
    let mut t = probe_at;
    for _ in 0..10 {
        t = t + Duration::from_secs(1);
        r.poll(t, &mut out);
    }
    assert_ne!(gw_state(&r, t), Some(NeighborState::Probe));
    let st = r.fast_path_state(t);
    assert_eq!(route(&st, "0.0.0.0/0").map(|r| r.hop), Some(None));
}

#[test]
fn a_verified_gateway_answers_and_is_confirmed_again() {
    use crate::neighbor::NeighborState;
    let mut r = router();
    let now = Instant::ZERO + Duration::from_secs(1);
    resolve_gateway(&mut r, now);
    let st = r.fast_path_state(now);
    let until = st.valid_until.expect("a deadline");
    r.fast_path_used(&st.neighbors, until);
    let mut out = Outbox::new();
    let t = until + Duration::from_secs(6);
    r.poll(t, &mut out);
    let mut reply = arp(UPLINK_MAC, GW_MAC, 2, GW_MAC, GW, UPLINK_MAC, ARP_SOURCE);
    r.process(UPLINK, &mut reply, t, &mut out);
    assert_eq!(gw_state(&r, t), Some(NeighborState::Reachable));
    let st = r.fast_path_state(t);
    assert!(route(&st, "0.0.0.0/0").and_then(|r| r.hop).is_some());
}

#[test]
fn hops_to_ports_taking_gso_sends_leave_tcp_data_to_the_router() {
    let mut r = router();
    let hop = |r: &Router| {
        route(&r.fast_path_state(Instant::ZERO), "192.0.2.10/32")
            .and_then(|r| r.hop)
            .expect("guest hop")
    };
    assert!(!hop(&r).coalesce_tcp);
    r.set_port_gso(TAP1, true);
    assert!(hop(&r).coalesce_tcp, "the router coalesces toward it");
    r.set_port_gso(TAP1, false);
    assert!(!hop(&r).coalesce_tcp);
}
