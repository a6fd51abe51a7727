//! Saving off the dataplane thread. A save costs three fsyncs (milliseconds): the
//! dataplane applies a change, hands the new state and the client's command here, and
//! goes back to forwarding; the client is answered once the state is on disk.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::{self, JoinHandle};

use super::store::{StateError, StateStore};
use super::RuntimeState;
use crate::protocol::Response;
use crate::server::Command;

/// One state to save, and the answers that wait for it.
#[derive(Debug)]
struct Job {
    state: RuntimeState,
    reply: Option<(Command, Response)>,
}

/// A thread that saves submitted states in order, coalescing bursts (only the latest
/// state of a burst is written), then answers the commands that waited for them.
#[derive(Debug)]
pub struct StateSaver {
    tx: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl StateSaver {
    /// Start the saver. `on_error` is called (on the saver thread) for each failed save,
    /// to log it.
    pub fn spawn(
        store: StateStore,
        on_error: impl Fn(&StateError) + Send + 'static,
    ) -> std::io::Result<StateSaver> {
        let (tx, rx) = channel();
        let thread = thread::Builder::new()
            .name("hvr-state".into())
            .spawn(move || run(&store, &rx, &on_error))?;
        Ok(StateSaver {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Save `state`, then answer `reply`'s command with its response (or, if the save
    /// fails, with an error saying the change is applied but will not survive a restart).
    /// Never blocks. If the saver thread is gone, the command is answered at once with
    /// that error.
    pub fn submit(&self, state: RuntimeState, reply: Option<(Command, Response)>) {
        let job = Job { state, reply };
        let Some(tx) = &self.tx else {
            return;
        };
        if let Err(failed) = tx.send(job) {
            if let Some((cmd, _)) = failed.0.reply {
                cmd.reply(Response::error(not_saved("the state saver is not running")));
            }
        }
    }
}

impl Drop for StateSaver {
    /// Finish the pending saves, then stop.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn not_saved(why: &str) -> String {
    format!("the change was applied but not saved, so it will not survive a restart: {why}")
}

fn run(store: &StateStore, rx: &Receiver<Job>, on_error: &dyn Fn(&StateError)) {
    while let Ok(first) = rx.recv() {
        let mut latest = first.state;
        let mut waiting: Vec<(Command, Response)> = first.reply.into_iter().collect();
        for job in rx.try_iter() {
            latest = job.state;
            waiting.extend(job.reply);
        }
        let result = store.save(&latest);
        if let Err(e) = &result {
            on_error(e);
        }
        for (cmd, response) in waiting {
            match &result {
                Ok(()) => cmd.reply(response),
                Err(e) => cmd.reply(Response::error(not_saved(&e.to_string()))),
            }
        }
    }
}
