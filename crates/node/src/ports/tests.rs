//! The port table on a worker: steering sets from the tables, and guests added,
//! replaced and removed through the real [`Ports`] (its UMEM needs an AF_XDP socket:
//! CAP_NET_RAW; those tests say so and return without it). No device is opened: the
//! requests to open are read from the effects left for the control thread.

#![allow(clippy::unwrap_used)]

use hvrouter_control::protocol::{Change, GuestSpec};
use hvrouter_runtime::plan::AddDecision;

use super::owners::Replica;
use super::*;
use crate::fixtures::{self, spec};
use crate::guests::Added;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn an_uplink_steers_its_networks_guests_and_their_prefixes() {
    let (mut r, n90, n80) = fixtures::router();
    let mut tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10", "192.0.2.11"]);
    tap1.routed_prefixes = vec!["203.0.113.0/28".parse().unwrap()];
    fixtures::add(&mut r, &tap1, 2);
    fixtures::add(
        &mut r,
        &spec("tap3", "public_80", 0x0c, &["198.51.100.10"]),
        3,
    );
    // 0.0.0.0: the source of the router's own ARP probes, so their answers reach it.
    assert_eq!(
        steered_ips(&r, n90),
        [ip("0.0.0.0"), ip("192.0.2.10"), ip("192.0.2.11")]
    );
    assert_eq!(steered_ips(&r, n80), [ip("0.0.0.0"), ip("198.51.100.10")]);
    assert_eq!(
        steered_prefixes(&r, n90),
        ["203.0.113.0/28".parse::<Ipv4Net>().unwrap()]
    );
    assert!(steered_prefixes(&r, n80).is_empty());
    r.remove_guest("tap1").unwrap();
    assert_eq!(steered_ips(&r, n90), [ip("0.0.0.0")]);
    assert!(steered_prefixes(&r, n90).is_empty());
}

/// Worker `worker` of `workers`: the fixture's router in a pipeline, and a port table
/// with its two uplinks on a small UMEM; `None` without CAP_NET_RAW.
fn worker(worker: usize, workers: usize) -> Option<(Pipeline<XdpPort>, Ports)> {
    let (r, n90, n80) = fixtures::router();
    let uplink = |id: u16, ifname: &str, net| Entry {
        id: PortId(id),
        ifname: ifname.into(),
        kind: Kind::Uplink(net),
        ifindex: None,
        link_up: false,
        bound: None,
    };
    let entries = vec![uplink(0, "hvr-up90", n90), uplink(1, "hvr-up80", n80)];
    let umem = UmemConfig {
        frame_count: 4096,
        frame_size: 4096,
        headroom: 0,
    };
    let mut ports = match Ports::new(entries, umem, XdpPortConfig::default()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: a UMEM needs an AF_XDP socket (CAP_NET_RAW): {e}");
            return None;
        }
    };
    ports.set_worker(worker, workers);
    let mut pipe = Pipeline::new(r, 64);
    ports.sync_owners(&mut pipe);
    Some((pipe, ports))
}

/// The requests to open left for the control thread: (port, device, bound, why).
fn opens(ports: &mut Ports) -> Vec<(PortId, String, Option<u32>, Why)> {
    (ports.take_effects().opens.into_iter())
        .map(|o| (o.id, o.ifname, o.bound, o.why))
        .collect()
}

fn add(
    pipe: &mut Pipeline<XdpPort>,
    ports: &mut Ports,
    s: &GuestSpec,
    bound: Option<u32>,
    stale: &[&str],
) -> Result<Added, String> {
    let stale = stale.iter().map(|s| s.to_string()).collect();
    ports.apply_add(pipe, s, bound, AddDecision::Add { stale })
}

/// The guest on port `id` in the router, by name.
fn guest_on(pipe: &Pipeline<XdpPort>, id: u16) -> Option<String> {
    let g = pipe.router().tables().guest_by_port(PortId(id))?;
    Some(g.name.clone())
}

#[test]
fn a_guest_added_takes_a_slot_bound_to_its_device_and_asks_for_its_tap() {
    let Some((mut pipe, mut ports)) = worker(0, 1) else {
        return;
    };
    let tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    let added = add(&mut pipe, &mut ports, &tap1, Some(12), &[]).unwrap();
    assert_eq!(
        added,
        Added {
            change: Change::Added,
            replaced: vec![]
        }
    );
    let e = &ports.entries[2];
    assert_eq!(
        (e.kind, e.ifname.as_str(), e.bound),
        (Kind::Guest, "tap1", Some(12))
    );
    assert_eq!(guest_on(&pipe, 2).as_deref(), Some("tap1"));
    assert!(!ports.is_up(PortId(2)), "down until its tap is attached");
    assert_eq!(
        opens(&mut ports),
        [(PortId(2), "tap1".to_string(), Some(12), Why::Add)]
    );
    // The same guest again, now from the configuration: it follows its name.
    let again = ports.apply_add(&mut pipe, &tap1, None, AddDecision::Unchanged);
    assert_eq!(again.unwrap().change, Change::Unchanged);
    assert_eq!(ports.entries[2].bound, None);
    assert!(opens(&mut ports).is_empty(), "nothing to open again");
    // The uplinks, opened at start, steer the guest's address.
    ports.open_all(&mut pipe);
    let all = ports.take_effects().opens;
    let up90 = all.iter().find(|o| o.id == PortId(0)).unwrap();
    assert_eq!(up90.steered_ips, [ip("0.0.0.0"), ip("192.0.2.10")]);
    assert_eq!(
        all.iter().map(|o| o.id).collect::<Vec<_>>(),
        [PortId(0), PortId(1), PortId(2)]
    );
}

