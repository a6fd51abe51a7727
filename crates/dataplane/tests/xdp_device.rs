//! A device loaded on one thread, its queue socket bound on another: the split that
//! lets a control thread load, steer and attach XDP programs while the thread that owns
//! the frame pool only binds sockets. Needs root (AF_XDP, bpf(2), namespaces); skips
//! with a message otherwise. Run: `cargo test -p hvrouter-dataplane --test xdp_device`.

mod xdp_lab;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hvrouter_dataplane::xdp_port::{AttachMode, UmemConfig};
use hvrouter_dataplane::{Port, PortSpec, XdpDevice, XdpPort, XdpPortConfig};
use sys::FramePool;
use xdp_lab::{is_root, ns_exec, Lab, SERIAL};

#[test]
fn a_device_loaded_on_one_thread_serves_a_socket_bound_on_another() {
    let name = "a_device_loaded_on_one_thread_serves_a_socket_bound_on_another";
    if !is_root() {
        eprintln!("SKIP {name}: needs root (AF_XDP, bpf(2), network namespaces)");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new('d');
    let cfg = XdpPortConfig {
        attach: AttachMode::Generic,
        ..XdpPortConfig::default()
    };
    // The control thread: load the guest port's device (not attached yet).
    let (ns, dev) = (lab.hv.clone(), lab.guest_port.clone());
    let control_cfg = cfg.clone();
    let device: Arc<XdpDevice> = thread::spawn(move || {
        sys::netns::enter(&ns).expect("enter the router namespace");
        let ifindex = sys::netdev::ifindex(&dev).expect("ifindex");
        Arc::new(XdpDevice::load(&PortSpec::guest(ifindex), &control_cfg).expect("load"))
    })
    .join()
    .expect("control thread");
    assert!(!device.is_attached());

    // The packet thread: its pool, a socket bound on the shared device, then attached;
    // the guest's ARP for its gateway arrives on the socket.
    let ns = lab.hv.clone();
    let dev = Arc::clone(&device);
    let received = thread::spawn(move || {
        sys::netns::enter(&ns).expect("enter the router namespace");
        let umem = UmemConfig {
            frame_count: 1024,
            frame_size: 2048,
            headroom: 0,
        };
        let pool = match FramePool::with_config(umem) {
            Ok(p) => p,
            Err(e) => return Err(format!("AF_XDP unavailable: {e}")),
        };
        let mut port = XdpPort::bind(&pool, dev, &cfg).map_err(|e| format!("bind: {e:?}"))?;
        port.device()
            .attach()
            .map_err(|e| format!("attach: {e:?}"))?;
        let mut frames = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while frames.is_empty() && Instant::now() < deadline {
            port.rx_burst(&mut frames, 64);
            thread::sleep(Duration::from_millis(10));
        }
        Ok(frames.len())
    });
    // The guest asks for its gateway (nobody answers: the test only wants the frames).
    let _ = ns_exec(
        &lab.g1,
        &[
            "ping",
            "-c",
            "3",
            "-i",
            "0.3",
            "-W",
            "1",
            &Ipv4Addr::new(192, 0, 2, 1).to_string(),
        ],
    );
    match received.join().expect("packet thread") {
        Err(e) if e.starts_with("AF_XDP unavailable") => {
            eprintln!("SKIP {name}: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
        Ok(n) => assert!(
            n > 0,
            "no frame reached the socket bound on the shared device"
        ),
    }
    assert!(device.is_attached());
    assert!(lab.xdp_left().is_some(), "attached while a reference lives");
    drop(device);
    assert!(
        lab.xdp_left().is_none(),
        "the last reference detaches the program"
    );
}
