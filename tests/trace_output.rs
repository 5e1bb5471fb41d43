//! `--trace` end to end: start the real binary, drive a short scripted session over
//! plain std sockets (a `cmd` request over TCP, a WebSocket echo with a close
//! handshake, one UDP datagram), stop the server with SIGTERM and check the stable
//! parts of what it traced on stderr.
//!
//! Timestamps, ports and descriptor numbers change from run to run, so every trace
//! line is normalised first: the leading `HH:MM:SS.uuuuuu ` is cut off, the digits
//! after `127.0.0.1:` become `PORT` and the digits after `fd=` become `N`.
//!
//! Every socket operation and every child process has a deadline: a server that
//! misbehaves makes a test fail with the trace in the message, never hang.
#![cfg(feature = "trace")]

mod support {
    pub mod bounded_read;
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod net;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod signal;
    pub mod udp_client;
}

use sockloop::proto::ws::frame::{Opcode, write_frame};
use sockloop::proto::ws::handshake::{accept_key, write_client_request};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use support::client_run::run;
use support::finished::CHILD_TIMEOUT;
use support::net::{IO_TIMEOUT, connect_tcp};
use support::server::Server;
use support::udp_client::Udp;

/// The opening-handshake key of RFC 6455 §1.3.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The masking key of the RFC 6455 §5.7 examples; the trace prints it as `37fa213d`.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// SIGTERM, wait for the exit (with a deadline), and return everything the server
/// wrote to stderr.
fn stop(mut server: Server) -> String {
    server.signal("TERM");
    let status = server.wait_exit(CHILD_TIMEOUT);
    let stderr = server.stderr();
    assert!(
        status.success(),
        "sockloop serve exited with {status} after SIGTERM\nstderr:\n{stderr}"
    );
    stderr
}

// ---------------------------------------------------------------------------------
// The scripted session
// ---------------------------------------------------------------------------------

/// A server with `options` and the three listeners the scripted session talks to:
/// `cmd` over TCP, the web service, `echo` over UDP.
fn session_server(options: &[&str]) -> Server {
    let mut args = options.to_vec();
    args.extend_from_slice(&[
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "-l",
        "http://127.0.0.1:0",
        "-l",
        "udp://127.0.0.1:0=echo",
    ]);
    Server::start(&args)
}

fn connect(addr: SocketAddr) -> TcpStream {
    connect_tcp(addr).unwrap_or_else(|e| panic!("{addr}: {e}"))
}

/// Reads until the server closes (FIN); a reset fails the test.
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let (got, err) = support::bounded_read::read_to_eof(stream, Vec::new(), IO_TIMEOUT, "trace");
    assert!(err.is_none(), "reading to EOF (got {got:?}): {err:?}");
    got
}

fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    stream
        .read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
    got
}

/// `ADD 1 2`, then our FIN, then the reply up to the server's FIN. Returns the reply.
fn tcp_add(addr: SocketAddr) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(b"ADD 1 2\n").expect("send");
    s.shutdown(Shutdown::Write).expect("shutdown(write)");
    read_to_eof(&mut s)
}

/// A masked client frame.
fn client_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, true, opcode, payload, Some(MASK));
    out
}

/// Opens a WebSocket on `/ws` by hand. Returns the stream and the sizes of the request
/// and of the 101 response head.
fn ws_open(addr: SocketAddr) -> (TcpStream, usize, usize) {
    let mut s = connect(addr);
    let mut request = Vec::new();
    write_client_request(
        &mut request,
        &addr.to_string(),
        "/ws",
        WS_KEY,
        &[],
        None,
        &[],
    );
    s.write_all(&request).expect("send handshake");
    // Byte by byte up to the blank line, so no frame byte is read by accident.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend(read_n(&mut s, 1));
        assert!(head.len() < 4096, "response head too long: {head:?}");
    }
    let text = String::from_utf8_lossy(&head);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains(&accept_key(WS_KEY)), "{text}");
    (s, request.len(), head.len())
}

