//! `hvrouter capture [--port DEV ...] [-c COUNT] [--duration SECS] [--snaplen N]
//! [--buffer BYTES] [-w FILE|-]`: start a capture on the router, read it every
//! [`READ_EVERY`], write pcapng as it comes (flushed after each read, so
//! `hvrouter capture -w - | tcpdump -r -` shows frames live), and stop it on exit:
//! after COUNT frames, after SECS, on SIGINT/SIGTERM, or when the reader goes away.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use hvrouter_control::client::Client;
use hvrouter_control::protocol::{
    CaptureBatch, CaptureDirection, CaptureInfo, Payload, Request, Response,
};

use super::pcapng::{Way, Writer};

/// How often the router's buffer is read (at once again while it overflows).
pub const READ_EVERY: Duration = Duration::from_millis(100);

/// `hvrouter capture` arguments.
#[derive(Args, Debug, Clone)]
pub struct CaptureArgs {
    /// Only this port's device (repeat for several; default: every port).
    #[arg(long = "port", value_name = "DEV")]
    pub ports: Vec<String>,
    /// Stop after writing COUNT frames.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Bytes kept of each frame (default: whole frames).
    #[arg(long, value_name = "N")]
    pub snaplen: Option<u32>,
    /// Size of the router's capture buffer between two reads (default 4 MiB, at most
    /// 16 MiB); frames beyond it are counted as dropped.
    #[arg(long = "buffer", value_name = "BYTES")]
    pub buffer: Option<u64>,
    /// Write pcapng to FILE, or to standard output with `-` (the default when standard
    /// output is not a terminal).
    #[arg(short = 'w', value_name = "FILE|-")]
    pub write: Option<PathBuf>,
}

