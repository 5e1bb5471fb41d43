//! Services driven without sockets: bytes in, bytes out.

use super::*;
use crate::proto::ws::frame::{self, Opcode};

fn drive(service: Service, chunks: &[&[u8]]) -> (String, Next) {
    let mut shared = Shared::seeded(16, 1);
    shared.conns_total = 3;
    let mut session = StreamSession::new(service, &shared);
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let mut after = session.on_open(&mut shared, &mut out);
    for chunk in chunks {
        if after == Next::Close {
            break;
        }
        let mut data = chunk.to_vec();
        after = session.on_data(&mut pending, &mut data, &mut shared, &mut out, 1 << 20);
    }
    if after == Next::Continue {
        session.on_eof(&mut pending, &mut shared, &mut out);
    }
    (String::from_utf8_lossy(&out).into_owned(), after)
}

#[test]
fn echo_is_byte_exact_and_stops_on_stop() {
    assert_eq!(drive(Service::Echo, &[b"ab", b"c\nd"]).0, "abc\nd");
    let (out, after) = drive(Service::Echo, &[b"x\nST", b"OP\r\nnot echoed\n"]);
    assert_eq!(out, "x\nSTOP\r\n");
    assert_eq!(after, Next::Close);
}

#[test]
fn counter_and_random() {
    assert_eq!(
        drive(Service::Counter, &[b"a\nb\n"]).0,
        "Client number: 3\nClient number: 3\n"
    );
    assert_eq!(
        drive(Service::Counter, &[b"STOP\nx\n"]),
        (String::new(), Next::Close)
    );
    let (out, _) = drive(Service::Random, &[b"5 5\n7 7\n"]);
    assert_eq!(out, "5\n7\n");
    let (out, _) = drive(Service::Random, &[b"hello\n"]);
    let n: i64 = out.trim().parse().unwrap();
    assert!((1..=1000).contains(&n));
}

#[test]
fn cmd_lines_across_chunks_and_last_line_without_newline() {
    let (out, after) = drive(Service::Cmd, &[b"ECHO he", b"llo\r\nADD 1 2\nECHO end"]);
    assert_eq!(out, "hello\n3\nend\n");
    assert_eq!(after, Next::Continue);
}

#[test]
fn cmd_line_too_long_then_goes_on() {
    let long = [b'x'; 40];
    let (out, _) = drive(Service::Cmd, &[&long, &long, b"\nECHO ok\n"]);
    assert_eq!(out, "ERR line too long (max 16 bytes)\nok\n");
}

#[test]
fn daytime_talks_first_and_closes() {
    let (out, after) = drive(Service::Daytime, &[b"ignored"]);
    assert_eq!(after, Next::Close);
    assert!(out.ends_with("Z\n") && out.len() == 21, "{out:?}");
}

#[test]
fn datagrams() {
    let mut shared = Shared::seeded(16, 1);
    let mut out = Vec::new();
    on_datagram(Service::Cmd, b"ADD 2 2\n", &mut shared, &mut out);
    assert_eq!(out, b"4\n");
    out.clear();
    on_datagram(Service::Echo, b"raw\r\n", &mut shared, &mut out);
    assert_eq!(out, b"raw\r\n");
    out.clear();
    on_datagram(Service::Random, b"9 9", &mut shared, &mut out);
    assert_eq!(out, b"9\n");
    out.clear();
    on_datagram(Service::Cmd, &[b'x'; 17], &mut shared, &mut out);
    assert_eq!(out, b"ERR line too long (max 16 bytes)\n");
    assert_eq!(shared.requests, 4);
}

