use std::net::Ipv4Addr;

use hvrouter_core::drop::DropReason;
use hvrouter_core::guests::GuestSpec;
use hvrouter_core::network::NetworkSpec;
use hvrouter_core::router::{Router, RouterConfig};
use hvrouter_dataplane::MemPort;
use wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
};

use super::*;

const UPLINK: PortId = PortId(0);
const TAP: PortId = PortId(1);
const GUEST_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const GW_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0xfe]);

struct Names(Vec<&'static str>);

impl PortNames for Names {
    fn name(&self, id: PortId) -> &str {
        self.0.get(id.index()).copied().unwrap_or("")
    }
    fn ids(&self) -> Vec<PortId> {
        (0..self.0.len() as u16).map(PortId).collect()
    }
}

fn names() -> Names {
    Names(vec!["hvr-up0", "hvr-g1"])
}

fn pipeline() -> Pipeline<MemPort> {
    let now = Instant::from_secs(100);
    let mut router = Router::new(RouterConfig::default(), now);
    let net = router
        .add_network(
            NetworkSpec {
                name: "public_90".into(),
                subnet: "192.0.2.0/24".parse().unwrap(),
                gateway: Ipv4Addr::new(192, 0, 2, 1),
                uplink: UPLINK,
                mtu: 1500,
                uplink_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
                guest_mac: EthernetAddress([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]),
                arp_source: Some(Ipv4Addr::new(192, 0, 2, 254)),
            },
            now,
        )
        .unwrap();
    router
        .add_guest(GuestSpec {
            name: "hvr-g1".into(),
            port: TAP,
            mac: EthernetAddress([2, 0, 0, 0, 0, 0x0a]),
            ips: vec![GUEST_IP],
            network: net,
            extra_prefixes: vec![],
        })
        .unwrap();
    let mut pipe = Pipeline::new(router, 32);
    pipe.attach(UPLINK, MemPort::new());
    pipe.attach(TAP, MemPort::new());
    pipe
}

fn who_has_guest() -> Vec<u8> {
    let mut buf = vec![0u8; 60];
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: GW_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut f);
    ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: GW_MAC,
        source_protocol_addr: Ipv4Addr::new(192, 0, 2, 1),
        target_hardware_addr: EthernetAddress::ZERO,
        target_protocol_addr: GUEST_IP,
    }
    .emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
    buf
}

fn start(c: &mut Captures, pipe: &mut Pipeline<MemPort>, ports: &[&str], now: Instant) -> Response {
    let req = Request::CaptureStart {
        ports: ports.iter().map(|p| p.to_string()).collect(),
        snaplen: None,
        max_bytes: None,
    };
    c.handle(pipe, &names(), &req, now).unwrap()
}

fn started(r: Response) -> CaptureInfo {
    match r {
        Response::Ok(Payload::CaptureStarted(i)) => i,
        other => panic!("{other:?}"),
    }
}

fn batch(r: Response) -> WireBatch {
    match r {
        Response::Ok(Payload::Captured(b)) => b,
        other => panic!("{other:?}"),
    }
}

