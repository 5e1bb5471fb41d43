//! TLS on the wire with real peers: `openssl s_client` and `curl` against sockloop's
//! `tls://` and `https://` listeners, Python's ssl module and the `websockets`
//! package over `wss://`, sockloop's own `tcp --tls` and `ws wss://` clients against
//! sockloop and against `openssl s_server`, certificates refused for the right
//! reason, SIGHUP reloading the certificate under open connections, and close_notify
//! answered. `tests/tls_limits.rs` has the listeners under hostile clients.

#![cfg(feature = "tls")]

mod support {
    pub mod chromium;
    pub mod client_run;
    pub mod deps;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod free_port;
    pub mod openssl;
    pub mod output;
    pub mod process;
    pub mod python;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod stdout_wait;
    pub mod temp;
    pub mod tls_server;
    pub mod venv;
}

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::client_run::run;
use support::free_port::free_tcp_port;
use support::openssl::{self, Pair, path};
use support::process::Proc;
use support::python::{Peer, python3};
use support::server::Server;
use support::temp::TempDir;
use support::tls_server::self_signed_server;

/// Runs a command with `input` on stdin; its status, stdout and stderr.
fn command_output(program: &str, args: &[&str], input: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    if !input.is_empty() {
        // A client that ends at the end of its input (s_client) gets time for the
        // answer first.
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn openssl_s_client_talks_to_a_tls_echo_listener_with_1_3_and_1_2() {
    let Some(openssl) = openssl::openssl() else {
        return;
    };
    let (server, cert) = self_signed_server(&["tls://127.0.0.1:0=echo"], &[]);
    let addr = server.addr("tls", "echo").to_string();
    for version in ["-tls1_3", "-tls1_2"] {
        let args = [
            "s_client",
            "-connect",
            &addr,
            "-CAfile",
            path(&cert),
            "-verify_return_error",
            "-brief",
            "-no_ign_eof",
            version,
        ];
        let (ok, stdout, stderr) = command_output(openssl, &args, b"hello over tls\n");
        assert!(ok, "s_client {version} failed: {stderr}");
        // (s_client may print a line of its own about the server name first.)
        assert!(
            stdout.ends_with("\nhello over tls\n") || stdout == "hello over tls\n",
            "{stdout:?} {stderr}"
        );
        assert!(stderr.contains("Verification: OK"), "{stderr}");
        let protocol = if version == "-tls1_3" {
            "TLSv1.3"
        } else {
            "TLSv1.2"
        };
        assert!(
            stderr.contains(&format!("Protocol version: {protocol}")),
            "{stderr}"
        );
    }
}

#[test]
fn curl_reads_stats_over_https_and_the_page_names_wss_and_plain_http_gets_a_400() {
    let Some(curl) = curl() else {
        return;
    };
    let (server, cert) = self_signed_server(&["https://127.0.0.1:0"], &[]);
    let addr = server.addr("https", "web");
    for host in ["127.0.0.1".to_string(), "localhost".to_string()] {
        let url = format!("https://{host}:{}/stats", addr.port());
        let (ok, stdout, stderr) =
            command_output(curl, &["-sS", "--cacert", path(&cert), &url], b"");
        assert!(ok, "curl {url}: {stderr}");
        assert!(stdout.contains("conns_active="), "{stdout}");
    }
    let (ok, head, stderr) = command_output(
        curl,
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--cacert",
            path(&cert),
            &format!("https://127.0.0.1:{}/", addr.port()),
        ],
        b"",
    );
    assert!(ok, "{stderr}");
    assert_eq!(head, "1.1 200");
    // http:// to the https:// port: a readable 400 in plain text, not a TLS alert.
    let plain = format!("http://127.0.0.1:{}/stats", addr.port());
    let (_, body, _) = command_output(curl, &["-sS", "-w", "%{http_code}", &plain], b"");
    assert_eq!(
        body,
        "This port speaks HTTPS: ask for https:// instead of http://.\n400"
    );
}

fn curl() -> Option<&'static str> {
    let ok = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some("curl")
    } else {
        support::deps::missing("curl is not on PATH (apt-get install curl)")
    }
}

#[test]
fn python_websockets_echoes_over_wss() {
    let Some(python) = support::venv::websockets_python() else {
        return;
    };
    let (server, cert) = self_signed_server(&["https://127.0.0.1:0"], &[]);
    let url = format!("wss://localhost:{}/ws", server.addr("https", "web").port());
    let mut peer = Peer::start(&python, "tls_client.py", &["wss", &url, path(&cert)]);
    assert!(peer.addr.starts_with("TLSv1."), "{}", peer.addr);
    assert_eq!(peer.lines_to_exit(), ["TEXT over wss", "BINARY 102400"]);
}

