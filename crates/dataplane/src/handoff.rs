//! Frames crossing between workers (VPP's handoff node): with N workers each owns some
//! ports and has its own UMEM, so a frame whose egress port another worker owns is
//! copied into a buffer and passed to that worker through a ring.
//!
//! One single-producer, single-consumer ring per ordered pair of workers carries
//! [`Handed`] items one way; a second ring carries their emptied buffers back, so that
//! in steady state nothing is allocated per frame. Both are bounded
//! [`std::sync::mpsc::sync_channel`]s, used only with `try_send` / `try_recv`: the
//! bounded channel is a lock-free array queue (the standard library's port of
//! crossbeam-channel's array flavor), nothing on the packet path blocks or takes a lock,
//! and no dependency is needed. A full ring drops the frame; the pipeline counts it as
//! `handoff_full` on the frame's ingress port.
//!
//! [`mesh`] builds every worker's [`HandoffEnds`]; each is `Send` and moves to its
//! worker's thread, where [`crate::Pipeline::set_handoff`] takes it.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use hvrouter_core::router::NextHopAddr;
use hvrouter_core::PortId;

/// Capacity of a buffer made for a handed frame (a full-size Ethernet frame fits; a
/// larger one grows it, and it keeps its size when it comes back).
const BUFFER_CAPACITY: usize = 2048;

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

/// A frame on its way from one worker to another.
#[derive(Debug)]
pub struct Handed {
    /// What to do with it.
    pub kind: HandoffKind,
    /// Its bytes, Ethernet header first.
    pub data: Vec<u8>,
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
    ring: SyncSender<Handed>,
    /// Emptied buffers coming back from the peer.
    empties: Receiver<Vec<u8>>,
    /// Buffers of frames the ring refused, reused first.
    spare: Vec<Vec<u8>>,
}

/// The receiving end from one peer.
#[derive(Debug)]
struct Incoming {
    ring: Receiver<Handed>,
    /// Emptied buffers going back to the peer.
    empties: SyncSender<Vec<u8>>,
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
}

/// The rings between `workers` workers, `capacity` frames each way per pair (at least
/// 1): element `i` is worker `i`'s ends.
pub fn mesh(workers: usize, capacity: usize) -> Vec<HandoffEnds> {
    let capacity = capacity.max(1);
    let mut ends: Vec<HandoffEnds> = (0..workers)
        .map(|worker| HandoffEnds {
            worker,
            capacity,
            outgoing: (0..workers).map(|_| None).collect(),
            incoming: (0..workers).map(|_| None).collect(),
            stats: vec![PeerStats::default(); workers],
        })
        .collect();
    for from in 0..workers {
        for to in (0..workers).filter(|&to| to != from) {
            let (ring_tx, ring_rx) = sync_channel(capacity);
            // Room for every buffer of the pair: those in the ring, those the receiver
            // holds while it works, and those already on their way back.
            let (empties_tx, empties_rx) = sync_channel(2 * capacity + 64);
            ends[from].outgoing[to] = Some(Outgoing {
                ring: ring_tx,
                empties: empties_rx,
                spare: Vec::new(),
            });
            ends[to].incoming[from] = Some(Incoming {
                ring: ring_rx,
                empties: empties_tx,
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

    /// Frames each ring holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hand a copy of `data` to worker `to`. False if its ring is full (counted as
    /// dropped for that peer) or `to` is not a peer.
    pub fn send(&mut self, to: usize, kind: HandoffKind, data: &[u8]) -> bool {
        let Some(Some(out)) = self.outgoing.get_mut(to) else {
            return false;
        };
        let mut buf = out
            .spare
            .pop()
            .or_else(|| out.empties.try_recv().ok())
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_CAPACITY.max(data.len())));
        buf.clear();
        buf.extend_from_slice(data);
        match out.ring.try_send(Handed { kind, data: buf }) {
            Ok(()) => {
                self.stats[to].handed_out += 1;
                true
            }
            Err(TrySendError::Full(h) | TrySendError::Disconnected(h)) => {
                out.spare.push(h.data);
                self.stats[to].dropped += 1;
                false
            }
        }
    }

    /// The next frame worker `from` handed to this one, if any.
    pub fn receive(&mut self, from: usize) -> Option<Handed> {
        let Some(Some(inc)) = self.incoming.get(from) else {
            return None;
        };
        let h = inc.ring.try_recv().ok()?;
        self.stats[from].handed_in += 1;
        Some(h)
    }

    /// Give the buffer of a frame received from `from` back to it, for reuse.
    pub fn give_back(&mut self, from: usize, buf: Vec<u8>) {
        if let Some(Some(inc)) = self.incoming.get(from) {
            // Full or gone: the buffer is freed instead (never with a sane capacity).
            let _ = inc.empties.try_send(buf);
        }
    }

    /// Counters by peer.
    pub fn stats(&self) -> HandoffStats {
        HandoffStats {
            peers: self.stats.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: HandoffKind = HandoffKind::Originated { port: PortId(3) };

    #[test]
    fn frames_cross_in_order_and_buffers_come_back() {
        let mut ends = mesh(3, 4);
        let (a, rest) = ends.split_at_mut(1);
        let (a, b) = (&mut a[0], &mut rest[0]);
        assert_eq!((a.worker(), b.worker(), a.workers()), (0, 1, 3));
        assert!(a.send(1, T, &[1, 2, 3]));
        assert!(a.send(1, T, &[4]));
        assert!(!a.send(0, T, &[9]), "no ring to itself");
        assert!(b.receive(2).is_none());
        let h = b.receive(0).expect("first");
        assert_eq!((h.kind, h.data.as_slice()), (T, &[1u8, 2, 3][..]));
        let ptr = h.data.as_ptr();
        b.give_back(0, h.data);
        let h2 = b.receive(0).expect("second");
        assert_eq!(h2.data, vec![4]);
        assert!(b.receive(0).is_none());
        // The returned buffer is reused for the next frame.
        assert!(a.send(1, T, &[5, 6]));
        let h3 = b.receive(0).expect("third");
        assert_eq!(h3.data.as_ptr(), ptr);
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
        let s = a.stats().total();
        assert_eq!((s.handed_out, s.dropped), (2, 1));
        let b = &mut ends[1];
        assert_eq!(b.receive(0).map(|h| h.data), Some(vec![1]));
        let a = &mut ends[0];
        assert!(a.send(1, T, &[4]));
    }
}
