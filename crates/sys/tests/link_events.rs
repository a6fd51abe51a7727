//! rtnetlink link events and queries in a test namespace: a veth pair is created, taken
//! down and up, and deleted with `ip`; the monitor must report each change, and
//! `RTM_GETLINK` / the netdev ioctls must agree with the kernel's view.
//! Needs root; skips otherwise. Run:
//! `cargo test -p hvrouter-sys --test link_events -- --nocapture`.

mod common;

use common::{ns_exec, run};
use common::{skip_unless_root, Namespaces};
use hvrouter_sys::netlink::{Link, LinkEvent, LinkEventKind, LinkMonitor, Rtnl};
use hvrouter_sys::{netdev, netns};
use std::thread;
use std::time::{Duration, Instant};

/// The monitor and everything it reported, with a cursor after the last matched event.
struct Watch {
    mon: LinkMonitor,
    seen: Vec<LinkEvent>,
    cursor: usize,
}

impl Watch {
    /// Waits (bounded) for the first event after the previous match that satisfies
    /// `pred`, and returns it.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&LinkEvent) -> bool) -> LinkEvent {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(i) = self.seen[self.cursor..].iter().position(&pred) {
                self.cursor += i + 1;
                return self.seen[self.cursor - 1].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event for {what}; saw {:#?}", self.seen);
            self.mon.wait(left).expect("poll monitor");
            self.mon
                .recv_events(&mut self.seen)
                .expect("receive events");
        }
    }
}

#[test]
fn veth_lifecycle_events_and_queries() {
    if skip_unless_root("veth_lifecycle_events_and_queries") {
        return;
    }
    let pid = std::process::id();
    let ns = format!("hvr-nl-{pid}");
    let (a, b) = (format!("hvrn{pid}a"), format!("hvrn{pid}b"));
    let _ns = Namespaces::new(&[&ns]);

    // Sockets belong to the namespace of the thread that opens them, then work anywhere.
    let (mut mon, mut rtnl) = {
        let ns = ns.clone();
        thread::spawn(move || {
            netns::enter(&ns).expect("enter namespace");
            (
                LinkMonitor::open().expect("monitor"),
                Rtnl::open().expect("rtnl"),
            )
        })
        .join()
        .expect("socket thread")
    };
    let mut seen = Vec::new();
    assert_eq!(mon.recv_events(&mut seen).expect("empty queue"), 0);
    let mut w = Watch {
        mon,
        seen,
        cursor: 0,
    };

    run(&[
        "ip", "-n", &ns, "link", "add", &a, "type", "veth", "peer", "name", &b,
    ]);
    let created = w.wait_for("veth created", |e| {
        e.kind == LinkEventKind::New && e.link.name == a
    });
    assert!(!created.link.admin_up && !created.link.oper_up);
    assert_eq!(created.link.mtu, Some(1500));
    // The two ends are announced in no fixed order.
    w.cursor = 0;
    w.wait_for("peer created", |e| {
        e.kind == LinkEventKind::New && e.link.name == b
    });

    // RTM_GETLINK and the ioctls agree with the event and with sysfs.
    let link: Link = rtnl
        .link_by_name(&a)
        .expect("get link")
        .expect("link exists");
    assert_eq!(link.ifindex, created.link.ifindex);
    assert_eq!(link.mtu, Some(1500));
    let sysfs = ns_exec(&ns, &["cat", &format!("/sys/class/net/{a}/address")]);
    let mac = common::parse_mac(String::from_utf8_lossy(&sysfs.stdout).trim());
    assert_eq!(link.mac, Some(mac));
    assert_eq!(created.link.mac, Some(mac));
    assert_eq!(
        rtnl.link_by_index(link.ifindex).expect("get by index"),
        Some(link.clone())
    );
    let (ifindex, ioctl_mac, ioctl_mtu) = {
        let (ns, a) = (ns.clone(), a.clone());
        thread::spawn(move || {
            netns::enter(&ns).expect("enter namespace");
            (
                netdev::ifindex(&a).expect("ifindex"),
                netdev::mac_address(&a).expect("mac"),
                netdev::mtu(&a).expect("mtu"),
            )
        })
        .join()
        .expect("ioctl thread")
    };
    assert_eq!((ifindex, ioctl_mac, ioctl_mtu), (link.ifindex, mac, 1500));
    let dump = rtnl.link_dump().expect("dump");
    let mut names: Vec<&str> = dump.iter().map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    let mut want = vec!["lo", a.as_str(), b.as_str()];
    want.sort_unstable();
    assert_eq!(names, want);

    // Up: admin up at once; operationally up once the peer is up too.
    run(&["ip", "-n", &ns, "link", "set", &a, "up"]);
    let up = w.wait_for("admin up", |e| e.link.name == a && e.link.admin_up);
    assert!(
        !up.link.oper_up,
        "veth is not running while its peer is down"
    );
    run(&["ip", "-n", &ns, "link", "set", &b, "up"]);
    w.wait_for("oper up", |e| {
        e.link.name == a && e.link.admin_up && e.link.oper_up
    });

    run(&["ip", "-n", &ns, "link", "set", &a, "down"]);
    let down = w.wait_for("admin down", |e| {
        e.kind == LinkEventKind::New && e.link.name == a && !e.link.admin_up
    });
    assert!(!down.link.oper_up);
    run(&["ip", "-n", &ns, "link", "set", &a, "up"]);
    w.wait_for("up again", |e| {
        e.link.name == a && e.link.admin_up && e.link.oper_up
    });

    // MTU changes are New events too.
    run(&["ip", "-n", &ns, "link", "set", &a, "mtu", "1400"]);
    w.wait_for("mtu change", |e| {
        e.link.name == a && e.link.mtu == Some(1400)
    });

    run(&["ip", "-n", &ns, "link", "del", &a]);
    w.wait_for("deleted", |e| {
        e.kind == LinkEventKind::Del && e.link.name == a && e.link.ifindex == ifindex
    });
    w.wait_for("peer deleted", |e| {
        e.kind == LinkEventKind::Del && e.link.name == b
    });
    assert_eq!(rtnl.link_by_name(&a).expect("get missing link"), None);
    assert_eq!(
        rtnl.link_by_index(ifindex).expect("get missing index"),
        None
    );
    assert_eq!(w.mon.malformed(), 0);
    eprintln!("{} link events seen", w.seen.len());
    for e in &w.seen {
        eprintln!(
            "  {:?} {} #{} admin_up={} oper_up={} {:?} mtu={:?}",
            e.kind,
            e.link.name,
            e.link.ifindex,
            e.link.admin_up,
            e.link.oper_up,
            e.link.operstate,
            e.link.mtu
        );
    }
}