/// Text "Hello" (echoed), then close 1000 (answered), then TCP FINs both ways.
/// Returns (bytes we sent, bytes we received), as the server's close line counts them.
fn ws_hello(addr: SocketAddr) -> (usize, usize) {
    let (mut s, request_len, head_len) = ws_open(addr);
    let hello = client_frame(Opcode::Text, b"Hello");
    s.write_all(&hello).expect("send text frame");
    assert_eq!(read_n(&mut s, 7), b"\x81\x05Hello", "the echoed frame");
    let close = client_frame(Opcode::Close, &1000u16.to_be_bytes());
    s.write_all(&close).expect("send close");
    assert_eq!(
        read_n(&mut s, 4),
        [0x88, 0x02, 0x03, 0xe8],
        "the server's close"
    );
    assert_eq!(read_to_eof(&mut s), b"", "nothing after the close frame");
    let _ = s.shutdown(Shutdown::Write);
    (request_len + hello.len() + close.len(), head_len + 7 + 4)
}

fn udp_hi(addr: SocketAddr) {
    assert_eq!(Udp::new(addr).request_str("hi"), "hi");
}

// ---------------------------------------------------------------------------------
// Reading a trace
// ---------------------------------------------------------------------------------

/// The trace lines of `stderr` (those that start with `HH:MM:SS.uuuuuu `), without
/// their timestamps, with ports and descriptors normalised. Log lines are skipped.
fn trace_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(strip_timestamp)
        .map(normalise)
        .collect()
}

fn strip_timestamp(line: &str) -> Option<&str> {
    let (stamp, rest) = line.split_at_checked(16)?;
    let shape = stamp.bytes().enumerate().all(|(i, b)| match i {
        2 | 5 => b == b':',
        8 => b == b'.',
        15 => b == b' ',
        _ => b.is_ascii_digit(),
    });
    shape.then_some(rest)
}

fn normalise(line: &str) -> String {
    let line = replace_digits_after(line, "127.0.0.1:", "PORT");
    replace_digits_after(&line, "fd=", "N")
}

/// Replaces each run of digits that follows `prefix` with `with`.
fn replace_digits_after(line: &str, prefix: &str, with: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        let (before, after) = rest.split_at(at + prefix.len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str(with);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// The events of one connection (or listener): the part after `tag` and two spaces.
fn events<'a>(lines: &'a [String], tag: &str) -> Vec<&'a str> {
    let tag = format!("{tag}  ");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(tag.as_str()))
        .collect()
}

/// Each of `wanted` is the start of some event, in this order (other events may come
/// in between).
#[track_caller]
fn assert_sequence(events: &[&str], wanted: &[&str], trace: &str) {
    let mut from = 0;
    for want in wanted {
        match events.iter().skip(from).position(|e| e.starts_with(want)) {
            Some(i) => from += i + 1,
            None => panic!(
                "no event starting with {want:?} (in order, after event {from}) in\n{}\n\nfull trace:\n{trace}",
                events.join("\n")
            ),
        }
    }
}

#[track_caller]
fn assert_some_line(lines: &[String], wanted: &str, trace: &str) {
    assert!(
        lines.iter().any(|l| l.contains(wanted)),
        "no trace line contains {wanted:?}; full trace:\n{trace}"
    );
}

// ---------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------

