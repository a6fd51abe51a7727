//! The control server and client over a real Unix socket in a temp dir, with a fake
//! dataplane thread answering from the channel.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::TempDir;
use hvrouter_control::client::{Client, ClientError};
use hvrouter_control::protocol::{
    Change, GuestChange, GuestSpec, Payload, PongInfo, Request, Response, MAX_REQUEST_LINE,
};
use hvrouter_control::server::{Command, ControlServer, ServerConfig, ServerError};

const SHORT: Duration = Duration::from_millis(200);

fn config(capacity: usize) -> ServerConfig {
    ServerConfig {
        reply_timeout: SHORT,
        trace_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        ..ServerConfig::new(capacity)
    }
}

/// A dataplane that answers everything at once; reports each command's time left.
fn fake_dataplane(rx: Receiver<Command>, seen: Sender<(String, Duration)>) -> JoinHandle<()> {
    thread::spawn(move || {
        for cmd in rx {
            let _ = seen.send((cmd.request().op().to_string(), cmd.remaining()));
            let answer = match cmd.request() {
                Request::Ping => Response::Ok(Payload::Pong(PongInfo::new(1))),
                Request::GuestAdd(spec) => Response::Ok(Payload::GuestChanged(GuestChange {
                    tap: spec.tap.clone(),
                    change: Change::Added,
                })),
                Request::GuestDel { tap } => Response::Ok(Payload::GuestChanged(GuestChange {
                    tap: tap.clone(),
                    change: Change::Absent,
                })),
                Request::Trace { .. } => Response::Ok(Payload::Trace(vec![])),
                other => Response::error(format!("fake dataplane: {} not implemented", other.op())),
            };
            cmd.reply(answer);
        }
    })
}

fn start(
    dir: &TempDir,
    cfg: ServerConfig,
) -> (ControlServer, Receiver<(String, Duration)>, JoinHandle<()>) {
    let path = dir.path().join("run/control.sock");
    let (server, rx) = ControlServer::start_with(&path, cfg).unwrap();
    let (seen_tx, seen_rx) = channel();
    let dp = fake_dataplane(rx, seen_tx);
    (server, seen_rx, dp)
}

fn message(r: Response) -> String {
    match r {
        Response::Error { message } => message,
        ok => panic!("expected an error, got {ok:?}"),
    }
}

fn guest() -> GuestSpec {
    GuestSpec {
        tap: "tap3".into(),
        mac: "52:54:00:12:34:56".parse().unwrap(),
        ips: vec!["192.0.2.10".parse().unwrap()],
        network: "public_90".into(),
        routed_prefixes: vec![],
        hostname: None,
        ipv6: None,
    }
}

#[test]
fn requests_reach_the_dataplane_and_answers_come_back() {
    let dir = TempDir::new("roundtrip");
    let (server, seen, dp) = start(&dir, config(4));
    let mut c = Client::connect(server.path()).unwrap();
    let r = c.request(&Request::Ping).unwrap();
    assert!(matches!(r, Response::Ok(Payload::Pong(p)) if p.protocol == 1));
    let r = c.request(&Request::GuestAdd(guest())).unwrap();
    assert_eq!(
        r,
        Response::Ok(Payload::GuestChanged(GuestChange {
            tap: "tap3".into(),
            change: Change::Added
        }))
    );
    // Errors from the dataplane are answers too.
    let r = c.request(&Request::ShowPorts).unwrap();
    assert!(message(r).contains("show_ports not implemented"));
    // Only valid requests reach the dataplane; each with the deadline of its kind.
    let (op, left) = seen.recv().unwrap();
    assert_eq!(op, "ping");
    assert!(left <= SHORT);
    let r = c.request(&Request::Trace { count: 3 }).unwrap();
    assert_eq!(r, Response::Ok(Payload::Trace(vec![])));
    let ops: Vec<_> = seen.try_iter().collect();
    assert_eq!(ops.len(), 3);
    let (op, left) = &ops[2];
    assert_eq!(op, "trace");
    assert!(
        *left > Duration::from_secs(5),
        "trace waits longer: {left:?}"
    );
    drop(c);
    drop(server);
    dp.join().unwrap();
}

