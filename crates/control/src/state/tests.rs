use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use super::*;
use crate::protocol::{Change, GuestChange, Payload, Request, Response};
use crate::server::Command;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("hvr-state-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn guest(tap: &str, last: u8) -> GuestSpec {
    GuestSpec {
        tap: tap.into(),
        mac: wire::EthernetAddress([0x52, 0x54, 0, 0, 0, last]),
        ips: vec![wire::Ipv4Addr::new(192, 0, 2, last)],
        network: "public_90".into(),
        routed_prefixes: vec![],
        hostname: None,
        ipv6: None,
    }
}

fn state_with(taps: &[(&str, u8)]) -> RuntimeState {
    let mut s = RuntimeState::new();
    for &(tap, last) in taps {
        s.record_add(&guest(tap, last), None, None);
    }
    s
}

#[test]
fn overlay_records_changes_relative_to_the_config() {
    let config = vec![guest("tap1", 1), guest("tap2", 2)];
    let mut s = RuntimeState::new();
    assert!(s.is_empty());
    // A new guest, then the same again: idempotent.
    assert!(s.record_add(&guest("tap9", 9), None, None));
    assert!(!s.record_add(&guest("tap9", 9), None, None));
    // A configured guest added back with its configured data: no override.
    assert!(!s.record_add(&guest("tap1", 1), Some(&config[0]), None));
    // A configured guest replaced, then removed, then restored.
    assert!(s.record_add(&guest("tap2", 22), Some(&config[1]), None));
    assert!(s.record_del("tap2", true));
    assert!(!s.record_del("tap2", true));
    assert_eq!(s.removed().collect::<Vec<_>>(), vec!["tap2"]);
    let taps = |v: Vec<GuestSpec>| v.into_iter().map(|g| g.tap).collect::<Vec<_>>();
    assert_eq!(taps(s.apply(&config)), vec!["tap1", "tap9"]);
    assert!(s.record_add(&guest("tap2", 2), Some(&config[1]), None));
    assert_eq!(taps(s.apply(&config)), vec!["tap1", "tap2", "tap9"]);
    // Removing a runtime guest drops it; removing an unknown one changes nothing.
    assert!(s.record_del("tap9", false));
    assert!(!s.record_del("tap9", false));
    assert!(s.is_empty());
    // After a reload the configuration may agree with the overrides: prune them.
    s.record_add(&guest("tap5", 5), None, None);
    s.record_del("tap1", true);
    s.record_del("tap7", true);
    let new_config = vec![guest("tap1", 1), guest("tap5", 5)];
    assert!(s.prune(&new_config));
    assert_eq!(s.removed().collect::<Vec<_>>(), vec!["tap1"]);
    assert_eq!(s.added().count(), 0);
    assert!(!s.prune(&new_config));
}

#[test]
fn round_trip_and_file_format() {
    let dir = TempDir::new("roundtrip");
    let store = StateStore::new(dir.path().join("sub"));
    let empty = store.load();
    assert_eq!(empty.source, LoadSource::Empty);
    assert!(empty.warnings.is_empty() && empty.state.is_empty());

    let mut s = state_with(&[("tap3", 3), ("tap4", 4)]);
    s.record_del("tap1", true);
    store.save(&s).unwrap();
    let loaded = store.load();
    assert_eq!(loaded.state, s);
    assert_eq!(loaded.source, LoadSource::Current);
    assert!(loaded.warnings.is_empty());

    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store.file()), 0o600);
    assert_eq!(mode(&dir.path().join("sub")), 0o700);
    let text = fs::read_to_string(store.file()).unwrap();
    assert!(
        text.starts_with("{\n  \"version\": 2,\n  \"guests_added\": ["),
        "{text}"
    );
    assert!(
        text.contains("\"guests_removed\": [\n    \"tap1\"\n  ]"),
        "{text}"
    );
    assert!(!dir.path().join("sub/state.json.tmp").exists());
}

