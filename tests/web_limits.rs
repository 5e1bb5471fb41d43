//! Limits and lifecycle of WebSocket connections: --max-message (decided from frame
//! headers), graceful shutdown with Close 1001, keepalive pings, idle timeout,
//! backpressure against a peer that never reads, and many sockets on one thread.

mod support {
    pub mod bounded_read;
    pub mod exit;
    pub mod http_client;
    pub mod net;
    pub mod one_listener;
    pub mod output;
    pub mod process;
    pub mod procfs;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod ws_client;
    pub mod ws_session;
}

use sockloop::proto::ws::frame::Opcode;
use std::io::{self, Write};
use std::time::{Duration, Instant};
use support::bounded_read::ReadError;
use support::http_client::Conn;
use support::one_listener::serve_one;
use support::server::Server;
use support::ws_client::{WsClient, client_frame};
use support::ws_session::raw_header;

const KEY: [u8; 4] = [0xa1, 0x5c, 0x07, 0xe3];

#[test]
fn max_message_is_enforced_from_headers() {
    let (_server, addr) = serve_one("http", "web", &["--max-message", "1000"]);

    // Exactly at the limit is fine, as one frame and in fragments.
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_binary(&[7; 1000]);
    assert_eq!(ws.recv_message(Opcode::Binary), vec![7; 1000]);
    ws.send_frame(false, Opcode::Text, &[b'a'; 600]);
    ws.send_frame(true, Opcode::Continuation, &[b'b'; 400]);
    assert_eq!(ws.recv_message(Opcode::Text).len(), 1000);

    // One byte over: 2000 bytes in one message.
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_binary(&[1; 2000]);
    ws.expect_failure(1009, "2000 bytes in one message");

    // Only a header announcing 1 MiB: refused without waiting for the payload.
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_raw(&raw_header(0x82, 1 << 20, Some(KEY)));
    let sent = Instant::now();
    ws.expect_failure(1009, "a header announcing 1 MiB");
    assert!(sent.elapsed() < Duration::from_secs(2));

    // Fragments of 400 each: the third one's header takes the sum over 1000.
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_frame(false, Opcode::Binary, &[2; 400]);
    ws.send_frame(false, Opcode::Continuation, &[3; 400]);
    ws.send_raw(&raw_header(0x80, 400, Some(KEY)));
    ws.expect_failure(1009, "a third fragment of 400");

    // Control frames inside a message do not count towards its size.
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_frame(false, Opcode::Binary, &[4; 950]);
    ws.send_frame(true, Opcode::Ping, &[5; 125]);
    ws.send_frame(true, Opcode::Continuation, &[6; 50]);
    assert_eq!(ws.recv_message(Opcode::Pong), vec![5; 125]);
    assert_eq!(ws.recv_message(Opcode::Binary).len(), 1000);
}

#[test]
fn max_message_takes_a_size_with_a_unit_and_k_is_1024() {
    let (_server, addr) = serve_one("http", "web", &["--max-message", "1k"]);
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_binary(&[7; 1024]);
    assert_eq!(ws.recv_message(Opcode::Binary), vec![7; 1024]);
    ws.send_binary(&[8; 1025]);
    ws.expect_failure(1009, "1025 bytes over --max-message 1k");
}

#[test]
fn sigterm_closes_websockets_with_1001_and_exits_0() {
    let (mut server, addr) = serve_one("http", "web", &[]);
    let mut a = WsClient::connect(addr, "/ws");
    let mut b = WsClient::connect(addr, "/random");
    assert_eq!(a.request("hello"), "hello");
    b.send_text("1 5 5");
    assert_eq!(b.recv_text(), "5");
    // One that will never answer the Close, and a plain HTTP keep-alive connection.
    let mut silent = WsClient::connect(addr, "/ws");
    assert_eq!(silent.request("hi"), "hi");
    let mut http = Conn::connect(addr);
    http.send(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(http.read_response(false).status(), 200);
    let start = Instant::now();
    server.signal("TERM");
    // Between requests, HTTP is simply closed.
    http.expect_eof(Duration::from_secs(2));
    // Each client answers the Close, sees TCP closed, and then hangs up too (dropped
    // at the end of its turn), which lets the server finish without waiting.
    for mut ws in [a, b] {
        let (code, reason) = ws.expect_close();
        assert_eq!(code, Some(1001), "reason {reason:?}");
        ws.send_close(1001, "");
        ws.conn.expect_eof(Duration::from_secs(3));
    }
    // The silent one gets its Close too, and is dropped when it does not answer.
    assert_eq!(silent.expect_close().0, Some(1001));
    silent.conn.expect_eof(Duration::from_secs(4));
    drop(silent);
    let status = server.wait_exit(Duration::from_secs(5));
    assert!(
        status.success(),
        "exit status {status:?}\nstderr: {}",
        server.stderr()
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        start.elapsed()
    );
}

/// `-v` logs each Close as a sentence that says who closed first, not Rust's debug
/// text (`Some(1001) "server shutting down"`).
#[test]
fn verbose_log_says_who_closed_and_how_in_words() {
    let mut server = Server::start(&["-v", "-l", "http://127.0.0.1:0"]);
    let addr = server.addr("http", "web");
    let within = Duration::from_secs(5);
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_close(4000, "done here");
    assert_eq!(ws.expect_close(), (Some(4000), "done here".to_string()));
    server.wait_stderr(
        "WebSocket peer closed first with 4000 (private use), reason \"done here\"; \
         answered in kind",
        within,
    );
    ws.conn.expect_eof(Duration::from_secs(3));
    drop(ws);

    let mut ws = WsClient::connect(addr, "/ws");
    assert_eq!(ws.request("hi"), "hi");
    server.signal("TERM");
    let (code, reason) = ws.expect_close();
    assert_eq!(code, Some(1001), "reason {reason:?}");
    ws.send_close(1001, &reason);
    server.wait_stderr(
        "WebSocket peer answered our Close with 1001 (going away), \
         reason \"server shutting down\"",
        within,
    );
    ws.conn.expect_eof(Duration::from_secs(3));
    drop(ws);
    assert!(server.wait_exit(within).success());
    let log = server.stderr();
    assert!(!log.contains("Some("), "debug text in the log: {log}");
}

#[test]
fn quiet_websocket_is_pinged() {
    let (_server, addr) = serve_one("http", "web", &["--ws-ping-interval", "0.3"]);
    let mut ws = WsClient::connect(addr, "/ws");
    let start = Instant::now();
    let ping = ws
        .try_recv_frame(Duration::from_millis(1500))
        .unwrap_or_else(|e| panic!("no ping within 1.5 s: {e:?}"));
    let took = start.elapsed();
    assert_eq!((ping.fin, ping.opcode), (true, Opcode::Ping), "{ping:?}");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1200),
        "ping after {took:?}, expected about 0.3 s"
    );
    // Answered, the connection stays healthy and is pinged again when quiet.
    ws.send_frame(true, Opcode::Pong, &ping.payload);
    assert_eq!(ws.request("still here"), "still here");
    let again = ws
        .try_recv_frame(Duration::from_millis(1500))
        .unwrap_or_else(|e| panic!("no second ping: {e:?}"));
    assert_eq!(again.opcode, Opcode::Ping);
}