#[test]
fn malformed_requests_get_errors_and_the_connection_survives() {
    let dir = TempDir::new("malformed");
    let (server, seen, _dp) = start(&dir, config(4));
    let mut c = Client::connect(server.path()).unwrap();
    let cases: &[(&[u8], &str)] = &[
        (b"not json", "invalid JSON"),
        (b"{\"version\":1,\"op\":\"ping\"", "invalid JSON"),
        (b"[]", "expected a JSON object"),
        (b"{\"op\":\"ping\"}", "missing \"version\""),
        (b"{\"version\":7,\"op\":\"ping\"}", "unsupported protocol version 7"),
        (b"{\"version\":1,\"op\":\"nope\"}", "unknown variant `nope`"),
        (b"{\"version\":1,\"op\":\"ping\",\"x\":1}", "unknown field `x`"),
        (
            b"{\"version\":1,\"op\":\"guest_add\",\"tap\":\"tap3\",\"mac\":\"zz\",\"ips\":[\"192.0.2.1\"],\"network\":\"n\"}",
            "invalid MAC address \"zz\"",
        ),
        (
            b"{\"version\":1,\"op\":\"explain_arp\",\"ip\":\"192.0.2.256\"}",
            "invalid IPv4 address \"192.0.2.256\"",
        ),
        (b"\xff\xfe", "invalid JSON"),
    ];
    for (line, expect) in cases {
        let m = message(c.request_raw(line).unwrap());
        assert!(
            m.contains(expect),
            "{:?}: {m}",
            String::from_utf8_lossy(line)
        );
    }
    // Still usable, and nothing invalid reached the dataplane.
    assert!(c.request(&Request::Ping).unwrap().is_ok());
    let ops: Vec<_> = seen.try_iter().map(|(op, _)| op).collect();
    assert_eq!(ops, vec!["ping"]);
}

#[test]
fn raw_socket_lines_crlf_blank_and_unterminated() {
    let dir = TempDir::new("raw");
    let (server, _seen, _dp) = start(&dir, config(4));
    let mut s = UnixStream::connect(server.path()).unwrap();
    s.write_all(b"\n  \n{\"version\":1,\"op\":\"ping\"}\r\n{\"version\":1,\"op\":\"guest_del\",\"tap\":\"tap9\"}")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("{\"version\":1,\"ok\":{\"pong\":"),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "{\"version\":1,\"ok\":{\"guest_changed\":{\"tap\":\"tap9\",\"change\":\"absent\"}}}"
    );
}

#[test]
fn oversized_line_is_refused_and_closed() {
    let dir = TempDir::new("oversized");
    let (server, seen, _dp) = start(&dir, config(4));
    let mut s = UnixStream::connect(server.path()).unwrap();
    let big = vec![b'x'; MAX_REQUEST_LINE + 10];
    // The server may hang up before reading everything: a write error is fine.
    let _ = s.write_all(&big);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let r = Response::parse_line(out.trim_end().as_bytes()).unwrap();
    assert!(message(r).contains("request too long"), "{out}");
    // A line of exactly the limit is accepted.
    let mut line = Request::Ping.to_line().trim_end().as_bytes().to_vec();
    line.resize(MAX_REQUEST_LINE, b' ');
    let mut c = Client::connect(server.path()).unwrap();
    assert!(c.request_raw(&line).unwrap().is_ok());
    let ops: Vec<_> = seen.try_iter().map(|(op, _)| op).collect();
    assert_eq!(ops, vec!["ping"]);
}

#[test]
fn a_dataplane_that_never_answers_means_router_busy() {
    let dir = TempDir::new("busy");
    let path = dir.path().join("control.sock");
    let (server, rx) = ControlServer::start_with(&path, config(1)).unwrap();
    let mut c = Client::connect(&path).unwrap();
    // Nobody drains `rx`: the first request waits for the reply timeout.
    let t = std::time::Instant::now();
    let m = message(c.request(&Request::GuestAdd(guest())).unwrap());
    assert!(m.starts_with("router busy"), "{m}");
    assert!(m.contains("may still be applied"), "{m}");
    assert!(t.elapsed() >= SHORT);
    // Its command still fills the queue (capacity 1): the next is refused at once.
    let m = message(c.request(&Request::Ping).unwrap());
    assert!(
        m.starts_with("router busy") && m.contains("nothing was changed"),
        "{m}"
    );
    // The stale command says it expired: the dataplane must not apply it.
    let cmd = rx.try_recv().unwrap();
    assert!(cmd.is_expired());
    // A dataplane that is gone: "shutting down".
    drop(rx);
    let m = message(c.request(&Request::Ping).unwrap());
    assert!(m.contains("shutting down"), "{m}");
    drop(server);
}

