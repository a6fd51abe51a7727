//! A stand-in for QEMU in tests and demos: two taps opened like a virtio-net NIC, one
//! left in the router's namespace (the router attaches AF_XDP to its netdev), one moved
//! into a guest namespace (a moved tap keeps working for its fd holder), and frames
//! copied between their descriptors with the virtio-net header unchanged. The guest
//! namespace's kernel then behaves like a VM with offloads: 64 KiB GSO frames and
//! partial checksums reach the router's tap.
//!
//! One thread, `poll(2)` on both descriptors, reads drained in batches: one `read` and
//! one `write` per frame (~0.46 Mpps measured here).

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use sys::netdev;
use sys::netlink::{LinkChange, NetlinkError, Rtnl};
use sys::poll::readiness;
use sys::tap::{Tap, TapError, TapFlags, MAX_TAP_READ, VNET_HDR_LEN};

/// Frames read from one tap before looking at the other one.
const BATCH: usize = 64;
/// Poll timeout: how late a stop request can be noticed when no signal interrupts poll.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM` in the header's flags byte.
const NEEDS_CSUM: u8 = 1;

/// Errors setting up or running the relay; each names the failed operation.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The guest namespace name cannot be a file name under /run/netns.
    #[error("invalid namespace name {0:?}")]
    InvalidNetns(String),
    /// Opening `/run/netns/<name>` failed.
    #[error("opening network namespace {path:?}")]
    OpenNetns {
        /// The namespace file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Opening a tap failed.
    #[error("opening tap {name:?}")]
    OpenTap {
        /// The tap.
        name: String,
        /// Cause.
        #[source]
        source: TapError,
    },
    /// Looking up a tap's index failed.
    #[error("looking up tap {name:?}")]
    Lookup {
        /// The tap.
        name: String,
        /// Cause.
        #[source]
        source: netdev::NetdevError,
    },
    /// Configuring a link (up, MTU, namespace move) failed.
    #[error("configuring tap {name:?} ({what})")]
    Configure {
        /// The tap.
        name: String,
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: NetlinkError,
    },
    /// The two taps disagree on the vnet header: frames cannot be copied unchanged.
    #[error("taps {a:?} and {b:?} differ in IFF_VNET_HDR")]
    VnetMismatch {
        /// First tap.
        a: String,
        /// Second tap.
        b: String,
    },
    /// `poll(2)` failed.
    #[error("polling the taps")]
    Poll(#[source] io::Error),
    /// Reading a tap failed.
    #[error("reading tap {name:?}")]
    Read {
        /// The tap.
        name: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// A tap's netdev went away (deleted, or its namespace was deleted).
    #[error("tap {name:?} is gone (poll reported an error or hangup)")]
    TapGone {
        /// The tap.
        name: String,
    },
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Frames written to the destination tap.
    pub frames: u64,
    /// Their bytes, without the vnet header.
    pub bytes: u64,
    /// Largest frame relayed, without the vnet header.
    pub max_frame: usize,
    /// Frames whose vnet header announced GSO (`gso_type` != NONE).
    pub gso: u64,
    /// Frames whose vnet header said `NEEDS_CSUM` (partial checksum).
    pub csum_partial: u64,
    /// Frames the destination refused (`EIO` while it is down, `EINVAL`, ...).
    pub write_errors: u64,
    /// Frames longer than the read buffer, dropped.
    pub truncated: u64,
}

/// What a relay run moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// From the first tap to the second.
    pub a_to_b: DirStats,
    /// From the second tap to the first.
    pub b_to_a: DirStats,
}

impl fmt::Display for DirStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} frames, {} bytes, max {} B, {} GSO, {} partial csum, {} write errors, {} truncated",
            self.frames,
            self.bytes,
            self.max_frame,
            self.gso,
            self.csum_partial,
            self.write_errors,
            self.truncated
        )
    }
}

