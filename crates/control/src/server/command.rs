//! What the control server hands to the dataplane: a validated request and the way back.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::protocol::{Request, Response};

/// A validated request waiting for the dataplane, with the channel its answer goes back
/// on.
///
/// The dataplane thread drains the server's receiver between bursts, without blocking:
///
/// ```no_run
/// # use hvrouter_control::protocol::Response;
/// # fn handle(r: &hvrouter_control::protocol::Request) -> Response { Response::error("x") }
/// # let (server, commands) = hvrouter_control::server::ControlServer::start(
/// #     std::path::Path::new("/run/hvrouter/control.sock"), 16).unwrap();
/// while let Ok(cmd) = commands.try_recv() {
///     if cmd.is_expired() {
///         continue; // the client was already told "router busy": do not apply it
///     }
///     let answer = handle(cmd.request());
///     cmd.reply(answer);
/// }
/// ```
///
/// A `trace` command may be kept (it is an owned value) until enough packets were seen or
/// its [`Command::deadline`] is near, then answered with what was collected.
#[derive(Debug)]
pub struct Command {
    request: Request,
    reply: SyncSender<Response>,
    deadline: Instant,
}

impl Command {
    /// A command and the receiver its answer arrives on: what the server does for each
    /// request, public so the dataplane's request handling can be tested without a socket.
    pub fn new(request: Request, deadline: Instant) -> (Command, Receiver<Response>) {
        let (reply, rx) = sync_channel(1);
        (
            Command {
                request,
                reply,
                deadline,
            },
            rx,
        )
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// When the server stops waiting and answers "router busy" itself.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before [`Command::deadline`] (zero once it passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The deadline passed: the client has been answered "router busy" already, so the
    /// request should be dropped without being applied.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Answer. Never blocks: the reply channel has room for exactly this one answer, and
    /// an answer nobody waits for any more (the client left or timed out) is discarded.
    pub fn reply(self, response: Response) {
        match self.reply.try_send(response) {
            Ok(()) | Err(TrySendError::Disconnected(_)) | Err(TrySendError::Full(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_reaches_the_receiver_and_never_blocks() {
        let later = Instant::now() + Duration::from_secs(60);
        let (cmd, rx) = Command::new(Request::Ping, later);
        assert_eq!(cmd.request(), &Request::Ping);
        assert!(!cmd.is_expired());
        assert!(cmd.remaining() > Duration::from_secs(50));
        cmd.reply(Response::error("x"));
        assert_eq!(rx.recv().unwrap(), Response::error("x"));

        let (cmd, rx) = Command::new(Request::Ping, Instant::now());
        assert!(cmd.is_expired());
        assert_eq!(cmd.remaining(), Duration::ZERO);
        drop(rx);
        cmd.reply(Response::error("nobody listens")); // must not panic or block
    }
}
