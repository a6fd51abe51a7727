#![allow(clippy::unwrap_used)]

use super::*;

const CONFIG: &str = r#"
[networks.public_90]
uplink = "hvr-up90"
subnet = "192.0.2.0/24"
gateway = "192.0.2.1"
subnet6 = "2001:db8:90::/64"
gateway6 = "2001:db8:90::1"

[networks.public_80]
uplink = "hvr-up80"
subnet = "198.51.100.0/24"
gateway = "198.51.100.1"
uplink_mac = "02:00:00:00:80:01"

[guests.tap1]
mac = "02:00:00:00:00:0a"
ips = ["192.0.2.10"]
network = "public_90"
ip6 = ["2001:db8:90::10"]
eui64 = false
"#;

const UP90_MAC: [u8; 6] = [2, 0, 0, 0, 0x90, 0x90];

fn config() -> Config {
    Config::parse_str(CONFIG, "test.toml").unwrap()
}

#[test]
fn each_network_gets_its_uplink_port_in_configuration_order() {
    let config = config();
    let (router, entries, fixed) = tables(&config, 0, 1, Instant::ZERO, |_| None).unwrap();
    assert_eq!(entries.len(), 2);
    for (i, (e, net)) in entries.iter().zip(&config.networks).enumerate() {
        assert_eq!(e.id, PortId(i as u16));
        assert_eq!(e.ifname, net.uplink);
        let Kind::Uplink(id) = e.kind else {
            panic!("{e:?} is no uplink")
        };
        let n = router.tables().network(id).unwrap();
        assert_eq!((n.name.as_str(), n.uplink), (net.name.as_str(), e.id));
        // Not attached until the control thread opened it.
        assert_eq!((e.ifindex, e.link_up, e.bound), (None, false, None));
    }
    let n80 = router.tables().network_by_name("public_80").unwrap().id;
    assert_eq!(fixed, [n80], "only public_80's uplink MAC is configured");
    assert!(
        !router.is_follower(),
        "worker 0 resolves the uplinks' neighbors"
    );
}

#[test]
fn an_uplink_takes_its_devices_mac_unless_configured_or_missing() {
    let config = config();
    let mac_of = |dev: &str| (dev == "hvr-up90").then_some(UP90_MAC);
    let (router, _, _) = tables(&config, 0, 1, Instant::ZERO, mac_of).unwrap();
    let mac = |name: &str| router.tables().network_by_name(name).unwrap().uplink_mac;
    assert_eq!(mac("public_90"), EthernetAddress(UP90_MAC));
    assert_eq!(mac("public_80"), EthernetAddress([2, 0, 0, 0, 0x80, 1]));
    // A missing device: the placeholder until it appears; the configured MAC stays.
    let (router, _, _) = tables(&config, 0, 1, Instant::ZERO, |_| None).unwrap();
    let mac = |name: &str| router.tables().network_by_name(name).unwrap().uplink_mac;
    assert_eq!(mac("public_90"), PLACEHOLDER_UPLINK_MAC);
    assert_eq!(mac("public_80"), EthernetAddress([2, 0, 0, 0, 0x80, 1]));
}

#[test]
fn ipv6_sides_are_set_up_before_the_guests_are_added() {
    let config = config();
    let (router, _, _) = tables(&config, 1, 2, Instant::ZERO, |_| None).unwrap();
    let id = |name: &str| router.tables().network_by_name(name).unwrap().id;
    let t6 = router.ipv6().tables6();
    assert!(t6.network6(id("public_90")).is_some());
    assert!(t6.network6(id("public_80")).is_none(), "no subnet6");
    // The configured guest's IPv6 side is recorded by name, for when it is added.
    let side = router.ipv6().guest6_override("tap1").unwrap();
    assert_eq!(
        side.addrs,
        ["2001:db8:90::10".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert!(!side.eui64);
    assert!(
        router.tables().guests().iter().next().is_none(),
        "no guest yet"
    );
    assert!(
        router.is_follower(),
        "worker 1 follows worker 0 for the uplinks"
    );
}
