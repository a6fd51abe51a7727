//! The control socket: a Unix stream socket speaking [`crate::protocol`], served on its
//! own threads, handing each valid request to the dataplane through a bounded channel.
//!
//! Access control is the file system's: the socket is mode 0600 and its directory, when
//! the server creates it, 0700, so only root (the owner) can connect. Peer credentials
//! (`SO_PEERCRED`) are not checked: std has no stable safe way to read them and `unsafe`
//! lives only in `sys`. The socket is bound under a temporary name, set to 0600, then
//! hard-linked to its real name, so it is never reachable with looser permissions and two
//! routers can never both own the path (the link fails if the path exists).
//!
//! A socket file left by a router that died is replaced; one that something still listens
//! on makes [`ControlServer::start`] fail: two routers must not run on one node.

mod command;
mod conn;

use std::collections::HashMap;
use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::net::Shutdown;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use command::Command;

/// How long the server waits for the dataplane's answer before "router busy".
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a `trace` may take (the dataplane answers with what it has by then).
pub const DEFAULT_TRACE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection idle this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most clients served at once.
pub const DEFAULT_MAX_CLIENTS: usize = 16;
/// How long [`ControlServer`]'s drop waits for connection threads to finish.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Tunables of the control server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Capacity of the channel to the dataplane: requests waiting beyond it get "router
    /// busy" at once.
    pub queue_capacity: usize,
    /// Most clients served at once; more are answered an error and closed.
    pub max_clients: usize,
    /// Per-connection read timeout: an idle client is disconnected.
    pub idle_timeout: Duration,
    /// Per-connection write timeout.
    pub write_timeout: Duration,
    /// Wait for the dataplane's answer to a request.
    pub reply_timeout: Duration,
    /// Wait for the dataplane's answer to a `trace`.
    pub trace_timeout: Duration,
}

impl ServerConfig {
    /// Defaults, with this channel capacity.
    pub fn new(queue_capacity: usize) -> ServerConfig {
        ServerConfig {
            queue_capacity: queue_capacity.max(1),
            max_clients: DEFAULT_MAX_CLIENTS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: Duration::from_secs(5),
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            trace_timeout: DEFAULT_TRACE_TIMEOUT,
        }
    }
}