#[test]
fn set_link_up_mtu_and_errors() {
    if skip_unless_root("set_link_up_mtu_and_errors") {
        return;
    }
    let pid = std::process::id();
    let ns = format!("hvr-nl-{pid}-s");
    let (a, b) = (format!("hvrn{pid}c"), format!("hvrn{pid}d"));
    let _ns = Namespaces::new(&[&ns]);
    run(&[
        "ip", "-n", &ns, "link", "add", &a, "type", "veth", "peer", "name", &b,
    ]);
    let mut rtnl = {
        let ns = ns.clone();
        thread::spawn(move || {
            netns::enter(&ns).expect("enter namespace");
            Rtnl::open().expect("rtnl")
        })
        .join()
        .expect("socket thread")
    };
    let link = rtnl.link_by_name(&a).expect("get").expect("exists");
    let change = hvrouter_sys::LinkChange {
        up: Some(true),
        mtu: Some(1280),
        netns: None,
    };
    rtnl.set_link(link.ifindex, &change).expect("set link");
    let now = rtnl.link_by_name(&a).expect("get").expect("exists");
    assert!(now.admin_up);
    assert_eq!(now.mtu, Some(1280));
    // The kernel's refusal comes back as an error with its errno (and message).
    let bad = hvrouter_sys::LinkChange {
        mtu: Some(10),
        ..Default::default()
    };
    let err = rtnl
        .set_link(link.ifindex, &bad)
        .expect_err("MTU 10 refused");
    eprintln!("MTU 10: {err}");
    assert!(matches!(err, hvrouter_sys::NetlinkError::Request { .. }));
    assert!(rtnl.link_by_name("hvr-no-such-if").expect("get").is_none());
    assert!(rtnl.link_by_name("seventeen-chars-x").is_err());
}