/// Why a capture ended badly.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Binary output to a terminal.
    #[error("refusing to write pcapng to a terminal: use -w FILE, or pipe it (hvrouter capture | tcpdump -n -r -)")]
    Terminal,
    /// The output file could not be created.
    #[error("cannot create {path}: {source}", path = path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] io::Error),
    /// The duration is not a positive number of seconds.
    #[error("--duration {0}: expected a positive number of seconds")]
    Duration(f64),
    /// The control socket failed.
    #[error("{0}")]
    Client(#[from] hvrouter_control::client::ClientError),
    /// The router refused or failed.
    #[error("{0}")]
    Router(String),
    /// The router answered something else than asked.
    #[error("unexpected answer from the router: {0:?}")]
    Unexpected(Box<Response>),
    /// Writing the pcapng failed (not a closed pipe: that ends the capture quietly).
    #[error("writing the capture: {0}")]
    Write(#[source] io::Error),
}

/// Run `hvrouter capture`; the summary goes to standard error.
pub fn run(socket: &Path, args: &CaptureArgs) -> ExitCode {
    match capture(socket, args) {
        Ok(s) => {
            eprintln!(
                "hvrouter capture: {} frames written; the router captured {} and dropped {} (buffer full{})",
                s.written,
                s.captured,
                s.dropped,
                if s.dropped > 0 { ": raise --buffer, narrow --port or lower --snaplen" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hvrouter capture: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a capture did.
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    written: u64,
    captured: u64,
    dropped: u64,
}

/// Where the pcapng goes, and the pipe to watch if it is one.
struct Output {
    out: Box<dyn Write>,
    /// Standard output when it is a pipe: watched so that the capture ends when the
    /// reader (tcpdump) exits, even while no frame arrives to be written.
    pipe: Option<OwnedFd>,
}

fn output(write: Option<&Path>) -> Result<Output, CaptureError> {
    let out = open(write)?;
    let pipe = match write {
        Some(p) if p != Path::new("-") => None,
        _ => io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .filter(is_fifo),
    };
    Ok(Output { out, pipe })
}

fn is_fifo(fd: &OwnedFd) -> bool {
    fd.try_clone()
        .map(File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.file_type().is_fifo())
}

/// Whether the reader of `pipe` went away: poll(2) reports POLLERR on a pipe's write end
/// once its read end is closed (and nothing else, since we ask only for input).
fn reader_gone(pipe: Option<&OwnedFd>) -> bool {
    pipe.is_some_and(|fd| {
        sys::poll::wait_readable(&[fd.as_fd()], Duration::from_millis(1)).unwrap_or(false)
    })
}

fn open(write: Option<&Path>) -> Result<Box<dyn Write>, CaptureError> {
    match write {
        Some(p) if p != Path::new("-") => File::create(p)
            .map(|f| Box::new(io::BufWriter::new(f)) as Box<dyn Write>)
            .map_err(|source| CaptureError::Create {
                path: p.to_path_buf(),
                source,
            }),
        _ if io::stdout().is_terminal() => Err(CaptureError::Terminal),
        _ => Ok(Box::new(io::BufWriter::new(io::stdout().lock()))),
    }
}

fn capture(socket: &Path, args: &CaptureArgs) -> Result<Summary, CaptureError> {
    let until = match args.duration {
        Some(s) if s.is_finite() && s > 0.0 => Some(Instant::now() + Duration::from_secs_f64(s)),
        Some(s) => return Err(CaptureError::Duration(s)),
        None => None,
    };
    let out = output(args.write.as_deref())?;
    sys::signal::install().map_err(CaptureError::Signals)?;
    let stop = sys::signal::stop_flag();
    let mut client = Client::connect(socket)?;
    let info = match client.request(&Request::CaptureStart {
        ports: args.ports.clone(),
        snaplen: args.snaplen,
        max_bytes: args.buffer,
    })? {
        Response::Ok(Payload::CaptureStarted(info)) => info,
        other => return Err(answer_error(other)),
    };
    let mut session = Session {
        info,
        summary: Summary::default(),
        count: args.count,
        writer: None,
    };
    // From here on the router copies frames: whatever happens, tell it to stop.
    let result = session.pump(&mut client, out, until, stop);
    let last = client.request(&Request::CaptureStop {
        id: session.info.id,
    });
    let live = result?;
    match last? {
        Response::Ok(Payload::Captured(batch)) => {
            if live {
                session.write(&batch)?;
            }
            session.summary.captured = batch.captured;
            session.summary.dropped = batch.dropped;
        }
        other => return Err(answer_error(other)),
    }
    if let Some(w) = session.writer.as_mut() {
        ignore_closed(w.flush())?;
    }
    Ok(session.summary)
}

struct Session {
    info: CaptureInfo,
    summary: Summary,
    count: Option<u64>,
    writer: Option<Writer<Box<dyn Write>>>,
}

impl Session {
    /// Read and write until told to stop. Ok(true): the output still takes frames.
    fn pump(
        &mut self,
        client: &mut Client,
        out: Output,
        until: Option<Instant>,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<bool, CaptureError> {
        let Output { out, pipe } = out;
        let mut w = Writer::new(out, self.info.snaplen).map_err(CaptureError::Write)?;
        for p in &self.info.ports {
            w.interface(p).map_err(CaptureError::Write)?;
        }
        if ignore_closed(w.flush())?.is_none() {
            return Ok(false);
        }
        self.writer = Some(w);
        let (mut wait, mut dropped) = (READ_EVERY, 0);
        loop {
            let next = Instant::now() + wait;
            loop {
                if stop.load(Ordering::Relaxed) || until.is_some_and(|u| Instant::now() >= u) {
                    return Ok(true);
                }
                if reader_gone(pipe.as_ref()) {
                    self.writer = None;
                    return Ok(false);
                }
                let left = next.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            let batch = match client.request(&Request::CaptureRead { id: self.info.id })? {
                Response::Ok(Payload::Captured(b)) => b,
                other => return Err(answer_error(other)),
            };
            // The router's buffer filled up since the last read: read again at once.
            wait = if batch.dropped > dropped {
                Duration::ZERO
            } else {
                READ_EVERY
            };
            dropped = batch.dropped;
            if !self.write(&batch)? {
                return Ok(false);
            }
            if self.count.is_some_and(|c| self.summary.written >= c) {
                return Ok(false);
            }
        }
    }

    /// Write a batch (up to the count) and flush. False once the output is closed or
    /// the count reached.
    fn write(&mut self, batch: &CaptureBatch) -> Result<bool, CaptureError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(false);
        };
        for f in &batch.frames {
            if self.count.is_some_and(|c| self.summary.written >= c) {
                break;
            }
            let way = match f.direction {
                CaptureDirection::Rx => Way::Inbound,
                CaptureDirection::Tx => Way::Outbound,
            };
            let wrote = w
                .interface(&f.port)
                .and_then(|i| w.packet(i, f.time_ns, f.len, &f.data, way, &f.decision));
            if ignore_closed(wrote)?.is_none() {
                self.writer = None;
                return Ok(false);
            }
            self.summary.written += 1;
        }
        if ignore_closed(w.flush())?.is_none() {
            self.writer = None;
            return Ok(false);
        }
        Ok(self.count.is_none_or(|c| self.summary.written < c))
    }
}

/// A closed pipe (`| tcpdump -c 2` exited) ends the capture normally: `None`.
fn ignore_closed<T>(r: io::Result<T>) -> Result<Option<T>, CaptureError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(None),
        Err(e) => Err(CaptureError::Write(e)),
    }
}

fn answer_error(r: Response) -> CaptureError {
    match r {
        Response::Error { message } => CaptureError::Router(message),
        other => CaptureError::Unexpected(Box::new(other)),
    }
}