#[test]
fn socket_permissions_and_directory() {
    let dir = TempDir::new("perms");
    let path = dir.path().join("new/sub/control.sock");
    let (server, _rx) = ControlServer::start(&path, 4).unwrap();
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    for d in [
        path.parent().unwrap(),
        path.parent().unwrap().parent().unwrap(),
    ] {
        let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    // No temporary name is left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("control.sock")]);
    drop(server);
    assert!(!path.exists(), "drop removes the socket file");
}

#[test]
fn a_second_router_on_the_same_path_is_refused() {
    let dir = TempDir::new("second");
    let path = dir.path().join("control.sock");
    let (first, _rx) = ControlServer::start(&path, 4).unwrap();
    let err = ControlServer::start(&path, 4).unwrap_err();
    assert!(matches!(err, ServerError::AlreadyRunning { .. }), "{err}");
    assert!(err.to_string().contains("already listening"), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
    // The first one is untouched and still serves.
    assert!(UnixStream::connect(&path).is_ok());
    drop(first);
}

#[test]
fn a_stale_socket_file_is_replaced_and_other_files_are_not() {
    let dir = TempDir::new("stale");
    let path = dir.path().join("control.sock");
    drop(UnixListener::bind(&path).unwrap()); // a router that died: file, no listener
    assert!(path.exists());
    let (server, rx) = ControlServer::start(&path, 4).unwrap();
    let (seen_tx, _seen) = channel();
    let _dp = fake_dataplane(rx, seen_tx);
    assert!(Client::connect(&path)
        .unwrap()
        .request(&Request::Ping)
        .unwrap()
        .is_ok());
    drop(server);

    std::fs::write(&path, b"not a socket").unwrap();
    let err = ControlServer::start(&path, 4).unwrap_err();
    assert!(matches!(err, ServerError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}

#[test]
fn client_errors_name_the_socket() {
    let dir = TempDir::new("client");
    let path = dir.path().join("control.sock");
    let err = Client::connect(&path).unwrap_err();
    let m = err.to_string();
    assert!(
        m.contains(&path.display().to_string()) && m.contains("is hvrouter running?"),
        "{m}"
    );

    // A router that accepts and never answers: the client's own timeout.
    let listener = UnixListener::bind(&path).unwrap();
    let mut c = Client::connect(&path).unwrap().with_timeouts(SHORT, SHORT);
    let err = c.request(&Request::Ping).unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("no answer within 200 ms"), "{err}");
    // One that hangs up.
    let (conn, _) = listener.accept().unwrap();
    drop(conn);
    let err = c.request(&Request::Ping).unwrap_err();
    assert!(err.to_string().contains("is hvrouter running?"), "{err}");
}

#[test]
fn client_limit_and_idle_timeout() {
    let dir = TempDir::new("limits");
    let cfg = ServerConfig {
        max_clients: 1,
        idle_timeout: SHORT,
        ..config(4)
    };
    let (server, _seen, _dp) = start(&dir, cfg);
    let mut first = UnixStream::connect(server.path()).unwrap();
    first.write_all(Request::Ping.to_line().as_bytes()).unwrap();
    let mut answer = [0u8; 19];
    first.read_exact(&mut answer).unwrap(); // accepted, registered and served
    assert_eq!(&answer, b"{\"version\":1,\"ok\":{");
    let mut second = UnixStream::connect(server.path()).unwrap();
    let mut out = String::new();
    second.read_to_string(&mut out).unwrap();
    assert!(
        out.contains("too many control connections (at most 1)"),
        "{out}"
    );
    // The first client, idle, is disconnected after the idle timeout...
    let t = std::time::Instant::now();
    let mut rest = Vec::new();
    first.read_to_end(&mut rest).unwrap();
    assert!(rest.ends_with(b"}}\n"));
    assert!(t.elapsed() >= SHORT / 2);
    // ...which frees its slot (the last descriptor closes as it is unregistered).
    let mut c = Client::connect(server.path()).unwrap();
    assert!(c.request(&Request::Ping).unwrap().is_ok());
}

#[test]
fn stop_closes_connections_and_removes_the_socket() {
    let dir = TempDir::new("stop");
    let (server, _seen, dp) = start(&dir, config(4));
    let path = server.path().to_path_buf();
    let mut idle = UnixStream::connect(&path).unwrap();
    let mut c = Client::connect(&path).unwrap();
    assert!(c.request(&Request::Ping).unwrap().is_ok());
    server.stop();
    let mut buf = Vec::new();
    assert_eq!(idle.read_to_end(&mut buf).unwrap_or(0), 0);
    assert!(!path.exists());
    assert!(c.request(&Request::Ping).is_err());
    dp.join().unwrap(); // every sender is gone: the dataplane's receiver ended
    assert!(!Path::new(&path).exists());
}