#[test]
fn corrupt_file_falls_back_to_the_backup_and_is_kept() {
    let dir = TempDir::new("corrupt");
    let store = StateStore::new(dir.path());
    let s1 = state_with(&[("tap3", 3)]);
    let s2 = state_with(&[("tap3", 3), ("tap4", 4)]);
    store.save(&s1).unwrap();
    store.save(&s2).unwrap(); // state.json = s2, state.json.prev = s1
    let full = fs::read(store.file()).unwrap();
    fs::write(store.file(), &full[..full.len() / 2]).unwrap(); // torn by a bad disk

    let loaded = store.load();
    assert_eq!(loaded.source, LoadSource::Backup);
    assert_eq!(loaded.state, s1);
    let w: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("state.json: not valid JSON"), "{w:?}");
    assert!(w[1].contains("state.json.prev: using this backup"), "{w:?}");

    // The next save keeps the bad file aside and does not back it up over the good one.
    let s3 = state_with(&[("tap5", 5)]);
    store.save(&s3).unwrap();
    assert_eq!(
        fs::read(dir.path().join("state.json.corrupt")).unwrap(),
        &full[..full.len() / 2]
    );
    assert_eq!(store.load().state, s3);
    fs::remove_file(store.file()).unwrap();
    let loaded = store.load();
    assert_eq!((loaded.source, loaded.state), (LoadSource::Backup, s1));
    assert!(loaded.warnings[0]
        .reason
        .contains("missing, but a backup exists"));
}

#[test]
fn leftover_tmp_is_ignored() {
    let dir = TempDir::new("tmp");
    let store = StateStore::new(dir.path());
    let s = state_with(&[("tap3", 3)]);
    store.save(&s).unwrap();
    fs::write(
        dir.path().join("state.json.tmp"),
        b"{\"version\":1,\"guests_ad",
    )
    .unwrap();
    let loaded = store.load();
    assert_eq!(loaded.state, s);
    assert_eq!(loaded.source, LoadSource::Current);
    assert!(loaded.warnings.is_empty());
    store.save(&state_with(&[])).unwrap();
    assert!(!dir.path().join("state.json.tmp").exists());
    assert!(store.load().state.is_empty());
}

#[test]
fn bad_contents_are_named() {
    let dir = TempDir::new("bad");
    fs::create_dir_all(dir.path()).unwrap();
    let store = StateStore::new(dir.path());
    let reason = |contents: &str| {
        fs::write(store.file(), contents).unwrap();
        let l = store.load();
        assert_eq!(l.source, LoadSource::Empty);
        assert!(l.state.is_empty());
        l.warnings[0].reason.clone()
    };
    let r = reason("{\"version\":3,\"guests_added\":[],\"guests_removed\":[]}");
    assert!(r.contains("state version 3 is not supported"), "{r}");
    let r = reason("{\"guests_added\":[]}");
    assert!(r.contains("no \"version\""), "{r}");
    let r = reason("{\"version\":1,\"guests_added\":[],\"guests_removed\":[],\"x\":1}");
    assert!(r.contains("unknown field `x`"), "{r}");
    let r = reason("{\"version\":1,\"guests_added\":[],\"guests_removed\":[\"tap1\",\"tap1\"]}");
    assert!(r.contains("guest tap1 is listed twice"), "{r}");
    let g = "{\"tap\":\"tap1\",\"mac\":\"ff:ff:ff:ff:ff:ff\",\"ips\":[\"192.0.2.1\"],\"network\":\"n\"}";
    let r = reason(&format!(
        "{{\"version\":1,\"guests_added\":[{g}],\"guests_removed\":[]}}"
    ));
    assert!(r.contains("not a unicast address"), "{r}");
    let l = store.load();
    assert!(
        l.warnings
            .last()
            .unwrap()
            .reason
            .contains("no usable state"),
        "{l:?}"
    );
    assert!(l
        .warnings
        .last()
        .unwrap()
        .reason
        .contains("state.json.corrupt"));
}

#[test]
fn unreadable_file_and_bad_backup() {
    let dir = TempDir::new("unreadable");
    let store = StateStore::new(dir.path());
    fs::create_dir_all(store.file()).unwrap(); // state.json is a directory: EISDIR
    fs::write(dir.path().join("state.json.prev"), b"garbage").unwrap();
    let l = store.load();
    assert_eq!(l.source, LoadSource::Empty);
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert!(w[0].contains("state.json: unreadable"), "{w:?}");
    assert!(w[1].contains("state.json.prev: not valid JSON"), "{w:?}");
    // Saving sets the unreadable one aside and works.
    let s = state_with(&[("tap3", 3)]);
    store.save(&s).unwrap();
    assert!(dir.path().join("state.json.corrupt").is_dir());
    assert_eq!(store.load().state, s);
}