/// Types a message on the test page once its WebSocket is open; "ECHOED <state>"
/// once the echo is in the log.
const PAGE_ECHO: &str = r##"(() => {
  const state = document.getElementById("state").textContent;
  if (!state.startsWith("open")) return state.startsWith("closed") ? "FAILED " + state : "";
  if (!window.sent) {
    window.sent = true;
    document.getElementById("text").value = "hello from chromium over wss";
    document.getElementById("send").click();
    return "";
  }
  const echoed = [...document.querySelectorAll("#log .recv")]
    .some((line) => line.textContent.endsWith("\u2190 hello from chromium over wss"));
  return echoed ? "ECHOED " + state : "";
})()"##;

/// base64(SHA-256(the certificate's public key)), the form Chromium's
/// `--ignore-certificate-errors-spki-list` trusts.
fn spki_hash(cert: &std::path::Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | openssl base64 -A",
        path(cert)
    );
    let (ok, hash, stderr) = command_output("sh", &["-c", &script], b"");
    assert!(ok && !hash.is_empty(), "{stderr}");
    hash
}

#[test]
fn chromium_loads_the_https_page_and_echoes_over_wss() {
    let Some(_) = openssl::openssl() else {
        return;
    };
    let (server, cert) = self_signed_server(&["https://127.0.0.1:0"], &[]);
    let addr = server.addr("https", "web");
    let trust = format!("--ignore-certificate-errors-spki-list={}", spki_hash(&cert));
    let page = format!("https://localhost:{}/", addr.port());
    let Some(result) = support::chromium::eval_in_page(&page, PAGE_ECHO, &[&trust]) else {
        return;
    };
    assert_eq!(
        result,
        format!(
            "ECHOED open (wss://localhost:{}/ws, not compressed)",
            addr.port()
        )
    );
}

#[test]
fn sockloop_clients_over_tls_to_sockloop() {
    let (server, cert) = self_signed_server(&["tls://127.0.0.1:0=cmd", "https://127.0.0.1:0"], &[]);
    let tls = server.addr("tls", "cmd").to_string();
    let ca = path(&cert);
    run(&["tcp", "--tls", "--ca", ca, &tls, "-e", "ADD 2 3"], b"")
        .assert_code(0)
        .assert_stdout("5\n");
    // Interactive: lines in, replies out, FIN after the end of input.
    run(&["tcp", "--tls", "--ca", ca, &tls], b"SUB 9 4\nQUIT\n")
        .assert_code(0)
        .assert_stdout("5\nBYE\n");
    let wss = format!("wss://127.0.0.1:{}/ws", server.addr("https", "web").port());
    run(&["ws", "-v", "--ca", ca, &wss], b"one\ntwo\n")
        .assert_code(0)
        .assert_stdout("one\ntwo\n")
        .assert_stderr_has("answered 1000");
    // Without --ca the self-signed certificate is not trusted, and the client says so.
    run(&["tcp", "--tls", &tls, "-e", "ADD 1 1"], b"")
        .assert_code(1)
        .assert_stderr_has("unknown issuer");
    run(&["ws", &wss], b"x\n")
        .assert_code(1)
        .assert_stderr_has("pass --ca FILE");
    run(&["tcp", "--tls", "--insecure", &tls, "-e", "ADD 1 1"], b"")
        .assert_code(0)
        .assert_stdout("2\n")
        .assert_stderr_has("NOT checked");
    // --ca without TLS is a usage error, not ignored.
    run(&["tcp", "--ca", ca, &tls], b"").assert_code(2);
}

#[test]
fn sockloop_tcp_tls_against_openssl_s_server() {
    let Some(openssl) = openssl::openssl() else {
        return;
    };
    let dir = TempDir::new("s_server");
    let pair = openssl::self_signed(&dir.join(""), "srv", "localhost", "ec");
    let port = free_tcp_port().port().to_string();
    let mut s_server = Proc::spawn({
        let mut c = Command::new(openssl);
        c.args([
            "s_server",
            "-accept",
            &port,
            "-cert",
            path(&pair.cert),
            "-key",
            path(&pair.key),
            "-rev",
        ]);
        c
    });
    s_server.wait_stdout("ACCEPT");
    // -rev answers each line reversed.
    let target = format!("localhost:{port}");
    let done = run(
        &["tcp", "--tls", "--ca", path(&pair.cert), "-w", "1", &target],
        b"hello\n",
    );
    done.assert_code(0);
    assert!(done.stdout.contains("olleh"), "{}", done.stdout);
}

