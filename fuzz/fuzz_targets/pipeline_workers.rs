#![no_main]
//! The `pipeline` target's router on two workers joined by a handoff mesh: worker 0 (the
//! home) owns the uplink and guests 1 and 3, worker 1 (a follower) guest 2. The same
//! records as `pipeline` (random frames on random ports, time moving, ports toggling),
//! each injected on the worker that owns its port, then a pass of each worker. What any
//! worker sends must hold the `pipeline` target's invariants, and:
//! - no panic;
//! - the follower never looks up, creates or queues on its uplink neighbor caches (IPv4
//!   and IPv6): they stay empty;
//! - every frame injected is received once: the workers' `rx_packets` add up to them;
//! - nothing is dropped for want of ring room (the rings are larger than what a pass can
//!   hand over).

use std::time::Duration;

use hvrouter_core::drop::DropReason;
use hvrouter_core::{NetworkId, PortId};
use hvrouter_dataplane::mesh;
use libfuzzer_sys::fuzz_target;

mod pipeline_lab;
mod pipeline_v4;
use pipeline_v4::{check, fix, template, ROUTER_SRC, THIRD_OWNS};

/// The worker that owns each port.
const OWNER: [usize; 4] = [0, 0, 1, 0];

fuzz_target!(|input: &[u8]| {
    let lab = || {
        pipeline_lab::router(
            Some(std::net::Ipv4Addr::from(ROUTER_SRC)),
            &[THIRD_OWNS],
            |_, _, _| {},
        )
    };
    let ((mut w0, mut now), (mut w1, _)) = (lab(), lab());
    let mut ends = mesh(2, 4096).into_iter();
    for (w, pipe) in [&mut w0, &mut w1].into_iter().enumerate() {
        for (p, &owner) in OWNER.iter().enumerate() {
            let id = PortId(p as u16);
            if owner != w {
                pipe.detach(id);
            }
            pipe.set_port_owner(id, Some(owner));
        }
        if let Some(e) = ends.next() {
            pipe.set_handoff(e);
        }
    }
    w1.router_mut().set_follower(true);
    let mut workers = [w0, w1];
    let mut up = [true; 4];
    let mut injected = 0u64;
    let mut rest = input;
    while rest.len() >= 3 {
        let (ctl, offset, len) = (rest[0], usize::from(rest[1]), rest[2]);
        rest = &rest[3..];
        let port = u16::from(ctl & 3);
        if ctl & 8 != 0 {
            now = now + Duration::from_millis(1500);
        }
        if len == 255 {
            let p = usize::from(port);
            up[p] = !up[p];
            for w in &mut workers {
                w.router_mut().set_port_up(PortId(port), up[p]);
            }
        } else {
            let n = usize::from(len).min(rest.len());
            let (bytes, tail) = rest.split_at(n);
            rest = tail;
            let mut frame = template(port, ctl >> 4);
            if frame.is_empty() {
                frame = bytes.to_vec();
            } else {
                let end = offset + n;
                frame.resize(frame.len().max(end), 0);
                frame[offset..offset + n].copy_from_slice(bytes);
                if ctl & 4 != 0 {
                    fix(&mut frame);
                }
            }
            let owner = OWNER[usize::from(port)];
            if let Some(p) = workers[owner].port_mut(PortId(port)) {
                p.inject(&frame);
                injected += 1;
            }
        }
        for w in &mut workers {
            w.run_once(now);
        }
        now = now + Duration::from_millis(1);
        for (p, &owner) in OWNER.iter().enumerate() {
            if let Some(port) = workers[owner].port_mut(PortId(p as u16)) {
                for f in port.take_sent() {
                    check(p as u16, &f);
                }
            }
        }
        let follower = workers[1].router();
        let net = NetworkId(0);
        assert!(
            follower.neighbors(net).is_none_or(|c| c.is_empty()),
            "the follower's ARP cache was used"
        );
        assert!(
            follower.ipv6().neighbors(net).is_none_or(|c| c.is_empty()),
            "the follower's IPv6 neighbor cache was used"
        );
    }
    // Drain what is still in flight, then count.
    for _ in 0..2 {
        for w in &mut workers {
            w.run_once(now);
        }
    }
    let mut rx = 0;
    for w in &workers {
        for p in 0..4u16 {
            let c = w.router().port_counters(PortId(p));
            rx += c.rx_packets;
            assert_eq!(c.drops[DropReason::HandoffFull.index()], 0, "ring full");
        }
    }
    assert_eq!(rx, injected, "every injected frame received once");
});
