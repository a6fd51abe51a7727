//! The metrics HTTP server over a real TCP socket on 127.0.0.1.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use hvrouter_control::metrics::http::{MetricsServer, MAX_REQUEST};
use hvrouter_control::metrics::{MetricsSnapshot, NetworkMetrics};

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Send `request`, read everything until the server closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn snapshot(guests: u64) -> MetricsSnapshot {
    MetricsSnapshot {
        ports: vec![],
        networks: vec![NetworkMetrics {
            name: "public_90".into(),
            guests,
            neighbors: Default::default(),
        }],
        ..MetricsSnapshot::default()
    }
}

#[test]
fn serves_the_latest_snapshot() {
    let (server, handle) = MetricsServer::start(localhost()).unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    // Before the first publish: every family described, no samples.
    let out = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
    assert!(out.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert!(out.contains("# TYPE hvrouter_guests gauge\n"));
    assert!(!out.contains("hvrouter_guests{"));

    handle.publish(snapshot(3));
    let out = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    assert!(
        body.contains("hvrouter_guests{network=\"public_90\"} 3\n"),
        "{body}"
    );

    handle.publish(snapshot(4));
    let out = exchange(addr, b"GET /metrics?name[]=x HTTP/1.1\n\n");
    assert!(
        out.contains("hvrouter_guests{network=\"public_90\"} 4\n"),
        "{out}"
    );

    let out = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200 OK") && body.is_empty(),
        "{out}"
    );
    drop(server);
    assert!(TcpStream::connect(addr).is_err(), "stopped");
}

#[test]
fn other_requests_are_refused() {
    let (server, _handle) = MetricsServer::start(localhost()).unwrap();
    let addr = server.local_addr();
    let out = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.0 404 Not Found\r\n"), "{out}");
    assert!(out.ends_with("metrics are at /metrics\n"));
    let out = exchange(addr, b"GET /metricsx HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.0 404"), "{out}");
    let out = exchange(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(
        out.starts_with("HTTP/1.0 405 Method Not Allowed\r\n"),
        "{out}"
    );
    let out = exchange(addr, b"\x00\x01\x02\r\n\r\n");
    assert!(out.starts_with("HTTP/1.0 404"), "{out}");
    // A request head larger than the limit.
    let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    big.resize(MAX_REQUEST + 800, b'a');
    let out = exchange(addr, &big);
    assert!(out.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{out}");
    // A client that closes before finishing its head.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metr").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.0 400"), "{out}");
}

#[test]
fn a_silent_client_is_dropped_after_the_read_timeout() {
    let (server, handle) =
        MetricsServer::start_with(localhost(), Duration::from_millis(200)).unwrap();
    handle.publish(snapshot(1));
    let addr = server.local_addr();
    let mut silent = TcpStream::connect(addr).unwrap();
    // Served after the silent one is given up on.
    let out = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert!(out.contains("hvrouter_guests{network=\"public_90\"} 1\n"));
    let mut rest = Vec::new();
    assert_eq!(silent.read_to_end(&mut rest).unwrap_or(0), 0);
}
