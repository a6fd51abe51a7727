//! The router's side of `hvrouter capture`: start, read and stop the pipeline's capture
//! on control requests, and stop it when its client stops reading (a client that died
//! must not leave copying on). One capture runs at a time: a second start is refused
//! with a message saying why and what to do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hvrouter_control::protocol::capture::{DEFAULT_CAPTURE_BYTES, MAX_SNAPLEN};
use hvrouter_control::protocol::{
    CaptureBatch as WireBatch, CaptureDirection, CaptureInfo, CapturedFrame, Payload, Request,
    Response,
};
use hvrouter_core::router::Action;
use hvrouter_core::{Instant, PortId};
use hvrouter_dataplane::capture::{CaptureBatch, CaptureConfig, Direction, Verdict};
use hvrouter_dataplane::{Pipeline, Port};

use crate::log;
use crate::ports::{Kind, Ports};

/// A capture nobody reads for this long stops by itself.
pub const IDLE_STOP: Duration = Duration::from_secs(5);

/// Port names, as the capture needs them (the router's [`Ports`], or a list in tests).
pub trait PortNames {
    /// The device of port `id` ("" if none).
    fn name(&self, id: PortId) -> &str;
    /// Every port in use.
    fn ids(&self) -> Vec<PortId>;
    /// The port of device `name`.
    fn find(&self, name: &str) -> Option<PortId> {
        self.ids().into_iter().find(|&id| self.name(id) == name)
    }
}

impl PortNames for Ports {
    fn name(&self, id: PortId) -> &str {
        Ports::name(self, id)
    }
    fn ids(&self) -> Vec<PortId> {
        self.entries
            .iter()
            .filter(|e| e.kind != Kind::Unused)
            .map(|e| e.id)
            .collect()
    }
}

/// The running capture, if any.
#[derive(Debug, Default)]
pub struct Captures {
    running: Option<Running>,
    next_id: u64,
    /// The buffer of the last batch read, handed back to the pipeline on the next read.
    spare: Option<CaptureBatch>,
}

#[derive(Debug)]
struct Running {
    id: u64,
    last_read: Instant,
    /// The devices asked for (empty: all ports) and the ports they were on at the last
    /// look: a guest removed and added again may come back on another port.
    names: Vec<String>,
    ids: Vec<PortId>,
}

impl Captures {
    /// Answer `capture_start`, `capture_read` or `capture_stop` (`None` for any other
    /// request).
    pub fn handle<P: Port>(
        &mut self,
        pipe: &mut Pipeline<P>,
        ports: &impl PortNames,
        req: &Request,
        now: Instant,
    ) -> Option<Response> {
        Some(match req {
            Request::CaptureStart {
                ports: names,
                snaplen,
                max_bytes,
            } => self.start(pipe, ports, names, *snaplen, *max_bytes, now),
            Request::CaptureRead { id } => match self.check(*id) {
                Err(e) => *e,
                Ok(()) => {
                    if let Some(r) = self.running.as_mut() {
                        r.last_read = now;
                        r.follow(pipe, ports);
                    }
                    let batch = match self.spare.take() {
                        Some(spare) => pipe.capture_mut().take_reusing(spare),
                        None => pipe.capture_mut().take(),
                    };
                    let answer = wire_batch(*id, &batch, ports, now, true);
                    self.spare = Some(batch);
                    Response::Ok(Payload::Captured(answer))
                }
            },
            Request::CaptureStop { id } => match self.check(*id) {
                Err(e) => *e,
                Ok(()) => {
                    self.running = None;
                    self.spare = None;
                    let batch = pipe.capture_mut().stop();
                    log::info("capture_stopped", &[("id", id), ("by", &"client")]);
                    Response::Ok(Payload::Captured(wire_batch(
                        *id, &batch, ports, now, false,
                    )))
                }
            },
            _ => return None,
        })
    }

    /// Stop a capture nobody has read for [`IDLE_STOP`].
    pub fn tick<P: Port>(&mut self, pipe: &mut Pipeline<P>, now: Instant) {
        let Some(r) = &self.running else { return };
        if now.saturating_duration_since(r.last_read) < IDLE_STOP {
            return;
        }
        let id = r.id;
        self.running = None;
        self.spare = None;
        let batch = pipe.capture_mut().stop();
        log::info(
            "capture_stopped",
            &[
                ("id", &id),
                ("by", &"idle"),
                ("unread_frames", &batch.records().count()),
            ],
        );
    }

    /// Whether a capture runs.
    #[cfg(test)]
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    fn check(&self, id: u64) -> Result<(), Box<Response>> {
        match &self.running {
            Some(r) if r.id == id => Ok(()),
            _ => Err(Box::new(Response::error(format!(
                "no capture {id} is running: it was stopped, or it stopped by itself after {} s without a read",
                IDLE_STOP.as_secs()
            )))),
        }
    }

