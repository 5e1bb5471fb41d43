//! permessage-deflate (RFC 7692) with real peers: the PyPI `websockets` client (which
//! offers compression by default) and headless Chromium (on the test page) against
//! `sockloop serve --ws-deflate`, `sockloop ws --deflate` against the `websockets`
//! server and against sockloop, and a server whose answer breaks the RFC.
//!
//! Tests that need the venv print `skipping: ...` and pass when it is missing, unless
//! SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail instead. Built only with the
//! `deflate` feature.
#![cfg(feature = "deflate")]

mod support {
    pub mod chromium;
    pub mod client_run;
    pub mod deps;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod output;
    pub mod process;
    pub mod python;
    pub mod server;
    pub mod stderr_wait;
    pub mod stdout_wait;
    pub mod venv;
}

use std::time::Duration;
use support::chromium::eval_in_page;
use support::client_run::run;
use support::process::{Proc, sockloop};
use support::python::{Peer, python3};
use support::server::Server;
use support::venv::websockets_python;

/// The WebSocket echo endpoint of a `sockloop serve -v` with `extra` options.
fn web_server(extra: &[&str]) -> (Server, String) {
    let mut args = vec!["-l", "http://127.0.0.1:0=web", "-v"];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    let url = format!("ws://{}/ws", server.addr("http", "web"));
    (server, url)
}

/// Runs the Python client against `url`: its lines once it has exited.
fn python_client(url: &str) -> Option<Vec<String>> {
    let python = websockets_python()?;
    let mut peer = Peer::start(&python, "ws_deflate_client.py", &[url]);
    Some(peer.lines_to_exit())
}

/// `in=N out=M` from the server's log line for its one closed connection.
fn bytes_out(server: &mut Server) -> u64 {
    server.wait_stderr(" closed: ", Duration::from_secs(5));
    let log = server.stderr();
    let line = log.lines().find(|l| l.contains(" closed: ")).unwrap();
    let out = line.split(" out=").nth(1).unwrap();
    out.trim().parse().unwrap_or_else(|_| panic!("{line}"))
}

/// What the Python client sends: 100 KiB + 64 KiB + 2 + 20 × 300 bytes.
const SENT: u64 = 100 * 1024 + 64 * 1024 + 2 + 20 * 300;

fn assert_all_echoed(lines: &[String]) {
    let echoes: Vec<&String> = lines.iter().filter(|l| l.starts_with("ECHO ")).collect();
    assert_eq!(echoes.len(), 23, "{lines:?}");
    assert!(echoes.iter().all(|l| l.ends_with(" ok")), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("DONE"), "{lines:?}");
}

