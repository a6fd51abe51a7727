//! Settings validation and the helpers of the stage; whole scenarios are in
//! `crates/dataplane/tests/dhcp.rs`.

use wire::dhcp::LeaseTimes;
use wire::Ipv4Addr;

use super::settings::MAX_HOSTNAME_LEN;
use super::*;

fn settings(domain: Option<&str>, search: &[&str]) -> Result<DhcpSettings, SettingsError> {
    DhcpSettings::new(
        true,
        vec![Ipv4Addr::new(198, 51, 100, 53)],
        domain.map(str::to_string),
        search.iter().map(|s| s.to_string()).collect(),
        86400,
    )
}

#[test]
fn lease_times_follow_nfdhcpd_and_rfc_2131() {
    let s = DhcpSettings::default();
    assert!(s.enabled);
    assert_eq!(
        s.lease_times(),
        LeaseTimes {
            lease: 604_800,
            renewal: 600,
            rebinding: 529_200
        }
    );
    let short = DhcpSettings::new(true, vec![], None, vec![], 600).unwrap();
    assert_eq!(short.lease_times().renewal, 300);
    assert_eq!(short.lease_times().rebinding, 525);
}

#[test]
fn settings_are_validated() {
    assert!(settings(Some("example.org"), &["example.org", "lab.example.org"]).is_ok());
    assert!(matches!(
        settings(Some("bad domain"), &[]),
        Err(SettingsError::BadDomain { .. })
    ));
    assert!(matches!(
        settings(None, &["a..b"]),
        Err(SettingsError::BadSearch { .. })
    ));
    let four = vec![Ipv4Addr::new(198, 51, 100, 1); 4];
    assert_eq!(
        DhcpSettings::new(true, four, None, vec![], 86400),
        Err(SettingsError::TooManyDnsServers(4))
    );
    assert_eq!(
        DhcpSettings::new(true, vec![Ipv4Addr::BROADCAST], None, vec![], 86400),
        Err(SettingsError::DnsNotUnicast(Ipv4Addr::BROADCAST))
    );
    assert_eq!(
        DhcpSettings::new(true, vec![], None, vec![], 59),
        Err(SettingsError::LeaseTooShort(59))
    );
    // A search list too long for a 576-byte reply with the longest host name.
    let long: Vec<String> = (0..12).map(|i| format!("zone{i}.example.org")).collect();
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    assert!(matches!(
        settings(Some("example.org"), &long),
        Err(SettingsError::TooLarge { .. })
    ));
}

#[test]
fn hostnames_are_checked() {
    assert!(check_hostname("vm1.example.org").is_ok());
    assert!(check_hostname(&"a".repeat(63)).is_ok());
    assert!(check_hostname(&"a".repeat(64)).is_err(), "one label of 64");
    let fqdn = vec!["a".repeat(60); 4].join(".");
    assert_eq!(fqdn.len(), 243);
    assert!(check_hostname(&fqdn).is_ok());
    let too_long = vec!["a".repeat(50); 5].join(".");
    assert_eq!(too_long.len(), MAX_HOSTNAME_LEN + 1);
    assert!(check_hostname(&too_long).is_err());
    assert!(check_hostname("vm 1").is_err());
    assert!(check_hostname("").is_err());
    let mut server = DhcpServer::default();
    assert!(server.set_hostname("tap1", Some("vm_1")).is_ok());
    assert_eq!(server.hostname("tap1"), Some("vm_1"));
    assert!(server.set_hostname("tap1", Some("-x")).is_err());
    assert_eq!(
        server.hostname("tap1"),
        Some("vm_1"),
        "a bad name changes nothing"
    );
    server.set_hostname("tap1", None).unwrap();
    assert_eq!(server.hostname("tap1"), None);
}

#[test]
fn dhcp_frames_are_recognised_by_port() {
    let mut f = vec![0u8; 14 + 20 + 8];
    f[12..14].copy_from_slice(&[8, 0]);
    f[14] = 0x45;
    f[23] = 17;
    f[34..38].copy_from_slice(&[0, 68, 0, 67]);
    assert!(is_dhcp(&f));
    f[34..38].copy_from_slice(&[0, 67, 0, 68]);
    assert!(is_dhcp(&f), "a server message is the stage's too (rogue)");
    f[34..38].copy_from_slice(&[0, 68, 0, 53]);
    assert!(!is_dhcp(&f));
    f[23] = 6;
    f[34..38].copy_from_slice(&[0, 68, 0, 67]);
    assert!(!is_dhcp(&f), "TCP to port 67 is not DHCP");
    f[23] = 17;
    f[14] = 0x4f; // IHL 15: the ports would lie past the frame
    assert!(!is_dhcp(&f));
}

#[test]
fn per_network_settings_follow_the_config() {
    let mut cfg = DhcpConfig::default();
    cfg.networks.insert("off".into(), DhcpSettings::disabled());
    assert!(cfg.for_network("public_90").enabled);
    assert!(!cfg.for_network("off").enabled);
    let mut server = DhcpServer::new(cfg);
    server.network_added(crate::NetworkId(1), "off");
    assert!(!server.settings(crate::NetworkId(1)).enabled);
    assert!(server.settings(crate::NetworkId(0)).enabled, "default");
    assert!(
        server.settings(crate::NetworkId(7)).enabled,
        "unknown: default"
    );
}