#[test]
fn clients_refuse_expired_wrong_name_and_unknown_certificates_with_the_reason() {
    let Some(_) = openssl::openssl() else {
        return;
    };
    let dir = TempDir::new("bad_certs");
    let base = dir.join("");
    let expired = openssl::expired(&base);
    let other = openssl::self_signed(&base, "other", "other.example", "rsa");
    let good = openssl::self_signed(&base, "good", "localhost", "ed25519");
    let stranger = openssl::self_signed(&base, "stranger", "stranger.example", "ed25519");
    let cases: [(&Pair, &str); 3] = [
        (&expired, "has expired"),
        (&other, "not valid for the name '127.0.0.1'"),
        (&good, "unknown issuer"),
    ];
    for (pair, why) in cases {
        let server = Server::start(&[
            "-l",
            "tls://127.0.0.1:0=cmd",
            "--tls-cert",
            path(&pair.cert),
            "--tls-key",
            path(&pair.key),
        ]);
        let addr = server.addr("tls", "cmd").to_string();
        // Trusting the certificate itself, except for the unknown-issuer case.
        let ca = if why == "unknown issuer" {
            path(&stranger.cert)
        } else {
            path(&pair.cert)
        };
        run(&["tcp", "--tls", "--ca", ca, &addr, "-e", "ADD 1 1"], b"")
            .assert_code(1)
            .assert_stderr_has(why);
    }
    // The Ed25519 pair itself is good: trusted, it serves.
    let server = Server::start(&[
        "-l",
        "tls://127.0.0.1:0=cmd",
        "--tls-cert",
        path(&good.cert),
        "--tls-key",
        path(&good.key),
    ]);
    let addr = server.addr("tls", "cmd").to_string();
    run(
        &[
            "tcp",
            "--tls",
            "--ca",
            path(&good.cert),
            &addr,
            "-e",
            "ADD 1 1",
        ],
        b"",
    )
    .assert_code(0)
    .assert_stdout("2\n");
}

#[test]
fn sighup_reloads_the_certificate_while_connections_stay_open() {
    let (Some(_), Some(python)) = (openssl::openssl(), python3()) else {
        return;
    };
    let dir = TempDir::new("reload");
    let base = dir.join("");
    let a = openssl::self_signed(&base, "a", "localhost", "ec");
    let b = openssl::self_signed(&base, "b", "localhost", "rsa");
    let bundle = dir.join("both.pem");
    let both = [
        std::fs::read(&a.cert).unwrap(),
        std::fs::read(&b.cert).unwrap(),
    ]
    .concat();
    std::fs::write(&bundle, both).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::copy(&a.cert, &cert).unwrap();
    std::fs::copy(&a.key, &key).unwrap();
    let mut server = Server::start(&[
        "-l",
        "tls://127.0.0.1:0=cmd",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&key),
    ]);
    let port = server.addr("tls", "cmd").port().to_string();
    let go = dir.join("go");
    let hold = |name: &str| {
        let go = dir.join(name);
        Peer::start(
            &python,
            "tls_client.py",
            &["hold", "localhost", &port, path(&bundle), path(&go)],
        )
    };
    let mut before = hold("go");
    // The new pair on disk, then SIGHUP.
    std::fs::copy(&b.cert, &cert).unwrap();
    std::fs::copy(&b.key, &key).unwrap();
    server.signal("HUP");
    server.wait_stderr("certificate reloaded", Duration::from_secs(5));
    let mut after = hold("go-after");
    assert_ne!(
        before.addr, after.addr,
        "the new connection got the old certificate"
    );
    // A broken pair is refused, and the last good one stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    server.signal("HUP");
    server.wait_stderr(
        "reload failed, keeping the old certificate",
        Duration::from_secs(5),
    );
    let mut third = hold("go-third");
    assert_eq!(third.addr, after.addr);
    // The connection opened before the first reload still works.
    std::fs::write(&go, "").unwrap();
    assert_eq!(before.wait_line("ANSWER"), "ANSWER 3");
    std::fs::write(dir.join("go-after"), "").unwrap();
    std::fs::write(dir.join("go-third"), "").unwrap();
    assert_eq!(after.wait_line("ANSWER"), "ANSWER 3");
    assert_eq!(third.wait_line("ANSWER"), "ANSWER 3");
}

#[test]
fn close_notify_is_answered_and_trace_tls_shows_the_handshake() {
    let Some(python) = python3() else {
        return;
    };
    let (mut server, cert) = self_signed_server(&["tls://127.0.0.1:0=echo"], &["--trace=tls,loop"]);
    let port = server.addr("tls", "echo").port().to_string();
    let mut peer = Peer::start(
        &python,
        "tls_client.py",
        &["unwrap", "localhost", &port, path(&cert)],
    );
    assert_eq!(peer.addr, "TLSv1.3");
    assert_eq!(
        peer.lines_to_exit(),
        ["ECHO over tls", "UNWRAPPED"],
        "the server's close_notify did not come"
    );
    for step in [
        "handshake done: TLSv1_3, TLS13_",
        "key exchange X25519, ALPN none, SNI localhost",
        "close_notify received",
        "close_notify sent",
    ] {
        server.wait_stderr(step, Duration::from_secs(5));
    }
}
