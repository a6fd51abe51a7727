//! `PacketSocket` sends a TCP super-frame with its virtio-net header as one frame: sent
//! to a tap whose fd holder (this test, as QEMU would be) took TSO offloads, the frame
//! must reach the fd whole, with the GSO type, segment size and checksum offsets it was
//! sent with, built from pieces (an iovec) in order. Runs in its own namespace; needs
//! root, skips otherwise. `cargo test -p hvrouter-sys --test packet_gso`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{skip_unless_root, Namespaces};
use hvrouter_sys::packet::VNET_HDR_LEN;
use hvrouter_sys::{netdev, netns, PacketSocket, Tap, TapFlags};

/// An Ethernet + IPv4 + TCP frame with `payload` bytes of data, the TCP checksum field
/// holding the pseudo-header sum (what `NEEDS_CSUM` wants), IPv4 checksum valid.
fn super_frame(payload: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 0x0a, 2, 0, 0, 0, 0, 1, 8, 0];
    let total = (20 + 20 + payload) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[
        0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 10,
    ]);
    let ck = common::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&[
        0x13, 0x89, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 1, 0,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    // Pseudo-header: addresses, protocol 6, TCP length.
    let mut pseudo = vec![192, 0, 2, 1, 192, 0, 2, 10, 0, 6];
    pseudo.extend_from_slice(&((20 + payload) as u16).to_be_bytes());
    let sum = !common::checksum(&pseudo);
    f[50..52].copy_from_slice(&sum.to_be_bytes());
    f.extend((0..payload).map(|i| (i % 251) as u8));
    f
}

/// The legacy virtio-net header, host byte order.
fn vnet(gso_type: u8, hdr_len: u16, gso_size: u16, csum_start: u16, csum_offset: u16) -> [u8; 10] {
    let mut h = [0u8; VNET_HDR_LEN];
    h[0] = 1; // NEEDS_CSUM
    h[1] = gso_type;
    h[2..4].copy_from_slice(&hdr_len.to_ne_bytes());
    h[4..6].copy_from_slice(&gso_size.to_ne_bytes());
    h[6..8].copy_from_slice(&csum_start.to_ne_bytes());
    h[8..10].copy_from_slice(&csum_offset.to_ne_bytes());
    h
}

#[test]
fn a_super_frame_reaches_a_tap_whole_with_its_gso_metadata() {
    if skip_unless_root("packet_gso") {
        return;
    }
    let ns = format!("hvr-pk{}", std::process::id() % 100000);
    let _guard = Namespaces::new(&[&ns]);
    // This test thread moves into the namespace: taps and sockets are made there.
    netns::enter(&ns).unwrap();
    let tap = Tap::open(
        "hvrpk0",
        TapFlags {
            vnet_hdr: true,
            multi_queue: false,
        },
    )
    .unwrap();
    common::run(&["ip", "-n", &ns, "link", "set", "hvrpk0", "up"]);
    let ifindex = netdev::ifindex("hvrpk0").unwrap();
    let sock = PacketSocket::open(ifindex).unwrap();
    assert_eq!(sock.ifindex(), ifindex);

    let frame = super_frame(4000);
    let header = vnet(1, 54, 1000, 34, 16);
    // Three pieces: headers, and the payload cut in two, as coalescing sends them.
    let pieces: [&[u8]; 3] = [&frame[..54], &frame[54..2054], &frame[2054..]];
    assert_eq!(sock.send(&header, &pieces).unwrap(), frame.len());

    // The tap holder reads it: a 12-byte header (virtio_net_hdr_mrg_rxbuf), then the
    // frame. The kernel may put other frames first (none expected in a fresh namespace
    // with IPv6 off, but skip anything that is not ours).
    let mut buf = vec![0u8; hvrouter_sys::tap::MAX_TAP_READ];
    let deadline = Instant::now() + Duration::from_secs(5);
    let got = loop {
        match tap.read(&mut buf) {
            Ok(n) if n > 12 && buf[12..n] == frame[..] => break n,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the frame never reached the tap");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("tap read: {e}"),
        }
    };
    assert_eq!(got, 12 + frame.len(), "one frame, not segments");
    let h = &buf[..12];
    assert_eq!(h[0] & 1, 1, "NEEDS_CSUM kept");
    assert_eq!(h[1] & 0x7f, 1, "GSO TCPV4");
    assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 1000, "gso_size");
    assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 34, "csum_start");
    assert_eq!(u16::from_ne_bytes([h[8], h[9]]), 16, "csum_offset");

    // A frame above the MTU without GSO is refused, not sent.
    let plain = vnet(0, 0, 0, 34, 16);
    let err = sock.send(&plain, &[&frame]).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE), "{err}");
}
