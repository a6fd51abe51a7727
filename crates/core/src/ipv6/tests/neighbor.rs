//! The uplink IPv6 neighbor cache with a fake clock: resolution, bounded queue, NUD.

use super::*;
use crate::ipv6::control6::Learn6;
use crate::ipv6::neighbor6::{push_solicit, Enqueue6, Neighbor6Cache, Solicit6};
use crate::neighbor::{NeighborConfig, NeighborState};

fn learn(addr: Ipv6Addr, mac: EthernetAddress, solicited: bool, override_: bool) -> Learn6 {
    Learn6 {
        addr,
        mac,
        solicited,
        override_,
    }
}

#[test]
fn resolves_the_gateway_and_releases_the_queue() {
    let t0 = Instant::from_secs(10);
    let mut c = Neighbor6Cache::new(NeighborConfig::default(), t0);
    assert_eq!(c.lookup(gw6(), t0), None);
    assert_eq!(
        c.enqueue(gw6(), &[1], t0),
        Enqueue6::Queued(Some(Solicit6::Multicast { target: gw6() }))
    );
    assert_eq!(c.enqueue(gw6(), &[2], t0), Enqueue6::Queued(None));
    assert_eq!(c.enqueue(gw6(), &[3], t0), Enqueue6::Queued(None));
    assert_eq!(
        c.enqueue(gw6(), &[4], t0),
        Enqueue6::QueuedDroppedOldest(None),
        "queue_len 3"
    );
    // An unsolicited advertisement for someone we never asked about creates nothing.
    assert!(!c.learn(&learn(a6("2001:db8:90::66"), GW_MAC, false, true), t0));
    assert!(c.get(a6("2001:db8:90::66")).is_none());
    // The solicited answer makes it REACHABLE and releases the latest three frames.
    assert!(c.learn(&learn(gw6(), GW_MAC, true, true), t0));
    let mut got = Vec::new();
    assert_eq!(c.drain_queue(gw6(), |f, m| got.push((f[0], m))), 3);
    assert_eq!(got, vec![(2, GW_MAC), (3, GW_MAC), (4, GW_MAC)]);
    assert_eq!(c.get(gw6()).unwrap().state, NeighborState::Reachable);
    assert_eq!(c.lookup(gw6(), t0), Some(GW_MAC));

    // Reachable time passes: STALE; used: DELAY; no confirmation: PROBE with a unicast NS.
    let t1 = t0 + Duration::from_secs(31);
    let mut sent = Vec::new();
    c.poll(t1, &mut |s| sent.push(s));
    assert_eq!(c.get(gw6()).unwrap().state, NeighborState::Stale);
    assert_eq!(c.lookup(gw6(), t1), Some(GW_MAC));
    assert_eq!(c.get(gw6()).unwrap().state, NeighborState::Delay);
    let t2 = t1 + Duration::from_secs(5);
    c.poll(t2, &mut |s| sent.push(s));
    assert_eq!(
        sent,
        vec![Solicit6::Unicast {
            target: gw6(),
            mac: GW_MAC
        }]
    );
    assert_eq!(c.get(gw6()).unwrap().state, NeighborState::Probe);
    // Override clear with another MAC: not taken (RFC 4861 7.2.5).
    c.learn(&learn(gw6(), mac(9), true, false), t2);
    assert_eq!(c.get(gw6()).unwrap().mac, Some(GW_MAC));
    // The probe is answered: REACHABLE again.
    c.learn(&learn(gw6(), GW_MAC, true, true), t2);
    assert_eq!(c.get(gw6()).unwrap().state, NeighborState::Reachable);
}

#[test]
fn unanswered_resolution_fails_and_drops_the_queue() {
    let t0 = Instant::from_secs(1);
    let mut c = Neighbor6Cache::new(NeighborConfig::default(), t0);
    let host = a6("2001:db8:90::77");
    c.enqueue(host, &[0; 100], t0);
    let mut sent = 0;
    let mut now = t0;
    let mut dropped = 0;
    for _ in 0..5 {
        now = now + Duration::from_secs(1);
        dropped += c.poll(now, &mut |_| sent += 1);
    }
    assert_eq!(sent, 2, "3 multicast solicitations in all (1 at enqueue)");
    assert_eq!(dropped, 1);
    assert_eq!(c.unresolved_drops, 1);
    // FAILED refuses frames at once, then is removed after failed_hold.
    let st = c.get(host).map(|i| i.state);
    assert!(st.is_none() || st == Some(NeighborState::Failed));
    for _ in 0..3 {
        now = now + Duration::from_secs(1);
        c.poll(now, &mut |_| {});
    }
    assert!(c.get(host).is_none());
}

#[test]
fn solicitation_frames() {
    let (t, _) = setup();
    let mut out = Outbox::new();
    let net = t.network(NET).unwrap();
    push_solicit(&mut out, net, Solicit6::Multicast { target: gw6() });
    let f = &out.frames()[0].data;
    assert_eq!(out.frames()[0].port, UPLINK);
    let eth = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(eth.dst_addr(), EthernetAddress([0x33, 0x33, 0xff, 0, 0, 1]));
    let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(ip.src_addr(), link_local_from_mac(UPLINK_MAC));
    assert_eq!(ip.dst_addr(), solicited_node(&gw6()));
    let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    let ndp = NdpRepr::parse(&ip.src_addr(), &ip.dst_addr(), &icmp).unwrap();
    assert_eq!(
        ndp,
        NdpRepr::NeighborSolicit {
            target: gw6(),
            options: ndp.options()
        }
    );
    assert_eq!(ndp.source_lladdr(), Some(UPLINK_MAC));
}