/// Copies frames both ways between `a` and `b` until `stop` is set (checked at least
/// every 200 ms, and as soon as a signal interrupts `poll`). Frames keep their vnet
/// header byte for byte, so GSO frames and partial checksums cross intact. Write errors
/// (a destination that is down) are counted, not fatal; a tap that disappears is.
pub fn relay(a: &Tap, b: &Tap, stop: &AtomicBool) -> Result<RelayStats, RelayError> {
    if a.vnet_hdr() != b.vnet_hdr() {
        return Err(RelayError::VnetMismatch {
            a: a.name().to_owned(),
            b: b.name().to_owned(),
        });
    }
    // One byte more than the largest possible frame: a full buffer means truncation.
    let mut buf = vec![0u8; MAX_TAP_READ + 1];
    let mut stats = RelayStats::default();
    while !stop.load(Ordering::Relaxed) {
        let ready = readiness([a.as_fd(), b.as_fd()], POLL_EVERY).map_err(RelayError::Poll)?;
        for (r, tap) in ready.iter().zip([a, b]) {
            if r.failed {
                return Err(RelayError::TapGone {
                    name: tap.name().to_owned(),
                });
            }
        }
        if ready[0].readable {
            pump(a, b, &mut buf, &mut stats.a_to_b)?;
        }
        if ready[1].readable {
            pump(b, a, &mut buf, &mut stats.b_to_a)?;
        }
    }
    Ok(stats)
}

/// Moves up to [`BATCH`] frames from `src` to `dst`.
fn pump(src: &Tap, dst: &Tap, buf: &mut [u8], st: &mut DirStats) -> Result<(), RelayError> {
    let hdr = if src.vnet_hdr() { VNET_HDR_LEN } else { 0 };
    for _ in 0..BATCH {
        let n = match src.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(RelayError::Read {
                    name: src.name().to_owned(),
                    source: e,
                })
            }
        };
        if n >= buf.len() {
            st.truncated += 1;
            continue;
        }
        let frame = &buf[..n];
        match dst.write(frame) {
            Ok(_) => {
                let len = n.saturating_sub(hdr);
                st.frames += 1;
                st.bytes += len as u64;
                st.max_frame = st.max_frame.max(len);
                if hdr > 0 {
                    st.gso += u64::from(frame.get(1).is_some_and(|&t| t != 0));
                    st.csum_partial +=
                        u64::from(frame.first().is_some_and(|&f| f & NEEDS_CSUM != 0));
                }
            }
            Err(_) => st.write_errors += 1,
        }
    }
    Ok(())
}

/// A name `ip netns add` could have made: one path component, not `.` or `..`.
fn valid_netns_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// What `hvr-tap-relay` sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestRelayConfig {
    /// Tap left in the current namespace, for the router.
    pub router_tap: String,
    /// Tap moved into the guest namespace.
    pub guest_tap: String,
    /// Guest namespace (`/run/netns/<name>`, as made by `ip netns add`).
    pub guest_netns: String,
    /// MTU for both taps (the kernel's default, 1500, if None).
    pub mtu: Option<u32>,
}

/// Two vnet-header taps, the guest one moved into its namespace, both up.
#[derive(Debug)]
pub struct GuestRelay {
    /// The router's tap (current namespace).
    pub router: Tap,
    /// The guest's tap (guest namespace).
    pub guest: Tap,
}

impl GuestRelay {
    /// Opens both taps (`IFF_TAP|IFF_NO_PI|IFF_VNET_HDR`, offloads on), sets the MTU,
    /// moves the guest tap into `guest_netns` and brings both up, by rtnetlink.
    pub fn setup(cfg: &GuestRelayConfig) -> Result<Self, RelayError> {
        if !valid_netns_name(&cfg.guest_netns) {
            return Err(RelayError::InvalidNetns(cfg.guest_netns.clone()));
        }
        let path = Path::new("/run/netns").join(&cfg.guest_netns);
        let netns = File::open(&path).map_err(|source| RelayError::OpenNetns { path, source })?;
        let flags = TapFlags {
            vnet_hdr: true,
            multi_queue: false,
        };
        let open = |name: &str| {
            Tap::open(name, flags).map_err(|source| RelayError::OpenTap {
                name: name.to_owned(),
                source,
            })
        };
        let router = open(&cfg.router_tap)?;
        let guest = open(&cfg.guest_tap)?;
        let mut rtnl = Rtnl::open().map_err(|source| RelayError::Configure {
            name: cfg.router_tap.clone(),
            what: "opening rtnetlink",
            source,
        })?;
        for (tap, netns) in [(&router, None), (&guest, Some(netns.as_fd()))] {
            let ifindex = netdev::ifindex(tap.name()).map_err(|source| RelayError::Lookup {
                name: tap.name().to_owned(),
                source,
            })?;
            let change = LinkChange {
                up: Some(true),
                mtu: cfg.mtu,
                netns,
            };
            rtnl.set_link(ifindex, &change)
                .map_err(|source| RelayError::Configure {
                    name: tap.name().to_owned(),
                    what: if netns.is_some() {
                        "moving to the guest namespace, MTU, up"
                    } else {
                        "MTU, up"
                    },
                    source,
                })?;
        }
        Ok(Self { router, guest })
    }

