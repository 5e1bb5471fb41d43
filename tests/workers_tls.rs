//! `--workers` with a certificate: SIGHUP to the supervisor (what `systemctl reload`
//! or a certificate renewal hook sends) is passed on, and every worker reads its
//! certificate again; the supervisor does not die of it (SIGHUP's default).
#![cfg(feature = "tls")]

mod support {
    pub mod exit;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod temp;
}

use std::time::Duration;
use support::server::Server;
use support::temp::TempDir;

#[test]
fn sighup_to_the_supervisor_reloads_every_workers_certificate() {
    let dir = TempDir::new("workers-tls");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let mut server = Server::start(&[
        "--workers",
        "2",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "-l",
        "tls://127.0.0.1:0=echo",
    ]);
    // The supervisor read the certificate for the banner; the workers read it too.
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("TLS SHA-256 fingerprint")),
        "{:?}",
        server.banner
    );
    std::net::TcpStream::connect(server.addr("tls", "echo")).expect("a worker accepts");
    server.signal("HUP");
    let wait = Duration::from_secs(10);
    server.wait_stderr("sockloop worker 1: SIGHUP: certificate reloaded", wait);
    server.wait_stderr("sockloop worker 2: SIGHUP: certificate reloaded", wait);
    assert!(server.try_exit().is_none(), "the supervisor lives on");
    server.signal("TERM");
    assert!(server.wait_exit(wait).success());
}
