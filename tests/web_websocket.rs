//! WebSocket sessions over real sockets: the three endpoints (/ws echo, /cmd, /random),
//! subprotocol choice, fragmentation with interleaved control frames, and how each
//! protocol violation is answered: the exact close code, then the server closes TCP.

mod support {
    pub mod bounded_read;
    pub mod http_client;
    pub mod net;
    pub mod one_listener;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod ws_client;
    pub mod ws_session;
}

use sockloop::proto::ws::frame::Opcode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::bounded_read::ReadError;
use support::one_listener::serve_one;
use support::ws_client::{Handshake, WsClient, client_frame};
use support::ws_session::{close_payload, raw_header};

const KEY: [u8; 4] = [0x5a, 0x0f, 0xc3, 0x81];

/// A whole frame written by hand: [`raw_header`] and the payload, masked with `mask`
/// if given.
fn raw_frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = raw_header(b0, payload.len() as u64, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        sockloop::proto::ws::frame::apply_mask(&mut out[start..], key, 0);
    }
    out
}

#[test]
fn echo_keeps_text_and_binary_apart() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let (mut ws, response) = WsClient::connect_with(addr, "/ws", Handshake::default())
        .unwrap_or_else(|r| panic!("refused:\n{}", r.dump()));
    assert_eq!(response.header("sec-websocket-protocol"), None);
    ws.send_text("héllo, wörld ✓");
    assert_eq!(ws.recv_text(), "héllo, wörld ✓");
    let binary = [0u8, 1, 2, 0xfe, 0xff, b'\n', 0x80];
    ws.send_binary(&binary);
    assert_eq!(ws.recv_message(Opcode::Binary), binary);
    // Several messages in one write come back in order.
    let mut burst = Vec::new();
    for i in 0..10 {
        burst.extend(client_frame(
            true,
            Opcode::Text,
            format!("m{i}").as_bytes(),
            KEY,
        ));
    }
    ws.send_raw(&burst);
    for i in 0..10 {
        assert_eq!(ws.recv_text(), format!("m{i}"));
    }
}

#[test]
fn echo_of_empty_messages() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_text("");
    assert_eq!(ws.recv_message(Opcode::Text), b"");
    ws.send_binary(b"");
    assert_eq!(ws.recv_message(Opcode::Binary), b"");
    // An empty message made of an empty start and an empty last fragment.
    ws.send_frame(false, Opcode::Binary, b"");
    ws.send_frame(true, Opcode::Continuation, b"");
    assert_eq!(ws.recv_message(Opcode::Binary), b"");
}

#[test]
fn echo_of_a_1_mib_binary_message() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/ws");
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ws.send_binary(&data);
    let back = ws.recv_message(Opcode::Binary);
    assert_eq!(back.len(), data.len());
    assert!(back == data, "1 MiB echo differs");
    // The connection is still fine afterwards.
    assert_eq!(ws.request("after"), "after");
}

/// Large echoes go out of the server's read buffer with one writev, small ones are
/// copied, and what the kernel does not take is queued (service/lend.rs): a burst of
/// both, some larger than a read, sent while the client is not reading (so the
/// server's writes come up short), must come back whole and in order, each echo the
/// message it answers.
#[test]
fn a_burst_of_large_and_small_echoes_read_late_comes_back_in_order() {
    use std::io::Write;
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/ws");
    let sizes = [
        2047, 2048, 64, 70_000, 5, 16_384, 2049, 0, 40_000, 126, 65_535, 65_536, 3_000,
    ];
    let messages: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            let n = sizes[i % sizes.len()];
            (0..n).map(|j| (i * 7 + j * 13) as u8).collect()
        })
        .collect();
    let burst: Vec<u8> = messages
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            let key = [i as u8, 0x5a, 0xc3, 0x0f];
            client_frame(true, Opcode::Binary, m, key)
        })
        .collect();
    let mut writer = ws.conn.stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&burst));
    // Let the server fill its socket buffers before the first read.
    std::thread::sleep(Duration::from_millis(300));
    for (i, m) in messages.iter().enumerate() {
        let back = ws.recv_message(Opcode::Binary);
        assert_eq!(back.len(), m.len(), "echo {i}: length");
        assert!(back == *m, "echo {i} differs from its message");
    }
    sending.join().unwrap().unwrap();
    assert_eq!(ws.request("after"), "after");
}