fn command() -> (Command, std::sync::mpsc::Receiver<Response>) {
    Command::new(
        Request::GuestDel { tap: "tap3".into() },
        Instant::now() + Duration::from_secs(60),
    )
}

fn removed() -> Response {
    Response::Ok(Payload::GuestChanged(GuestChange {
        tap: "tap3".into(),
        change: Change::Removed,
    }))
}

#[test]
fn saver_answers_after_saving() {
    let dir = TempDir::new("saver");
    let store = StateStore::new(dir.path());
    let saver = StateSaver::spawn(store.clone(), |e| panic!("{e}")).unwrap();
    let (cmd, rx) = command();
    let mut s = state_with(&[("tap4", 4)]);
    s.record_del("tap3", true);
    saver.submit(state_with(&[("tap9", 9)]), None);
    saver.submit(s.clone(), Some((cmd, removed())));
    assert_eq!(rx.recv().unwrap(), removed());
    assert_eq!(store.load().state, s); // on disk before the answer
    drop(saver);
}

#[test]
fn saver_reports_a_failed_save() {
    let dir = TempDir::new("saver-fail");
    fs::create_dir_all(dir.path()).unwrap();
    fs::write(dir.path().join("file"), b"").unwrap();
    let store = StateStore::new(dir.path().join("file/state")); // under a regular file
    let (err_tx, err_rx) = channel();
    let saver = StateSaver::spawn(store, move |e| {
        let _ = err_tx.send(e.to_string());
    })
    .unwrap();
    let (cmd, rx) = command();
    saver.submit(state_with(&[("tap4", 4)]), Some((cmd, removed())));
    match rx.recv().unwrap() {
        Response::Error { message } => {
            assert!(message.contains("applied but not saved"), "{message}");
            assert!(message.contains("create the state directory"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err_rx.recv().unwrap().contains("file/state"));
}

// --- device binding ---------------------------------------------------------------

#[test]
fn runtime_guests_survive_a_restart_only_on_the_device_they_were_added_on() {
    let mut s = RuntimeState::new();
    assert!(s.record_add(&guest("tap1", 1), None, Some(11)));
    assert!(s.record_add(&guest("tap2", 2), None, Some(12)));
    assert!(s.record_add(&guest("tap3", 3), None, Some(13)));
    assert!(
        !s.record_add(&guest("tap1", 1), None, Some(11)),
        "same data, same device"
    );
    assert!(
        s.record_add(&guest("tap1", 1), None, Some(21)),
        "same data, new device"
    );
    s.keep_live("boot-a", |_| None); // no device at all: everything goes
    assert_eq!(s.added().count(), 0);

    let mut s = RuntimeState::new();
    s.record_add(&guest("tap1", 1), None, Some(11));
    s.record_add(&guest("tap2", 2), None, Some(12));
    s.record_add(&guest("tap3", 3), None, Some(13));
    let first = s.keep_live("boot-a", |t| match t {
        "tap1" => Some(11),
        "tap2" => Some(12),
        "tap3" => Some(13),
        _ => None,
    });
    assert!(first.is_empty(), "{first:?}");
    assert_eq!(s.boot_id(), Some("boot-a"));
    // Same boot: tap2's VM stopped and another VM got the name; tap3's tap is gone.
    let dropped = s.keep_live("boot-a", |t| match t {
        "tap1" => Some(11),
        "tap2" => Some(42),
        _ => None,
    });
    assert_eq!(
        dropped,
        vec![
            ("tap2".to_string(), NotKept::NameReused),
            ("tap3".to_string(), NotKept::DeviceGone)
        ]
    );
    let kept: Vec<_> = s.added().map(|g| g.tap.clone()).collect();
    assert_eq!(kept, ["tap1"]);
    assert_eq!(s.device("tap1"), Some(11));
    assert_eq!(s.device("tap2"), None);
}

#[test]
fn after_a_reboot_no_runtime_guest_comes_back_even_if_a_tap_has_its_name_and_index() {
    let mut s = RuntimeState::new();
    s.record_add(&guest("tap0", 1), None, Some(7));
    s.record_del("tap1", true);
    s.keep_live("boot-a", |_| Some(7));
    let dropped = s.keep_live("boot-b", |_| Some(7));
    assert_eq!(dropped, vec![("tap0".to_string(), NotKept::Rebooted)]);
    assert_eq!(s.added().count(), 0);
    assert_eq!(s.removed().collect::<Vec<_>>(), ["tap1"], "removals stay");
    assert_eq!(s.boot_id(), Some("boot-b"));
}

#[test]
fn device_bindings_and_boot_survive_the_file() {
    let dir = TempDir::new("bind");
    let store = StateStore::new(dir.path());
    let mut s = RuntimeState::new();
    s.record_add(&guest("tap4", 4), None, Some(44));
    s.keep_live("boot-x", |_| Some(44));
    store.save(&s).unwrap();
    let loaded = store.load();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.state, s);
    assert_eq!(loaded.state.device("tap4"), Some(44));
    let text = std::fs::read_to_string(store.file()).unwrap();
    assert!(
        text.contains("\"version\": 2") && text.contains("boot-x"),
        "{text}"
    );
}

#[test]
fn a_version_1_file_is_read_and_its_guests_bound_to_the_devices_present() {
    let dir = TempDir::new("v1");
    let store = StateStore::new(dir.path());
    fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(
        store.file(),
        r#"{"version": 1, "guests_added": [{"tap": "tap5", "mac": "02:00:00:00:00:05",
            "ips": ["192.0.2.5"], "network": "public_90"}], "guests_removed": []}"#,
    )
    .unwrap();
    let mut s = store.load().state;
    assert_eq!(s.added().count(), 1);
    assert!(s.keep_live("boot-a", |_| Some(55)).is_empty());
    assert_eq!(s.device("tap5"), Some(55));
}

