//! What tests/haproxy.rs reads back through HAProxy and from each sockloop behind
//! it: /metrics samples, WebSocket echo clients and their closes, TCP echo
//! connections, and test patterns.

use super::bounded_read;
use super::http_client::Conn;
use super::net::{IO_TIMEOUT, connect_tcp};
use super::server::Server;
use super::ws_client::{Frame, Handshake, WsClient};
use sockloop::proto::ws::frame::Opcode;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// `GET /metrics` straight from one sockloop process (not through HAProxy).
pub fn metrics(server: &Server) -> String {
    let mut conn = Conn::connect(server.addr("http", "web"));
    conn.send(b"GET /metrics HTTP/1.1\r\nHost: sockloop\r\nConnection: close\r\n\r\n");
    let response = conn.read_response(false);
    assert_eq!(response.status(), 200, "{}", response.dump());
    conn.expect_eof(Duration::from_secs(2));
    response.body_str()
}

/// The value of the one sample of `name` whose labels include `labels`; 0 when the
/// page has none (a counter not yet counted).
pub fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    let found: Vec<u64> = page
        .lines()
        .filter_map(|line| {
            let (set, value) = line
                .strip_prefix(name)?
                .strip_prefix('{')?
                .split_once("} ")?;
            let has = |(k, v): &(&str, &str)| {
                let want = format!("{k}=\"{v}\"");
                set.split(',').any(|kv| kv == want)
            };
            labels
                .iter()
                .all(has)
                .then(|| value.parse().expect("a sample value"))
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches {found:?} in\n{page}"
    );
    found.first().copied().unwrap_or(0)
}

/// Echo connections the process has accepted: HAProxy's, since nothing else
/// connects there (its health check goes to the web port).
pub fn echo_accepted(server: &Server) -> u64 {
    sample(
        &metrics(server),
        "sockloop_accepted_total",
        &[("transport", "tcp"), ("service", "echo")],
    )
}

/// WebSocket Close frames with `code` the process has received: one per WebSocket the
/// test closed there (health checks and scrapes open no WebSocket).
pub fn ws_closes_received(server: &Server, code: u16) -> u64 {
    sample(
        &metrics(server),
        "sockloop_websocket_closes_total",
        &[("direction", "received"), ("code", &code.to_string())],
    )
}

/// A WebSocket to /ws through HAProxy, checked with one echo; the 101 and the echo
/// mean HAProxy has chosen its server.
pub fn ws_echo(web: SocketAddr, name: &str) -> WsClient {
    let mut ws = match WsClient::connect_with(web, "/ws", Handshake::default()) {
        Ok((ws, _)) => ws,
        Err(response) => panic!("{name}: WebSocket refused:\n{}", response.dump()),
    };
    let hello = format!("hello from {name}");
    assert_eq!(ws.request(&hello), hello, "{name}");
    ws
}

/// The status code of a Close frame.
pub fn close_code(frame: &Frame) -> Option<u16> {
    assert_eq!(
        (frame.fin, frame.opcode),
        (true, Opcode::Close),
        "{frame:?}"
    );
    let code = frame.payload.get(..2)?;
    Some(u16::from_be_bytes([code[0], code[1]]))
}

/// Sends a Close frame with `code` and no reason.
pub fn send_close(ws: &mut WsClient, code: u16) {
    ws.send_frame(true, Opcode::Close, &code.to_be_bytes());
}

/// Ends a WebSocket the way a client should: Close 1000, the server's Close 1000, and
/// the TCP close.
pub fn close_ws(mut ws: WsClient, name: &str) {
    send_close(&mut ws, 1000);
    assert_eq!(close_code(&ws.recv_frame()), Some(1000), "{name}");
    ws.conn.expect_eof(Duration::from_secs(2));
}

/// A TCP connection to HAProxy's echo frontend.
pub struct Echo {
    pub stream: TcpStream,
    /// Received bytes not yet consumed.
    buf: Vec<u8>,
    name: String,
}

impl Echo {
    /// Connects, and checks the echo with one line: then HAProxy has chosen its server.
    pub fn connect(tcp: SocketAddr, name: &str) -> Echo {
        let stream = connect_tcp(tcp).unwrap_or_else(|e| panic!("{name}: connect {tcp}: {e}"));
        let mut echo = Echo {
            stream,
            buf: Vec::new(),
            name: name.to_string(),
        };
        let hello = format!("hello from {name}");
        assert_eq!(echo.line(&hello), hello);
        echo
    }

    /// Sends `line` and a newline: the line that comes back, without its newline.
    pub fn line(&mut self, line: &str) -> String {
        let sent = format!("{line}\n");
        self.stream
            .write_all(sent.as_bytes())
            .expect("write a line");
        let echoed = self.read_exact(sent.len());
        String::from_utf8(echoed[..echoed.len() - 1].to_vec()).expect("UTF-8")
    }

    /// Exactly `n` bytes; panics on EOF or after [`IO_TIMEOUT`] without data.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let deadline = Instant::now() + IO_TIMEOUT;
            if let Err(e) = bounded_read::fill(&mut self.stream, &mut self.buf, deadline) {
                panic!("{}: {e:?} after {} of {n} bytes", self.name, self.buf.len());
            }
        }
        self.buf.drain(..n).collect()
    }

    /// The connection closes cleanly (FIN through HAProxy) with nothing more.
    pub fn expect_eof(&mut self) {
        let before = std::mem::take(&mut self.buf);
        let (rest, err) =
            bounded_read::read_to_eof(&mut self.stream, before, IO_TIMEOUT, &self.name);
        assert!(
            rest.is_empty() && err.is_none(),
            "{}: {rest:?}, {err:?}",
            self.name
        );
    }
}

/// `len` bytes of a pattern that a shifted or cut echo would not match.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}