    /// Relays until `stop` (see [`relay`]); `a_to_b` is router to guest.
    pub fn run(&self, stop: &AtomicBool) -> Result<RelayStats, RelayError> {
        relay(&self.router, &self.guest, stop)
    }
}

#[cfg(test)]
mod tests {
    //! The relay loop against datagram socket pairs standing in for tap descriptors
    //! (one read = one frame, like a tap): no root needed.

    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    /// A fake tap (our end) and the far end a test writes to and reads from.
    fn fake_tap(name: &str, vnet_hdr: bool) -> (Tap, UnixDatagram) {
        let (ours, far) = UnixDatagram::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        far.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        (Tap::from_fd(ours.into(), name.into(), vnet_hdr), far)
    }

    /// A vnet header (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
    /// num_buffers) followed by `len` payload bytes.
    fn frame(flags: u8, gso_type: u8, len: usize) -> Vec<u8> {
        let mut f = vec![flags, gso_type, 54, 0, 0xa8, 0x05, 34, 0, 16, 0, 0, 0];
        f.extend((0..len).map(|i| i as u8));
        f
    }

    #[test]
    fn frames_cross_both_ways_unchanged_until_stop() {
        let (a, a_far) = fake_tap("a", true);
        let (b, b_far) = fake_tap("b", true);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || relay(&a, &b, &stop))
        };
        let gso = frame(NEEDS_CSUM, 1, 20_000); // TCPv4 GSO, partial checksum
        let small = frame(0, 0, 60);
        a_far.send(&gso).expect("send");
        a_far.send(&small).expect("send");
        b_far.send(&small).expect("send");
        let mut buf = vec![0u8; MAX_TAP_READ];
        let n = b_far.recv(&mut buf).expect("first frame at b");
        assert_eq!(&buf[..n], &gso[..]);
        let n = b_far.recv(&mut buf).expect("second frame at b");
        assert_eq!(&buf[..n], &small[..]);
        let n = a_far.recv(&mut buf).expect("frame at a");
        assert_eq!(&buf[..n], &small[..]);

        let asked = Instant::now();
        stop.store(true, Ordering::Relaxed);
        let stats = worker.join().expect("relay thread").expect("relay ok");
        assert!(asked.elapsed() < Duration::from_secs(2));
        let want = DirStats {
            frames: 2,
            bytes: 20_060,
            max_frame: 20_000,
            gso: 1,
            csum_partial: 1,
            write_errors: 0,
            truncated: 0,
        };
        assert_eq!(stats.a_to_b, want);
        assert_eq!(stats.b_to_a.frames, 1);
        assert_eq!(stats.b_to_a.max_frame, 60);
    }

    #[test]
    fn refused_writes_are_counted_not_fatal() {
        let (a, a_far) = fake_tap("a", false);
        let (b, b_far) = fake_tap("b", false);
        // b's far end stops reading: its queue fills and writes fail with EAGAIN.
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || relay(&a, &b, &stop))
        };
        a_far.set_nonblocking(true).expect("nonblocking");
        let (mut sent, deadline) = (0u64, Instant::now() + Duration::from_secs(5));
        while sent < 3000 && Instant::now() < deadline {
            match a_far.send(&[0u8; 1000]) {
                Ok(_) => sent += 1,
                Err(_) => thread::yield_now(), // a's queue is full: the relay drains it
            }
        }
        // Give the relay time to drain what is still queued on a.
        thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let stats = worker.join().expect("relay thread").expect("relay ok");
        let st = stats.a_to_b;
        assert!(st.frames > 0 && st.write_errors > 0, "{stats:?}");
        assert!(st.frames + st.write_errors <= sent, "{stats:?} sent {sent}");
        drop(b_far);
    }

    #[test]
    fn vnet_mismatch_is_refused() {
        let (a, _a_far) = fake_tap("a", true);
        let (b, _b_far) = fake_tap("b", false);
        let stop = AtomicBool::new(false);
        assert!(matches!(
            relay(&a, &b, &stop),
            Err(RelayError::VnetMismatch { .. })
        ));
    }

    #[test]
    fn namespace_names_cannot_escape_run_netns() {
        for bad in ["", ".", "..", "../x", "a/b", "x\0"] {
            assert!(!valid_netns_name(bad), "{bad:?}");
        }
        assert!(valid_netns_name("hvr-tap-1-g"));
    }
}
