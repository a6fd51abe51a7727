//! The control thread's handles on the packet workers. Every change to the tables is
//! run on every worker, in the same order (each keeps a full replica of the router's
//! tables); queries are answered by worker 0, or by all and merged (counters, ports).

use std::sync::mpsc;
use std::sync::Arc;

use hvrouter_dataplane::xdp_port::XdpPort;
use hvrouter_dataplane::Pipeline;
use hvrouter_runtime::jobs::WorkerGone;

use super::side::{Worker, WorkerSide};

/// Every worker's job link; worker 0 first (the home worker: uplinks, neighbors).
#[derive(Debug)]
pub struct Workers {
    links: Vec<Worker>,
}

impl Workers {
    /// Handles on `links` (at least one).
    pub fn new(links: Vec<Worker>) -> Workers {
        Workers { links }
    }

    /// Worker 0: the uplinks' owner, which answers queries on the shared tables.
    pub fn home(&self) -> &Worker {
        &self.links[0]
    }

    /// Worker `i`.
    pub fn get(&self, i: usize) -> Option<&Worker> {
        self.links.get(i)
    }

    /// How many workers there are.
    pub fn count(&self) -> usize {
        self.links.len()
    }

    /// Run `f` on every worker, all at once, and wait for every answer (in worker
    /// order).
    pub fn call_all<R: Send + 'static>(
        &self,
        f: impl Fn(&mut Pipeline<XdpPort>, &mut WorkerSide) -> R + Send + Sync + 'static,
    ) -> Result<Vec<R>, WorkerGone> {
        let f = Arc::new(f);
        let mut answers = Vec::with_capacity(self.links.len());
        for link in &self.links {
            let (tx, rx) = mpsc::sync_channel(1);
            let f = Arc::clone(&f);
            link.send(move |p, s| {
                let _ = tx.send(f(p, s));
            })?;
            answers.push(rx);
        }
        answers
            .into_iter()
            .map(|rx| rx.recv().map_err(|_| WorkerGone))
            .collect()
    }

    /// Run `f` on every worker but `except`, without waiting.
    pub fn send_others(
        &self,
        except: usize,
        f: impl Fn(&mut Pipeline<XdpPort>, &mut WorkerSide) + Send + Sync + 'static,
    ) -> Result<(), WorkerGone> {
        let f = Arc::new(f);
        for (i, link) in self.links.iter().enumerate() {
            if i != except {
                let f = Arc::clone(&f);
                link.send(move |p, s| f(p, s))?;
            }
        }
        Ok(())
    }
}
