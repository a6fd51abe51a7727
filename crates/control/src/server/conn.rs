//! One client connection: read request lines, hand each valid one to the dataplane, wait
//! (bounded) for its answer, write the response line.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{RecvTimeoutError, SyncSender, TrySendError};
use std::time::Instant;

use super::command::Command;
use super::ServerConfig;
use crate::protocol::{ProtocolError, Request, Response, MAX_REQUEST_LINE};

/// Serve one client until it closes the connection, stays idle longer than
/// `config.idle_timeout`, sends an oversized line, or the server shuts the socket down.
pub(super) fn serve(stream: UnixStream, commands: &SyncSender<Command>, config: &ServerConfig) {
    if stream.set_read_timeout(Some(config.idle_timeout)).is_err()
        || stream
            .set_write_timeout(Some(config.write_timeout))
            .is_err()
    {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = MAX_REQUEST_LINE as u64 + 1;
        let read = (&mut reader).take(limit).read_until(b'\n', &mut line);
        match read {
            Ok(0) => return,  // the client closed the connection
            Err(_) => return, // idle timeout, or the server shut the socket down
            Ok(_) => {}
        }
        let complete = line.last() == Some(&b'\n');
        if complete {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        } else if line.len() > MAX_REQUEST_LINE {
            // No way to find the next request in what follows: answer and hang up.
            let err = ProtocolError::TooLong {
                limit: MAX_REQUEST_LINE,
            };
            let _ = writer.write_all(Response::error(err.to_string()).to_line().as_bytes());
            return;
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            let response = answer(&line, commands, config);
            if writer.write_all(response.to_line().as_bytes()).is_err() {
                return;
            }
        }
        if !complete {
            return; // end of stream after a last line without newline
        }
    }
}

/// The response to one request line.
fn answer(line: &[u8], commands: &SyncSender<Command>, config: &ServerConfig) -> Response {
    match Request::parse_line(line) {
        Ok(request) => dispatch(request, commands, config),
        Err(e) => Response::error(e.to_string()),
    }
}

/// Hand a valid request to the dataplane and wait, bounded, for its answer.
pub(super) fn dispatch(
    request: Request,
    commands: &SyncSender<Command>,
    config: &ServerConfig,
) -> Response {
    let timeout = match request {
        Request::Trace { .. } => config.trace_timeout,
        _ => config.reply_timeout,
    };
    let mutation = request.is_mutation();
    let (command, reply) = Command::new(request, Instant::now() + timeout);
    match commands.try_send(command) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return Response::error(format!(
                "router busy: {} requests already wait for the dataplane; nothing was changed, try again",
                config.queue_capacity
            ))
        }
        Err(TrySendError::Disconnected(_)) => {
            return Response::error("router is shutting down: request not handled")
        }
    }
    match reply.recv_timeout(timeout) {
        Ok(response) => response,
        Err(RecvTimeoutError::Timeout) => Response::error(format!(
            "router busy: the dataplane did not answer within {} ms{}",
            timeout.as_millis(),
            if mutation {
                "; the change may still be applied (guest add/del are idempotent: retry, then check with guest list)"
            } else {
                ""
            }
        )),
        Err(RecvTimeoutError::Disconnected) => {
            Response::error("router dropped the request without answering (shutting down?)")
        }
    }
}

/// Tell a client the server is full, then hang up.
pub(super) fn refuse(mut stream: UnixStream, config: &ServerConfig) -> io::Result<()> {
    stream.set_write_timeout(Some(config.write_timeout))?;
    let msg = format!(
        "too many control connections (at most {}); try again",
        config.max_clients
    );
    stream.write_all(Response::error(msg).to_line().as_bytes())
}
