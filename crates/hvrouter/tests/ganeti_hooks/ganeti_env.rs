//! NIC environments built the way Ganeti builds them, line by line from its sources
//! (ganeti/ganeti):
//!
//! - v3.1.1 `lib/hypervisor/hv_base.py` `ConfigureNIC(cmd, instance, seq, nic, tap)`, run
//!   by `kvm-ifup` (which execs `/etc/ganeti/kvm-vif-bridge`) at instance start, NIC
//!   hot-plug and, for routed NICs on a migration target, in `FinalizeMigrationDst` after
//!   the migration;
//! - master `ConfigureNIC(..., extra_env)` adds `ACTION=up` and, on a migration target,
//!   `MIGRATION_PHASE` (`post` for routed NICs, from `FinalizeMigrationDst`);
//!   `DeConfigureNIC` the same with `ACTION=down`; both run `kvm-nic-setup`;
//! - `objects.Network.HooksDict()` for `NETWORK_*`.
//!
//! GRNET's fork calls `kvm-ifup-custom` / `kvm-ifdown-custom` with the same environment
//! as v3.1.1 (it predates `ACTION`).

/// Which Ganeti builds the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ganeti {
    /// 2.16 to 3.1.1 (and GRNET's fork).
    Released,
    /// master: `ACTION`, optional `MIGRATION_PHASE`.
    Master,
}

/// A Ganeti network (`objects.Network`).
#[derive(Debug, Clone)]
pub struct Network {
    pub name: &'static str,
    pub uuid: &'static str,
    pub tags: &'static [&'static str],
    pub network: Option<&'static str>,
    pub gateway: Option<&'static str>,
    pub network6: Option<&'static str>,
    pub gateway6: Option<&'static str>,
    pub mac_prefix: Option<&'static str>,
}

/// A NIC (`objects.NIC` with its `nicparams`).
#[derive(Debug, Clone)]
pub struct Nic {
    pub mac: &'static str,
    pub uuid: &'static str,
    pub mode: &'static str,
    pub link: &'static str,
    pub ip: Option<&'static str>,
    pub name: Option<&'static str>,
    /// `Some` when `nicparams` has a `vlan` key (every NIC of a 2.16+ cluster has it,
    /// often empty).
    pub vlan: Option<&'static str>,
    pub network: Option<Network>,
}

/// An instance: its name and tags.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: &'static str,
    pub tags: &'static [&'static str],
}

/// The environment `ConfigureNIC` (up) or master's `DeConfigureNIC` (down) passes, in
/// Ganeti's own order. `PATH` is Ganeti's `"%s:/sbin:/usr/sbin" % os.environ["PATH"]`;
/// the caller replaces it for the test.
pub fn nic_env(
    ganeti: Ganeti,
    action: &str,
    instance: &Instance,
    seq: usize,
    nic: &Nic,
    tap: &str,
    extra_env: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/bin:/bin:/sbin:/usr/sbin".into()),
        ("INSTANCE".into(), instance.name.into()),
        ("MAC".into(), nic.mac.into()),
        ("MODE".into(), nic.mode.into()),
        ("INTERFACE".into(), tap.into()),
        ("INTERFACE_INDEX".into(), seq.to_string()),
        ("INTERFACE_UUID".into(), nic.uuid.into()),
        ("TAGS".into(), instance.tags.join(" ")),
    ];
    if ganeti == Ganeti::Master {
        env.push(("ACTION".into(), action.into()));
    }
    let mut set = |k: &str, v: &str| env.push((k.into(), v.into()));
    if let Some(ip) = nic.ip {
        set("IP", ip);
    }
    if let Some(name) = nic.name {
        set("INTERFACE_NAME", name);
    }
    if !nic.link.is_empty() {
        set("LINK", nic.link);
    }
    if let Some(vlan) = nic.vlan {
        set("VLAN", vlan);
    }
    if let Some(n) = &nic.network {
        set("NETWORK_NAME", n.name);
        set("NETWORK_UUID", n.uuid);
        set("NETWORK_TAGS", &n.tags.join(" "));
        for (k, v) in [
            ("NETWORK_SUBNET", n.network),
            ("NETWORK_GATEWAY", n.gateway),
            ("NETWORK_SUBNET6", n.network6),
            ("NETWORK_GATEWAY6", n.gateway6),
            ("NETWORK_MAC_PREFIX", n.mac_prefix),
        ] {
            if let Some(v) = v {
                set(k, v);
            }
        }
    }
    if nic.mode == "bridged" {
        set("BRIDGE", nic.link);
    }
    if ganeti == Ganeti::Master {
        for (k, v) in extra_env {
            set(k, v);
        }
    }
    env
}

