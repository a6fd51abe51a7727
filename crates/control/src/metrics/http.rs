//! A tiny HTTP/1.0 server for Prometheus: `GET /metrics` (and `HEAD`) renders the latest
//! published snapshot; anything else gets 404 or 405. One connection at a time on its own
//! thread, each bounded in size (request head at most [`MAX_REQUEST`] bytes) and in time
//! (the whole request must arrive within the read timeout), so a stuck or hostile client
//! delays a scrape by at most that timeout and cannot make the server allocate.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{render, MetricsSnapshot, CONTENT_TYPE};

/// Largest request head accepted (request line and headers).
pub const MAX_REQUEST: usize = 8 * 1024;
/// Default time a client has to send its whole request.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the dataplane publishes snapshots. Cloning shares the same slot.
#[derive(Clone, Debug, Default)]
pub struct MetricsHandle {
    latest: Arc<Mutex<MetricsSnapshot>>,
}

impl MetricsHandle {
    /// Replace the published snapshot (about once a second; not on the packet path).
    pub fn publish(&self, snapshot: MetricsSnapshot) {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }

    /// The exposition text of the latest snapshot.
    pub fn render(&self) -> String {
        let snapshot = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        render(&snapshot)
    }
}

/// The running metrics server. Dropping it stops it.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Serve on `addr` (port 0 picks a free port, see [`MetricsServer::local_addr`]).
    pub fn start(addr: SocketAddr) -> io::Result<(MetricsServer, MetricsHandle)> {
        Self::start_with(addr, DEFAULT_READ_TIMEOUT)
    }

    /// Serve on `addr`, giving each client `read_timeout` to send its request.
    pub fn start_with(
        addr: SocketAddr,
        read_timeout: Duration,
    ) -> io::Result<(MetricsServer, MetricsHandle)> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let handle = MetricsHandle::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (handle, stop) = (handle.clone(), stop.clone());
            thread::Builder::new()
                .name("hvr-metrics".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        match stream {
                            Ok(s) => {
                                let _ = serve(s, &handle, read_timeout);
                            }
                            // EMFILE and the like: do not spin on a persistent error.
                            Err(_) => thread::sleep(Duration::from_millis(50)),
                        }
                    }
                })?
        };
        Ok((
            MetricsServer {
                addr,
                stop,
                thread: Some(thread),
            },
            handle,
        ))
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Read the request head (up to the blank line) within `timeout` and `MAX_REQUEST` bytes.
/// `Ok(None)`: too large or malformed before the head ended.
fn read_head(stream: &mut TcpStream, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_REQUEST {
            return Ok(None);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn serve(mut stream: TcpStream, handle: &MetricsHandle, timeout: Duration) -> io::Result<()> {
    stream.set_write_timeout(Some(timeout))?;
    let head = match read_head(&mut stream, timeout) {
        Ok(Some(head)) => head,
        Ok(None) => {
            respond(&mut stream, "400 Bad Request", "bad request\n", true)?;
            // Closing with unread input sends a reset that can destroy the answer before
            // the client reads it: read (a bounded amount of) what it still sends first.
            let _ = stream.shutdown(Shutdown::Write);
            let _ = stream.set_read_timeout(Some(timeout));
            let _ = io::copy(&mut (&mut stream).take(64 * 1024), &mut io::sink());
            return Ok(());
        }
        Err(_) => return Ok(()), // timed out or reset: nobody to answer
    };
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let result = match (method, path) {
        ("GET", "/metrics") => respond_metrics(&mut stream, handle, true),
        ("HEAD", "/metrics") => respond_metrics(&mut stream, handle, false),
        (_, "/metrics") => respond(&mut stream, "405 Method Not Allowed", "use GET\n", true),
        _ => respond(
            &mut stream,
            "404 Not Found",
            "not found: metrics are at /metrics\n",
            true,
        ),
    };
    let _ = stream.shutdown(Shutdown::Both);
    result
}

fn respond_metrics(stream: &mut TcpStream, handle: &MetricsHandle, body: bool) -> io::Result<()> {
    let text = handle.render();
    write_response(stream, "200 OK", CONTENT_TYPE, &text, body)
}

fn respond(stream: &mut TcpStream, status: &str, text: &str, body: bool) -> io::Result<()> {
    write_response(stream, status, "text/plain; charset=utf-8", text, body)
}

fn write_response(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    text: &str,
    body: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    )
    .into_bytes();
    if body {
        out.extend_from_slice(text.as_bytes());
    }
    stream.write_all(&out)
}