#[test]
fn fragmented_message_with_a_ping_inside() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/ws");
    ws.send_frame(false, Opcode::Text, b"frag-one ");
    ws.send_frame(true, Opcode::Ping, b"ping payload \x00\xff");
    ws.send_frame(false, Opcode::Continuation, "frag-twö ".as_bytes());
    ws.send_frame(true, Opcode::Continuation, b"frag-three");
    // The pong answers at once, before the message is complete...
    let pong = ws.recv_frame();
    assert_eq!(
        (pong.fin, pong.opcode, pong.payload.as_slice()),
        (true, Opcode::Pong, &b"ping payload \x00\xff"[..])
    );
    // ...and the message comes back whole, as one frame.
    assert_eq!(ws.recv_text(), "frag-one frag-twö frag-three");

    // A UTF-8 character split across fragments is fine; so is binary in pieces.
    ws.send_frame(false, Opcode::Text, b"\xe2\x9c");
    ws.send_frame(true, Opcode::Continuation, b"\x93");
    assert_eq!(ws.recv_text(), "✓");
    ws.send_frame(false, Opcode::Binary, &[1, 2]);
    ws.send_frame(false, Opcode::Continuation, &[3]);
    ws.send_frame(true, Opcode::Continuation, &[4, 5]);
    assert_eq!(ws.recv_message(Opcode::Binary), [1, 2, 3, 4, 5]);
    // An unsolicited pong is ignored.
    ws.send_frame(true, Opcode::Pong, b"unasked");
    assert_eq!(ws.request("next"), "next");
}

#[test]
fn cmd_endpoint_answers_one_message_per_request() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/cmd");
    assert_eq!(ws.request("ADD -17 18"), "1");
    assert_eq!(ws.request("SUB -17 18"), "-35");
    assert_eq!(
        ws.request("ADD 40 2\n"),
        "42",
        "a trailing newline is allowed"
    );
    let unknown = ws.request("FROBNICATE 1");
    assert!(unknown.starts_with("ERR "), "{unknown:?}");
    let usage = ws.request("ADD 1");
    assert!(usage.starts_with("ERR "), "{usage:?}");
    ws.send_binary(b"ADD 1 2");
    let binary = ws.recv_text();
    assert!(binary.starts_with("ERR "), "binary request: {binary:?}");
    // Still serving after errors.
    assert_eq!(ws.request("ADD 2 2"), "4");
}

#[test]
fn random_endpoint_streams_numbers() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/random");
    ws.send_text("5 1 3");
    for i in 0..5 {
        let n: i64 = ws
            .recv_text()
            .parse()
            .unwrap_or_else(|e| panic!("number {i}: {e}"));
        assert!((1..=3).contains(&n), "number {i} = {n} not in 1..=3");
    }
    // A second request is answered with exactly its own count (a sixth number from
    // the first request would show up here as 1..=3).
    ws.send_text("2 100 100");
    assert_eq!(ws.recv_text(), "100");
    assert_eq!(ws.recv_text(), "100");
    let bad = ws.request("0");
    assert!(bad.starts_with("ERR "), "count 0: {bad:?}");
    let bad = ws.request("3 9 1");
    assert!(bad.starts_with("ERR "), "inverted range: {bad:?}");
    ws.send_text("3 -5 -5");
    for _ in 0..3 {
        assert_eq!(ws.recv_text(), "-5");
    }
    // Nothing more is owed.
    match ws.try_recv_frame(Duration::from_millis(200)) {
        Err(ReadError::Timeout) => {}
        other => panic!("unexpected frame or close: {other:?}"),
    }
}