fn error(r: Response) -> String {
    match r {
        Response::Error { message } => message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn start_read_stop_with_decisions() {
    let mut pipe = pipeline();
    let mut c = Captures::default();
    let t = Instant::from_secs(100);
    let info = started(start(&mut c, &mut pipe, &[], t));
    assert_eq!(info.ports, ["hvr-up0", "hvr-g1"]);
    assert_eq!(info.snaplen, MAX_SNAPLEN);
    assert_eq!(info.max_bytes, DEFAULT_CAPTURE_BYTES);
    assert_eq!(info.idle_timeout_ms, 5000);
    assert!(c.is_running() && pipe.capture_mut().is_running());

    let arp = who_has_guest();
    pipe.port_mut(UPLINK).unwrap().inject(&arp);
    let mut junk = arp.clone();
    junk[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental EtherType
    pipe.port_mut(TAP).unwrap().inject(&junk);
    pipe.run_once(t);

    let read = Request::CaptureRead { id: info.id };
    let b = batch(c.handle(&mut pipe, &names(), &read, t).unwrap());
    assert!(b.running);
    let seen: Vec<(&str, CaptureDirection, &str)> = b
        .frames
        .iter()
        .map(|f| (f.port.as_str(), f.direction, f.decision.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "hvr-up0",
                CaptureDirection::Rx,
                "reply (sent back on this port)"
            ),
            ("hvr-g1", CaptureDirection::Rx, "drop unsupported_ethertype"),
            ("hvr-up0", CaptureDirection::Tx, "sent"),
        ]
    );
    assert_eq!(b.frames[0].data, arp, "as received");
    assert_eq!(b.frames[1].len, 60);
    // Wall-clock times: after 2020, and all from the same pass.
    assert!(b.frames[0].time_ns > 1_600_000_000_000_000_000);
    assert!(b.frames.iter().all(|f| f.time_ns == b.frames[0].time_ns));
    assert_eq!((b.captured, b.dropped), (3, 0));
    // Nothing new since.
    assert!(batch(c.handle(&mut pipe, &names(), &read, t).unwrap())
        .frames
        .is_empty());

    let stop = Request::CaptureStop { id: info.id };
    let last = batch(c.handle(&mut pipe, &names(), &stop, t).unwrap());
    assert!(!last.running);
    assert!(!c.is_running() && !pipe.capture_mut().is_running());
    assert!(error(c.handle(&mut pipe, &names(), &read, t).unwrap()).contains("no capture"));
    assert!(c.handle(&mut pipe, &names(), &Request::Ping, t).is_none());
}

#[test]
fn one_capture_at_a_time_and_ids_are_checked() {
    let mut pipe = pipeline();
    let mut c = Captures::default();
    let t = Instant::from_secs(100);
    let first = started(start(&mut c, &mut pipe, &["hvr-g1"], t));
    assert_eq!(first.ports, ["hvr-g1"]);
    let msg = error(start(&mut c, &mut pipe, &[], t));
    assert!(msg.contains("already running"), "{msg}");
    let other = Request::CaptureRead { id: first.id + 1 };
    assert!(error(c.handle(&mut pipe, &names(), &other, t).unwrap()).contains("no capture"));
    let stop = Request::CaptureStop { id: first.id + 1 };
    assert!(!c.handle(&mut pipe, &names(), &stop, t).unwrap().is_ok());
    assert!(c.is_running(), "a wrong id stops nothing");
}

#[test]
fn unknown_port_is_refused_naming_the_ports() {
    let mut pipe = pipeline();
    let mut c = Captures::default();
    let msg = error(start(&mut c, &mut pipe, &["tap9"], Instant::from_secs(1)));
    assert!(
        msg.contains("tap9") && msg.contains("hvr-up0, hvr-g1"),
        "{msg}"
    );
    assert!(!c.is_running() && !pipe.capture_mut().is_running());
}

#[test]
fn a_capture_nobody_reads_stops_by_itself() {
    let mut pipe = pipeline();
    let mut c = Captures::default();
    let t = Instant::from_secs(100);
    let info = started(start(&mut c, &mut pipe, &[], t));
    let read = Request::CaptureRead { id: info.id };
    // Reads keep it alive.
    let t2 = t + Duration::from_secs(4);
    c.tick(&mut pipe, t2);
    assert!(c.handle(&mut pipe, &names(), &read, t2).unwrap().is_ok());
    c.tick(&mut pipe, t2 + Duration::from_secs(4));
    assert!(c.is_running());
    // Then silence.
    c.tick(&mut pipe, t2 + IDLE_STOP);
    assert!(!c.is_running() && !pipe.capture_mut().is_running());
    let msg = error(
        c.handle(&mut pipe, &names(), &read, t2 + IDLE_STOP)
            .unwrap(),
    );
    assert!(msg.contains("by itself"), "{msg}");
    // A new one may start, with a new id.
    let next = started(start(&mut c, &mut pipe, &[], t2 + IDLE_STOP));
    assert_ne!(next.id, info.id);
}

#[test]
fn decisions_in_words() {
    let n = names();
    let d = |v| decision(UPLINK, v, &n);
    assert_eq!(
        d(Verdict::Decided(Action::Forward(TAP))),
        "forward to hvr-g1"
    );
    assert_eq!(
        d(Verdict::Decided(Action::Drop(DropReason::SpoofedSourceIp))),
        "drop spoofed_source_ip"
    );
    assert!(d(Verdict::EgressMissing(TAP)).starts_with("drop egress_port_missing"));
    assert!(d(Verdict::Originated(false)).contains("tx_ring_full"));
}

#[test]
fn outbox_frames_say_so() {
    let n = names();
    let sent = decision(UPLINK, Verdict::Originated(true), &n);
    assert!(
        sent.starts_with("sent, built or held by the router"),
        "{sent}"
    );
    assert!(decision(UPLINK, Verdict::Originated(false), &n).starts_with("not sent: tx_ring_full"));
    assert_eq!(decision(UPLINK, Verdict::Sent, &n), "sent");
}

#[test]
fn a_named_device_is_followed_to_its_new_port() {
    let mut pipe = pipeline();
    let mut c = Captures::default();
    let t = Instant::from_secs(100);
    let info = started(start(&mut c, &mut pipe, &["hvr-g1"], t));
    assert!(pipe.capture_mut().wants(TAP) && !pipe.capture_mut().wants(UPLINK));
    // hvr-g1 was removed and added again: now on port 2, its old slot free.
    let moved = Names(vec!["hvr-up0", "", "hvr-g1"]);
    let read = Request::CaptureRead { id: info.id };
    assert!(c.handle(&mut pipe, &moved, &read, t).unwrap().is_ok());
    assert!(pipe.capture_mut().wants(PortId(2)));
    assert!(!pipe.capture_mut().wants(TAP) && !pipe.capture_mut().wants(UPLINK));
    // Gone altogether: nothing is captured (not everything).
    let gone = Names(vec!["hvr-up0"]);
    assert!(c.handle(&mut pipe, &gone, &read, t).unwrap().is_ok());
    assert!((0..4).all(|p| !pipe.capture_mut().wants(PortId(p))));
}