#[test]
fn scripted_session_traces_every_layer() {
    let server = session_server(&["--trace"]);
    let (tcp, http, udp) = (
        server.addr("tcp", "cmd"),
        server.addr("http", "web"),
        server.addr("udp", "echo"),
    );
    assert_eq!(tcp_add(tcp), b"3\n");
    let (ws_in, ws_out) = ws_hello(http);
    udp_hi(udp);
    let trace = stop(server);
    let lines = trace_lines(&trace);

    // The listeners, as bound, with their socket options (the real ports first).
    for (kind, addr, service) in [
        ("tcp", tcp, "cmd"),
        ("tcp", http, "web"),
        ("udp", udp, "echo"),
    ] {
        assert!(
            trace.contains(&format!("listen {kind} {addr} ({service}) fd=")),
            "no listen line for {kind} {addr}:\n{trace}"
        );
    }
    let listener = events(&lines, "listener");
    assert_sequence(
        &listener,
        &[
            "listen tcp 127.0.0.1:PORT (cmd) fd=N SO_REUSEADDR=1 SO_REUSEPORT=0 backlog=1024 O_NONBLOCK",
            "listen tcp 127.0.0.1:PORT (web) fd=N SO_REUSEADDR=1 SO_REUSEPORT=0 backlog=1024 O_NONBLOCK",
            "listen udp 127.0.0.1:PORT (echo) fd=N SO_REUSEADDR=1 SO_REUSEPORT=0 O_NONBLOCK",
        ],
        &trace,
    );

    // Connection #1: one line request over TCP, the client's FIN first.
    let first = events(&lines, "#1 tcp 127.0.0.1:PORT");
    assert_sequence(
        &first,
        &[
            "accept fd=N on tcp 127.0.0.1:PORT (cmd), TCP_NODELAY on, non-blocking",
            "ready: readable",
            "read 8 bytes",
            "line > \"ADD 1 2\"",
            "line < \"3\"",
            "write 2 bytes",
            "read 0 bytes: the peer sent FIN",
            "close (",
        ],
        &trace,
    );
    assert!(
        first
            .last()
            .is_some_and(|e| e.ends_with("): 8 bytes in, 2 bytes out")),
        "the close line counts the bytes: {first:?}"
    );

    // Connection #2: the WebSocket, frame by frame.
    let second = events(&lines, "#2 http 127.0.0.1:PORT");
    assert_sequence(
        &second,
        &[
            "accept fd=N on http 127.0.0.1:PORT (web)",
            "http > GET /ws HTTP/1.1",
            "http >   Upgrade: websocket",
            &format!("http >   Sec-WebSocket-Key: {WS_KEY}"),
            "http < HTTP/1.1 101 Switching Protocols",
            "ws > frame FIN=1 RSV=000 opcode=1 (text) MASK=1 key=37fa213d len=5 (7-bit)",
            "ws >   payload 48 65 6c 6c 6f |Hello|",
            "ws > message complete: text, 5 bytes in 1 frame",
            "ws < frame FIN=1 RSV=000 opcode=1 (text) MASK=0 len=5 (7-bit)",
            "ws <   payload 48 65 6c 6c 6f |Hello|",
            "write 7 bytes",
            "ws > frame FIN=1 RSV=000 opcode=8 (close) MASK=1 key=37fa213d len=2 (7-bit)",
            "ws >   payload 03 e8 |..|",
            "ws > close 1000 (normal closure)",
            "ws < frame FIN=1 RSV=000 opcode=8 (close) MASK=0 len=2 (7-bit)",
            "ws < close 1000 (normal closure)",
            "write 4 bytes",
            "shutdown(write): FIN sent",
            "read 0 bytes: the peer sent FIN",
            "close (",
        ],
        &trace,
    );
    let counts = format!("): {ws_in} bytes in, {ws_out} bytes out");
    assert!(
        second.last().is_some_and(|e| e.ends_with(&counts)),
        "the close line should end with {counts:?}: {second:?}"
    );

    // The datagram and its echo.
    let datagrams = events(&lines, "udp 127.0.0.1:PORT");
    assert_sequence(
        &datagrams,
        &[
            "datagram from 127.0.0.1:PORT: 2 bytes 68 69 |hi|",
            "datagram to 127.0.0.1:PORT: 2 bytes 68 69 |hi|",
        ],
        &trace,
    );

    // Every trace line is tagged with what it is about.
    for line in &lines {
        let tagged = ["listener  ", "#1 tcp ", "#2 http ", "udp 127.0.0.1:PORT  "]
            .iter()
            .any(|t| line.starts_with(t));
        assert!(tagged, "untagged trace line {line:?}\n{trace}");
    }
}

#[test]
fn trace_layers_can_be_picked() {
    let server = Server::start(&["--trace=line", "-l", "tcp://127.0.0.1:0=cmd"]);
    assert_eq!(tcp_add(server.addr("tcp", "cmd")), b"3\n");
    let trace = stop(server);
    let lines = trace_lines(&trace);
    let first = events(&lines, "#1 tcp 127.0.0.1:PORT");
    assert_eq!(
        first,
        ["line > \"ADD 1 2\"", "line < \"3\""],
        "only line events with --trace=line; full trace:\n{trace}"
    );
    assert_eq!(lines.len(), 2, "nothing but the two line events:\n{trace}");
}

