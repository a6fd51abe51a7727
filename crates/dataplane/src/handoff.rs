//! Frames crossing between workers (VPP's handoff node): with N workers each owns some
//! ports and has its own UMEM, so a frame whose egress port another worker owns is
//! copied into a buffer and passed to that worker through a ring.
//!
//! One single-producer, single-consumer ring per ordered pair of workers carries
//! [`Batch`]es one way: the frames one pass hands to that peer, copied back to back into
//! one buffer (at most 64 frames or about 256 KB). A second ring carries emptied
//! batches back (up to 16 are kept), so that in steady state nothing is allocated. Both
//! are bounded [`std::sync::mpsc::sync_channel`]s used only with `try_send` /
//! `try_recv`: the bounded channel is a lock-free array queue (the standard library's
//! port of crossbeam-channel's array flavor); nothing on the packet path blocks or
//! takes a lock, and no dependency is needed. A ring operation costs a few atomic
//! operations on cache lines both workers touch: paid once per batch, not per frame.
//!
//! The ring's capacity is counted in frames: the sender counts what it handed, the
//! receiver publishes what it took (with each batch it gives back), and a frame that
//! would put more than `capacity` frames in flight is refused at once
//! ([`HandoffEnds::send`] returns false; the pipeline counts it as `handoff_full` on the
//! frame's ingress port). Since every batch holds at least one frame, the rings
//! themselves never fill.
//!
//! A worker that blocks while idle (in `poll(2)`) is woken by its peers: after
//! [`HandoffEnds::enable_wakeup`], it watches [`HandoffEnds::wake_fd`] with its sockets,
//! and marks itself asleep ([`HandoffEnds::prepare_sleep`]) before blocking; a peer that
//! sends it a batch meanwhile rings its doorbell ([`sys::doorbell::Doorbell`], an
//! eventfd). The mark and the count of frames sent are both sequentially consistent, so
//! either the sleeper sees the batch and does not block, or the sender sees the mark and
//! rings.
//!
//! [`mesh`] builds every worker's [`HandoffEnds`]; each is `Send` and moves to its
//! worker's thread, where [`crate::Pipeline::set_handoff`] takes it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use sys::doorbell::Doorbell;

use hvrouter_core::router::NextHopAddr;
use hvrouter_core::PortId;

/// Frames per batch at most: a full batch is sent at once, before the pass ends.
const BATCH_FRAMES: usize = 64;
/// Bytes a new batch buffer is made for (a larger batch grows it, and it keeps its size
/// when it comes back).
const BATCH_BYTES: usize = BATCH_FRAMES * 128;
/// A batch holding this many bytes is sent at once (a few guest TCP super-frames), so a
/// batch buffer never grows much past it.
const BATCH_MAX_BYTES: usize = 256 * 1024;
/// Emptied batches kept for reuse per pair of workers; more coming back (after the
/// receiver fell behind) are freed, so memory held stays bounded.
const EMPTIES_KEPT: usize = 16;

/// What the receiving worker does with a handed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoffKind {
    /// Queue it on `port`'s transmit burst: the sender's router decided and rewrote it.
    /// `from_guest` is the pipeline's mark for the GSO transmit (the frame came from a
    /// guest, its checksum was computed or left partial by the router).
    Transmit {
        /// The egress port (the receiver's).
        port: PortId,
        /// See [`crate::Pipeline`]'s transmit marks.
        from_guest: bool,
    },
    /// Send it on `port` as a frame the router originated (an ICMP error, a reply, a
    /// released or segmented frame: the sender's outbox).
    Originated {
        /// The port to send it on (the receiver's).
        port: PortId,
    },
    /// Finish it with `Router::output_resolved` (the receiver is the home worker): a
    /// follower's frame for the uplink `port` toward `next_hop`.
    Resolve {
        /// The port the sender received it on.
        ingress: PortId,
        /// The uplink port.
        port: PortId,
        /// The next hop to resolve.
        next_hop: NextHopAddr,
    },
}

/// Frames handed to one peer in one go: their bytes back to back, and where each is.
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    frames: Vec<(HandoffKind, usize, usize)>,
}

impl Batch {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True if it holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frame `i`: what to do with it and its bytes (mutable: the home's router rewrites
    /// a follower's frame in place).
    pub fn get_mut(&mut self, i: usize) -> Option<(HandoffKind, &mut [u8])> {
        let &(kind, start, end) = self.frames.get(i)?;
        Some((kind, self.data.get_mut(start..end)?))
    }

    fn push(&mut self, kind: HandoffKind, frame: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(frame);
        self.frames.push((kind, start, self.data.len()));
    }

    fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }
}

