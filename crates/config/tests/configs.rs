//! The shipped configurations load, validate and turn into core tables; specs and diffs.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use hvrouter_config::{diff, Config, ConfigError, PollMode, XdpMode};
use hvrouter_core::tables::Tables;
use hvrouter_core::{NetworkId, PortId};
use wire::{EthernetAddress, Ipv4Addr};

fn config_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name)
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Load every network and guest of `c` into core tables, ports numbered in file order
/// (networks first), the way the binary will.
fn tables_of(c: &Config) -> Tables {
    let mut t = Tables::new();
    let mut port = 0u16;
    for n in &c.networks {
        let spec = n.network_spec(
            PortId(port),
            EthernetAddress([2, 0, 0, 0, 0xff, port as u8]),
        );
        t.add_network(spec).unwrap();
        port += 1;
    }
    for g in &c.guests {
        let net = t.network_by_name(&g.network).unwrap().id;
        t.add_guest(g.guest_spec(net, PortId(port))).unwrap();
        port += 1;
    }
    t
}

#[test]
fn every_shipped_config_is_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            tables_of(&c);
            seen += 1;
        }
    }
    assert!(seen >= 2, "configs/demo.toml and configs/example.toml");
}

#[test]
fn demo_config() {
    let c = Config::load(config_path("demo.toml")).unwrap();
    assert_eq!(c.dataplane.xdp_mode, XdpMode::Auto);
    assert_eq!(c.networks.len(), 1);
    let n = &c.networks[0];
    assert_eq!(n.name, "public_90");
    assert_eq!(n.uplink, "hvr-up0");
    assert_eq!(n.subnet, "192.0.2.0/24".parse().unwrap());
    assert_eq!(n.gateway, ip("192.0.2.1"));
    assert_eq!(n.arp_source, Some(ip("192.0.2.254")));
    let guests: Vec<(&str, Vec<Ipv4Addr>, bool)> = c
        .guests
        .iter()
        .map(|g| (g.tap.as_str(), g.ips.clone(), g.mac.is_local()))
        .collect();
    assert_eq!(
        guests,
        [
            ("hvr-g1", vec![ip("192.0.2.10")], true),
            ("hvr-g2", vec![ip("192.0.2.20")], true),
            ("hvr-tap3", vec![ip("192.0.2.30")], true),
        ]
    );
    assert_eq!(
        c.guest("hvr-tap3").unwrap().routed_prefixes,
        vec!["203.0.113.0/28".parse().unwrap()]
    );
    let t = tables_of(&c);
    let net = t.network_by_name("public_90").unwrap().id;
    assert_eq!(
        t.is_hosted_guest_ip(net, ip("192.0.2.20")).unwrap().name,
        "hvr-g2"
    );
    assert!(t.is_hosted_guest_ip(net, ip("192.0.2.77")).is_none());
}

#[test]
fn example_config() {
    let c = Config::load(config_path("example.toml")).unwrap();
    assert_eq!(c.dataplane.poll, PollMode::Busy);
    assert_eq!(c.dataplane.cpus, Some(vec![1]));
    assert_eq!(c.networks.len(), 2);
    assert_eq!(c.guests.len(), 3);
    assert_eq!(c.guests_of("public_80").count(), 1);
}

#[test]
fn specs() {
    let c = Config::load(config_path("demo.toml")).unwrap();
    let device = EthernetAddress([2, 0, 0, 0, 0, 0x99]);
    let spec = c.networks[0].network_spec(PortId(4), device);
    assert_eq!(spec.uplink, PortId(4));
    assert_eq!(
        spec.uplink_mac, device,
        "the device's MAC when uplink_mac is not set"
    );
    assert_eq!(
        spec.guest_mac,
        EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff])
    );
    assert_eq!(spec.mtu, 1500);
    let mut n = c.networks[0].clone();
    n.uplink_mac = Some(EthernetAddress([2, 0, 0, 0, 0, 1]));
    assert_eq!(
        n.network_spec(PortId(4), device).uplink_mac,
        EthernetAddress([2, 0, 0, 0, 0, 1])
    );

    let g = c
        .guest("hvr-tap3")
        .unwrap()
        .guest_spec(NetworkId(7), PortId(9));
    assert_eq!(g.name, "hvr-tap3");
    assert_eq!((g.network, g.port), (NetworkId(7), PortId(9)));
    assert_eq!(g.ips, vec![ip("192.0.2.30")]);
    assert_eq!(g.extra_prefixes, vec!["203.0.113.0/28".parse().unwrap()]);
}

#[test]
fn load_reports_the_path() {
    let dir = std::env::temp_dir().join(format!("hvrouter-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[dataplane]\n\nworkers = 0\n").unwrap();
    let e = Config::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: dataplane.workers: 0 is out of range: workers must be between 1 and 256",
            path.display()
        )
    );
    std::fs::write(&path, [0xff, 0xfe, b'\n']).unwrap();
    assert!(matches!(Config::load(&path), Err(ConfigError::Read { .. })));
    std::fs::remove_dir_all(&dir).unwrap();

    let missing = dir.join("missing.toml");
    let e = Config::load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.problems().is_empty());
    assert!(e
        .to_string()
        .starts_with(&format!("{}: cannot read", missing.display())));
}

#[test]
fn diffs() {
    let old = Config::load(config_path("example.toml")).unwrap();
    assert!(diff(&old, &old).is_empty());

    let mut new = old.clone();
    // Same data, other order: not a change.
    new.guests[1].ips.reverse();
    assert!(diff(&old, &new).is_empty());

    new.guests.retain(|g| g.tap != "tap0");
    new.guests[0].ips.push(ip("192.0.2.13"));
    let mut added = new.guests[0].clone();
    added.tap = "tap7".into();
    added.ips = vec![ip("192.0.2.77")];
    new.guests.push(added);
    new.networks[1].mtu = 9000;
    let mut net = new.networks[0].clone();
    net.name = "public_70".into();
    new.networks.push(net);
    new.networks.remove(0);
    new.icmp.burst = 1;
    let d = diff(&old, &new);
    assert_eq!(d.networks_added, ["public_70"]);
    assert_eq!(d.networks_removed, ["public_90"]);
    assert_eq!(d.networks_changed, ["public_80"]);
    assert_eq!(d.guests_added, ["tap7"]);
    assert_eq!(d.guests_removed, ["tap0"]);
    assert_eq!(d.guests_changed, ["tap1"]);
    assert!(d.icmp_changed && !d.router_changed && !d.dataplane_changed);
    assert!(!d.is_empty());
    // tap2 did not change but its network did.
    assert_eq!(d.guests_to_reapply(&new), ["tap1", "tap2", "tap7"]);
}