#[test]
fn sixteen_bit_length_and_short_preview() {
    let server = Server::start(&[
        "--trace=ws",
        "--trace-bytes",
        "4",
        "-l",
        "http://127.0.0.1:0",
    ]);
    let (mut s, _, _) = ws_open(server.addr("http", "web"));
    let payload = [b'a'; 200];
    s.write_all(&client_frame(Opcode::Text, &payload))
        .expect("send 200-byte frame");
    let echo = read_n(&mut s, 4 + 200);
    assert_eq!(
        echo[..4],
        [0x81, 126, 0x00, 200],
        "16-bit length on the wire"
    );
    assert_eq!(echo[4..], payload);
    s.write_all(&client_frame(Opcode::Close, &1000u16.to_be_bytes()))
        .expect("send close");
    assert_eq!(read_n(&mut s, 4), [0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(read_to_eof(&mut s), b"");
    drop(s);
    let trace = stop(server);
    let lines = trace_lines(&trace);
    let conn = events(&lines, "#1 http 127.0.0.1:PORT");
    assert_sequence(
        &conn,
        &[
            "ws > frame FIN=1 RSV=000 opcode=1 (text) MASK=1 key=37fa213d len=200 (16-bit)",
            "ws >   payload 61 61 61 61 |aaaa| (+196 bytes)",
            "ws > message complete: text, 200 bytes in 1 frame",
            "ws < frame FIN=1 RSV=000 opcode=1 (text) MASK=0 len=200 (16-bit)",
            "ws <   payload 61 61 61 61 |aaaa| (+196 bytes)",
            "ws > close 1000 (normal closure)",
            "ws < close 1000 (normal closure)",
        ],
        &trace,
    );
    assert!(
        conn.iter().all(|e| e.starts_with("ws ")),
        "--trace=ws shows WebSocket events only:\n{trace}"
    );
}

#[test]
fn client_side_trace_of_the_ws_client() {
    let server = Server::start(&["-l", "http://127.0.0.1:0"]);
    let url = format!("ws://{}/ws", server.addr("http", "web"));
    // Then end of input, so the client sends close 1000.
    let done = run(&["ws", "--trace=ws", "-w", "5", &url], b"Hi\n");
    let (status, out, trace) = (done.status, done.stdout, done.stderr);
    assert!(status.success(), "sockloop ws: {status}\n{trace}");
    assert_eq!(out, "Hi\n");
    let lines = trace_lines(&trace);
    let tag = format!("ws://{}/ws", server.addr("http", "web"));
    let tag = normalise(&tag);
    let conn = events(&lines, &tag);
    // We send masked frames (with fresh random keys) and receive unmasked ones.
    assert_sequence(
        &conn,
        &[
            "ws < frame FIN=1 RSV=000 opcode=1 (text) MASK=1 key=",
            "ws <   payload 48 69 |Hi|",
            "ws > frame FIN=1 RSV=000 opcode=1 (text) MASK=0 len=2 (7-bit)",
            "ws > message complete: text, 2 bytes in 1 frame",
        ],
        &trace,
    );
    assert_some_line(
        &lines,
        "ws < frame FIN=1 RSV=000 opcode=8 (close) MASK=1 key=",
        &trace,
    );
    assert_some_line(&lines, "ws < close 1000 (normal closure)", &trace);
    assert_some_line(&lines, "ws > close 1000 (normal closure)", &trace);
    let sent = lines
        .iter()
        .find(|l| l.contains("ws < frame FIN=1 RSV=000 opcode=1 (text) MASK=1 key="))
        .map_or("", String::as_str);
    assert!(sent.ends_with(" len=2 (7-bit)"), "{sent}");
    assert!(
        !lines.iter().any(|l| l.contains("http ")),
        "--trace=ws leaves out the handshake:\n{trace}"
    );
    let server_stderr = stop(server);
    assert!(
        trace_lines(&server_stderr).is_empty(),
        "the server was not asked to trace:\n{server_stderr}"
    );
}

#[test]
fn no_trace_without_the_option() {
    let server = session_server(&[]);
    assert_eq!(tcp_add(server.addr("tcp", "cmd")), b"3\n");
    ws_hello(server.addr("http", "web"));
    udp_hi(server.addr("udp", "echo"));
    let stderr = stop(server);
    assert!(
        trace_lines(&stderr).is_empty(),
        "no timestamped trace lines without --trace:\n{stderr}"
    );
    for marker in [
        "listen ",
        "accept fd=",
        "read 8 bytes",
        "line >",
        "http >",
        "ws >",
        "ws <",
        "datagram ",
        "bytes in,",
    ] {
        assert!(
            !stderr.contains(marker),
            "{marker:?} in stderr without --trace:\n{stderr}"
        );
    }
}