#[test]
fn idle_websocket_is_closed_with_1001() {
    let (_server, addr) = serve_one("http", "web", &["--idle-timeout", "0.5"]);
    let mut ws = WsClient::connect(addr, "/ws");
    assert_eq!(ws.request("x"), "x");
    let start = Instant::now();
    let (code, reason) = ws.expect_close();
    assert_eq!(code, Some(1001), "reason {reason:?}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "idle close after {took:?}"
    );
    ws.send_close(1001, "");
    ws.conn.expect_eof(Duration::from_secs(3));
}

#[test]
fn never_reading_peer_is_held_back() {
    let (server, addr) = serve_one("http", "web", &[]);
    let mut greedy = WsClient::connect(addr, "/ws");
    let mut other = WsClient::connect(addr, "/ws");
    assert_eq!(other.request("warm up"), "warm up");
    let rss_before = server.rss_kib();

    // 64 KiB binary messages, written back to back, never reading the echoes.
    const MSG: usize = 64 * 1024;
    let payload: Vec<u8> = (0..MSG).map(|i| (i % 251) as u8).collect();
    let frame = client_frame(true, Opcode::Binary, &payload, KEY);
    let stream = &mut greedy.conn.stream;
    stream.set_nonblocking(true).expect("nonblocking");
    let start = Instant::now();
    let mut written: usize = 0;
    let mut blocked_since: Option<Instant> = None;
    let mut longest_block = Duration::ZERO;
    let mut other_checked = false;
    while start.elapsed() < Duration::from_secs(2) {
        let at = written % frame.len();
        match stream.write(&frame[at..]) {
            Ok(n) => {
                written += n;
                blocked_since = None;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let since = *blocked_since.get_or_insert_with(Instant::now);
                longest_block = longest_block.max(since.elapsed());
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("write failed after {written} bytes: {e}"),
        }
        // Meanwhile the server still serves everyone else.
        if !other_checked && start.elapsed() > Duration::from_secs(1) {
            assert_eq!(other.request("meanwhile"), "meanwhile");
            other_checked = true;
        }
    }
    stream.set_nonblocking(false).expect("blocking");
    assert!(other_checked);
    assert!(
        longest_block >= Duration::from_millis(500),
        "writes never blocked for long: {written} bytes taken in 2 s"
    );
    assert!(
        written < 64 << 20,
        "{written} bytes taken from a peer that reads nothing"
    );
    let rss_after = server.rss_kib();
    assert!(
        rss_after < rss_before + 8 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert_eq!(other.request("after"), "after");

    // Once it reads, every complete message it sent comes back, in order and intact.
    let complete = written / frame.len();
    for i in 0..complete {
        let f = greedy.recv_frame();
        assert_eq!((f.fin, f.opcode), (true, Opcode::Binary), "echo {i}");
        assert!(f.payload == payload, "echo {i} differs");
    }
    match greedy.try_recv_frame(Duration::from_millis(200)) {
        Err(ReadError::Timeout) => {}
        other => panic!("more than {complete} echoes: {other:?}"),
    }
}

#[test]
fn hundred_websockets_one_thread() {
    const N: usize = 100;
    let (server, addr) = serve_one("http", "web", &[]);
    let mut clients: Vec<WsClient> = (0..N).map(|_| WsClient::connect(addr, "/ws")).collect();
    // Everyone sends before anyone reads: the server interleaves them all.
    for round in 0..3 {
        for (i, ws) in clients.iter_mut().enumerate() {
            ws.send_text(&format!("client {i} round {round}"));
        }
        for (i, ws) in clients.iter_mut().enumerate().rev() {
            assert_eq!(ws.recv_text(), format!("client {i} round {round}"));
        }
    }
    assert_eq!(server.threads(), 1, "the server must run on one thread");
    let mut stats = Conn::connect(addr);
    stats.send(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let body = stats.read_response(false).body_str();
    assert!(
        body.contains(&format!(" conns_active={} ", N + 1)),
        "{body:?}"
    );
    assert_eq!(server.threads(), 1);
}
