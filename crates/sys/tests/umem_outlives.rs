//! A UMEM outlives the socket that registered it (see `hvrouter_sys::umem`): once that
//! socket is closed, a socket on its device and queue shares the UMEM through another
//! bound socket (`XDP_SHARED_UMEM` takes any bound socket of the UMEM); and when the only
//! sockets left are unbound (their device deleted: the kernel refuses them with EBADF)
//! or closed, the next socket registers the area again. Needs root; skips otherwise.
//! Run: `cargo test -p hvrouter-sys --test umem_outlives -- --nocapture`.

mod common;

use common::{run, skip_unless_root, Lab};
use hvrouter_sys::{netdev, netns, Umem, UmemError, XskConfig, XskSocket};
use std::thread;

/// What each bind gave: whether the socket shares the UMEM (false: it registered it).
#[derive(Debug)]
struct Shared {
    first: bool,
    second: bool,
    after_first_closed: bool,
    after_all_unbound: bool,
}

#[test]
fn umem_is_shared_through_any_bound_socket_and_registered_again_when_none_is() {
    let name = "umem_outlives";
    if skip_unless_root(name) {
        return;
    }
    let mut lab = Lab::new('u');
    let (_peer2, rif2, _pif2) = lab.add_peer('u', "192.0.2.3/24");
    let (ns, a_name) = (lab.router.clone(), lab.router_if.clone());
    let got = thread::spawn(move || -> Option<Shared> {
        netns::enter(&ns).expect("enter the router namespace");
        let umem = match Umem::new(256, 2048) {
            Ok(u) => u,
            Err(e @ UmemError::CreateSocket(_)) => {
                eprintln!("SKIP {name}: AF_XDP unavailable: {e}");
                return None;
            }
            Err(e) => panic!("umem: {e}"),
        };
        let cfg = XskConfig::default();
        let a = netdev::ifindex(&a_name).expect("ifindex");
        let c = netdev::ifindex(&rif2).expect("ifindex");
        let first = XskSocket::bind(&umem, a, 0, &cfg).expect("first bind");
        let second = XskSocket::bind(&umem, c, 0, &cfg).expect("second bind");
        let shared = (first.is_shared(), second.is_shared());
        // The registering socket closes: its queue is free, the UMEM lives on.
        drop(first);
        let again = XskSocket::bind(&umem, a, 0, &cfg)
            .expect("a socket on the first one's queue, shared through the second");
        let after_first_closed = again.is_shared();
        // The second socket's device goes away: it stays open, unbound. The other one
        // closes. No socket of the UMEM is bound any more.
        run(&["ip", "link", "del", &rif2]);
        drop(again);
        let last = XskSocket::bind(&umem, a, 0, &cfg)
            .expect("registered again once no bound socket is left");
        drop(second);
        Some(Shared {
            first: shared.0,
            second: shared.1,
            after_first_closed,
            after_all_unbound: last.is_shared(),
        })
    })
    .join()
    .expect("test thread");
    let Some(s) = got else { return };
    eprintln!("{s:?}");
    assert!(!s.first && s.second, "{s:?}");
    assert!(
        s.after_first_closed,
        "shared through the second socket: {s:?}"
    );
    assert!(!s.after_all_unbound, "registered again: {s:?}");
}
