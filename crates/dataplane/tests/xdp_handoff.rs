//! Ports opened and closed away from the thread that owns the frame pool (the router's
//! control thread does it): a port prepared on another thread is adopted by the pool's
//! thread, a port prepared on another pool's UMEM is refused, and a retired port closed
//! on another thread detaches its program and gives its fill chunks back only then.
//! Needs root (AF_XDP, bpf(2), namespaces); skips with a message otherwise. Topology:
//! `xdp_lab` (192.0.2.0/24 only, deleted on drop).

#![allow(clippy::unwrap_used)]

mod xdp_lab;

use std::thread;

use hvrouter_dataplane::xdp_port::AttachMode;
use hvrouter_dataplane::{PortSpec, XdpPort, XdpPortConfig};
use sys::FramePool;
use xdp_lab::{is_root, Lab, SERIAL};

#[test]
fn ports_prepared_and_closed_on_another_thread() {
    if !is_root() {
        eprintln!("SKIP xdp_handoff: needs root (AF_XDP, bpf, namespaces)");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new('h');
    let (ns, uplink, guest) = (lab.hv.clone(), lab.uplink.clone(), lab.guest_port.clone());
    let pool_thread = thread::spawn(move || {
        sys::netns::enter(&ns).unwrap();
        let cfg = XdpPortConfig {
            attach: AttachMode::Generic,
            ..XdpPortConfig::default()
        };
        let pool = FramePool::new(4096, 2048).unwrap();
        // The first socket registers the UMEM: the uplink, opened here as before.
        let up = sys::netdev::ifindex(&uplink).unwrap();
        let _uplink = XdpPort::open(&pool, &PortSpec::uplink(up, []), &cfg).unwrap();
        let spec = PortSpec::guest(sys::netdev::ifindex(&guest).unwrap());
        let elsewhere = |umem: sys::SharedUmem| {
            let (ns, spec, cfg) = (ns.clone(), spec.clone(), cfg.clone());
            thread::spawn(move || {
                sys::netns::enter(&ns).unwrap();
                XdpPort::prepare(&umem, &spec, &cfg).unwrap()
            })
            .join()
            .unwrap()
        };

        // Prepared on another pool's UMEM: refused, and closed.
        let other = FramePool::new(1024, 2048).unwrap();
        let wrong = elsewhere(other.shared_umem());
        assert!(!wrong.is_on(&pool.shared_umem()));
        let wrong = XdpPort::finish(&pool, wrong).expect_err("another UMEM");
        // It was that UMEM's first socket: it closes now (then the queue is busy for a
        // moment: the next bind retries).
        drop(wrong);
        drop(other);

        let before = pool.free_count();
        let prepared = elsewhere(pool.shared_umem());
        assert_eq!(pool.free_count(), before, "nothing taken before adoption");
        let mut port = XdpPort::finish(&pool, prepared).unwrap();
        let in_fill = before - pool.free_count();
        assert!(in_fill > 0, "the fill ring was filled from the pool");

        let retired = port.retire().unwrap();
        drop(port);
        assert_eq!(
            pool.free_count(),
            before - in_fill,
            "the chunks stay out while the socket may still be bound"
        );
        let attached = xdp_on(&ns, &guest);
        let reclaims = thread::spawn(move || retired.close()).join().unwrap();
        let detached = !xdp_on(&ns, &guest);
        for r in reclaims {
            pool.reclaim(r);
        }
        assert_eq!(pool.free_count(), before, "every fill chunk came back");
        (attached, detached)
    });
    let (attached, detached) = pool_thread.join().unwrap();
    assert!(attached, "the retired port stayed attached until closed");
    assert!(detached, "closing it detached the program");
    drop(lab);
}

#[test]
fn a_queue_bound_on_another_thread_is_adopted_by_its_port_only() {
    if !is_root() {
        eprintln!("SKIP xdp_handoff: needs root (AF_XDP, bpf, namespaces)");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new('q');
    let pid = std::process::id();
    // A two-queue device, as a multi-queue tap is (both ends in the router namespace).
    let (dev, peer) = (format!("hvrm{pid}"), format!("hvrn{pid}"));
    let ns = lab.hv.clone();
    xdp_lab::run(&[
        "ip",
        "-n",
        &ns,
        "link",
        "add",
        &dev,
        "numrxqueues",
        "2",
        "numtxqueues",
        "2",
        "type",
        "veth",
        "peer",
        "name",
        &peer,
        "numrxqueues",
        "2",
        "numtxqueues",
        "2",
    ]);
    for d in [&dev, &peer] {
        xdp_lab::run(&["ip", "-n", &ns, "link", "set", d, "up"]);
    }
    let uplink = lab.uplink.clone();
    thread::spawn(move || {
        sys::netns::enter(&ns).unwrap();
        let cfg = XdpPortConfig {
            attach: AttachMode::Generic,
            ..XdpPortConfig::default()
        };
        let pool = FramePool::new(4096, 2048).unwrap();
        let up = sys::netdev::ifindex(&uplink).unwrap();
        let mut other = XdpPort::open(&pool, &PortSpec::uplink(up, []), &cfg).unwrap();
        let spec = PortSpec::guest(sys::netdev::ifindex(&dev).unwrap());
        let mut port = XdpPort::open(&pool, &spec, &cfg).unwrap();
        assert!(port.queue_to_bind(0).is_none(), "queue 0 is the port's own");
        let bind = port.queue_to_bind(1).expect("queue 1 is not served yet");
        let before = pool.free_count();
        let ns2 = ns.clone();
        let prepared = thread::spawn(move || {
            sys::netns::enter(&ns2).unwrap();
            bind.bind().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(pool.free_count(), before, "nothing taken before adoption");
        // Another port (another device object) gives it back, untouched.
        let prepared = *other.adopt_queue(prepared).expect_err("not its device");
        assert_eq!(other.queues(), vec![0]);
        port.adopt_queue(prepared).unwrap();
        assert!(
            pool.free_count() < before,
            "its fill ring was filled from the pool"
        );
        assert_eq!(port.queues(), vec![0, 1]);
        assert!(port.queue_to_bind(1).is_none(), "served now");
        // Retired and closed elsewhere, both sockets give their chunks back.
        let retired = port.retire().unwrap();
        drop(port);
        let reclaims = thread::spawn(move || retired.close()).join().unwrap();
        assert_eq!(reclaims.len(), 2, "both sockets closed for the last time");
        for r in reclaims {
            pool.reclaim(r);
        }
        drop(other);
    })
    .join()
    .unwrap();
    drop(lab);
}

/// Whether `dev` in namespace `ns` carries an XDP program.
fn xdp_on(ns: &str, dev: &str) -> bool {
    let out = xdp_lab::run(&["ip", "-n", ns, "-d", "link", "show", "dev", dev]);
    String::from_utf8_lossy(&out.stdout).contains("xdp")
}
