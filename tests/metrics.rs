//! `GET /metrics` and `GET /health` through a real `sockloop serve`, read by
//! independent clients: the Prometheus project's own text-format parser
//! (`prometheus_client`, which refuses malformed pages) and Python's urllib.
//!
//! Without the venv or python3 the tests print `SKIPPED …` and pass, unless
//! SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail.

mod support {
    pub mod deps;
    pub mod exit;
    pub mod finished;
    pub mod output;
    pub mod process;
    pub mod prometheus;
    pub mod python;
    pub mod server;
    pub mod signal;
    pub mod stdout_wait;
}

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;
use support::process::Proc;
use support::prometheus::prometheus_python;
use support::python::{Peer, python3};
use support::server::Server;

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let Some(python) = prometheus_python() else {
        return;
    };
    let server = Server::start(&[
        "-l",
        "http://127.0.0.1:0",
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "-l",
        "udp://127.0.0.1:0=echo",
    ]);
    let web = server.addr("http", "web").to_string();
    let cmd = server.addr("tcp", "cmd");
    let mut held = TcpStream::connect(cmd).unwrap();
    held.write_all(b"COUNT\n").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send_to(b"ping", server.addr("udp", "echo")).unwrap();
    udp.recv_from(&mut [0u8; 16]).expect("the echo");

    let mut peer = Peer::start(&python, "metrics_check.py", &["scrape", &web]);
    assert_eq!(
        peer.wait_line("STATUS "),
        "STATUS 200 text/plain; version=0.0.4; charset=utf-8"
    );
    let lines = peer.lines_to_exit();
    let has = |line: &str| lines.iter().any(|l| l == line);
    for family in [
        "FAMILY sockloop_connections_open gauge",
        "FAMILY sockloop_accepted counter",
        "FAMILY sockloop_received_bytes counter",
        "FAMILY sockloop_refused counter",
        "FAMILY sockloop_memory_used_bytes gauge",
        "FAMILY sockloop_websocket_closes counter",
        "FAMILY sockloop_loop_turn_seconds histogram",
    ] {
        assert!(has(family), "{family} missing in {lines:#?}");
    }
    let tcp = format!("address={cmd},service=cmd,transport=tcp");
    assert!(
        has(&format!("SAMPLE sockloop_connections_open {tcp} 1")),
        "{lines:#?}"
    );
    assert!(
        has(&format!("SAMPLE sockloop_accepted_total {tcp} 1")),
        "{lines:#?}"
    );
    let udp_labels = format!(
        "address={},service=echo,transport=udp",
        server.addr("udp", "echo")
    );
    assert!(
        has(&format!("SAMPLE sockloop_accepted_total {udp_labels} 1")),
        "{lines:#?}"
    );
    assert!(
        has("SAMPLE sockloop_websocket_closes_total code=1000,direction=received 1"),
        "{lines:#?}"
    );
    assert!(
        has("SAMPLE sockloop_refused_total reason=per_ip 0"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SAMPLE sockloop_loop_turn_seconds_count - ")),
        "{lines:#?}"
    );
}

#[test]
fn health_answers_200_to_get_and_head() {
    let Some(python) = python3() else {
        return;
    };
    let mut server = Server::start(&["-l", "http://127.0.0.1:0"]);
    let url = format!("http://{}/health", server.addr("http", "web"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/metrics_check.py");
    let mut command = Command::new(&python);
    command.args(["-u", script, "health", &url]);
    let mut client = Proc::spawn(command);
    client.wait_stdout("STATUS 200 ok");
    let done = client.wait();
    assert!(done.status.success(), "{done:?}");
    // HEAD answers the same without a body; other methods are refused.
    let mut conn = TcpStream::connect(server.addr("http", "web")).unwrap();
    conn.write_all(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nPOST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.contains("\r\n\r\nHTTP/1.1 405"), "{answer:?}");
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}