#[test]
fn forgetting_a_guest_whose_device_is_gone_lets_the_configured_one_back() {
    let config = vec![guest("tap2", 2)];
    let mut s = RuntimeState::new();
    s.record_add(&guest("tap2", 22), Some(&config[0]), Some(9));
    assert_eq!(s.apply(&config), vec![guest("tap2", 22)]);
    assert!(s.forget("tap2"));
    assert_eq!(s.apply(&config), config);
    assert!(!s.forget("tap2"));
}

#[test]
fn a_device_for_a_guest_that_is_not_added_is_an_invalid_file() {
    let dir = TempDir::new("baddev");
    let store = StateStore::new(dir.path());
    fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(
        store.file(),
        r#"{"version": 2, "guests_added": [], "guests_removed": [], "devices": {"tap9": 3}}"#,
    )
    .unwrap();
    let loaded = store.load();
    assert_eq!(loaded.source, LoadSource::Empty);
    assert!(
        loaded.warnings.iter().any(|w| w.reason.contains("tap9")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn ipv6_sides_and_ipv6_only_guests_survive_the_file() {
    let dir = TempDir::new("ipv6");
    let store = StateStore::new(dir.path());
    let v6 = crate::protocol::GuestIpv6 {
        addrs: vec!["2001:db8:90::5".parse().unwrap()],
        eui64: true,
        routed_prefixes: vec!["2001:db8:1::/48".parse().unwrap()],
    };
    let mut s = RuntimeState::new();
    s.record_add(
        &GuestSpec {
            ipv6: Some(v6.clone()),
            ..guest("tap5", 5)
        },
        None,
        Some(5),
    );
    // IPv6 only: no IPv4 address, an explicit IPv6 side.
    s.record_add(
        &GuestSpec {
            ips: vec![],
            ipv6: Some(v6),
            ..guest("tap6", 6)
        },
        None,
        Some(6),
    );
    store.save(&s).unwrap();
    let loaded = store.load();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.state, s);
    let text = fs::read_to_string(store.file()).unwrap();
    assert!(
        text.contains("\"routed_prefixes\": [\n          \"2001:db8:1::/48\""),
        "{text}"
    );
}
