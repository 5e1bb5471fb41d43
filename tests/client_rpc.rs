//! `sockloop rpc HOST:PORT add|sub A B` and `quit` as real processes: the classic RPC
//! client's output against `sockloop serve`'s cmd service, the server's ERR answers,
//! bad numbers, and inline peers that show the exact request and misbehave.

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod free_port;
    pub mod one_listener;
    pub mod output;
    pub mod peer_thread;
    pub mod process;
    pub mod server;
    pub mod tcp_peer;
}

use std::io::{BufReader, Write};
use std::time::Duration;
use support::client_run::run;
use support::finished::{CHILD_TIMEOUT, Finished};
use support::free_port::free_tcp_port;
use support::one_listener::serve_one;
use support::server::Server;
use support::tcp_peer::{read_line, tcp_peer};

fn cmd_server() -> (Server, String) {
    let (server, addr) = serve_one("tcp", "cmd", &[]);
    (server, addr.to_string())
}

fn rpc(args: &[&str]) -> Finished {
    let mut all = vec!["rpc"];
    all.extend_from_slice(args);
    run(&all, b"")
}

#[test]
fn rpc_add_and_sub() {
    let (_server, addr) = cmd_server();
    rpc(&[&addr, "add", "-17", "18"])
        .assert_code(0)
        .assert_stdout("Reply (Add): 1\n");
    rpc(&[&addr, "sub", "-17", "18"])
        .assert_code(0)
        .assert_stdout("Reply (Subtract): -35\n");
    rpc(&[&addr, "ADD", "9223372036854775806", "1"])
        .assert_code(0)
        .assert_stdout("Reply (Add): 9223372036854775807\n");
    rpc(&[&addr, "sub", "-9223372036854775807", "1"])
        .assert_code(0)
        .assert_stdout("Reply (Subtract): -9223372036854775808\n");
}

#[test]
fn rpc_quit() {
    let (_server, addr) = cmd_server();
    rpc(&[&addr, "quit"])
        .assert_code(0)
        .assert_stdout("Reply (Quit): BYE\n");
}

#[test]
fn rpc_overflow_is_the_servers_error() {
    let (_server, addr) = cmd_server();
    rpc(&[&addr, "add", "9223372036854775807", "1"])
        .assert_code(1)
        .assert_stdout("")
        .assert_stderr_has(
            "the server refused: 9223372036854775807 + 1 does not fit in a signed 64-bit integer",
        );
    rpc(&[&addr, "sub", "-9223372036854775808", "1"])
        .assert_code(1)
        .assert_stdout("")
        .assert_stderr_has("the server refused: ");
}

#[test]
fn rpc_bad_numbers_and_usage_exit_2() {
    // No server is needed: these fail before connecting.
    let addr = free_tcp_port().to_string();
    for args in [
        vec![addr.as_str(), "add", "x", "1"],
        vec![addr.as_str(), "sub", "1", "1.5"],
        vec![addr.as_str(), "add", "9223372036854775808", "1"],
        vec![addr.as_str(), "add", "1"],
        vec![addr.as_str(), "mul", "1", "2"],
        vec![addr.as_str()],
        vec![],
        vec!["-w", "soon", addr.as_str(), "quit"],
    ] {
        rpc(&args)
            .assert_code(2)
            .assert_stderr_has("sockloop rpc: ");
    }
    rpc(&[&addr, "add", "x", "1"]).assert_stderr_has("'x' is not a signed 64-bit integer");
}

#[test]
fn rpc_sends_one_request_line_to_an_independent_peer() {
    let (addr, peer) = tcp_peer(|mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let line = read_line(&mut reader);
        s.write_all(b"1\r\n").unwrap();
        line
    });
    rpc(&[&addr.to_string(), "add", "-17", "18"])
        .assert_code(0)
        .assert_stdout("Reply (Add): 1\n");
    assert_eq!(peer.join(), "ADD -17 18");
}

#[test]
fn rpc_peer_errors() {
    // ERR from someone else's server is reported the same way.
    let (addr, peer) = tcp_peer(|mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        read_line(&mut reader);
        s.write_all(b"ERR not today\n").unwrap();
    });
    rpc(&[&addr.to_string(), "sub", "1", "2"])
        .assert_code(1)
        .assert_stderr_has("the server refused: not today");
    peer.join();

    // A server that closes without answering.
    let (addr, peer) = tcp_peer(|s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        read_line(&mut reader);
        s.shutdown(std::net::Shutdown::Both).unwrap();
    });
    let addr = addr.to_string();
    rpc(&[&addr, "quit"])
        .assert_code(1)
        .assert_stderr_has(&format!(
            "{addr} closed the connection without a reply — is it a sockloop cmd service?"
        ));
    peer.join();

    // A server that never answers: -w bounds the wait.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let (addr, peer) = tcp_peer(move |s| {
        let _ = hold.recv_timeout(CHILD_TIMEOUT);
        drop(s);
    });
    let addr = addr.to_string();
    let done = rpc(&["-w", "0.3", &addr, "add", "1", "2"]);
    let _ = release.send(());
    done.assert_code(1)
        .assert_stderr_has(&format!("no reply from {addr} within 0.3 s"));
    assert!(
        done.elapsed < Duration::from_secs(3),
        "took {:?}",
        done.elapsed
    );
    peer.join();
}

/// A server that answers, but not with the cmd protocol's answer to the request: an
/// echo service sends the request back, a peer a number that is not the sum.
#[test]
fn rpc_refuses_answers_that_are_not_the_cmd_protocols() {
    let (_echo, addr) = serve_one("tcp", "echo", &[]);
    let addr = addr.to_string();
    rpc(&[&addr, "add", "1", "2"])
        .assert_code(1)
        .assert_stdout("")
        .assert_stderr_has(&format!(
            "the server at {addr} does not speak the cmd protocol: it answered 'ADD 1 2' to 'ADD 1 2'"
        ));
    rpc(&[&addr, "quit"])
        .assert_code(1)
        .assert_stdout("")
        .assert_stderr_has(&format!(
            "the server at {addr} does not speak the cmd protocol: it answered 'QUIT' to 'QUIT'"
        ));

    // A number, but not the sum.
    let (addr, peer) = tcp_peer(|mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        read_line(&mut reader);
        s.write_all(b"42\n").unwrap();
    });
    let addr = addr.to_string();
    rpc(&[&addr, "add", "2000", "3"])
        .assert_code(1)
        .assert_stdout("")
        .assert_stderr_has(&format!(
            "the server at {addr} does not speak the cmd protocol: it answered '42' to 'ADD 2000 3' (the answer is 2003)"
        ));
    peer.join();

    // A number where the cmd protocol answers ERR (the sum overflows).
    let (addr, peer) = tcp_peer(|mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        read_line(&mut reader);
        s.write_all(b"-9223372036854775808\n").unwrap();
    });
    let addr = addr.to_string();
    rpc(&[&addr, "add", "9223372036854775807", "1"])
        .assert_code(1)
        .assert_stderr_has(&format!(
            "the server at {addr} does not speak the cmd protocol: it answered '-9223372036854775808'"
        ));
    peer.join();
}

#[test]
fn rpc_connection_refused() {
    let addr = free_tcp_port();
    rpc(&[&addr.to_string(), "add", "1", "2"])
        .assert_code(1)
        .assert_stderr_has(&format!(
            "connection refused: {addr} — is a server listening?"
        ));
}