/// `/random` takes `N [MIN MAX]`, and its errors quote that, not a `RANDOMS` command
/// the user never typed.
#[test]
fn random_errors_speak_of_what_was_sent() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/random");
    for (sent, answer) in [
        (
            "abc",
            "ERR 'abc' is not a count; send N (1 to 10000), or N MIN MAX",
        ),
        ("0", "ERR count 0 is not between 1 and 10000"),
        ("10001", "ERR count 10001 is not between 1 and 10000"),
        ("5 1", "ERR send a count N (1 to 10000), or N MIN MAX"),
        ("5 one 6", "ERR 'one' is not a 64-bit whole number"),
        ("3 9 1", "ERR MIN 9 is greater than MAX 1"),
    ] {
        assert_eq!(ws.request(sent), answer, "sent {sent:?}");
    }
    ws.send_text("1 7 7");
    assert_eq!(ws.recv_text(), "7");
}

#[test]
fn subprotocol_is_chosen_from_the_offer() {
    let (_server, addr) = serve_one(
        "http",
        "web",
        &["--protocol", "chat", "--protocol", "v2.json"],
    );
    let (mut ws, response) = WsClient::connect_with(
        addr,
        "/ws",
        Handshake {
            protocols: &["superchat", "chat"],
            ..Handshake::default()
        },
    )
    .unwrap_or_else(|r| panic!("refused:\n{}", r.dump()));
    assert_eq!(response.header("sec-websocket-protocol"), Some("chat"));
    assert_eq!(ws.request("x"), "x");

    // The client's order of preference wins.
    let (_, response) = WsClient::connect_with(
        addr,
        "/ws",
        Handshake {
            protocols: &["v2.json", "chat"],
            ..Handshake::default()
        },
    )
    .unwrap_or_else(|r| panic!("refused:\n{}", r.dump()));
    assert_eq!(response.header("sec-websocket-protocol"), Some("v2.json"));

    // Nothing in common: the connection opens without a subprotocol.
    let (_, response) = WsClient::connect_with(
        addr,
        "/ws",
        Handshake {
            protocols: &["superchat"],
            ..Handshake::default()
        },
    )
    .unwrap_or_else(|r| panic!("refused:\n{}", r.dump()));
    assert_eq!(response.header("sec-websocket-protocol"), None);
}

/// Opens /ws, sends `bytes`, and checks the server fails the connection with `code`
/// and then closes TCP.
fn violation(addr: SocketAddr, what: &str, bytes: &[u8], code: u16) {
    let mut ws = WsClient::connect(addr, "/ws");
    // A good message first: the session is live when the bad bytes arrive.
    assert_eq!(ws.request("ok"), "ok", "{what}");
    ws.send_raw(bytes);
    ws.expect_failure(code, what);
}

#[test]
fn protocol_errors_get_1002() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unmasked client frame", raw_frame(0x81, b"hi", None)),
        ("RSV1 without extension", raw_frame(0xc1, b"hi", Some(KEY))),
        ("RSV3 on a ping", raw_frame(0x99, b"hi", Some(KEY))),
        ("reserved opcode 3", raw_frame(0x83, b"hi", Some(KEY))),
        ("reserved opcode 0xb", raw_frame(0x8b, b"", Some(KEY))),
        (
            "ping with 126 bytes",
            raw_frame(0x89, &[b'p'; 126], Some(KEY)),
        ),
        ("fragmented ping", raw_frame(0x09, b"x", Some(KEY))),
        (
            "continuation without start",
            raw_frame(0x80, b"x", Some(KEY)),
        ),
        ("new message inside a fragmented one", {
            let mut b = raw_frame(0x01, b"a", Some(KEY));
            b.extend(raw_frame(0x81, b"b", Some(KEY)));
            b
        }),
        (
            "non-minimal length",
            [&[0x82u8, 0x80 | 126, 0, 5][..], &KEY, &[0; 5]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        violation(addr, what, &bytes, 1002);
    }
}

