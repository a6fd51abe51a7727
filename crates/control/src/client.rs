//! The CLI's side of the control socket: connect, send a request line, read the answer
//! line within a deadline. Every error names the socket and asks whether the router runs.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::protocol::{ProtocolError, Request, Response};
use crate::server::{DEFAULT_REPLY_TIMEOUT, DEFAULT_TRACE_TIMEOUT};

/// Extra time the client allows beyond the server's own wait, so that the server's
/// "router busy" arrives before the client gives up.
const MARGIN: Duration = Duration::from_secs(3);
/// Default time to wait for an answer.
pub const DEFAULT_TIMEOUT: Duration = DEFAULT_REPLY_TIMEOUT.saturating_add(MARGIN);
/// Default time to wait for the answer to a `trace`.
pub const DEFAULT_TRACE_CLIENT_TIMEOUT: Duration = DEFAULT_TRACE_TIMEOUT.saturating_add(MARGIN);
/// Largest response accepted (a `show routes` of a big node is a few MB at most).
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;

const HINT: &str = "is hvrouter running?";

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not connect.
    #[error("cannot connect to control socket {}: {source} ({})", path.display(),
        if source.kind() == io::ErrorKind::PermissionDenied { "the control socket is root-only: run as root" } else { HINT })]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Sending or receiving failed.
    #[error("control socket {}: {what}: {source} ({HINT})", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// No answer in time.
    #[error("control socket {}: no answer within {} ms ({HINT})", path.display(), after.as_millis())]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// How long the client waited.
        after: Duration,
    },
    /// The router hung up without answering.
    #[error("control socket {}: the router closed the connection without answering ({HINT})", path.display())]
    Closed {
        /// The socket path.
        path: PathBuf,
    },
    /// The answer is not valid protocol.
    #[error("control socket {}: unreadable answer: {source}", path.display())]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: ProtocolError,
    },
    /// The answer is larger than [`MAX_RESPONSE`].
    #[error("control socket {}: answer larger than {MAX_RESPONSE} bytes", path.display())]
    TooLarge {
        /// The socket path.
        path: PathBuf,
    },
}

/// A connection to the control socket. Requests are answered in order, one at a time.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    stream: UnixStream,
    /// Bytes received after the last answer line.
    buf: Vec<u8>,
    timeout: Duration,
    trace_timeout: Duration,
}

impl Client {
    /// Connect to the router's control socket.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Client {
            path: path.to_path_buf(),
            stream,
            buf: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            trace_timeout: DEFAULT_TRACE_CLIENT_TIMEOUT,
        })
    }

    /// Wait at most `timeout` for each answer (`trace_timeout` for a `trace`).
    pub fn with_timeouts(mut self, timeout: Duration, trace_timeout: Duration) -> Client {
        self.timeout = timeout;
        self.trace_timeout = trace_timeout;
        self
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Send `request`, wait for its answer. An `Error` response is `Ok` here: it is the
    /// router's answer; `Err` means there was none.
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let timeout = match request {
            Request::Trace { .. } => self.trace_timeout,
            _ => self.timeout,
        };
        self.exchange(request.to_line().as_bytes(), timeout)
    }

    /// Send one raw line (a newline is added if missing) and read one answer: for tests
    /// and for debugging the protocol.
    pub fn request_raw(&mut self, line: &[u8]) -> Result<Response, ClientError> {
        let mut line = line.to_vec();
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        self.exchange(&line, self.timeout)
    }

    fn exchange(&mut self, line: &[u8], timeout: Duration) -> Result<Response, ClientError> {
        let deadline = Instant::now() + timeout;
        self.stream
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))))
            .and_then(|()| self.stream.write_all(line))
            .map_err(|source| self.io_err("send the request", source))?;
        let answer = self.read_line(deadline, timeout)?;
        Response::parse_line(&answer).map_err(|source| ClientError::Protocol {
            path: self.path.clone(),
            source,
        })
    }

    fn read_line(&mut self, deadline: Instant, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let mut chunk = [0u8; 16 * 1024];
        let mut scanned = 0;
        loop {
            if let Some(pos) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + pos;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                return Ok(line);
            }
            scanned = self.buf.len();
            if self.buf.len() > MAX_RESPONSE {
                return Err(ClientError::TooLarge {
                    path: self.path.clone(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timeout_err(timeout));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|source| self.io_err("set the read timeout", source))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ClientError::Closed {
                        path: self.path.clone(),
                    })
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timeout_err(timeout))
                }
                Err(source) => return Err(self.io_err("read the answer", source)),
            }
        }
    }

    fn io_err(&self, what: &'static str, source: io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            what,
            source,
        }
    }

    fn timeout_err(&self, after: Duration) -> ClientError {
        ClientError::Timeout {
            path: self.path.clone(),
            after,
        }
    }
}
