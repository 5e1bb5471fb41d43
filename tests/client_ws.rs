//! The `ws` client as a real process, against `sockloop serve`'s WebSocket endpoints,
//! against the independent PyPI `websockets` server (`tests/peers/ws_server.py`, in
//! the venv `target/test-venv`), and against a bare standard-library peer
//! (`tests/peers/ws_raw_server.py`) for servers that misbehave: one that never
//! answers a Close, one that drops TCP without one, one that resets after its Close.
//!
//! Tests that need the venv print `skipping: ...` and pass when it is missing, unless
//! SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail instead.

mod support {
    pub mod client_run;
    pub mod deps;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod free_port;
    pub mod one_listener;
    pub mod output;
    pub mod poll;
    pub mod process;
    pub mod python;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod stdout_wait;
    pub mod venv;
}

use std::time::{Duration, Instant};
use support::client_run::run;
use support::free_port::free_tcp_port;
use support::one_listener::serve_one;
use support::poll::wait_until;
use support::process::{Proc, sockloop};
use support::python::{Peer, python3};
use support::server::Server;
use support::stdout_wait::OUTPUT_TIMEOUT;
use support::venv::websockets_python;

fn web_server() -> (Server, String) {
    let (server, addr) = serve_one("http", "web", &[]);
    (server, addr.to_string())
}

/// The Python `websockets` peer in `mode`, or `None` (test skipped) without the venv.
fn py_peer(mode: &str) -> Option<(Peer, String)> {
    let python = websockets_python()?;
    let peer = Peer::start(&python, "ws_server.py", &[mode]);
    let url = format!("ws://{}/", peer.addr);
    Some((peer, url))
}

/// The standard-library peer in `mode`, or `None` (test skipped) without python3.
fn raw_peer(mode: &str) -> Option<(Peer, String)> {
    let python = python3()?;
    let peer = Peer::start(&python, "ws_raw_server.py", &[mode]);
    let url = format!("ws://{}/", peer.addr);
    Some((peer, url))
}

/// What `-v` says when our Close 1000 went first and the server echoed it.
fn we_closed_first(url: &str) -> String {
    format!(
        "we closed first with 1000 (normal closure), no reason; \
         {url} answered 1000 (normal closure), no reason"
    )
}

/// What `-v` says when the server's Close went first: `said` is its code and reason,
/// which our answer echoes.
fn server_closed_first(url: &str, said: &str) -> String {
    format!("{url} closed first with {said}; we answered {said}")
}

// ---------------------------------------------------------------------------------
// Against sockloop serve
// ---------------------------------------------------------------------------------

#[test]
fn ws_echo_text_against_sockloop_then_close_1000() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/ws");
    run(&["ws", "-v", &url], "hello\nwörld ✓\n\n".as_bytes())
        .assert_code(0)
        .assert_stdout("hello\nwörld ✓\n\n")
        .assert_stderr_has(&format!("connected to {url}"))
        .assert_stderr_has(&we_closed_first(&url));
}

#[test]
fn ws_binary_messages_print_as_hex_or_raw() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/ws");
    run(&["ws", "--binary", &url], b"\x00\x01\xff\nAB\n")
        .assert_code(0)
        .assert_stdout("00 01 ff\n41 42\n");
    run(&["ws", "--binary", "--raw", &url], b"raw\x00bytes\n")
        .assert_code(0)
        .assert_stdout("raw\x00bytes");
}

#[test]
fn ws_a_line_that_is_not_utf8_is_not_sent_as_text() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/ws");
    run(&["ws", &url], b"\xff\xfe\nfine\n")
        .assert_code(0)
        .assert_stdout("fine\n")
        .assert_stderr_has("not valid UTF-8");
}

#[test]
fn ws_cmd_endpoint_of_sockloop() {
    let (_server, addr) = web_server();
    run(
        &["ws", &format!("ws://{addr}/cmd")],
        b"ADD 17 18\nSUB 1 3\n",
    )
    .assert_code(0)
    .assert_stdout("35\n-2\n");
}

#[test]
fn ws_end_of_input_after_100_lines_against_sockloop() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/ws");
    let input: String = (0..100).map(|i| format!("line {i}\n")).collect();
    run(&["ws", "-v", &url], input.as_bytes())
        .assert_code(0)
        .assert_stdout(&input)
        .assert_stderr_has(&we_closed_first(&url));
}

#[test]
fn ws_handshake_refused_with_404_by_sockloop() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/nope");
    run(&["ws", &url], b"x\n")
        .assert_code(1)
        .assert_stdout("")
        .assert_stderr_has(&format!(
            "{url} refused the WebSocket handshake: 404 Not Found — "
        ));
}

