//! The pipeline with N workers: which worker owns each port, frames handed to other
//! workers ([`crate::handoff`]) and frames taken from them.
//!
//! A frame is processed by the worker that received it. When the router decides a port
//! this worker does not have, the frame goes to the port's owner: to be sent there
//! ([`HandoffKind::Transmit`], [`HandoffKind::Originated`]), or, from a follower router,
//! to be finished by the home worker's router ([`HandoffKind::Resolve`],
//! `Router::output_resolved`). Frames taken from the rings are handled at the start of
//! the next pass, before the local ports' receive bursts. Counters stay per worker and
//! add up: a handed frame counts as received on the worker that received it and as
//! transmitted on the worker that sent it.

use hvrouter_core::drop::DropReason;
use hvrouter_core::router::{Action, NextHopAddr};
use hvrouter_core::{Instant, PortId};

use super::Pipeline;

/// How long a port's full transmit ring may hold back frames from other workers before
/// they are dropped instead: a device that stopped sending (down, or a driver that
/// stopped taking frames) must not hold up the frames for every other port behind it.
const HOLD_MAX: std::time::Duration = std::time::Duration::from_millis(2);
use crate::handoff::{HandoffEnds, HandoffKind, HandoffStats};
use crate::port::{Frame, Port};

/// The worker that owns `port` if it is another one (and there is a mesh to reach
/// it): not attached here, and owned by a worker other than this one.
pub(super) fn remote_owner<P>(
    handoff: Option<&HandoffEnds>,
    owners: &[Option<usize>],
    ports: &[Option<P>],
    port: PortId,
) -> Option<usize> {
    let me = handoff?.worker();
    if ports.get(port.index()).is_some_and(Option::is_some) {
        return None;
    }
    owners
        .get(port.index())
        .copied()
        .flatten()
        .filter(|&w| w != me)
}

impl<P: Port> Pipeline<P> {
    /// Connect this pipeline to the other workers' (`ends` is this worker's element of
    /// [`crate::handoff::mesh`]). Without it the pipeline works alone, as it always did.
    pub fn set_handoff(&mut self, ends: HandoffEnds) {
        self.handoff = Some(ends);
        for idx in 0..self.owners.len() {
            self.update_remote(PortId(idx as u16));
        }
    }

    /// Record which worker owns port `id` (`None`: none). A port attached here is
    /// always this worker's, whatever is recorded. Frames for a port another worker
    /// owns are handed to it; the router originates timer frames only for ports this
    /// worker transmits on (`Router::set_port_remote`).
    pub fn set_port_owner(&mut self, id: PortId, owner: Option<usize>) {
        let idx = id.index();
        if self.owners.len() <= idx {
            self.owners.resize(idx + 1, None);
        }
        self.owners[idx] = owner;
        self.update_remote(id);
    }

    /// The worker recorded as owning port `id` ([`Pipeline::set_port_owner`]).
    pub fn port_owner(&self, id: PortId) -> Option<usize> {
        self.owners.get(id.index()).copied().flatten()
    }

    /// Frames handed to, taken from and dropped toward each other worker.
    pub fn handoff_stats(&self) -> HandoffStats {
        self.handoff
            .as_ref()
            .map(HandoffEnds::stats)
            .unwrap_or_default()
    }

    /// Let other workers wake this one while it blocks idle (interrupt mode): it gets a
    /// doorbell ([`Pipeline::handoff_wake_fd`]) they ring when they hand it frames.
    /// Nothing to do without a handoff.
    pub fn enable_handoff_wakeup(&mut self) -> std::io::Result<()> {
        match self.handoff.as_mut() {
            Some(h) => h.enable_wakeup(),
            None => Ok(()),
        }
    }