/// Ganeti network public_90 (IPv4 and IPv6, as GRNET's public networks are).
pub fn public_90() -> Network {
    Network {
        name: "public_90",
        uuid: "6fa459ea-ee8a-3ca4-894e-db77e160355e",
        tags: &["nfdhcpd"],
        network: Some("192.0.2.0/24"),
        gateway: Some("192.0.2.1"),
        network6: Some("2001:db8:90::/64"),
        gateway6: Some("2001:db8:90::1"),
        mac_prefix: Some("aa:00:00"),
    }
}

/// web1: a routed NIC on public_90 with a routed-prefix tag.
pub fn web1() -> (Instance, Nic) {
    (
        Instance {
            name: "web1.example.org",
            tags: &["owner:ops", "hvrouter:prefix:203.0.113.0/28"],
        },
        Nic {
            mac: "aa:00:00:5e:10:01",
            uuid: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            mode: "routed",
            link: "public_90",
            ip: Some("192.0.2.10"),
            name: Some("eth0"),
            vlan: Some(""),
            network: Some(public_90()),
        },
    )
}

/// A bridged NIC (no Ganeti network) on bridge `link`, optionally with a VLAN.
pub fn bridged(link: &'static str, vlan: Option<&'static str>) -> (Instance, Nic) {
    (
        Instance {
            name: "db1.example.org",
            tags: &[],
        },
        Nic {
            mac: "aa:00:00:5e:20:01",
            uuid: "0c5a1e7e-6c3a-4c3b-9a5b-3f0a3e2a4b11",
            mode: "bridged",
            link,
            ip: None,
            name: None,
            vlan,
            network: None,
        },
    )
}

/// An openvswitch NIC on switch `link`.
pub fn openvswitch(link: &'static str, vlan: Option<&'static str>) -> (Instance, Nic) {
    let (i, mut n) = bridged(link, vlan);
    n.mode = "openvswitch";
    (i, n)
}

/// Ganeti's instance-communication NIC (`gnt-instance add --communication`): routed, link
/// `communication_rt`, MAC prefix 52:54:00, name `ganeti:communication:INSTANCE`, on the
/// cluster's instance-communication network; the KVM driver names its tap `gnt.com.N`
/// (`hv_base.GenerateTapName`).
pub fn communication() -> (Instance, Nic) {
    (
        Instance {
            name: "web1.example.org",
            tags: &[],
        },
        Nic {
            mac: "52:54:00:5e:f0:01",
            uuid: "2d4f0e36-3b0c-4d6f-9d0a-7f4c3a5b6e21",
            mode: "routed",
            link: "communication_rt",
            ip: Some("169.254.0.10"),
            name: Some("ganeti:communication:web1.example.org"),
            vlan: Some(""),
            network: Some(Network {
                name: "gnt-com",
                uuid: "8c3b9f1e-0a8e-4d0b-b7a7-54d1d2f1c0aa",
                tags: &[],
                network: Some("169.254.0.0/16"),
                gateway: None,
                network6: None,
                gateway6: None,
                mac_prefix: Some("52:54:00"),
            }),
        },
    )
}

/// A routed NIC without an IP (IPv6-only on a network with `network6` only).
pub fn routed_without_ip() -> (Instance, Nic) {
    let (i, mut n) = web1();
    n.ip = None;
    n.network = Some(Network {
        network: None,
        gateway: None,
        ..public_90()
    });
    (i, n)
}