#[test]
fn ws_idle_reminders_then_close() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/ws");
    // Standard input stays open and silent.
    let client = Proc::spawn(sockloop(&[
        "ws",
        "-v",
        "--idle-prompt",
        "0.3",
        "--idle-max",
        "2",
        &url,
    ]));
    let done = client.wait();
    done.assert_code(0)
        .assert_stderr_has("Please give me input! 1\nPlease give me input! 2\n")
        .assert_stderr_has("no input after 2 reminders; closing")
        .assert_stderr_has(&we_closed_first(&url));
    assert!(
        !done.stderr.contains("Please give me input! 3"),
        "{}",
        done.stderr
    );
    assert!(
        done.elapsed >= Duration::from_millis(550) && done.elapsed < Duration::from_secs(3),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn ws_input_resets_the_idle_reminders() {
    let (_server, addr) = web_server();
    let url = format!("ws://{addr}/ws");
    let mut client = Proc::spawn(sockloop(&[
        "ws",
        "--idle-prompt",
        "0.4",
        "--idle-max",
        "2",
        &url,
    ]));
    client.wait_stderr("Please give me input! 1\n", OUTPUT_TIMEOUT);
    client.write(b"here\n");
    client.wait_stdout("here\n");
    // The count starts again from 1 after input.
    client.wait_stderr(
        "Please give me input! 1\nPlease give me input! 1\n",
        OUTPUT_TIMEOUT,
    );
    client
        .wait()
        .assert_code(0)
        .assert_stdout("here\n")
        .assert_stderr_has(
            "Please give me input! 1\nPlease give me input! 1\nPlease give me input! 2\n",
        );
}

#[test]
fn ws_connection_refused_and_usage_errors() {
    let addr = free_tcp_port();
    run(&["ws", &format!("ws://{addr}/ws")], b"")
        .assert_code(1)
        .assert_stderr_has(&format!("connection refused: {addr}"));
    let cases: &[&[&str]] = &[
        &["ws"],
        &["ws", "--insecure", "ws://127.0.0.1:9/"],
        &["ws", "http://127.0.0.1:9/"],
        &["ws", "-H", "no colon", "ws://127.0.0.1:9/"],
        &["ws", "--idle-max", "0", "ws://127.0.0.1:9/"],
        &["ws", "--ping-interval", "often", "ws://127.0.0.1:9/"],
    ];
    for args in cases {
        run(args, b"")
            .assert_code(2)
            .assert_stderr_has("sockloop ws: ");
    }
}

// ---------------------------------------------------------------------------------
// Against the Python `websockets` server
// ---------------------------------------------------------------------------------

#[test]
fn ws_python_echo_text() {
    let Some((mut peer, url)) = py_peer("echo") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", "-v", &url]));
    client.write("hello python\nüñí ✓\n".as_bytes());
    // Wait for the echoes before ending input (see the ignored test below for why).
    client.wait_stdout("üñí ✓\n");
    client.close_stdin();
    client
        .wait()
        .assert_code(0)
        .assert_stdout("hello python\nüñí ✓\n")
        .assert_stderr_has(&we_closed_first(&url));
    assert_eq!(
        peer.lines_to_exit(),
        ["TEXT hello python", "TEXT üñí ✓", "CLOSE 1000 ", "DONE"]
    );
}

#[test]
fn ws_python_echo_binary() {
    let Some((mut peer, url)) = py_peer("echo") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", "--binary", &url]));
    client.write(b"\x00\x01\xff\n\n");
    client.wait_stdout("00 01 ff\n\n");
    client.close_stdin();
    client.wait().assert_code(0).assert_stdout("00 01 ff\n\n");
    assert_eq!(
        peer.lines_to_exit(),
        ["BINARY 00 01 ff", "BINARY ", "CLOSE 1000 ", "DONE"]
    );
}

#[test]
fn ws_python_100_lines_echoed_before_end_of_input() {
    let Some((mut peer, url)) = py_peer("echo") else {
        return;
    };
    let input: String = (0..100).map(|i| format!("message {i}\n")).collect();
    let mut client = Proc::spawn(sockloop(&["ws", &url]));
    client.write(input.as_bytes());
    client.wait_stdout("message 99\n");
    client.close_stdin();
    client.wait().assert_code(0).assert_stdout(&input);
    let mut expected: Vec<String> = (0..100).map(|i| format!("TEXT message {i}")).collect();
    expected.push("CLOSE 1000 ".into());
    expected.push("DONE".into());
    assert_eq!(peer.lines_to_exit(), expected);
}

#[test]
fn ws_python_end_of_input_sends_close_after_all_100_lines_are_answered() {
    let Some((mut peer, url)) = py_peer("echo") else {
        return;
    };
    let input: String = (0..100).map(|i| format!("message {i}\n")).collect();
    let done = run(&["ws", &url], input.as_bytes());
    // The server got every line, then our Close 1000...
    let mut expected: Vec<String> = (0..100).map(|i| format!("TEXT message {i}")).collect();
    expected.push("CLOSE 1000 ".into());
    expected.push("DONE".into());
    assert_eq!(peer.lines_to_exit(), expected);
    // ...and every echo should have been printed before the client exits.
    done.assert_code(0).assert_stdout(&input);
}

#[test]
fn ws_python_server_closes_with_4000_and_a_reason() {
    let Some((mut peer, url)) = py_peer("close4000") else {
        return;
    };
    let client = Proc::spawn(sockloop(&["ws", "-v", &url]));
    client.write(b"first\n");
    // Standard input stays open: the server's Close ends the session.
    let done = client.wait();
    done.assert_code(0)
        .assert_stdout("first\n")
        .assert_stderr_has(&server_closed_first(
            &url,
            "4000 (private use), reason \"custom goodbye\"",
        ));
    let lines = peer.lines_to_exit();
    assert_eq!(lines[0], "TEXT first");
    // Our answer to its Close (RFC 6455 §5.5.1: usually the same code echoed).
    assert!(lines[1].starts_with("CLOSE 4000"), "{lines:?}");
}

#[test]
fn ws_python_message_then_close_is_printed() {
    let Some((mut peer, url)) = py_peer("push_close") else {
        return;
    };
    // Nothing is written and stdin stays open.
    let done = Proc::spawn(sockloop(&["ws", "-v", &url])).wait();
    done.assert_code(0)
        .assert_stdout("pushed before close\n")
        .assert_stderr_has(&server_closed_first(
            &url,
            "1000 (normal closure), reason \"done\"",
        ));
    assert!(
        peer.lines_to_exit()
            .first()
            .is_some_and(|l| l.starts_with("CLOSE 1000")),
        "the client answered the server's Close"
    );
}

#[test]
fn ws_python_sigint_sends_close_1000() {
    let Some((mut peer, url)) = py_peer("echo") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", "-v", &url]));
    client.write(b"before ctrl-c\n");
    client.wait_stdout("before ctrl-c\n");
    let sent = Instant::now();
    client.signal("INT");
    let done = client.wait();
    done.assert_code(0)
        .assert_stdout("before ctrl-c\n")
        .assert_stderr_has("interrupted; sending close 1000")
        .assert_stderr_has(&we_closed_first(&url));
    assert!(
        sent.elapsed() < Duration::from_millis(1500),
        "the close handshake took {:?}",
        sent.elapsed()
    );
    assert_eq!(
        peer.lines_to_exit(),
        ["TEXT before ctrl-c", "CLOSE 1000 ", "DONE"]
    );
}

#[test]
fn ws_python_handshake_refused_with_404() {
    let Some((_peer, url)) = py_peer("notfound") else {
        return;
    };
    run(&["ws", &url], b"")
        .assert_code(1)
        .assert_stderr_has(&format!(
            "{url} refused the WebSocket handshake: 404 Not Found — nothing here"
        ));
}

#[test]
fn ws_python_sees_headers_origin_and_subprotocol() {
    let Some((mut peer, url)) = py_peer("headers") else {
        return;
    };
    run(
        &[
            "ws",
            "-v",
            "-H",
            "X-Sockloop-Test: yes please",
            "--origin",
            "http://example.test",
            "--protocol",
            "nope",
            "--protocol",
            "chat",
            &url,
        ],
        b"",
    )
    .assert_code(0)
    .assert_stderr_has(&format!("connected to {url} (subprotocol chat)"));
    let lines = peer.lines_to_exit();
    for want in [
        "HEADER X-Sockloop-Test: yes please",
        "HEADER Origin: http://example.test",
        "HEADER Sec-WebSocket-Protocol: nope, chat",
        "HEADER Sec-WebSocket-Version: 13",
        "SUBPROTOCOL chat",
        "CLOSE 1000 ",
    ] {
        assert!(lines.iter().any(|l| l == want), "no {want:?} in {lines:?}");
    }
}

#[test]
fn ws_python_ping_interval_gets_pongs() {
    let Some((mut peer, url)) = py_peer("echo") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", "-v", "--ping-interval", "0.1", &url]));
    client.wait_stderr("pong (8 bytes)", OUTPUT_TIMEOUT);
    client.close_stdin();
    client.wait().assert_code(0).assert_stdout("");
    assert_eq!(peer.lines_to_exit(), ["CLOSE 1000 ", "DONE"]);
}

#[test]
fn ws_python_echo_mode_sends_every_message_back() {
    let Some((mut peer, url)) = py_peer("echo_back") else {
        return;
    };
    // --echo ignores stdin; the server ends the session.
    let client = Proc::spawn(sockloop(&["ws", "--echo", "-v", &url]));
    client.write(b"ignored\n");
    client
        .wait()
        .assert_code(0)
        .assert_stdout("")
        .assert_stderr_has(&server_closed_first(
            &url,
            "1000 (normal closure), reason \"thanks\"",
        ));
    let lines = peer.lines_to_exit();
    assert_eq!(
        lines[..3],
        ["TEXT alpha", "BINARY 00 01 ff", "TEXT omega"],
        "{lines:?}"
    );
}

// ---------------------------------------------------------------------------------
// Against the bare standard-library peer (misbehaving servers)
// ---------------------------------------------------------------------------------

#[test]
fn ws_server_dropping_tcp_without_close_is_1006() {
    let Some((mut peer, url)) = raw_peer("drop") else {
        return;
    };
    let client = Proc::spawn(sockloop(&["ws", &url]));
    client.write(b"hello?\n");
    client
        .wait()
        .assert_code(1)
        .assert_stdout("last words\n")
        .assert_stderr_has(&format!(
            "{url} closed the connection without a close frame (1006, abnormal closure)"
        ));
    peer.wait_line("EOF");
}

#[test]
fn ws_reset_after_the_servers_close_is_a_normal_end() {
    // Servers that close TCP right after sending their Close (Autobahn's fuzzing
    // server does for /getCaseCount) reset our answering Close: the session had
    // already ended normally, so the client must say so and exit 0.
    let Some((mut peer, url)) = raw_peer("reset") else {
        return;
    };
    let client = Proc::spawn(sockloop(&["ws", "-v", &url]));
    peer.wait_line("RESET");
    client
        .wait()
        .assert_code(0)
        .assert_stdout("count 7\n")
        .assert_stderr_has(&server_closed_first(
            &url,
            "1000 (normal closure), no reason",
        ));
}

#[test]
fn ws_second_sigint_exits_at_once() {
    let Some((mut peer, url)) = raw_peer("mute") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", &url]));
    client.write(b"hi\n");
    peer.wait_line("TEXT hi");
    client.signal("INT");
    // Our Close reaches the server, which never answers it.
    assert_eq!(peer.wait_line("CLOSE"), "CLOSE 1000");
    assert!(
        !wait_until(Duration::from_millis(300), || client.try_exit().is_some()),
        "the client waits for the server's Close"
    );
    let second = Instant::now();
    client.signal("INT");
    let done = client.wait();
    // 130, as `serve` exits on a second signal (and a shell after a Ctrl-C kill).
    done.assert_code(130)
        .assert_stderr_has("interrupted again; exiting without waiting");
    assert!(
        second.elapsed() < Duration::from_millis(1000),
        "second Ctrl-C took {:?}",
        second.elapsed()
    );
    peer.wait_line("EOF");
}

#[test]
fn ws_gives_up_waiting_for_a_close_that_never_comes() {
    let Some((mut peer, url)) = raw_peer("mute") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", &url]));
    client.write(b"one\ntwo\n");
    client.close_stdin();
    // Both messages, then our Close 1000; then nothing comes back for 2 s.
    peer.wait_line("TEXT two");
    assert_eq!(peer.wait_line("CLOSE"), "CLOSE 1000");
    let closed = Instant::now();
    let done = client.wait();
    done.assert_code(1).assert_stdout("");
    let waited = closed.elapsed();
    assert!(
        waited >= Duration::from_millis(1700) && waited < Duration::from_secs(4),
        "waited {waited:?} for the server's Close (2 s expected)"
    );
    peer.wait_line("EOF");
}

#[test]
fn ws_closes_tcp_itself_when_the_server_answers_close_but_keeps_tcp_open() {
    let Some((mut peer, url)) = raw_peer("linger") else {
        return;
    };
    let mut client = Proc::spawn(sockloop(&["ws", "-v", &url]));
    client.write(b"hi\n");
    client.close_stdin();
    assert_eq!(peer.wait_line("CLOSE"), "CLOSE 1000");
    let answered = Instant::now();
    // Both Closes are exchanged: the client waits a moment for the server's FIN,
    // then ends the connection itself, once, and succeeds.
    let done = client.wait();
    let waited = answered.elapsed();
    done.assert_code(0);
    assert!(
        waited < Duration::from_secs(4),
        "took {waited:?} to give up on the server's FIN"
    );
    let reports = done.stderr.matches("closed first").count();
    assert_eq!(reports, 1, "{}", done.stderr);
    peer.wait_line("EOF");
}

#[test]
fn ws_close_timeout_message_says_the_server_did_not_answer() {
    let Some((_peer, url)) = raw_peer("mute") else {
        return;
    };
    run(&["ws", &url], b"")
        .assert_code(1)
        .assert_stderr_has(&format!("{url} did not answer our close within 2 s"));
}