/// Frames exchanged with one peer worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Frames handed to the peer.
    pub handed_out: u64,
    /// Frames taken from the peer.
    pub handed_in: u64,
    /// Frames for the peer dropped because its ring was full.
    pub dropped: u64,
}

/// This worker's handoff counters, by peer worker index (its own entry stays zero).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandoffStats {
    /// By peer worker index.
    pub peers: Vec<PeerStats>,
}

impl HandoffStats {
    /// All peers together.
    pub fn total(&self) -> PeerStats {
        self.peers
            .iter()
            .fold(PeerStats::default(), |a, p| PeerStats {
                handed_out: a.handed_out + p.handed_out,
                handed_in: a.handed_in + p.handed_in,
                dropped: a.dropped + p.dropped,
            })
    }
}

/// The sending end toward one peer.
#[derive(Debug)]
struct Outgoing {
    ring: SyncSender<Batch>,
    /// Emptied batches coming back from the peer.
    empties: Receiver<Batch>,
    /// The batch being filled this pass.
    open: Batch,
    /// Frames the peer has taken so far (it publishes the figure once per batch).
    taken: Arc<AtomicU64>,
    /// The last figure read from `taken`: read again only when it says the ring is
    /// full, so the cache line the peer writes is not pulled over for every frame.
    taken_seen: u64,
    /// Frames sent in batches so far, published for the peer's [`HandoffEnds::prepare_sleep`].
    sent: Arc<AtomicU64>,
    /// The peer's wake-up: whether it is asleep, and its doorbell if it has one.
    peer: Wake,
}

/// How a worker is woken: its asleep mark and its doorbell (made by
/// [`HandoffEnds::enable_wakeup`]).
#[derive(Clone, Debug, Default)]
struct Wake {
    asleep: Arc<AtomicBool>,
    bell: Arc<OnceLock<Doorbell>>,
}

/// The receiving end from one peer.
#[derive(Debug)]
struct Incoming {
    ring: Receiver<Batch>,
    /// Emptied batches going back to the peer.
    empties: SyncSender<Batch>,
    /// Frames taken so far, published for the peer.
    taken: Arc<AtomicU64>,
    /// Frames the peer has sent in batches so far.
    sent: Arc<AtomicU64>,
    /// A batch partly used, kept until its egress ports have room
    /// ([`HandoffEnds::hold`]), and the index of its first frame not yet taken.
    held: Option<(Batch, usize)>,
}

/// One worker's ends of the handoff rings: toward every other worker and from it.
#[derive(Debug)]
pub struct HandoffEnds {
    worker: usize,
    capacity: usize,
    /// By peer index; `None` for this worker itself.
    outgoing: Vec<Option<Outgoing>>,
    incoming: Vec<Option<Incoming>>,
    stats: Vec<PeerStats>,
    /// This worker's own wake-up.
    wake: Wake,
}

/// The rings between `workers` workers, `capacity` frames in flight each way per pair
/// (at least 1): element `i` is worker `i`'s ends.
pub fn mesh(workers: usize, capacity: usize) -> Vec<HandoffEnds> {
    let capacity = capacity.max(1);
    let mut ends: Vec<HandoffEnds> = (0..workers)
        .map(|worker| HandoffEnds {
            worker,
            capacity,
            outgoing: (0..workers).map(|_| None).collect(),
            incoming: (0..workers).map(|_| None).collect(),
            stats: vec![PeerStats::default(); workers],
            wake: Wake::default(),
        })
        .collect();
    for from in 0..workers {
        for to in (0..workers).filter(|&to| to != from) {
            // At most `capacity` frames in flight, so at most that many batches.
            let (ring_tx, ring_rx) = sync_channel(capacity);
            let (empties_tx, empties_rx) = sync_channel(EMPTIES_KEPT);
            let taken = Arc::new(AtomicU64::new(0));
            let sent = Arc::new(AtomicU64::new(0));
            let peer = ends[to].wake.clone();
            ends[from].outgoing[to] = Some(Outgoing {
                ring: ring_tx,
                empties: empties_rx,
                open: Batch::default(),
                taken: Arc::clone(&taken),
                taken_seen: 0,
                sent: Arc::clone(&sent),
                peer,
            });
            ends[to].incoming[from] = Some(Incoming {
                ring: ring_rx,
                empties: empties_tx,
                taken,
                sent,
                held: None,
            });
        }
    }
    ends
}