#[test]
fn python_client_gets_compressed_echoes() {
    let (mut server, url) = web_server(&["--ws-deflate"]);
    let Some(lines) = python_client(&url) else {
        return;
    };
    assert_eq!(
        lines[0],
        "EXTENSIONS permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    assert_all_echoed(&lines);
    server.wait_stderr(
        "WebSocket open on /ws (echo, compressed)",
        Duration::from_secs(5),
    );
    // What went out is the echoes compressed: far less than what they hold.
    let out = bytes_out(&mut server);
    assert!(
        out < SENT / 4,
        "{out} bytes sent for {SENT} bytes of messages"
    );
}

#[test]
fn context_takeover_makes_the_chat_messages_smaller() {
    let (mut alone, alone_url) = web_server(&["--ws-deflate"]);
    let (mut context, context_url) = web_server(&["--ws-deflate-context"]);
    let Some(lines) = python_client(&context_url) else {
        return;
    };
    // Nothing imposed: both sides keep their history (websockets offers
    // client_max_window_bits, which sockloop leaves unanswered: its window is 32 KiB).
    assert_eq!(lines[0], "EXTENSIONS permessage-deflate");
    assert_all_echoed(&lines);
    assert_all_echoed(&python_client(&alone_url).unwrap_or_default());
    let (with, without) = (bytes_out(&mut context), bytes_out(&mut alone));
    assert!(
        with < without,
        "{with} bytes with context takeover, {without} without"
    );
}

#[test]
fn without_ws_deflate_the_offer_is_declined() {
    let (mut server, url) = web_server(&[]);
    let Some(lines) = python_client(&url) else {
        return;
    };
    assert_eq!(lines[0], "EXTENSIONS None");
    assert_all_echoed(&lines);
    let out = bytes_out(&mut server);
    assert!(out > SENT, "{out} bytes sent for {SENT} bytes of messages");
}

/// A 3,000-byte line that compresses well.
fn long_line() -> String {
    "sockloop compresses this line; ".repeat(100)
}

#[test]
fn ws_client_offers_deflate_to_the_python_server() {
    let Some(python) = websockets_python() else {
        return;
    };
    let mut peer = Peer::start(&python, "ws_server.py", &["headers"]);
    let url = format!("ws://{}/", peer.addr);
    let line = long_line();
    // The peer's headers mode wants the subprotocol "chat".
    let args = ["ws", "-v", "--deflate", "--protocol", "chat", &url];
    let mut client = Proc::spawn(sockloop(&args));
    client.write(format!("{line}\n").as_bytes());
    client.wait_stdout(&format!("{line}\n"));
    client.close_stdin();
    client
        .wait()
        .assert_code(0)
        .assert_stdout(&format!("{line}\n"))
        .assert_stderr_has("compressed with permessage-deflate");
    let lines = peer.lines_to_exit();
    let offer = "HEADER Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits";
    assert!(lines.iter().any(|l| l == offer), "{lines:?}");
    assert!(lines.contains(&format!("TEXT {line}")), "{lines:?}");
}

#[test]
fn ws_client_and_server_compress_and_trace_it() {
    let (_server, url) = web_server(&["--ws-deflate"]);
    let line = long_line();
    let finished = run(
        &["ws", "--deflate", "--trace=ws", &url],
        format!("{line}\nshort\n").as_bytes(),
    );
    finished
        .assert_code(0)
        .assert_stdout(&format!("{line}\nshort\n"))
        // Ours and the server's long message compressed (RSV1), the short one not.
        .assert_stderr_has("ws < frame FIN=1 RSV=100 opcode=1 (text)")
        .assert_stderr_has("ws > frame FIN=1 RSV=100 opcode=1 (text)")
        .assert_stderr_has(&format!("compressed bytes to {}", line.len()))
        .assert_stderr_has("ws > frame FIN=1 RSV=000 opcode=1 (text) MASK=0 len=5");
}

#[test]
fn ws_client_says_when_the_server_declines() {
    let (_server, url) = web_server(&[]);
    run(&["ws", "-v", "--deflate", &url], b"plain\n")
        .assert_code(0)
        .assert_stdout("plain\n")
        .assert_stderr_has("the server declined compression");
}

#[test]
fn ws_client_refuses_a_broken_deflate_answer() {
    let Some(python) = python3() else {
        return;
    };
    let peer = Peer::start(&python, "ws_raw_server.py", &["bad_deflate"]);
    let url = format!("ws://{}/", peer.addr);
    run(&["ws", "--deflate", &url], b"")
        .assert_code(1)
        .assert_stderr_has(
            "permessage-deflate answer is invalid: client_max_window_bits without a value",
        );
    // Without our offer, any extension in the answer is refused.
    let peer = Peer::start(&python, "ws_raw_server.py", &["bad_deflate"]);
    let url = format!("ws://{}/", peer.addr);
    run(&["ws", &url], b"")
        .assert_code(1)
        .assert_stderr_has("server enabled a WebSocket extension we did not offer");
}

/// On the test page (which connects to /ws by itself): once open, send a long message
/// and wait for its echo; the state line says whether the connection is compressed.
const PAGE_ECHO: &str = r##"(() => {
  const state = document.getElementById("state").textContent;
  if (!state.startsWith("open")) return state.startsWith("closed") ? "FAILED " + state : "";
  const msg = "chromium compresses this; ".repeat(200);
  if (!window.sent) {
    window.sent = true;
    document.getElementById("text").value = msg;
    document.getElementById("send").click();
    return "";
  }
  const echoed = [...document.querySelectorAll("#log .recv")]
    .some((line) => line.textContent.endsWith("\u2190 " + msg));
  return echoed ? "ECHOED " + state : "";
})()"##;

#[test]
fn chromium_negotiates_compression_on_the_test_page() {
    let (mut server, url) = web_server(&["--ws-deflate", "--trace=ws"]);
    let page = url.replace("ws://", "http://").replace("/ws", "/");
    let Some(result) = eval_in_page(&page, PAGE_ECHO, &[]) else {
        return;
    };
    assert_eq!(
        result,
        format!(
            "ECHOED open ({url}, compressed: permessage-deflate; server_no_context_takeover; client_no_context_takeover)"
        )
    );
    // Chromium compressed its message (RSV1) and so did sockloop's echo.
    server.wait_stderr("ws >   inflated ", Duration::from_secs(5));
    let log = server.stderr();
    assert!(log.contains("compressed bytes to 5200"), "{log}");
    assert!(
        log.contains("ws > frame FIN=1 RSV=100 opcode=1 (text) MASK=1"),
        "{log}"
    );
    assert!(
        log.contains("ws < frame FIN=1 RSV=100 opcode=1 (text) MASK=0"),
        "{log}"
    );
}