#[test]
fn a_removed_guests_slot_goes_to_the_next_and_a_replaced_guest_gives_up_its_own() {
    let Some((mut pipe, mut ports)) = worker(0, 1) else {
        return;
    };
    let tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    let tap3 = spec("tap3", "public_80", 0x0c, &["198.51.100.10"]);
    add(&mut pipe, &mut ports, &tap1, Some(12), &[]).unwrap();
    add(&mut pipe, &mut ports, &tap3, Some(13), &[]).unwrap();
    ports.remove_guest(&mut pipe, "tap1").unwrap();
    assert_eq!(ports.entries[2].kind, Kind::Unused);
    assert_eq!(guest_on(&pipe, 2), None);
    assert_eq!(
        ports.remove_guest(&mut pipe, "tap1").unwrap_err(),
        "no such guest: tap1"
    );
    let tap2 = spec("tap2", "public_90", 0x14, &["192.0.2.20"]);
    add(&mut pipe, &mut ports, &tap2, Some(14), &[]).unwrap();
    assert_eq!(ports.entries[2].ifname, "tap2", "the freed slot");
    assert_eq!(ports.entries.len(), 4);
    // A new VM takes tap2's address after tap2's tap is gone: tap2 is removed first.
    let tap4 = spec("tap4", "public_90", 0x16, &["192.0.2.20"]);
    opens(&mut ports);
    let added = add(&mut pipe, &mut ports, &tap4, Some(15), &["tap2"]).unwrap();
    assert_eq!(added.replaced, ["tap2"]);
    assert!(pipe.router().tables().guest("tap2").is_none());
    assert_eq!(guest_on(&pipe, 2).as_deref(), Some("tap4"));
    let e = &ports.entries[2];
    assert_eq!((e.ifname.as_str(), e.bound), ("tap4", Some(15)));
    assert_eq!(
        opens(&mut ports),
        [(PortId(2), "tap4".to_string(), Some(15), Why::Add)]
    );
}

#[test]
fn a_refused_guest_leaves_no_slot_and_asks_for_nothing() {
    let Some((mut pipe, mut ports)) = worker(0, 1) else {
        return;
    };
    // Not inside its network's subnet: refused by the tables.
    let wrong = spec("tap1", "public_90", 0x0a, &["198.51.100.10"]);
    assert!(add(&mut pipe, &mut ports, &wrong, Some(12), &[]).is_err());
    // An IPv6 side the network's IPv6 refuses (outside subnet6; `guest add` checks it
    // before, `apply_add` again): refused, not half added.
    let mut v6 = spec("tap2", "public_90", 0x14, &["192.0.2.20"]);
    v6.ipv6 = Some(fixtures::v6(&["2001:db8:91::5"], false, &[]));
    let e = add(&mut pipe, &mut ports, &v6, Some(13), &[]).unwrap_err();
    assert!(e.starts_with("guest tap2: IPv6: "), "{e}");
    assert!(pipe.router().tables().guest("tap2").is_none());
    let e = add(
        &mut pipe,
        &mut ports,
        &spec("tap3", "public_70", 1, &[]),
        None,
        &[],
    );
    assert_eq!(e.unwrap_err(), "guest tap3: no such network \"public_70\"");
    assert!(
        ports.entries.iter().all(|e| e.kind != Kind::Guest),
        "{:?}",
        ports.entries
    );
    assert!(opens(&mut ports).is_empty());
}

#[test]
fn with_two_workers_each_opens_only_the_ports_it_owns_and_tells_the_other() {
    let tap1 = spec("tap1", "public_90", 0x0a, &["192.0.2.10"]);
    let tap3 = spec("tap3", "public_80", 0x0c, &["198.51.100.10"]);
    for w in [0, 1] {
        let Some((mut pipe, mut ports)) = worker(w, 2) else {
            return;
        };
        let opened = |ports: &mut Ports| -> Vec<PortId> {
            let mut ids: Vec<_> = opens(ports).into_iter().map(|o| o.0).collect();
            ids.sort_unstable();
            ids
        };
        // At start the uplinks are worker 0's.
        ports.open_all(&mut pipe);
        let uplinks = if w == 0 {
            vec![PortId(0), PortId(1)]
        } else {
            vec![]
        };
        assert_eq!(opened(&mut ports), uplinks, "worker {w}");
        // Every worker applies every add, in the same order: the same slots. Port 2 is
        // worker 0's, port 3 worker 1's.
        add(&mut pipe, &mut ports, &tap1, None, &[]).unwrap();
        add(&mut pipe, &mut ports, &tap3, None, &[]).unwrap();
        let fx = ports.take_effects();
        let mine = PortId(2 + w as u16);
        assert_eq!(fx.opens.iter().map(|o| o.id).collect::<Vec<_>>(), [mine]);
        assert_eq!(ports.owned_rows(), [w == 0, w == 0, w == 0, w == 1]);
        // What the owner marks down until attached, the other worker is told; nothing
        // about a port it does not own.
        assert!(fx.replicas.contains(&Replica::PortUp(mine, false)));
        assert!(
            fx.replicas
                .iter()
                .all(|r| matches!(r, Replica::PortUp(id, _) if *id == mine)),
            "{:?}",
            fx.replicas
        );
    }
}