impl HandoffEnds {
    /// This worker's index.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Number of workers in the mesh.
    pub fn workers(&self) -> usize {
        self.outgoing.len()
    }

    /// Frames in flight toward one peer at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hand a copy of `data` to worker `to` (it leaves with the batch at the next
    /// [`HandoffEnds::flush`], or at once when the batch is full). False if `capacity`
    /// frames are already in flight toward it (counted as dropped for that peer), or
    /// `to` is not a peer.
    pub fn send(&mut self, to: usize, kind: HandoffKind, data: &[u8]) -> bool {
        let (Some(Some(out)), Some(stats)) = (self.outgoing.get_mut(to), self.stats.get_mut(to))
        else {
            return false;
        };
        let capacity = self.capacity as u64;
        if stats.handed_out.saturating_sub(out.taken_seen) >= capacity {
            out.taken_seen = out.taken.load(Ordering::Acquire);
            if stats.handed_out.saturating_sub(out.taken_seen) >= capacity {
                stats.dropped += 1;
                return false;
            }
        }
        if out.open.frames.capacity() == 0 {
            // A new batch: one that came back, or (warming up) a new one.
            out.open = out.empties.try_recv().unwrap_or_else(|_| Batch {
                data: Vec::with_capacity(BATCH_BYTES),
                frames: Vec::with_capacity(BATCH_FRAMES),
            });
            out.open.clear();
        }
        out.open.push(kind, data);
        stats.handed_out += 1;
        if out.open.len() >= BATCH_FRAMES || out.open.data.len() >= BATCH_MAX_BYTES {
            flush_one(out);
        }
        true
    }

    /// Send every batch filled since the last flush (the pipeline calls it at the end
    /// of each pass).
    pub fn flush(&mut self) {
        for out in self.outgoing.iter_mut().flatten() {
            if !out.open.is_empty() {
                flush_one(out);
            }
        }
    }

    /// The next batch worker `from` handed to this one, if any, and the index of its
    /// first frame to take: a batch held back ([`HandoffEnds::hold`]) first, from where
    /// it stopped, else a new one from 0. Give it back with [`HandoffEnds::give_back`]
    /// once its frames are used, or hold it again.
    pub fn receive(&mut self, from: usize) -> Option<(Batch, usize)> {
        let Some(Some(inc)) = self.incoming.get_mut(from) else {
            return None;
        };
        if let Some(held) = inc.held.take() {
            return Some(held);
        }
        let batch = inc.ring.try_recv().ok()?;
        if let Some(s) = self.stats.get_mut(from) {
            s.handed_in += batch.len() as u64;
        }
        Some((batch, 0))
    }

    /// Keep a batch received from `from` whose frames from index `next` on could not be
    /// taken yet (their egress port's transmit ring is full): the next
    /// [`HandoffEnds::receive`] returns it again. Its frames still count as in flight
    /// for the peer, so while it is held the peer's ring fills and the peer's sends are
    /// refused (`handoff_full` at the sender: back-pressure).
    pub fn hold(&mut self, from: usize, batch: Batch, next: usize) {
        if let Some(Some(inc)) = self.incoming.get_mut(from) {
            inc.held = Some((batch, next));
        }
    }

    /// Whether a batch is held back from any peer ([`HandoffEnds::hold`]).
    pub fn holds(&self) -> bool {
        self.incoming.iter().flatten().any(|inc| inc.held.is_some())
    }

    /// Give a batch received from `from` back to it, for reuse, and tell it how many
    /// frames this worker has taken so far.
    pub fn give_back(&mut self, from: usize, mut batch: Batch) {
        let (Some(Some(inc)), Some(s)) = (self.incoming.get(from), self.stats.get(from)) else {
            return;
        };
        batch.clear();
        // Enough kept already (or the peer is gone): this one is freed.
        let _ = inc.empties.try_send(batch);
        inc.taken.store(s.handed_in, Ordering::Release);
    }

    /// Give this worker a doorbell its peers ring when they hand it frames while it is
    /// asleep ([`HandoffEnds::prepare_sleep`]). Only for a worker that blocks while idle.
    pub fn enable_wakeup(&mut self) -> io::Result<()> {
        if self.wake.bell.get().is_none() {
            // Only this worker sets its own doorbell: the cell cannot be filled meanwhile.
            let _ = self.wake.bell.set(Doorbell::new()?);
        }
        Ok(())
    }

