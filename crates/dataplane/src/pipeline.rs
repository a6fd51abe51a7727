//! The burst pipeline: receive a burst on each port, run every frame through the
//! router's stages, hand forwarded frames to their egress port's transmit burst, send
//! what the router originated, and run timers. The router decides; this loop does I/O.

use hvrouter_core::drop::DropReason;
use hvrouter_core::outbox::Outbox;
use hvrouter_core::router::{Action, Router};
use hvrouter_core::{Instant, PortId};

use crate::capture::{Capture, Verdict};
use crate::fast_path::{Aside, FastPath};
use crate::gso_tx::{self, GsoTx};
use crate::handoff::{HandoffEnds, HandoffKind};
use crate::port::{Frame, Port};

mod workers;

/// Default number of frames taken from a port per poll.
pub const DEFAULT_BURST: usize = 64;

/// What one pass over the ports did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Frames received.
    pub rx: usize,
    /// Frames transmitted (forwarded, answered or originated).
    pub tx: usize,
    /// Frames taken from other workers' handoff rings ([`Pipeline::set_handoff`]): work
    /// for this worker as much as received frames are.
    pub handed_in: usize,
}

/// A router plus the ports it owns.
#[derive(Debug)]
pub struct Pipeline<P: Port> {
    router: Router,
    ports: Vec<Option<P>>,
    rx: Vec<P::Frame>,
    /// What the router decided for each frame of `rx`.
    actions: Vec<Action>,
    tx: Vec<Vec<P::Frame>>,
    /// For each frame of `tx`: whether it came from a guest (its TCP checksum was
    /// computed by the router, or left partial toward the uplink), so coalescing need
    /// not verify it.
    tx_from_guest: Vec<Vec<bool>>,
    outbox: Outbox,
    burst: usize,
    /// Copies of frames while `hvrouter capture` runs (off otherwise).
    capture: Capture,
    /// Transmit toward ports that take GSO sends (coalescing, super-frames whole).
    gso: GsoTx<P::Frame>,
    /// The in-kernel fast path's maps, kept in step with the router ([`crate::fast_path`]).
    fast: Option<FastPath>,
    /// The rings to the other workers, with N workers ([`Pipeline::set_handoff`]).
    handoff: Option<HandoffEnds>,
    /// The worker that owns each port, by port index ([`Pipeline::set_port_owner`]).
    owners: Vec<Option<usize>>,
    /// Since when each port's transmit ring has had no room for frames from other
    /// workers, by port index (`None`: it had room last time).
    tx_full_since: Vec<Option<Instant>>,
}

impl<P: Port> Pipeline<P> {
    /// A pipeline around `router` with no ports yet.
    pub fn new(router: Router, burst: usize) -> Pipeline<P> {
        Pipeline {
            router,
            ports: Vec::new(),
            rx: Vec::with_capacity(burst),
            actions: Vec::with_capacity(burst),
            tx: Vec::new(),
            tx_from_guest: Vec::new(),
            outbox: Outbox::new(),
            burst: burst.max(1),
            capture: Capture::default(),
            gso: GsoTx::default(),
            fast: None,
            handoff: None,
            owners: Vec::new(),
            tx_full_since: Vec::new(),
        }
    }

    /// Keep `fast` (the maps the ports' programs were loaded with) in step with the
    /// router from now on; `None`: no fast path.
    pub fn set_fast_path(&mut self, fast: Option<FastPath>) {
        self.fast = fast;
    }

    /// The fast path, if there is one.
    pub fn fast_path(&self) -> Option<&FastPath> {
        self.fast.as_ref()
    }

    /// Adds what the fast path forwarded since the last call to the router's counters
    /// (done every second anyway; call it before reading counters).
    pub fn fold_fast_path(&mut self) {
        if let Some(f) = self.fast.as_mut() {
            f.fold(&mut self.router);
        }
    }

    /// Writes the fast path's maps if the router, the ports or a trace or capture
    /// changed, or a resync is due; folds its counters when due.
    #[inline]
    fn fast_path_step(&mut self, now: Instant) {
        let Some(f) = self.fast.as_mut() else {
            return;
        };
        let aside = Aside {
            observing: self.capture.is_on() || self.router.tracing(),
        };
        if f.due(&self.router, aside, now) {
            let ports = &self.ports;
            let ifindex_of = |p: PortId| {
                ports
                    .get(p.index())
                    .and_then(Option::as_ref)
                    .and_then(Port::fast_path_ifindex)
            };
            f.sync(&mut self.router, ifindex_of, aside, now);
        }
        if f.fold_due(now) {
            f.fold(&mut self.router);
        }
    }

