//! `sockloop bench` against a real `sockloop serve`: every mode, the JSON report, a
//! wrong echo counted as an error, and the exit codes. Only where the generator is
//! built in (the `bench` feature).
#![cfg(feature = "bench")]

mod support {
    pub mod exit;
    pub mod output;
    pub mod process;
    pub mod server;
}

use std::time::Duration;
use support::process::{Proc, sockloop};
use support::server::Server;

const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The value of `"key":` in the report's one JSON object (the first occurrence), as
/// written: a number, `true`, `null` or a quoted string.
fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let tag = format!("\"{key}\":");
    let start = json
        .find(&tag)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + tag.len();
    let rest = &json[start..];
    let end = match rest.strip_prefix('"') {
        Some(text) => text.find('"').map_or(rest.len(), |i| i + 2),
        None => rest.find([',', '}']).unwrap_or(rest.len()),
    };
    &rest[..end]
}

fn number(json: &str, key: &str) -> f64 {
    let v = field(json, key);
    v.parse()
        .unwrap_or_else(|_| panic!("{key} is {v}, not a number, in {json}"))
}

fn echo_server() -> Server {
    Server::start(&[
        "-l",
        "http://127.0.0.1:0",
        "-l",
        "tcp://127.0.0.1:0=echo",
        "-l",
        "udp://127.0.0.1:0=echo",
        "-l",
        "tcp://127.0.0.1:0=daytime",
    ])
}

/// Runs `sockloop bench ARGS`; (exit code, stdout, stderr).
fn bench(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    let mut bench = Proc::spawn(sockloop(&all));
    let status = bench.wait_exit(RUN_LIMIT);
    (status.code().unwrap_or(-1), bench.stdout(), bench.stderr())
}

#[test]
fn ws_counts_exactly_the_messages_asked_for_and_reports_json() {
    let server = echo_server();
    let url = format!("ws://{}/ws", server.addr("http", "web"));
    let pid = server.pid().to_string();
    let (code, out, err) = bench(&[
        "ws",
        &url,
        "-c",
        "3",
        "-d",
        "4",
        "-n",
        "300",
        "--json",
        "-q",
        "--server-pid",
        &pid,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(field(&out, "mode"), "\"ws\"");
    assert_eq!(number(&out, "messages"), 300.0, "{out}");
    assert_eq!(number(&out, "errors"), 0.0, "{out}");
    assert_eq!(field(&out, "ok"), "true");
    assert_eq!(number(&out, "server_pid"), f64::from(server.pid()));
    assert!(number(&out, "msgs_per_s") > 0.0, "{out}");
    assert!(number(&out, "p99") >= number(&out, "p50"), "{out}");
}

#[test]
fn ws_binary_16k_messages_are_echoed_and_checked() {
    let server = echo_server();
    let url = format!("ws://{}/ws", server.addr("http", "web"));
    let (code, out, err) = bench(&[
        "ws", &url, "-c", "2", "-d", "2", "-s", "16k", "--binary", "-n", "40", "--json", "-q",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(field(&out, "binary"), "true");
    assert_eq!(number(&out, "size"), 16384.0);
    assert_eq!(number(&out, "messages"), 40.0, "{out}");
    assert_eq!(number(&out, "errors"), 0.0, "{out}");
}

#[test]
fn tcp_and_udp_echo_round_trips() {
    let server = echo_server();
    let tcp = server.addr("tcp", "echo").to_string();
    let (code, out, err) = bench(&[
        "tcp", &tcp, "-c", "4", "-d", "8", "-n", "400", "--json", "-q",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(number(&out, "messages"), 400.0, "{out}");
    assert_eq!(number(&out, "errors"), 0.0, "{out}");

    let udp = server.addr("udp", "echo").to_string();
    let (code, out, err) = bench(&["udp", &udp, "-c", "2", "-n", "100", "--json", "-q"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(field(&out, "mode"), "\"udp\"");
    assert_eq!(number(&out, "messages"), 100.0, "{out}");
    assert_eq!(number(&out, "errors"), 0.0, "{out}");
}

#[test]
fn a_wrong_echo_is_an_error_and_exit_1() {
    // daytime answers every connection with the time, never the line sent.
    let server = echo_server();
    let daytime = server.addr("tcp", "daytime").to_string();
    let (code, out, err) = bench(&[
        "tcp", &daytime, "-c", "1", "-n", "10", "-t", "5", "--json", "-q",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(number(&out, "errors") >= 1.0, "{out}");
    assert_eq!(field(&out, "ok"), "false");
    assert!(
        field(&out, "first_error").contains("differs from the line sent"),
        "{out}"
    );
}

#[test]
fn idle_holds_every_connection_and_measures_the_server() {
    let server = echo_server();
    let url = format!("ws://{}/ws", server.addr("http", "web"));
    let pid = server.pid().to_string();
    let (code, out, err) = bench(&[
        "idle",
        &url,
        "-c",
        "30",
        "--hold",
        "0.5",
        "--json",
        "-q",
        "--server-pid",
        &pid,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(number(&out, "opened"), 30.0, "{out}");
    assert_eq!(number(&out, "held"), 30.0, "{out}");
    assert_eq!(number(&out, "dropped"), 0.0, "{out}");
    assert_eq!(number(&out, "closed_clean"), 30.0, "{out}");
    assert!(number(&out, "server_rss_held") > 0.0, "{out}");
    // A figure, whatever its size on so few connections.
    number(&out, "server_bytes_per_conn");
}

#[test]
fn the_human_report_names_the_rate_latency_and_generator_cpu() {
    let server = echo_server();
    let tcp = server.addr("tcp", "echo").to_string();
    let (code, out, err) = bench(&["tcp", &tcp, "-c", "2", "-n", "5000", "-q"]);
    assert_eq!(code, 0, "{out}{err}");
    for needle in ["messages", "msg/s", "latency", "p99", "errors", "generator"] {
        assert!(out.contains(needle), "no {needle:?} in:\n{out}");
    }
}

#[test]
fn nothing_listening_and_bad_command_lines() {
    let (code, out, err) = bench(&["tcp", "127.0.0.1:1", "-c", "1", "-n", "10", "-q"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("connection refused"), "{err}");

    for args in [
        &["ws"][..],
        &["nonsense", "127.0.0.1:1"],
        &["ws", "http://127.0.0.1:1/ws"],
        &["tcp", "127.0.0.1:1", "-c", "0"],
    ] {
        let (code, out, err) = bench(args);
        assert_eq!(code, 2, "bench {args:?}: {out}{err}");
        assert!(!err.trim().is_empty(), "bench {args:?}: no message");
    }
}

/// A `--server-pid` that no process has would report nothing about the server: it is
/// refused before the run, not silently ignored.
#[test]
fn a_server_pid_that_does_not_exist_is_a_usage_error() {
    let mut pid: u32 = 999_999;
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        pid += 1;
    }
    let pid = pid.to_string();
    let (code, out, err) = bench(&["tcp", "127.0.0.1:1", "-n", "10", "--server-pid", &pid]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("sockloop bench: --server-pid {pid}: no such process (is the server running?)\n")
    );
}