    /// The descriptor to watch for readability while blocked, with the ports' sockets
    /// (after [`HandoffEnds::enable_wakeup`]).
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.bell.get().map(Doorbell::as_fd)
    }

    /// About to block: marks this worker asleep, so that peers ring its doorbell when
    /// they send it frames. False if frames are already waiting: do not block (and
    /// nothing is marked).
    pub fn prepare_sleep(&self) -> bool {
        self.wake.asleep.store(true, Ordering::SeqCst);
        let waiting = self.incoming.iter().zip(&self.stats).any(|(inc, s)| {
            inc.as_ref().is_some_and(|inc| {
                inc.held.is_some() || inc.sent.load(Ordering::SeqCst) > s.handed_in
            })
        });
        if waiting {
            self.wake.asleep.store(false, Ordering::SeqCst);
        }
        !waiting
    }

    /// Awake again (after blocking): peers stop ringing, the doorbell is cleared.
    pub fn woke(&self) {
        self.wake.asleep.store(false, Ordering::SeqCst);
        if let Some(bell) = self.wake.bell.get() {
            bell.clear();
        }
    }

    /// Counters by peer.
    pub fn stats(&self) -> HandoffStats {
        HandoffStats {
            peers: self.stats.clone(),
        }
    }
}

/// Send `out`'s open batch. The ring has room: at most `capacity` frames, so batches,
/// are in flight.
fn flush_one(out: &mut Outgoing) {
    let batch = std::mem::take(&mut out.open);
    let frames = batch.len() as u64;
    match out.ring.try_send(batch) {
        Ok(()) => {
            out.sent.fetch_add(frames, Ordering::SeqCst);
            if out.peer.asleep.load(Ordering::SeqCst) {
                if let Some(bell) = out.peer.bell.get() {
                    bell.ring();
                }
            }
        }
        Err(TrySendError::Full(mut batch) | TrySendError::Disconnected(mut batch)) => {
            // Only if the peer is gone: nothing will take these frames.
            batch.clear();
            out.open = batch;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: HandoffKind = HandoffKind::Originated { port: PortId(3) };

    fn frames(b: &mut Batch) -> Vec<Vec<u8>> {
        (0..b.len())
            .filter_map(|i| b.get_mut(i).map(|(_, d)| d.to_vec()))
            .collect()
    }

    #[test]
    fn frames_cross_in_order_and_batches_come_back() {
        let mut ends = mesh(3, 8);
        let (a, rest) = ends.split_at_mut(1);
        let (a, b) = (&mut a[0], &mut rest[0]);
        assert_eq!((a.worker(), b.worker(), a.workers()), (0, 1, 3));
        assert!(a.send(1, T, &[1, 2, 3]));
        assert!(a.send(1, T, &[4]));
        assert!(!a.send(0, T, &[9]), "no ring to itself");
        assert!(b.receive(0).is_none(), "nothing before the flush");
        a.flush();
        assert!(b.receive(2).is_none());
        let mut batch = b.receive(0).expect("batch").0;
        assert_eq!(batch.get_mut(0).map(|(k, _)| k), Some(T));
        assert_eq!(frames(&mut batch), vec![vec![1, 2, 3], vec![4]]);
        let ptr = batch.data.as_ptr();
        b.give_back(0, batch);
        assert!(b.receive(0).is_none());
        // The returned batch is reused for the next frames.
        assert!(a.send(1, T, &[5, 6]));
        a.flush();
        let mut batch = b.receive(0).expect("batch").0;
        assert_eq!(batch.data.as_ptr(), ptr);
        assert_eq!(frames(&mut batch), vec![vec![5, 6]]);
        assert_eq!(a.stats().peers[1].handed_out, 3);
        assert_eq!(b.stats().peers[0].handed_in, 3);
    }

    #[test]
    fn a_full_ring_refuses_and_counts() {
        let mut ends = mesh(2, 2);
        let a = &mut ends[0];
        assert!(a.send(1, T, &[1]));
        assert!(a.send(1, T, &[2]));
        assert!(!a.send(1, T, &[3]));
        a.flush();
        let s = a.stats().total();
        assert_eq!((s.handed_out, s.dropped), (2, 1));
        // Taken, but not given back yet: still in flight.
        let mut batch = ends[1].receive(0).expect("batch").0;
        assert_eq!(frames(&mut batch), vec![vec![1], vec![2]]);
        assert!(!ends[0].send(1, T, &[4]));
        ends[1].give_back(0, batch);
        assert!(ends[0].send(1, T, &[5]));
    }

    #[test]
    fn a_sleeping_worker_is_rung_and_one_with_frames_waiting_does_not_sleep() {
        let mut ends = mesh(2, 64);
        ends[1].enable_wakeup().expect("eventfd");
        let readable = |e: &HandoffEnds| {
            let fd = e.wake_fd().expect("doorbell");
            sys::poll::wait_readable(&[fd], std::time::Duration::from_millis(1)).expect("poll")
        };
        // Awake: sending does not ring.
        assert!(ends[0].send(1, T, &[1]));
        ends[0].flush();
        assert!(!readable(&ends[1]));
        // A batch is waiting: no sleep.
        assert!(!ends[1].prepare_sleep());
        let b = ends[1].receive(0).expect("batch").0;
        ends[1].give_back(0, b);
        // Nothing waiting: asleep; a batch sent now rings.
        assert!(ends[1].prepare_sleep());
        assert!(!readable(&ends[1]));
        assert!(ends[0].send(1, T, &[2]));
        ends[0].flush();
        assert!(readable(&ends[1]));
        ends[1].woke();
        assert!(!readable(&ends[1]));
        // Worker 0 has no doorbell: nothing to watch, nothing rung.
        assert!(ends[0].wake_fd().is_none());
        assert!(ends[0].prepare_sleep());
        assert!(ends[1].send(0, T, &[3]));
        ends[1].flush();
        ends[0].woke();
    }

    #[test]
    fn large_frames_leave_in_batches_of_bounded_size_and_few_are_kept() {
        let mut ends = mesh(2, 1000);
        let big = vec![7u8; 64 * 1024];
        for _ in 0..100 {
            assert!(ends[0].send(1, T, &big));
        }
        ends[0].flush();
        let mut batches = Vec::new();
        while let Some((b, _)) = ends[1].receive(0) {
            assert!(b.data.len() < BATCH_MAX_BYTES + big.len());
            batches.push(b);
        }
        assert_eq!(batches.iter().map(Batch::len).sum::<usize>(), 100);
        assert!(batches.len() > EMPTIES_KEPT);
        for b in batches {
            ends[1].give_back(0, b);
        }
        // Only EMPTIES_KEPT came back to the sender; the rest were freed.
        let Some(Some(out)) = ends[0].outgoing.get(1) else {
            panic!("no ring to 1");
        };
        assert_eq!(out.empties.try_iter().count(), EMPTIES_KEPT);
    }

    #[test]
    fn a_full_batch_leaves_before_the_flush() {
        let mut ends = mesh(2, 1000);
        for i in 0..BATCH_FRAMES + 1 {
            assert!(ends[0].send(1, T, &[i as u8]));
        }
        let batch = ends[1].receive(0).expect("a full batch").0;
        assert_eq!(batch.len(), BATCH_FRAMES);
        assert!(ends[1].receive(0).is_none());
        ends[0].flush();
        assert_eq!(ends[1].receive(0).map(|(b, _)| b.len()), Some(1));
    }

    #[test]
    fn a_held_batch_comes_back_first_keeps_its_frames_in_flight_and_keeps_the_worker_awake() {
        let mut ends = mesh(2, 3);
        for i in 1..=3u8 {
            assert!(ends[0].send(1, T, &[i]));
        }
        ends[0].flush();
        let (batch, next) = ends[1].receive(0).expect("batch");
        assert_eq!((batch.len(), next), (3, 0));
        // The first frame is taken; the other two wait for room.
        ends[1].hold(0, batch, 1);
        assert!(ends[1].holds());
        assert!(!ends[1].prepare_sleep(), "held frames: no sleep");
        ends[1].woke();
        // Still in flight for the sender: its ring is full.
        assert!(!ends[0].send(1, T, &[4]));
        let (mut batch, next) = ends[1].receive(0).expect("the held batch");
        assert_eq!(next, 1);
        assert_eq!(frames(&mut batch)[next..], [vec![2], vec![3]]);
        assert!(!ends[1].holds());
        ends[1].give_back(0, batch);
        assert!(ends[0].send(1, T, &[5]));
        assert_eq!(ends[1].stats().peers[0].handed_in, 3, "counted once");
    }
}