    /// The descriptor to watch with the ports' sockets while blocking idle (after
    /// [`Pipeline::enable_handoff_wakeup`]): readable when another worker handed frames.
    pub fn handoff_wake_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.handoff.as_ref()?.wake_fd()
    }

    /// About to wait idle: false if other workers' frames are already waiting (do not
    /// wait); otherwise they will ring the doorbell. [`crate::worker::run`] calls it,
    /// and [`Pipeline::handoff_woke`] after the wait.
    pub fn handoff_prepare_sleep(&self) -> bool {
        self.handoff.as_ref().is_none_or(HandoffEnds::prepare_sleep)
    }

    /// Done waiting (see [`Pipeline::handoff_prepare_sleep`]).
    pub fn handoff_woke(&self) {
        if let Some(h) = self.handoff.as_ref() {
            h.woke();
        }
    }

    /// Whether port `id` is attached here.
    #[inline]
    pub(super) fn is_attached(&self, id: PortId) -> bool {
        self.ports.get(id.index()).is_some_and(Option::is_some)
    }

    /// A frame received on `ingress` for `egress`, which is not attached here: handed
    /// to the worker that owns it (dropped as `handoff_full` if its ring is full), or
    /// dropped as `egress_port_missing` if no worker does.
    pub(super) fn hand_off_or_drop(
        &mut self,
        ingress: PortId,
        egress: PortId,
        kind: HandoffKind,
        frame: P::Frame,
    ) {
        let owner = remote_owner(self.handoff.as_ref(), &self.owners, &self.ports, egress);
        let reason = match (owner, self.handoff.as_mut()) {
            (Some(w), Some(h)) => {
                (!h.send(w, kind, frame.data())).then_some(DropReason::HandoffFull)
            }
            _ => Some(DropReason::EgressPortMissing),
        };
        if let Some(reason) = reason {
            self.router.counters_mut().count_drop(ingress, reason);
        }
        self.recycle_to(ingress, frame);
    }

    /// A follower's decision ([`Action::Resolve`]) for an uplink attached here: this
    /// worker's router finishes the frame received on `ingress` itself.
    pub(super) fn resolve_here(
        &mut self,
        ingress: PortId,
        port: PortId,
        next_hop: NextHopAddr,
        mut frame: P::Frame,
        from_guest: bool,
        now: Instant,
    ) {
        let action = self.router.output_resolved(
            ingress,
            port,
            next_hop,
            frame.data_mut(),
            now,
            &mut self.outbox,
        );
        match action {
            Action::Forward(egress) if self.is_attached(egress) => {
                match (
                    self.tx.get_mut(egress.index()),
                    self.tx_from_guest.get_mut(egress.index()),
                ) {
                    (Some(q), Some(marks)) => {
                        q.push(frame);
                        marks.push(from_guest);
                    }
                    _ => self.recycle_to(ingress, frame),
                }
            }
            Action::Forward(_) | Action::Resolve { .. } => {
                self.router
                    .counters_mut()
                    .count_drop(ingress, DropReason::EgressPortMissing);
                self.recycle_to(ingress, frame);
            }
            Action::Consumed | Action::Drop(_) => self.recycle_to(ingress, frame),
        }
    }

    /// Give `frame` back to the port it came from.
    fn recycle_to(&mut self, from: PortId, frame: P::Frame) {
        if let Some(Some(port)) = self.ports.get_mut(from.index()) {
            port.recycle(frame);
        }
    }

    /// Tell the router whether port `id` is another worker's.
    pub(super) fn update_remote(&mut self, id: PortId) {
        let remote = remote_owner(self.handoff.as_ref(), &self.owners, &self.ports, id).is_some();
        self.router.set_port_remote(id, remote);
    }

    /// Take what the other workers handed over: frames to send are queued on their
    /// port's transmit burst (or the outbox), follower frames for the uplink are
    /// finished by the router. At most one ring's capacity per peer per pass, and only
    /// as many frames for a port as its transmit ring has room for: at the first frame
    /// that does not fit, the rest of the peer's frames wait in its ring for the next
    /// pass (the ring fills and the peer's sends are refused as `handoff_full`: the
    /// frames are dropped before anyone copies them, not after). A port whose ring
    /// stays full for [`HOLD_MAX`] no longer holds anything up: its frames are dropped
    /// as `tx_ring_full` until it has room again. Returns how many frames were taken.
    pub(super) fn handoff_in(&mut self, now: Instant) -> usize {
        let Some(mut h) = self.handoff.take() else {
            return 0;
        };
        let mut taken = 0;
        let me = h.worker();
        'peers: for peer in (0..h.workers()).filter(|&p| p != me) {
            // What the peer had handed over when this pass began: a peer working on
            // another core keeps adding, and this pass must end.
            for _ in 0..h.capacity() {
                let Some((mut batch, first)) = h.receive(peer) else {
                    break;
                };
                for i in first..batch.len() {
                    let Some((kind, data)) = batch.get_mut(i) else {
                        continue;
                    };
                    if !self.may_take(kind, now) {
                        taken += i - first;
                        h.hold(peer, batch, i);
                        continue 'peers;
                    }
                    self.take_handed(kind, data, now);
                }
                taken += batch.len() - first;
                h.give_back(peer, batch);
            }
        }
        self.handoff = Some(h);
        taken
    }

    /// Whether a handed frame of `kind` can be taken now: false if its egress port is
    /// attached here and its transmit ring cannot take one more frame (counting those
    /// already queued this pass), unless the ring has been full for [`HOLD_MAX`]
    /// (then the frame is taken, and dropped as `tx_ring_full`).
    fn may_take(&mut self, kind: HandoffKind, now: Instant) -> bool {
        let port = match kind {
            HandoffKind::Transmit { port, .. } | HandoffKind::Resolve { port, .. } => port,
            // Few (replies, errors, timer frames), sent from the outbox.
            HandoffKind::Originated { .. } => return true,
        };
        let idx = port.index();
        let Some(Some(p)) = self.ports.get_mut(idx) else {
            return true; // counted as egress_port_missing when taken
        };
        let queued = self.tx.get(idx).map_or(0, Vec::len);
        if self.tx_full_since.len() <= idx {
            self.tx_full_since.resize(idx + 1, None);
        }
        if p.tx_room() > queued {
            self.tx_full_since[idx] = None;
            return true;
        }
        let since = *self.tx_full_since[idx].get_or_insert(now);
        now.saturating_duration_since(since) >= HOLD_MAX
    }

    /// One frame a peer handed over.
    fn take_handed(&mut self, kind: HandoffKind, data: &mut [u8], now: Instant) {
        match kind {
            HandoffKind::Transmit { port, from_guest } => self.queue_copy(port, data, from_guest),
            HandoffKind::Originated { port } => self.outbox.push_copy(port, data),
            HandoffKind::Resolve {
                ingress,
                port,
                next_hop,
            } => {
                let action = self.router.output_resolved(
                    ingress,
                    port,
                    next_hop,
                    data,
                    now,
                    &mut self.outbox,
                );
                if let Action::Forward(egress) = action {
                    self.queue_copy(egress, data, true);
                }
            }
        }
    }

    /// Queue a copy of `data` on `port`'s transmit burst, in a frame of the port's kind.
    fn queue_copy(&mut self, port: PortId, data: &[u8], from_guest: bool) {
        let idx = port.index();
        let frame = match self.ports.get_mut(idx) {
            Some(Some(p)) => p.frame_from(data).ok_or(DropReason::TxRingFull),
            _ => Err(DropReason::EgressPortMissing),
        };
        match (frame, self.tx.get_mut(idx), self.tx_from_guest.get_mut(idx)) {
            (Ok(f), Some(q), Some(marks)) => {
                q.push(f);
                marks.push(from_guest);
            }
            (Err(reason), _, _) => self.router.counters_mut().count_drop(port, reason),
            (Ok(f), _, _) => {
                // Attached ports always have queues; give the frame back regardless.
                if let Some(Some(p)) = self.ports.get_mut(idx) {
                    p.recycle(f);
                }
            }
        }
    }
}
