//! TLS listeners under hostile or careless clients: garbage, plain HTTP and silent
//! clients are closed while others are served, TLS options are checked before
//! anything is bound, handshakes past `--max-tls-handshakes` are refused with the
//! TLS state budgeted, and the load generator speaks `wss://` and checks the
//! certificate.

#![cfg(feature = "tls")]

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod tls_server;
}

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::client_run::run;
use support::server::Server;
use support::tls_server::self_signed_server;

#[test]
fn garbage_plain_http_and_silent_clients_are_closed_and_others_are_served() {
    let (server, cert) = self_signed_server(&["tls://127.0.0.1:0=cmd"], &[]);
    let addr = server.addr("tls", "cmd");
    let started = Instant::now();
    // Not TLS at all: closed (after an alert), never answered in plaintext.
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 3, 1, 0xff, 0xff, 1, 2, 3][..],
    ] {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(junk).unwrap();
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        assert!(got.is_empty() || got[0] == 0x15, "not an alert: {got:?}");
    }
    // A client that connects and says nothing is closed at --handshake-timeout; here
    // the default (10 s) is too long for a test, so a second server with 1 s.
    let quick = Server::start(&[
        "-l",
        "tls://127.0.0.1:0=cmd",
        "--tls-self-signed",
        "--handshake-timeout",
        "1",
    ]);
    let mut silent = TcpStream::connect(quick.addr("tls", "cmd")).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    let _ = silent.read_to_end(&mut got);
    // At most a close_notify alert (an unencrypted alert record: 0x15).
    assert!(
        got.is_empty() || got[0] == 0x15,
        "the silent client was answered: {got:?}"
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    // Meanwhile the first server serves as before.
    run(
        &[
            "tcp",
            "--tls",
            "--ca",
            cert.to_str().unwrap(),
            &addr.to_string(),
            "-e",
            "ADD 20 22",
        ],
        b"",
    )
    .assert_code(0)
    .assert_stdout("42\n");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn tls_options_are_checked_before_anything_is_bound() {
    for (args, why) in [
        (
            &["serve", "-l", "tls://127.0.0.1:0=echo"][..],
            "need a certificate",
        ),
        (
            &["serve", "-l", "https://127.0.0.1:0"][..],
            "need a certificate",
        ),
        (
            &["serve", "-l", "tcp://127.0.0.1:0", "--tls-self-signed"][..],
            "no listener uses it",
        ),
        (
            &[
                "serve",
                "-l",
                "tls://127.0.0.1:0",
                "--tls-cert",
                "/nonexistent.pem",
            ][..],
            "needs --tls-key",
        ),
        (
            &[
                "serve",
                "-l",
                "tls://127.0.0.1:0",
                "--tls-cert",
                "/nonexistent.pem",
                "--tls-key",
                "/nonexistent.key",
            ][..],
            "cannot read certificate /nonexistent.pem",
        ),
        (
            &["serve", "-l", "https://127.0.0.1:0=echo"][..],
            "web service only",
        ),
    ] {
        let done = run(args, b"");
        assert_ne!(done.status.code(), Some(0), "{args:?}");
        done.assert_stderr_has(why);
    }
}

/// `STATS` through a plain `cmd` listener, as `key=value` pairs.
fn stats(addr: std::net::SocketAddr) -> std::collections::HashMap<String, u64> {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"STATS\nQUIT\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    let line = text.lines().next().unwrap_or_default();
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
        .collect()
}

/// Polls `STATS` until `key` is `want` (the server counts in its own time).
fn wait_stat(
    addr: std::net::SocketAddr,
    key: &str,
    want: u64,
) -> std::collections::HashMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = stats(addr);
        if s.get(key) == Some(&want) || Instant::now() > deadline {
            assert_eq!(s.get(key), Some(&want), "{key} in {s:?}");
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn handshakes_past_max_tls_handshakes_are_refused_and_tls_state_is_budgeted() {
    let (server, cert) = self_signed_server(
        &["tls://127.0.0.1:0=cmd", "tcp://127.0.0.1:0=cmd"],
        &["--max-tls-handshakes", "2"],
    );
    let (tls, plain) = (server.addr("tls", "cmd"), server.addr("tcp", "cmd"));
    // Two clients that never say hello hold both handshake places.
    let silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(tls).unwrap()).collect();
    let held = wait_stat(plain, "tls_handshakes", 2);
    assert!(
        held["memory_used"] > 0,
        "TLS state not in the budget: {held:?}"
    );
    // A third is closed at once, unanswered, and counted.
    let mut third = TcpStream::connect(tls).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        third.read(&mut buf).unwrap_or(0),
        0,
        "the third was answered"
    );
    assert_eq!(
        wait_stat(plain, "refused_tls_handshakes", 1)["tls_handshakes"],
        2
    );
    // Once the silent ones are gone, a real client gets through, and nothing is held.
    drop(silent);
    wait_stat(plain, "tls_handshakes", 0);
    let t = [
        "tcp",
        "--tls",
        "--ca",
        cert.to_str().unwrap(),
        &tls.to_string(),
        "-e",
        "ADD 2 3",
    ];
    run(&t, b"").assert_code(0).assert_stdout("5\n");
    wait_stat(plain, "memory_used", 0);
}

#[cfg(feature = "bench")]
#[test]
fn the_load_generator_speaks_wss_and_checks_the_certificate() {
    let (server, cert) = self_signed_server(&["https://127.0.0.1:0"], &[]);
    let url = format!("wss://localhost:{}/ws", server.addr("https", "web").port());
    let load = [
        "bench",
        "ws",
        &url,
        "--ca",
        cert.to_str().unwrap(),
        "-c",
        "3",
        "-d",
        "4",
    ];
    let done = run(&[&load[..], &["-n", "300", "--json", "-q"]].concat(), b"");
    done.assert_code(0);
    let out = &done.stdout;
    for want in ["\"messages\":300", "\"errors\":0", "\"ok\":true"] {
        assert!(out.contains(want), "{want} not in {out}");
    }
    // Idle connections over TLS: the default batch stays under --max-tls-handshakes.
    let idle = [
        "bench",
        "idle",
        &url,
        "--ca",
        cert.to_str().unwrap(),
        "-c",
        "100",
    ];
    run(&[&idle[..], &["--hold", "0.2", "-q"]].concat(), b"").assert_code(0);
    // Without --ca the self-signed certificate is refused, and said so.
    run(&["bench", "ws", &url, "-c", "1", "-n", "1", "-q"], b"")
        .assert_code(1)
        .assert_stderr_has("certificate");
}