    /// Attach a port under `id` (replacing any port with that id).
    pub fn attach(&mut self, id: PortId, port: P) -> Option<P> {
        let idx = id.index();
        if self.ports.len() <= idx {
            self.ports.resize_with(idx + 1, || None);
            self.tx
                .resize_with(idx + 1, || Vec::with_capacity(self.burst));
            self.tx_from_guest
                .resize_with(idx + 1, || Vec::with_capacity(self.burst));
        }
        self.router.counters_mut().ensure(id);
        // A guest's TCP super-frame toward this port leaves whole if it takes GSO.
        self.router.set_port_gso(id, port.takes_gso());
        if let Some(f) = self.fast.as_mut() {
            f.ports_changed();
        }
        let old = self.ports[idx].replace(port);
        self.router.set_port_remote(id, false);
        old
    }

    /// Detach the port `id` (its link went away). Frames routed to it are dropped.
    pub fn detach(&mut self, id: PortId) -> Option<P> {
        self.router.set_port_gso(id, false);
        if let Some(f) = self.fast.as_mut() {
            f.ports_changed();
        }
        let port = self.ports.get_mut(id.index())?.take();
        self.update_remote(id);
        if let (Some(f), Some(ifindex)) = (
            self.fast.as_mut(),
            port.as_ref().and_then(Port::fast_path_ifindex),
        ) {
            // At once, not at the next sync: nothing is redirected to it or taken from
            // it in the kernel any more.
            f.forget_device(ifindex);
        }
        port
    }

    /// Every attached port.
    pub fn ports(&self) -> impl Iterator<Item = &P> {
        self.ports.iter().flatten()
    }

    /// The port `id`.
    pub fn port_mut(&mut self, id: PortId) -> Option<&mut P> {
        self.ports.get_mut(id.index())?.as_mut()
    }