/// Why the control server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The socket's directory could not be created.
    #[error("control socket {path}: cannot create directory {dir}: {source}", path = path.display(), dir = dir.display())]
    CreateDir {
        /// The socket path.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Another router (or something else) listens on the socket.
    #[error("control socket {}: another hvrouter is already listening on it (two routers must not run on one node)", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The path exists and is not a socket: not ours to remove.
    #[error("control socket {}: the path exists and is not a socket; not removing it", path.display())]
    NotASocket {
        /// The socket path.
        path: PathBuf,
    },
    /// A socket operation failed.
    #[error("control socket {}: {what}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// Connections being served, so stop can shut them down and wait for them.
#[derive(Debug, Default)]
struct Clients {
    streams: Mutex<HashMap<u64, UnixStream>>,
    gone: Condvar,
}

impl Clients {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, UnixStream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes a connection from [`Clients`] when its thread ends, however it ends.
struct Registration {
    clients: Arc<Clients>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut streams = self.clients.lock();
        streams.remove(&self.id);
        if streams.is_empty() {
            self.clients.gone.notify_all();
        }
    }
}

/// The running control server. Dropping it stops it and removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    /// (device, inode) of the socket file we created: removed on stop only if unchanged.
    file_id: (u64, u64),
    stop: Arc<AtomicBool>,
    clients: Arc<Clients>,
    accept: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Listen on `path` with default tunables and a dataplane channel of `capacity`.
    /// Returns the server and the receiver the dataplane drains between bursts.
    pub fn start(
        path: &Path,
        capacity: usize,
    ) -> Result<(ControlServer, Receiver<Command>), ServerError> {
        Self::start_with(path, ServerConfig::new(capacity))
    }

    /// Listen on `path` with these tunables.
    pub fn start_with(
        path: &Path,
        config: ServerConfig,
    ) -> Result<(ControlServer, Receiver<Command>), ServerError> {
        let io_err = |what| {
            let path = path.to_path_buf();
            move |source| ServerError::Io { path, what, source }
        };
        ensure_dir(path)?;
        let listener = bind_exclusive(path)?;
        let meta = fs::metadata(path).map_err(io_err("stat the socket"))?;
        let (tx, rx) = sync_channel(config.queue_capacity.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(Clients::default());
        let accept = {
            let (stop, clients) = (stop.clone(), clients.clone());
            thread::Builder::new()
                .name("hvr-control".into())
                .spawn(move || accept_loop(&listener, &tx, &config, &stop, &clients))
        };
        let mut server = ControlServer {
            path: path.to_path_buf(),
            file_id: (meta.dev(), meta.ino()),
            stop,
            clients,
            accept: None,
        };
        // On error, dropping `server` removes the socket file.
        server.accept = Some(accept.map_err(io_err("spawn the control thread"))?);
        Ok((server, rx))
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop: no new connections, current ones shut down, socket file removed. The same
    /// as dropping the server.
    pub fn stop(self) {}

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // Wake the accept loop with a connection of our own. If that fails (the
            // path was removed behind our back) the thread is left blocked in accept;
            // it owns nothing but the listener.
            if UnixStream::connect(&self.path).is_ok() {
                let _ = accept.join();
            }
        }
        {
            let mut streams = self.clients.lock();
            for s in streams.values() {
                let _ = s.shutdown(Shutdown::Both);
            }
            // Connection threads end at once unless one waits for the dataplane.
            let deadline = std::time::Instant::now() + STOP_GRACE;
            while !streams.is_empty() {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                streams = self
                    .clients
                    .gone
                    .wait_timeout(streams, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        if let Ok(meta) = fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.file_id {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Create the socket's directory, mode 0700, if it does not exist. An existing directory
/// is left as it is (it may be a systemd `RuntimeDirectory`).
fn ensure_dir(path: &Path) -> Result<(), ServerError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ServerError::CreateDir {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            source,
        })
}

/// Bind `path` with mode 0600, failing if a live server owns it and replacing a stale
/// socket file.
fn bind_exclusive(path: &Path) -> Result<UnixListener, ServerError> {
    let io_err = |what| {
        let path = path.to_path_buf();
        move |source| ServerError::Io { path, what, source }
    };
    // Short, so that it fits in sun_path wherever the real name does.
    let tmp = path.with_file_name(format!(".hvr{}", std::process::id()));
    let _ = fs::remove_file(&tmp); // a leftover of an earlier process with our pid
    let listener = UnixListener::bind(&tmp).map_err(io_err("bind"))?;
    let linked = fs::set_permissions(&tmp, Permissions::from_mode(0o600))
        .map_err(io_err("set mode 0600"))
        .and_then(|()| link_exclusive(&tmp, path));
    let _ = fs::remove_file(&tmp);
    linked.map(|()| listener)
}

/// Hard-link the bound socket to its real name; on "exists", probe what is there.
fn link_exclusive(tmp: &Path, path: &Path) -> Result<(), ServerError> {
    for _attempt in 0..2 {
        match fs::hard_link(tmp, path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => remove_if_stale(path)?,
            Err(source) => {
                return Err(ServerError::Io {
                    path: path.to_path_buf(),
                    what: "link the socket into place",
                    source,
                })
            }
        }
    }
    Err(ServerError::AlreadyRunning {
        path: path.to_path_buf(),
    })
}

/// Remove `path` if it is a socket nobody listens on; refuse if someone does or if it is
/// not a socket.
fn remove_if_stale(path: &Path) -> Result<(), ServerError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServerError::Io {
                path: path.to_path_buf(),
                what: "stat the existing socket file",
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ServerError::AlreadyRunning {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ServerError::Io {
                path: path.to_path_buf(),
                what: "remove the stale socket file",
                source,
            }),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ServerError::Io {
            path: path.to_path_buf(),
            what: "probe the existing socket",
            source,
        }),
    }
}

fn accept_loop(
    listener: &UnixListener,
    commands: &SyncSender<Command>,
    config: &ServerConfig,
    stop: &AtomicBool,
    clients: &Arc<Clients>,
) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(_) => {
                // EMFILE and the like: do not spin on a persistent error.
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let mut streams = clients.lock();
        if streams.len() >= config.max_clients {
            drop(streams);
            let _ = conn::refuse(stream, config);
            continue;
        }
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        next_id += 1;
        let id = next_id;
        streams.insert(id, registered);
        drop(streams);
        let registration = Registration {
            clients: clients.clone(),
            id,
        };
        let (commands, config) = (commands.clone(), config.clone());
        // If the spawn fails the closure, and with it the registration, is dropped.
        let _ = thread::Builder::new()
            .name("hvr-control-conn".into())
            .spawn(move || {
                let _registration = registration;
                conn::serve(stream, &commands, &config);
            });
    }
}
