//! Real components in one room: headless Chromium on the test page's chat view, a
//! Python `websockets` client, a Python standard-library subscriber, and the
//! `sockloop tcp` and `sockloop ws` clients as processes — all on one server.
//!
//! Tests that need Chromium or the venv print `skipping: ...` and pass when they are
//! missing, unless SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail instead.

#![cfg(feature = "pubsub")]

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
    pub mod stdout_wait;
    pub mod venv;
}

use std::time::Duration;
use support::process::{Proc, sockloop};
use support::python::{Peer, python3};
use support::server::Server;
use support::venv::websockets_python;

/// How long headless Chromium may take to open the page and say its nick.
const BROWSER_START: Duration = Duration::from_secs(12);

fn chat_server() -> Server {
    Server::start(&["-l", "tcp://127.0.0.1:0=chat", "-l", "http://127.0.0.1:0"])
}

/// The chat view: takes the nick `chromium`; answers `<tcp> hello browser` with
/// `hi from chromium`; "CHATTED" once its own line has come back from the room.
const PAGE_CHAT: &str = r##"(() => {
  const state = document.getElementById("state").textContent;
  if (!state.startsWith("open")) return state.startsWith("closed") ? "FAILED " + state : "";
  const say = (text) => {
    document.getElementById("text").value = text;
    document.getElementById("send").click();
  };
  const heard = (text) => [...document.querySelectorAll("#log .said")]
    .some((line) => line.textContent.endsWith("  " + text));
  if (!window.named) { window.named = true; say("/nick chromium"); return ""; }
  if (heard("<tcp> hello browser") && !window.answered) {
    window.answered = true;
    say("hi from chromium");
  }
  return heard("<chromium> hi from chromium") ? "CHATTED" : "";
})()"##;

#[test]
fn chromium_on_the_chat_view_talks_with_a_sockloop_tcp_client() {
    let server = chat_server();
    let page = format!("http://{}/?path=/chat", server.addr("http", "web"));
    let mut tcp = Proc::spawn(sockloop(&["tcp", &server.addr("tcp", "chat").to_string()]));
    tcp.wait_stdout("joined lobby (1 here)");
    tcp.write(b"/nick tcp\n");
    tcp.wait_stdout("is now known as tcp");
    let browser =
        std::thread::spawn(move || support::chromium::eval_in_page(&page, PAGE_CHAT, &[]));
    // A browser's cold start (a fresh profile) can take seconds on a loaded machine:
    // longer than the usual output wait, within the page script's own 9 s.
    tcp.next_line(&mut 0, "* guest-2 is now known as chromium", BROWSER_START);
    tcp.write(b"hello browser\n");
    let Some(result) = browser.join().unwrap() else {
        return;
    };
    assert_eq!(result, "CHATTED");
    tcp.wait_stdout("<chromium> hi from chromium");
    tcp.close_stdin();
    tcp.wait().assert_code(0);
}

#[test]
fn a_python_websockets_client_and_sockloop_ws_share_a_room() {
    let Some(python) = websockets_python() else {
        return;
    };
    let server = chat_server();
    let url = format!("ws://{}/chat", server.addr("http", "web"));
    let mut py = Peer::start(&python, "chat_peer.py", &["chat", &url]);
    assert_eq!(py.addr, "guest-1");
    assert_eq!(py.wait_line("HEARD "), "HEARD * guest-1 is now known as py");
    let mut ws = Proc::spawn(sockloop(&["ws", "-v", &url]));
    ws.wait_stdout("joined lobby (2 here)");
    ws.write(b"/nick ws\nhello python\n");
    ws.wait_stdout("<py> hi from python");
    assert_eq!(
        py.lines_to_exit(),
        [
            "HEARD * guest-1 is now known as py",
            "HEARD * guest-2 joined lobby (2 here)",
            "HEARD * guest-2 is now known as ws",
            "HEARD <ws> hello python",
            "HEARD <py> hi from python",
            "DONE"
        ]
    );
    ws.wait_stdout("* py left lobby");
    ws.close_stdin();
    ws.wait()
        .assert_code(0)
        .assert_stdout(
            "* welcome to sockloop chat, guest-2; /help lists the commands\n\
             * guest-2 joined lobby (2 here)\n\
             * guest-2 is now known as ws\n\
             <ws> hello python\n\
             <py> hi from python\n\
             * py left lobby\n",
        )
        .assert_stderr_has("1000");
}

#[test]
fn a_python_subscriber_gets_what_sockloop_tcp_publishes() {
    let Some(python) = python3() else {
        return;
    };
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=pubsub"]);
    let addr = server.addr("tcp", "pubsub");
    let (host, port) = (addr.ip().to_string(), addr.port().to_string());
    let mut sub = Peer::start(
        &python,
        "chat_peer.py",
        &["subscribe", &host, &port, "news", "3"],
    );
    assert_eq!(sub.addr, "OK");
    support::client_run::run(
        &["tcp", &addr.to_string()],
        b"PUB news one\nPUB news two  spaces\nPUB other not for it\nPUB news three\n",
    )
    .assert_code(0)
    .assert_stdout("OK\nOK\nOK\nOK\n");
    assert_eq!(
        sub.lines_to_exit(),
        ["MSG one", "MSG two  spaces", "MSG three"]
    );
}