    /// Change the number of frames taken from a port per poll.
    pub fn set_burst(&mut self, burst: usize) {
        self.burst = burst.max(1);
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The router, for control changes between passes.
    pub fn router_mut(&mut self) -> &mut Router {
        &mut self.router
    }

    /// The capture buffer, for the control plane between passes.
    pub fn capture_mut(&mut self) -> &mut Capture {
        &mut self.capture
    }

    /// One pass: every port's receive burst, then transmits, then timers.
    pub fn run_once(&mut self, now: Instant) -> PassStats {
        let mut stats = PassStats::default();
        self.fast_path_step(now);
        if self.handoff.is_some() {
            stats.handed_in = self.handoff_in(now);
        }
        for idx in 0..self.ports.len() {
            stats.rx += self.rx_port(PortId(idx as u16), now);
        }
        self.router.poll(now, &mut self.outbox);
        stats.tx += self.transmit(now);
        stats
    }

    fn rx_port(&mut self, id: PortId, now: Instant) -> usize {
        let Some(port) = self.ports[id.index()].as_mut() else {
            return 0;
        };
        let n = port.rx_burst(&mut self.rx, self.burst);
        if n == 0 {
            return 0;
        }
        self.actions.clear();
        // One test per burst while no capture runs.
        let capturing = self.capture.wants(id);
        if capturing {
            self.capture.record_rx(id, now, &self.rx);
        }
        self.router.process_burst(
            id,
            &mut self.rx,
            P::Frame::data_mut,
            now,
            &mut self.outbox,
            &mut self.actions,
        );
        if capturing {
            let ports = &self.ports;
            let handoff = self.handoff.as_ref();
            let owners = &self.owners;
            self.capture.decide(&self.actions, |p| {
                ports.get(p.index()).is_some_and(Option::is_some)
                    || workers::remote_owner(handoff, owners, ports, p).is_some()
            });
        }
        let bytes: u64 = self.rx.iter().map(|f| f.data().len() as u64).sum();
        let from_guest = matches!(
            self.router.tables().port_role(id),
            Some(hvrouter_core::tables::PortRole::Guest(_))
        );
        if !self.forward_whole_burst(from_guest) {
            self.dispatch(id, from_guest, now);
        }
        let c = self.router.counters_mut().port_mut(id);
        c.rx_packets += n as u64;
        c.rx_bytes += bytes;
        n
    }

    /// The common case: every frame of the burst goes to the same port, whose transmit
    /// queue takes them all in one move. False (nothing moved) otherwise.
    #[inline]
    fn forward_whole_burst(&mut self, from_guest: bool) -> bool {
        let Some(&Action::Forward(egress)) = self.actions.first() else {
            return false;
        };
        if !self.actions.iter().all(|&a| a == Action::Forward(egress)) {
            return false;
        }
        match (
            self.tx.get_mut(egress.index()),
            self.tx_from_guest.get_mut(egress.index()),
            self.ports.get(egress.index()),
        ) {
            (Some(q), Some(marks), Some(Some(_))) => {
                marks.resize(marks.len() + self.rx.len(), from_guest);
                q.append(&mut self.rx);
                true
            }
            _ => false,
        }
    }

    /// Hand each frame of `rx` to its egress queue or back to port `id`, as decided;
    /// frames for another worker's port to that worker.
    fn dispatch(&mut self, id: PortId, from_guest: bool, now: Instant) {
        let mut rx = std::mem::take(&mut self.rx);
        let actions = std::mem::take(&mut self.actions);
        for (frame, &action) in rx.drain(..).zip(actions.iter()) {
            match action {
                Action::Forward(egress) => match (
                    self.tx.get_mut(egress.index()),
                    self.tx_from_guest.get_mut(egress.index()),
                ) {
                    (Some(q), Some(marks)) if self.ports[egress.index()].is_some() => {
                        q.push(frame);
                        marks.push(from_guest);
                    }
                    _ => {
                        let kind = HandoffKind::Transmit {
                            port: egress,
                            from_guest,
                        };
                        self.hand_off_or_drop(id, egress, kind, frame);
                    }
                },
                Action::Resolve { port, next_hop } if self.is_attached(port) => {
                    // The uplink is here after all: this worker resolves.
                    self.resolve_here(id, port, next_hop, frame, from_guest, now);
                }
                Action::Resolve { port, next_hop } => {
                    let kind = HandoffKind::Resolve {
                        ingress: id,
                        port,
                        next_hop,
                    };
                    self.hand_off_or_drop(id, port, kind, frame);
                }
                Action::Consumed | Action::Drop(_) => recycle(&mut self.ports, id, frame),
            }
        }
        self.rx = rx;
        self.actions = actions;
    }

    fn transmit(&mut self, now: Instant) -> usize {
        let mut sent = 0;
        for (idx, queue) in self.tx.iter_mut().enumerate() {
            if queue.is_empty() {
                continue;
            }
            let mut no_marks = Vec::new();
            let marks = self.tx_from_guest.get_mut(idx).unwrap_or(&mut no_marks);
            let id = PortId(idx as u16);
            let Some(port) = self.ports[idx].as_mut() else {
                queue.clear();
                marks.clear();
                continue;
            };
            if self.capture.wants(id) {
                let frames = queue.iter().map(Frame::data);
                self.capture.record_tx(id, now, frames, Verdict::Sent);
            }
            let mtu = port
                .takes_gso()
                .then(|| gso_tx::egress_mtu(&self.router, id))
                .flatten();
            if let Some(mtu) = mtu {
                // Toward the uplink every frame is a guest's (partial TCP checksums are
                // completed there); toward a guest, segments may come from the VLAN
                // (verified before merging).
                let to_uplink = matches!(
                    self.router.tables().port_role(id),
                    Some(hvrouter_core::tables::PortRole::Uplink(_))
                );
                let r = self.gso.transmit(port, queue, marks, mtu, to_uplink);
                marks.clear();
                let c = self.router.counters_mut().port_mut(id);
                c.tx_packets += r.sent as u64;
                c.tx_bytes += r.bytes as u64;
                c.drops[DropReason::TxRingFull.index()] += r.dropped as u64;
                c.drops[gso_tx::INVALID.index()] += r.gso_invalid;
                c.gso_sent += r.gso_sent;
                c.gro_merged += r.gro_merged;
                c.gso_fallback += r.gso_fallback;
                sent += r.sent;
                continue;
            }
            let r = port.tx_burst(queue);
            marks.clear();
            let c = self.router.counters_mut().port_mut(id);
            c.tx_packets += r.sent as u64;
            c.tx_bytes += r.bytes as u64;
            c.drops[DropReason::TxRingFull.index()] += r.dropped as u64;
            sent += r.sent;
        }
        for f in self.outbox.frames() {
            let Some(Some(port)) = self.ports.get_mut(f.port.index()) else {
                // Another worker's port: a frame originated while processing what this
                // worker received (timer frames for it were not made, see
                // Router::set_port_remote).
                let owner =
                    workers::remote_owner(self.handoff.as_ref(), &self.owners, &self.ports, f.port);
                if let (Some(w), Some(h)) = (owner, self.handoff.as_mut()) {
                    let kind = HandoffKind::Originated { port: f.port };
                    if !h.send(w, kind, &f.data) {
                        self.router
                            .counters_mut()
                            .count_drop(f.port, DropReason::HandoffFull);
                    }
                }
                continue;
            };
            let ok = port.tx_copy(&f.data);
            if self.capture.wants(f.port) {
                let frame = std::iter::once(f.data.as_slice());
                self.capture
                    .record_tx(f.port, now, frame, Verdict::Originated(ok));
            }
            let c = self.router.counters_mut().port_mut(f.port);
            if ok {
                c.tx_packets += 1;
                c.tx_bytes += f.data.len() as u64;
                sent += 1;
            } else {
                c.drops[DropReason::TxRingFull.index()] += 1;
            }
        }
        self.outbox.clear();
        if let Some(h) = self.handoff.as_mut() {
            h.flush();
        }
        for port in self.ports.iter_mut().flatten() {
            port.flush();
        }
        sent
    }
}

/// Return a frame to the port it came from.
fn recycle<P: Port>(ports: &mut [Option<P>], from: PortId, frame: P::Frame) {
    if let Some(Some(port)) = ports.get_mut(from.index()) {
        port.recycle(frame);
    }
}