    fn start<P: Port>(
        &mut self,
        pipe: &mut Pipeline<P>,
        ports: &impl PortNames,
        names: &[String],
        snaplen: Option<u32>,
        max_bytes: Option<u64>,
        now: Instant,
    ) -> Response {
        if let Some(r) = &self.running {
            let idle = now.saturating_duration_since(r.last_read);
            return Response::error(format!(
                "a capture is already running (capture {}, last read {} ms ago): one runs at a time; it stops when its hvrouter capture exits, or by itself after {} s without a read",
                r.id,
                idle.as_millis(),
                IDLE_STOP.as_secs()
            ));
        }
        let mut ids = Vec::new();
        for n in names {
            match ports.find(n) {
                Some(id) => ids.push(id),
                None => {
                    let known: Vec<&str> = ports.ids().into_iter().map(|i| ports.name(i)).collect();
                    return Response::error(format!(
                        "capture: {n} is not a port of this router (ports: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let config = CaptureConfig {
            ports: ids.clone(),
            snaplen: snaplen.unwrap_or(MAX_SNAPLEN),
            max_bytes: usize::try_from(max_bytes.unwrap_or(DEFAULT_CAPTURE_BYTES))
                .unwrap_or(usize::MAX),
        };
        let capture = pipe.capture_mut();
        capture.start(&config);
        let (snaplen, max_bytes) = (capture.snaplen(), capture.max_bytes());
        self.next_id += 1;
        let id = self.next_id;
        self.running = Some(Running {
            id,
            last_read: now,
            names: names.to_vec(),
            ids: ids.clone(),
        });
        self.spare = None;
        let listed = if ids.is_empty() { ports.ids() } else { ids };
        let port_names: Vec<String> = listed.iter().map(|&i| ports.name(i).to_string()).collect();
        log::info(
            "capture_started",
            &[("id", &id), ("ports", &port_names.join(","))],
        );
        Response::Ok(Payload::CaptureStarted(CaptureInfo {
            id,
            ports: port_names,
            snaplen,
            max_bytes: max_bytes as u64,
            idle_timeout_ms: IDLE_STOP.as_millis() as u64,
        }))
    }
}

impl Running {
    /// Point the capture at the ports its named devices are on now.
    fn follow<P: Port>(&mut self, pipe: &mut Pipeline<P>, ports: &impl PortNames) {
        if self.names.is_empty() {
            return;
        }
        let mut now: Vec<PortId> = self.names.iter().filter_map(|n| ports.find(n)).collect();
        now.sort_unstable();
        now.dedup();
        if now != self.ids {
            pipe.capture_mut().set_ports(Some(&now));
            self.ids = now;
        }
    }
}

/// A batch in protocol form: port names, wall-clock times, decisions in words.
fn wire_batch(
    id: u64,
    batch: &CaptureBatch,
    ports: &impl PortNames,
    now: Instant,
    running: bool,
) -> WireBatch {
    // The pipeline's clock is monotonic from an arbitrary origin: anchor it to the wall
    // clock once per read.
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let origin = wall.saturating_sub(now.as_nanos());
    let frames = batch
        .records()
        .map(|r| CapturedFrame {
            port: ports.name(r.port).to_string(),
            direction: match r.direction {
                Direction::Rx => CaptureDirection::Rx,
                Direction::Tx => CaptureDirection::Tx,
            },
            time_ns: origin.saturating_add(r.time.as_nanos()),
            len: r.len,
            decision: decision(r.port, r.verdict, ports),
            data: r.data.to_vec(),
        })
        .collect();
    WireBatch {
        id,
        frames,
        captured: batch.captured,
        dropped: batch.dropped,
        running,
    }
}

/// What the router's outbox carries, for the comment of a frame sent from it.
const OUTBOX: &str =
    "built or held by the router (ARP, ICMP error, announcement, segment, fragment, or released after ARP)";

/// A verdict in words, for the pcapng comment.
pub fn decision(port: PortId, verdict: Verdict, ports: &impl PortNames) -> String {
    match verdict {
        Verdict::Decided(Action::Forward(p)) if p == port => {
            "reply (sent back on this port)".into()
        }
        Verdict::Decided(Action::Forward(p)) => format!("forward to {}", ports.name(p)),
        Verdict::Decided(Action::Consumed) => {
            "consumed (learned, queued for next-hop resolution, or segmented)".into()
        }
        Verdict::Decided(Action::Drop(r)) => format!("drop {}", r.name()),
        Verdict::Decided(Action::Resolve { port: p, next_hop }) => format!(
            "forward to {} via {next_hop} (next hop resolved by worker 0)",
            ports.name(p)
        ),
        Verdict::EgressMissing(p) => {
            format!(
                "drop egress_port_missing (forward to {}, not attached)",
                ports.name(p)
            )
        }
        Verdict::Unknown => "unknown".into(),
        Verdict::Sent => "sent".into(),
        Verdict::Originated(true) => format!("sent, {OUTBOX}"),
        Verdict::Originated(false) => format!("not sent: tx_ring_full; {OUTBOX}"),
    }
}

#[cfg(test)]
mod tests;
