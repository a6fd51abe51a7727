//! The pipeline keeps the fast path's maps equal to the router's state: a frame the
//! program redirects while the guest is there goes to the router once it is removed,
//! and a trace switches the fast path off. The programs run with BPF_PROG_TEST_RUN on
//! in-memory ports that claim devices of a namespace of its own. Needs root (bpf(2)), no
//! network. Run: `cargo test -p hvrouter-dataplane --test fast_path_sync`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::{FastPath, MemPort, Pipeline, Port, TxResult};
use sys::{FastPathMaps, Steering, XdpAction, XdpError, XdpProgram};
use wire::{EthernetAddress, Ipv4Addr, Ipv4Packet};

const UPLINK: PortId = PortId(0);
const GUEST: PortId = PortId(1);
const UPLINK_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
const GUEST_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 1, 0x01]);
const GW_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xfe]);
const GUEST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// An in-memory port that says its device runs the fast path as `ifindex`.
struct Claimed(MemPort, u32);

impl Port for Claimed {
    type Frame = Vec<u8>;
    fn rx_burst(&mut self, out: &mut Vec<Vec<u8>>, max: usize) -> usize {
        self.0.rx_burst(out, max)
    }
    fn tx_burst(&mut self, frames: &mut Vec<Vec<u8>>) -> TxResult {
        self.0.tx_burst(frames)
    }
    fn tx_copy(&mut self, data: &[u8]) -> bool {
        self.0.tx_copy(data)
    }
    fn recycle(&mut self, frame: Vec<u8>) {
        self.0.recycle(frame)
    }
    fn fast_path_ifindex(&self) -> Option<u32> {
        Some(self.1)
    }
}

fn router(now: Instant) -> Router {
    let mut r = Router::new(RouterConfig::default(), now);
    let net = r
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().unwrap(),
                gateway: Ipv4Addr::new(192, 0, 2, 1),
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: UPLINK_MAC,
                guest_mac: EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]),
                arp_source: Some(Ipv4Addr::new(192, 0, 2, 254)),
            },
            now,
        )
        .unwrap();
    r.add_guest(GuestSpec {
        name: "tap1".into(),
        port: GUEST,
        mac: GUEST_MAC,
        ips: vec![GUEST_IP],
        network: net,
        extra_prefixes: vec![],
    })
    .unwrap();
    r.set_port_up(GUEST, true);
    r
}

/// ICMP echo from the VLAN to the guest, header checksum filled.
fn to_guest() -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28];
    f[..6].copy_from_slice(&UPLINK_MAC.0);
    f[6..12].copy_from_slice(&GW_MAC.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
    ip.set_version(4);
    ip.set_header_len(20);
    ip.set_total_len(28);
    ip.set_ttl(64);
    ip.set_protocol(wire::Protocol::Icmp);
    ip.set_src_addr(Ipv4Addr::new(198, 51, 100, 7));
    ip.set_dst_addr(GUEST_IP);
    ip.fill_checksum();
    f[34] = 8;
    f
}

#[test]
fn the_maps_follow_the_router() {
    if hvrouter_netlab::skip_unless_root("the_maps_follow_the_router") {
        return;
    }
    // A namespace of its own: the test run's ingress device is its loopback (1), the
    // guest's device a veth there; the thread enters it for its bpf(2) calls.
    let name = hvrouter_netlab::ns::unique("fps", "a");
    let _namespaces = hvrouter_netlab::Namespaces::new(&[&name]);
    let dev = format!("hvrf{}", std::process::id());
    hvrouter_netlab::ns::veth(&name, &dev, &name, &format!("{dev}p"), None);
    sys::netns::enter(&name).expect("enter the namespace");
    let ifindex = sys::netdev::ifindex(&dev).expect("ifindex");
    run(ifindex);
}

fn run(guest_ifindex: u32) {
    let maps = match FastPathMaps::create() {
        Ok(m) => Arc::new(m),
        Err(e @ XdpError::CreateMap { .. }) => {
            eprintln!("SKIP the_maps_follow_the_router: bpf(2) unavailable: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // The uplink claims the loopback (the test run's ingress), the guest the veth.
    let uplink_prog = XdpProgram::load_with(Steering::Uplink, Some(&maps)).expect("load");
    uplink_prog.insert_guest_ip(GUEST_IP).expect("steer");
    let now = Instant::ZERO;
    let mut pipe: Pipeline<Claimed> = Pipeline::new(router(now), 64);
    pipe.set_fast_path(Some(FastPath::new(Arc::clone(&maps), now)));
    pipe.attach(UPLINK, Claimed(MemPort::new(), 1));
    pipe.attach(GUEST, Claimed(MemPort::new(), guest_ifindex));
    let frame = to_guest();
    // Not synced yet: the router gets it (no socket here: dropped).
    assert_eq!(uplink_prog.test_run(&frame).unwrap(), XdpAction::Drop);
    pipe.run_once(now);
    let (action, out) = uplink_prog.test_run_frame(&frame).unwrap();
    assert_eq!(
        action,
        XdpAction::Redirect,
        "synced: forwarded in the kernel"
    );
    assert_eq!(out[..6], GUEST_MAC.0);
    // Counted in the router's counters once folded.
    pipe.fold_fast_path();
    let c = pipe.router().port_counters(UPLINK);
    assert_eq!((c.fast_path_rx, c.rx_packets), (1, 1));
    assert_eq!(pipe.router().port_counters(GUEST).fast_path_tx, 1);

    // A trace: every frame to the router while it runs.
    pipe.router_mut().start_trace(4);
    pipe.run_once(now);
    assert_eq!(uplink_prog.test_run(&frame).unwrap(), XdpAction::Drop);
    pipe.router_mut().take_trace();
    pipe.run_once(now);
    assert_eq!(uplink_prog.test_run(&frame).unwrap(), XdpAction::Redirect);

    // The guest removed: gone from the maps before the next burst is received.
    pipe.router_mut().remove_guest("tap1").unwrap();
    pipe.run_once(now);
    assert_eq!(uplink_prog.test_run(&frame).unwrap(), XdpAction::Drop);
}