#[test]
fn output_budget_sets_input_aside_and_serves_it_later() {
    let mut shared = Shared::seeded(64, 1);
    let mut session = StreamSession::new(Service::Cmd, &shared);
    let mut pending = Vec::new();
    let mut out = Vec::new();
    // Ten requests of ~5 KB of output each, with a budget of 8 KB per call.
    let mut input = b"RANDOMS 1000 1000 1000\n".repeat(10);
    let mut next = session.on_data(&mut pending, &mut input, &mut shared, &mut out, 8192);
    assert_eq!(next, Next::Backlog);
    let first = out.iter().filter(|&&b| b == b'\n').count();
    assert!((1..10).contains(&first), "answered {first} at once");
    let mut rounds = 0;
    while next == Next::Backlog {
        let budget = out.len() + 8192;
        next = session.on_data(&mut pending, &mut [], &mut shared, &mut out, budget);
        rounds += 1;
        assert!(rounds < 20);
    }
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 10);
    assert!(pending.is_empty() && pending.capacity() == 0);
}

/// Drives the web service with raw bytes; returns everything it wrote.
fn web(input: &[u8]) -> (String, Next) {
    let (out, after) = web_bytes(input);
    (String::from_utf8_lossy(&out).into_owned(), after)
}

fn web_bytes(input: &[u8]) -> (Vec<u8>, Next) {
    let mut shared = Shared::seeded(64, 1);
    let mut session = StreamSession::new(Service::Web, &shared);
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let mut data = input.to_vec();
    let after = session.on_data(&mut pending, &mut data, &mut shared, &mut out, 1 << 20);
    (out, after)
}

const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn web_routes() {
    let (out, after) = web(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("<title>sockloop"));
    assert_eq!(after, Next::Continue, "keep-alive");
    let (out, _) = web(b"GET /nope HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
    let (out, _) = web(b"POST /stats HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 405 "), "{out}");
    let (out, after) = web(b"GET /ws HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 426 ") && out.contains("Sec-WebSocket-Version: 13"));
    assert_eq!(after, Next::Close);
    let (out, after) = web(b"BAD\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert_eq!(after, Next::Close);
    let (out, _) = web(b"HEAD /stats HTTP/1.1\r\n\r\n");
    assert!(
        out.starts_with("HTTP/1.1 200 ") && out.ends_with("\r\n\r\n"),
        "{out}"
    );
}

#[test]
fn web_pipelined_requests_and_connection_close() {
    let (out, after) =
        web(b"GET /stats HTTP/1.1\r\n\r\nGET /stats HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2);
    assert_eq!(after, Next::Close);
}

#[test]
fn websocket_upgrade_then_echo_in_the_same_read() {
    let mut input = UPGRADE.as_bytes().to_vec();
    frame::write_frame(&mut input, true, Opcode::Text, b"Hello", Some([1, 2, 3, 4]));
    let (out, after) = web_bytes(&input);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert!(out.ends_with(b"\r\n\r\n\x81\x05Hello"), "{out:?}");
    assert_eq!(after, Next::Continue);
}

#[test]
fn busy_answers_say_which_limit() {
    assert_eq!(
        busy_reply(Service::Cmd, Busy::MaxConns(2)),
        b"ERR server busy: 2 connections open (the limit); try again later\n"
    );
    assert_eq!(
        busy_reply(Service::Random, Busy::PerAddress(8)),
        &b"ERR server busy: 8 connections open from your address (the limit per address); \
           try again later\n"[..]
    );
    assert!(busy_reply(Service::Echo, Busy::PerAddress(8)).is_empty());
    // The 503 over --max-conns is the page the web service has always sent.
    assert_eq!(
        busy_reply(Service::Web, Busy::MaxConns(3)),
        web::busy_response(3)
    );
    let page = String::from_utf8(busy_reply(Service::Web, Busy::PerAddress(8))).unwrap();
    assert!(page.starts_with("HTTP/1.1 503 "), "{page}");
    assert!(page.contains("\r\nRetry-After: 1\r\n"), "{page}");
    assert!(page.ends_with("\r\n\r\nserver busy: 8 connections open from your address (the limit per address); try again later\n"), "{page}");
    assert_eq!(
        busy_reply(Service::Cmd, Busy::Memory),
        b"ERR server busy: out of memory for new connections; try again later\n"
    );
}
