//! Sockets handed over by a service manager, through Debian's real
//! `systemd-socket-activate` (package `systemd`): listening TCP, UDP and Unix sockets
//! named after their services or with `-l fd:NAME=SERVICE` (LISTEN_FDS), and
//! `--inetd`: one connection per process on standard input (`--inetd --accept`, as
//! inetd's `nowait` and systemd's `Accept=yes`).
//!
//! Without `systemd-socket-activate` the tests print `SKIPPED …` and pass, unless
//! SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail.

mod support {
    pub mod deps;
    pub mod exit;
    pub mod free_port;
    pub mod output;
    pub mod process;
    pub mod signal;
    pub mod stderr_wait;
    pub mod temp;
}

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;
use support::free_port::free_tcp_port;
use support::process::{BIN, Proc, sockloop};
use support::temp::TempDir;

const WAIT: Duration = Duration::from_secs(10);

/// `systemd-socket-activate ARGS… sockloop serve SERVE…`, once it listens.
fn activate(args: &[&str], serve: &[&str]) -> Option<Proc> {
    let tool = "/usr/bin/systemd-socket-activate";
    if !std::path::Path::new(tool).exists() {
        return support::deps::missing(
            "systemd-socket-activate is missing (Debian package systemd; scripts/install-test-deps.sh)",
        );
    }
    let mut command = Command::new(tool);
    command.args(args).arg(BIN).arg("serve").args(serve);
    let mut p = Proc::spawn(command);
    p.wait_stderr("Listening on", WAIT);
    Some(p)
}

fn tcp_line(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("a reply");
    line
}

#[test]
fn passed_tcp_and_unix_sockets_are_served_by_the_services_they_are_named_after() {
    let web = free_tcp_port();
    let dir = TempDir::new("activation");
    let path = dir.join("cmd.sock");
    let (web_spec, unix_spec) = (web.to_string(), path.display().to_string());
    let Some(mut p) = activate(
        &["-l", &web_spec, "-l", &unix_spec, "--fdname=web:cmd"],
        &[],
    ) else {
        return;
    };
    // The first connection makes systemd-socket-activate start sockloop on the
    // sockets it holds; nothing is lost meanwhile.
    let mut http = TcpStream::connect(web).unwrap();
    http.set_read_timeout(Some(WAIT)).unwrap();
    http.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("conns_total=1"), "{answer}");
    let banner = p.next_line(&mut 0, "  http", WAIT);
    assert!(banner.contains(&web_spec), "{banner}");
    p.next_line(&mut 0, &format!("  unix  {unix_spec}"), WAIT);

    let mut unix = UnixStream::connect(&path).unwrap();
    unix.write_all(b"ADD 40 2\n").unwrap();
    let mut line = String::new();
    BufReader::new(unix).read_line(&mut line).unwrap();
    assert_eq!(line, "42\n");

    p.signal("TERM");
    assert!(p.wait_exit(WAIT).success(), "{}", p.stderr());
    assert!(
        path.exists(),
        "the socket file is the service manager's: sockloop must leave it"
    );
}

#[test]
fn a_passed_udp_socket_and_an_explicit_fd_name() {
    let port = free_tcp_port().port();
    let spec = format!("127.0.0.1:{port}");
    let Some(mut p) = activate(
        &["--datagram", "-l", &spec, "--fdname=front"],
        &["-l", "fd:front=echo"],
    ) else {
        return;
    };
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    udp.send_to(b"hello over a passed socket", &spec).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = udp.recv_from(&mut buf).expect("an echo");
    assert_eq!(&buf[..n], b"hello over a passed socket");
    assert_eq!(from.port(), port);
    p.next_line(&mut 0, &format!("  udp   {spec}"), WAIT);
    p.signal("TERM");
    assert!(p.wait_exit(WAIT).success());
}

#[test]
fn passed_sockets_without_a_service_are_refused_with_the_reason() {
    let addr = free_tcp_port();
    let spec = addr.to_string();
    for (fdname, serve, why) in [
        (
            "--fdname=mystery",
            &[][..],
            "the passed socket mystery (fd 3) has no service",
        ),
        (
            "--fdname=front",
            &["-l", "fd:back=cmd"][..],
            "-l fd:back: no socket of that name or number was passed; there are: front (fd 3)",
        ),
    ] {
        let Some(mut p) = activate(&["-l", &spec, fdname], serve) else {
            return;
        };
        let _ = TcpStream::connect(addr); // starts it
        let status = p.wait_exit(WAIT);
        assert_eq!(status.code(), Some(2), "{}", p.stderr());
        assert!(p.stderr().contains(why), "{}", p.stderr());
    }
}

#[test]
fn inetd_serves_each_connection_in_a_process_of_its_own() {
    let addr = free_tcp_port();
    let spec = addr.to_string();
    let Some(_p) = activate(&["--inetd", "--accept", "-l", &spec], &["--inetd", "cmd"]) else {
        return;
    };
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(b"ADD 2 3\nCOUNT\nQUIT\n").unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        // No banner and no log on the connection: only the replies, then the FIN.
        assert_eq!(all, "5\nClient number: 1\nBYE\n");
    }
    assert_eq!(tcp_line(addr, "TIMESTAMP\n").trim().len(), 10);
}

#[test]
fn inetd_refuses_what_is_not_a_connection() {
    let mut p = Proc::spawn(sockloop(&["serve", "--inetd", "echo"]));
    let status = p.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1));
    assert!(
        p.stderr().contains("standard input: fd 0 is pipe:"),
        "{}",
        p.stderr()
    );
    let mut both = Proc::spawn(sockloop(&["serve", "--inetd", "echo", "-l", "tcp://:0"]));
    assert_eq!(both.wait_exit(WAIT).code(), Some(2));
    assert!(both.stderr().contains("no -l with it"), "{}", both.stderr());
}
