//! Requests that read the workers' state, and `trace` across several workers.

use std::time::Duration;

use hvrouter_control::protocol::{Payload, Request, Response, TraceRecord};
use hvrouter_control::server::Command;
use hvrouter_runtime::jobs::WorkerGone;

use super::{merge, Control};

/// A trace is answered once this close to its client's deadline, with what it has.
const TRACE_ANSWER_BEFORE: Duration = Duration::from_millis(500);

impl Control {
    /// A request that reads the workers' state: answered by worker 0 from the tables
    /// (the same on every worker), or by every worker and merged (ports, counters,
    /// captures: each worker has its own ports and frames).
    pub(super) fn query(&mut self, req: Request) -> Result<Response, WorkerGone> {
        let runtime = self.runtime_taps();
        Ok(match req {
            Request::ShowPorts if self.workers.count() > 1 => {
                let all = self.workers.call_all(move |p, s| {
                    (crate::views::ports(p, &s.ports), s.ports.owned_rows())
                })?;
                Response::Ok(Payload::Ports(merge::ports(all)))
            }
            Request::ShowCounters if self.workers.count() > 1 => {
                let all = self.workers.call_all(move |p, s| {
                    let r = crate::views::counters_report(p, &s.ports, s.worker);
                    (r, s.ports.owned_rows())
                })?;
                match merge::counters(all) {
                    Some(r) => Response::Ok(Payload::Counters(r)),
                    None => Response::error("no worker answered"),
                }
            }
            Request::ShowIpv6 { ref network } if self.workers.count() > 1 => {
                let network = network.clone();
                let all = self
                    .workers
                    .call_all(move |p, _| crate::ipv6::report(p.router(), network.as_deref()))?;
                match merge::ipv6(all) {
                    Some(r) => Response::Ok(Payload::Ipv6(r)),
                    None => self
                        .workers
                        .home()
                        .call(move |p, s| s.answer(p, &req, &[]))?,
                }
            }
            Request::ShowDhcp if self.workers.count() > 1 => {
                let all = self
                    .workers
                    .call_all(move |p, s| crate::views::dhcp_report(p.router(), s.now))?;
                match merge::dhcp(all) {
                    Some(r) => Response::Ok(Payload::Dhcp(r)),
                    None => Response::error("no worker answered"),
                }
            }
            Request::ExplainDhcp { ref tap } if self.workers.count() > 1 => {
                // The worker that has the guest's port serves its DHCP.
                let tap = tap.clone();
                let all = self.workers.call_all(move |p, s| {
                    let port = p.router().tables().guests().by_name(&tap).map(|g| g.port);
                    let mine = port.is_some_and(|id| s.ports.owns(id));
                    (mine, s.query(p, &req, &[]))
                })?;
                let owner = all.iter().position(|(mine, _)| *mine).unwrap_or(0);
                all.into_iter()
                    .nth(owner)
                    .and_then(|(_, r)| r)
                    .unwrap_or_else(|| Response::error("request not handled"))
            }
            Request::CaptureStart { .. }
            | Request::CaptureRead { .. }
            | Request::CaptureStop { .. }
                if self.workers.count() > 1 =>
            {
                let all = self.workers.call_all(move |p, s| s.answer(p, &req, &[]))?;
                merge::capture(all)
            }
            other => self
                .workers
                .home()
                .call(move |p, s| s.answer(p, &other, &runtime))?,
        })
    }

    /// `trace N`: every worker records the next N frames it
    /// handles; the request is answered by [`Self::poll_traces`].
    pub(super) fn start_trace(&mut self, cmd: Command, count: u32) -> Result<(), WorkerGone> {
        if self.traces.is_empty() {
            self.trace_count = count;
            self.workers
                .call_all(move |p, _| p.router_mut().start_trace(count))?;
        }
        self.traces.push(cmd);
        Ok(())
    }

    /// Answer the waiting `trace` requests once the workers together recorded the
    /// frames asked for, or a client's deadline is near: the records of every worker,
    /// worker 0's first.
    pub(super) fn poll_traces(&mut self) -> Result<(), WorkerGone> {
        let count = self.trace_count;
        let remaining = self.workers.call_all(|p, _| p.router().trace_remaining())?;
        let recorded: u32 = remaining.iter().map(|r| count.saturating_sub(*r)).sum();
        let near = self
            .traces
            .iter()
            .any(|c| c.remaining() < TRACE_ANSWER_BEFORE);
        if recorded < count && !near {
            return Ok(());
        }
        let all = self.workers.call_all(|p, s| {
            p.router_mut()
                .take_trace()
                .into_iter()
                .map(|r| TraceRecord {
                    port: s.ports.name(r.port).to_string(),
                    summary: r.summary,
                    steps: r.steps,
                    decision: r.decision,
                })
                .collect::<Vec<_>>()
        })?;
        let records: Vec<TraceRecord> = all.into_iter().flatten().take(count as usize).collect();
        for cmd in self.traces.drain(..) {
            cmd.reply(Response::Ok(Payload::Trace(records.clone())));
        }
        Ok(())
    }
}
