//! `sockloop bench fanout` against a real `sockloop serve` with pubsub listeners
//! (WebSocket at /pubsub and a line listener): every publish reaches every
//! subscriber, counted exactly, and a server that limits publishes is an error that
//! says what to do. Only where the generator and the pubsub service are built in.
#![cfg(all(feature = "bench", feature = "pubsub"))]

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

/// `sockloop serve` with pubsub over WebSocket and over lines; `extra` adds options.
fn pubsub_server(extra: &[&str]) -> Server {
    let mut args = vec!["-l", "http://127.0.0.1:0", "-l", "tcp://127.0.0.1:0=pubsub"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Runs `sockloop bench fanout URL ARGS --json -q`; (exit code, stdout, stderr).
fn fanout(url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["bench", "fanout", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "-q"]);
    let mut bench = Proc::spawn(sockloop(&all));
    let status = bench.wait_exit(RUN_LIMIT);
    (status.code().unwrap_or(-1), bench.stdout(), bench.stderr())
}

/// 10 subscribers × 200 publishes: 2,000 deliveries, none dropped, nothing wrong.
fn assert_every_delivery(url: &str, server: &Server) {
    let pid = server.pid().to_string();
    let (code, out, err) = fanout(
        url,
        &[
            "--subscribers",
            "10",
            "--publishers",
            "1",
            "--count",
            "200",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(code, 0, "{url}: {out}{err}");
    assert_eq!(field(&out, "mode"), "\"fanout\"");
    assert_eq!(number(&out, "deliveries"), 10.0 * 200.0, "{out}");
    assert_eq!(number(&out, "messages"), 10.0 * 200.0, "{out}");
    assert_eq!(number(&out, "publishes"), 200.0, "{out}");
    assert_eq!(number(&out, "errors"), 0.0, "{out}");
    assert_eq!(number(&out, "dropped"), 0.0, "{out}");
    assert_eq!(number(&out, "gaps"), 0.0, "{out}");
    assert_eq!(number(&out, "unclean_closes"), 0.0, "{out}");
    assert_eq!(field(&out, "ok"), "true");
    assert_eq!(number(&out, "subscribers"), 10.0);
    assert!(number(&out, "deliveries_per_s") > 0.0, "{out}");
    assert!(number(&out, "p99") >= number(&out, "p50"), "{out}");
}

#[test]
fn every_publish_reaches_every_websocket_subscriber() {
    let server = pubsub_server(&["--publish-rate", "0"]);
    let url = format!("ws://{}/pubsub", server.addr("http", "web"));
    assert_every_delivery(&url, &server);
}

#[test]
fn every_publish_reaches_every_line_subscriber() {
    let server = pubsub_server(&["--publish-rate", "0"]);
    let url = format!("tcp://{}", server.addr("tcp", "pubsub"));
    assert_every_delivery(&url, &server);
}

#[test]
fn a_server_that_limits_publishes_is_an_error_that_names_the_option() {
    // The default limit (100 publishes per second per connection) refuses some of
    // 1,000 publishes sent as fast as they are answered.
    let server = pubsub_server(&[]);
    let url = format!("tcp://{}", server.addr("tcp", "pubsub"));
    let (code, out, err) = fanout(&url, &["--subscribers", "2", "--count", "1000"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(field(&out, "ok"), "false");
    assert!(number(&out, "errors") >= 1.0, "{out}");
    assert!(
        field(&out, "first_error").contains("--publish-rate 0"),
        "{out}"
    );
}

#[test]
fn an_endpoint_that_is_not_pubsub_is_named() {
    let server = pubsub_server(&["--publish-rate", "0"]);
    // /ws echoes: 'SUB bench' comes back as it went.
    let url = format!("ws://{}/ws", server.addr("http", "web"));
    let (code, out, err) = fanout(&url, &["--subscribers", "2", "--count", "10"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(out, "");
    assert!(err.contains("is the URL a pubsub endpoint?"), "{err}");
}