#[test]
fn invalid_utf8_text_gets_1007() {
    let (_server, addr) = serve_one("http", "web", &[]);
    violation(
        addr,
        "invalid byte",
        &raw_frame(0x81, b"abc\xffdef", Some(KEY)),
        1007,
    );
    violation(
        addr,
        "surrogate",
        &raw_frame(0x81, b"\xed\xa0\x80", Some(KEY)),
        1007,
    );
    violation(
        addr,
        "truncated sequence at the end",
        &raw_frame(0x81, b"ok\xe2\x9c", Some(KEY)),
        1007,
    );
    let mut across_fragments = raw_frame(0x01, b"\xce", Some(KEY));
    across_fragments.extend(raw_frame(0x80, b"A", Some(KEY)));
    violation(
        addr,
        "bad continuation byte in the next fragment",
        &across_fragments,
        1007,
    );
}

#[test]
fn invalid_utf8_fails_fast_before_the_frame_ends() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/ws");
    // A text frame announcing 1000 bytes, of which only 20 are sent; the 10th is 0xFF.
    let mut payload = [b'a'; 20];
    payload[9] = 0xff;
    let mut bytes = raw_header(0x81, 1000, Some(KEY));
    let start = bytes.len();
    bytes.extend_from_slice(&payload);
    sockloop::proto::ws::frame::apply_mask(&mut bytes[start..], KEY, 0);
    let sent = Instant::now();
    ws.send_raw(&bytes);
    // The rest of the frame is never sent: the close must come anyway.
    let (code, reason) = ws.expect_close();
    assert_eq!(code, Some(1007), "reason {reason:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "1007 took {:?}",
        sent.elapsed()
    );
    ws.conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn bad_close_frames() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let close = |payload: &[u8]| raw_frame(0x88, payload, Some(KEY));
    for code in [1005u16, 999, 1006, 1015, 2000, 5000] {
        violation(
            addr,
            &format!("close code {code}"),
            &close(&close_payload(code, b"")),
            1002,
        );
    }
    violation(addr, "1-byte close payload", &close(&[0x03]), 1002);
    violation(
        addr,
        "close reason not UTF-8",
        &close(&close_payload(1000, b"bye \xff")),
        1007,
    );
}

#[test]
fn normal_close_is_echoed_and_tcp_closed() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/ws");
    assert_eq!(ws.request("before close"), "before close");
    ws.send_close(1000, "Work complete");
    let (code, _reason) = ws.expect_close();
    assert_eq!(code, Some(1000));
    let start = Instant::now();
    ws.conn.expect_eof(Duration::from_secs(2));
    assert!(start.elapsed() < Duration::from_secs(2));

    // Application codes are echoed too, and an empty Close gets an empty Close.
    let mut ws = WsClient::connect(addr, "/cmd");
    ws.send_close(4321, "");
    assert_eq!(ws.expect_close().0, Some(4321));
    ws.conn.expect_eof(Duration::from_secs(2));
    let mut ws = WsClient::connect(addr, "/random");
    ws.send_frame(true, Opcode::Close, b"");
    assert_eq!(ws.expect_close(), (None, String::new()));
    ws.conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn unknown_websocket_path_is_404() {
    let (_server, addr) = serve_one("http", "web", &[]);
    match WsClient::connect_with(addr, "/chatter", Handshake::default()) {
        Ok(_) => panic!("a WebSocket opened on /chatter"),
        Err(resp) => {
            assert_eq!(resp.status(), 404, "{}", resp.dump());
            assert!(resp.body_str().contains("/chatter"), "{}", resp.dump());
        }
    }
}

#[test]
fn random_streams_the_largest_count() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut ws = WsClient::connect(addr, "/random");
    ws.send_text("10000 1 6");
    let mut seen = [0usize; 6];
    for i in 0..10_000 {
        let n: usize = ws
            .recv_text()
            .parse()
            .unwrap_or_else(|e| panic!("number {i}: {e}"));
        assert!((1..=6).contains(&n), "number {i} = {n}");
        seen[n - 1] += 1;
    }
    assert!(
        seen.iter().all(|&c| c > 1000),
        "implausible spread {seen:?}"
    );
    match ws.try_recv_frame(Duration::from_millis(200)) {
        Err(ReadError::Timeout) => {}
        other => panic!("more than 10000 numbers: {other:?}"),
    }
    let over = ws.request("10001");
    assert!(over.starts_with("ERR "), "{over:?}");
}
