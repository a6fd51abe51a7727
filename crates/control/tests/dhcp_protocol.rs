//! The DHCP additions to the control protocol: `hostname` on guests (old state files
//! and requests without it still load), `show_dhcp`, `explain_dhcp`, and their text.

#![allow(clippy::unwrap_used)]

use hvrouter_control::protocol::{
    DhcpExplanation, DhcpGuestInfo, DhcpLast, DhcpReport, DhcpTotals, Payload, Request, Response,
};
use hvrouter_control::render;
use hvrouter_control::state::{RuntimeState, StateStore};

const ADD: &str = r#"{"version":1,"op":"guest_add","tap":"tap3","mac":"52:54:00:12:34:56","ips":["192.0.2.10"],"network":"public_90""#;

#[test]
fn guest_add_carries_an_optional_checked_hostname() {
    let Request::GuestAdd(old) = Request::parse_line(format!("{ADD}}}").as_bytes()).unwrap() else {
        panic!("not a guest_add");
    };
    assert_eq!(old.hostname, None);
    let line = format!("{ADD},\"hostname\":\"vm1.example.org\"}}");
    let Request::GuestAdd(spec) = Request::parse_line(line.as_bytes()).unwrap() else {
        panic!("not a guest_add");
    };
    assert_eq!(spec.hostname.as_deref(), Some("vm1.example.org"));
    assert!(
        spec.same_as(&old),
        "the host name is not part of the guest's identity"
    );
    // Round trip.
    let again = Request::parse_line(
        Request::GuestAdd(spec.clone())
            .to_line()
            .trim_end()
            .as_bytes(),
    );
    assert_eq!(again.unwrap(), Request::GuestAdd(spec));
    let bad = format!("{ADD},\"hostname\":\"vm 1\"}}");
    let err = Request::parse_line(bad.as_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("guest tap3: hostname \"vm 1\" is invalid"),
        "{err}"
    );
    let long = format!("{ADD},\"hostname\":\"{}\"}}", "a".repeat(64));
    assert!(
        Request::parse_line(long.as_bytes()).is_err(),
        "a label of 64"
    );
    let fqdn = vec!["a".repeat(60); 4].join(".");
    let ok = format!("{ADD},\"hostname\":\"{fqdn}\"}}");
    assert!(
        Request::parse_line(ok.as_bytes()).is_ok(),
        "a 243-character name"
    );
    let long = format!(
        "{ADD},\"hostname\":\"{}\"}}",
        vec!["a".repeat(60); 5].join(".")
    );
    assert!(Request::parse_line(long.as_bytes()).is_err());
}

#[test]
fn state_files_without_hostnames_still_load_and_hostnames_persist() {
    let dir = std::env::temp_dir().join(format!("hvr-dhcp-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A version 2 file as written before DHCP.
    std::fs::write(
        dir.join("state.json"),
        r#"{"version":2,"boot_id":"b","guests_added":[{"tap":"tap3","mac":"52:54:00:12:34:56","ips":["192.0.2.10"],"network":"public_90"}],"guests_removed":[],"devices":{"tap3":7}}"#,
    )
    .unwrap();
    let store = StateStore::new(&dir);
    let loaded = store.load();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let mut spec = loaded.state.added().next().unwrap().clone();
    assert_eq!(spec.hostname, None);
    spec.hostname = Some("vm1".into());
    let mut state = RuntimeState::new();
    assert!(state.record_add(&spec, None, Some(7)));
    store.save(&state).unwrap();
    let back = store.load().state;
    assert_eq!(
        back.added().next().unwrap().hostname.as_deref(),
        Some("vm1")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn show_and_explain_dhcp_requests() {
    let show = Request::parse_line(br#"{"version":1,"op":"show_dhcp"}"#).unwrap();
    assert_eq!(show, Request::ShowDhcp);
    assert!(Request::parse_line(br#"{"version":1,"op":"show_dhcp","all":true}"#).is_err());
    let ex = Request::parse_line(br#"{"version":1,"op":"explain_dhcp","tap":"tap3"}"#).unwrap();
    assert_eq!(ex, Request::ExplainDhcp { tap: "tap3".into() });
    assert!(Request::parse_line(br#"{"version":1,"op":"explain_dhcp","tap":"a b"}"#).is_err());
    assert!(!ex.is_mutation());
}

fn guest() -> DhcpGuestInfo {
    DhcpGuestInfo {
        tap: "tap3".into(),
        network: "public_90".into(),
        enabled: true,
        address: "192.0.2.10".parse().unwrap(),
        hostname: Some("vm1".into()),
        lease_left_s: Some(3599),
        declines: 1,
        last: Some(DhcpLast {
            message: "DHCPREQUEST".into(),
            xid: 0x1234,
            ago_ms: 1500,
            outcome: "acked 192.0.2.10 (selecting)".into(),
            answered: true,
        }),
    }
}

#[test]
fn dhcp_payloads_render_and_round_trip() {
    let report = Response::Ok(Payload::Dhcp(DhcpReport {
        guests: vec![guest()],
        totals: DhcpTotals {
            messages: vec![
                ("received".into(), "request".into(), 2),
                ("sent".into(), "nak".into(), 0),
            ],
            drops: vec![("dhcp_spoofed_chaddr".into(), 4)],
        },
    }));
    let text = render::human(&report);
    for want in [
        "tap3",
        "192.0.2.10",
        "vm1",
        "3599s left",
        "DHCPREQUEST",
        "1.5s",
        "acked 192.0.2.10 (selecting)",
        "messages: received request 2\n",
        "dropped: dhcp_spoofed_chaddr 4\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    assert!(!text.contains("nak 0"));
    assert_eq!(
        Response::parse_line(report.to_line().trim_end().as_bytes()).unwrap(),
        report
    );
    let ex = Response::Ok(Payload::DhcpExplanation(Box::new(DhcpExplanation {
        guest: guest(),
        reply: vec!["offer 192.0.2.10/24".into(), "router 192.0.2.1".into()],
        tokens: 9,
    })));
    let text = render::human(&ex);
    for want in [
        "guest tap3 on network public_90: DHCP on",
        "    offer 192.0.2.10/24",
        "    router 192.0.2.1",
        "declined 1 times",
        "xid 0x00001234",
        "9 more requests",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    assert_eq!(
        Response::parse_line(ex.to_line().trim_end().as_bytes()).unwrap(),
        ex
    );
}

#[test]
fn a_runtime_hostname_on_a_configured_guest_is_kept_as_a_runtime_change() {
    let Request::GuestAdd(configured) = Request::parse_line(format!("{ADD}}}").as_bytes()).unwrap()
    else {
        panic!("not a guest_add");
    };
    let mut named = configured.clone();
    named.hostname = Some("vm3".into());
    let mut state = RuntimeState::new();
    assert!(state.record_add(&named, Some(&configured), None));
    assert_eq!(
        state.apply(std::slice::from_ref(&configured))[0]
            .hostname
            .as_deref(),
        Some("vm3")
    );
    assert!(
        !state.prune(std::slice::from_ref(&configured)),
        "kept: the file does not say vm3"
    );
    assert!(
        state.prune(&[named.clone()]),
        "dropped once the file agrees"
    );
    // Adding exactly the configured guest back drops the override.
    assert!(state.record_add(&named, Some(&configured), None));
    assert!(state.record_add(&configured, Some(&configured), None));
    assert!(state.is_empty());
}
