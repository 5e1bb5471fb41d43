//! The UDP rules against a real server: no reply larger than 3× its request on the
//! wire (RFC 9000 §8.1), an `ERR` pointing to TCP instead, and no answer at all to a
//! datagram from a datagram service's port (BSD inetd's `check_loop`). The tests pose
//! as other services by sending from their ports, which needs root: they are skipped
//! without it (unless SOCKLOOP_REQUIRE_TEST_DEPS=1).

mod support {
    pub mod deps;
    pub mod net;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod udp_client;
    pub mod udp_from;
}

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use support::net::connect_tcp;
use support::server::Server;
use support::udp_client::Udp;
use support::udp_from::{ask, bind_port};

/// How long a datagram that must go unanswered is given to be answered after all.
const SILENCE: Duration = Duration::from_millis(300);
const IPV4_UDP_HEADERS: usize = 28;

fn cmd_server() -> Server {
    Server::start(&[
        "-l",
        "udp://127.0.0.1:0=cmd",
        "-l",
        "udp://127.0.0.1:0=echo",
        "-l",
        "tcp://127.0.0.1:0=cmd",
    ])
}

/// One request line over TCP to the `cmd` listener; the reply without its newline.
fn tcp_request(server: &Server, line: &str) -> String {
    let mut stream = connect_tcp(server.addr("tcp", "cmd")).expect("connect tcp cmd");
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("send");
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .expect("reply within the timeout");
    reply
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{line}: reply {reply:?}"))
        .to_string()
}

/// The STATS line, asked over TCP (over UDP it is too long an answer).
fn stats(server: &Server) -> String {
    tcp_request(server, "STATS")
}

fn stat(stats: &str, key: &str) -> u64 {
    stats
        .split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {stats:?}"))
}

/// Waits (bounded) until STATS shows `key` at `want`.
fn wait_stat(server: &Server, key: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let line = stats(server);
        if stat(&line, key) == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{key} never reached {want}: {line:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The reply is on the wire at most 3× the request (IPv4 + UDP headers counted).
fn assert_within_3x(request: &[u8], reply: &[u8]) {
    let (req, rep) = (
        request.len() + IPV4_UDP_HEADERS,
        reply.len() + IPV4_UDP_HEADERS,
    );
    assert!(
        rep <= 3 * req,
        "{rep} bytes on the wire answer {req}: {:?}",
        String::from_utf8_lossy(reply)
    );
}

#[test]
fn an_amplifying_request_gets_a_short_err_that_points_to_tcp() {
    let server = cmd_server();
    let tcp_port = server.addr("tcp", "cmd").port();
    let udp = Udp::new(server.addr("udp", "cmd"));
    // 13 bytes asking for ~39 KB: 950× before the rule.
    let request = b"RANDOMS 10000";
    let reply = udp.request(request);
    assert_within_3x(request, &reply);
    let text = String::from_utf8(reply).expect("UTF-8");
    assert!(
        text.starts_with("ERR reply too big for UDP: ")
            && text.contains(" bytes, 95 allowed (3x the request); ")
            && text.ends_with(&format!("use TCP port {tcp_port}\n")),
        "{text:?}"
    );
    // HELP is only 5× too long, and 4 bytes leave no room for the numbers: the short form.
    let reply = udp.request(b"HELP");
    assert_within_3x(b"HELP", &reply);
    assert_eq!(
        String::from_utf8(reply).expect("UTF-8"),
        format!("ERR reply too big for UDP; use TCP port {tcp_port}\n")
    );
    // Within the rule, answers are unchanged.
    assert_eq!(udp.request_str("RANDOMS 3 5 5\n"), "5 5 5\n");
    assert_eq!(udp.request_str("ADD 2 2"), "4\n");
    // The TCP port it points to answers in full.
    assert_eq!(
        tcp_request(&server, "RANDOMS 10000 1 1").len(),
        10000 * 2 - 1
    );
    wait_stat(&server, "udp_too_big", 2);
}

#[test]
fn without_a_tcp_listener_the_err_still_says_tcp() {
    let server = Server::start(&["-l", "udp://127.0.0.1:0=cmd"]);
    let udp = Udp::new(server.addr("udp", "cmd"));
    let reply = udp.request(b"STATS\n");
    assert_within_3x(b"STATS\n", &reply);
    assert_eq!(reply, b"ERR reply too big for UDP; use TCP\n");
}

#[test]
fn echo_stays_byte_exact_up_to_the_largest_datagram() {
    let server = cmd_server();
    let udp = Udp::new(server.addr("udp", "echo"));
    // An echo is as long as its request: always within 3×.
    for len in [0, 1, 27, 28, 1500, 65_507] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(udp.request(&data), data, "{len}-byte echo");
    }
    wait_stat(&server, "udp_too_big", 0);
}

/// Sends a request from each port; none is answered, each is counted. The same
/// request from an ephemeral port is answered.
fn check_unanswered(server: &Server, target: SocketAddr, ports: &[u16]) {
    let before = stat(&stats(server), "udp_dropped");
    let mut sent = 0;
    for &port in ports {
        let Some(sock) = bind_port(port) else {
            return;
        };
        assert_eq!(
            ask(&sock, target, b"ECHO ping", SILENCE),
            None,
            "a datagram from port {port} was answered"
        );
        sent += 1;
        wait_stat(server, "udp_dropped", before + sent);
    }
    let ephemeral = UdpSocket::bind("127.0.0.1:0").expect("bind");
    assert_eq!(
        ask(&ephemeral, target, b"ECHO ping", Duration::from_secs(5)).as_deref(),
        Some(&b"ping\n"[..])
    );
}

#[test]
fn datagrams_from_well_known_service_ports_are_dropped_and_counted() {
    let server = cmd_server();
    let target = server.addr("udp", "cmd");
    // echo, discard, daytime, chargen, time, DNS, NTP.
    check_unanswered(&server, target, &[7, 9, 13, 19, 37, 53, 123]);
}

#[test]
fn datagrams_from_our_own_udp_ports_are_dropped() {
    let server = cmd_server();
    let cmd = server.addr("udp", "cmd");
    let echo = server.addr("udp", "echo");
    // The listeners hold 127.0.0.1:PORT; the same port on 127.0.0.2 poses as them
    // (the check is on the port, as inetd's). This needs no root.
    for from_port in [echo.port(), cmd.port()] {
        let before = stat(&stats(&server), "udp_dropped");
        let sock = UdpSocket::bind(("127.0.0.2", from_port)).expect("bind 127.0.0.2");
        assert_eq!(ask(&sock, cmd, b"ECHO ping", SILENCE), None);
        // The echo service would otherwise bounce it straight back: a loop.
        assert_eq!(ask(&sock, echo, b"ping", SILENCE), None);
        wait_stat(&server, "udp_dropped", before + 2);
    }
    let other = UdpSocket::bind("127.0.0.2:0").expect("bind");
    assert_eq!(
        ask(&other, echo, b"ping", Duration::from_secs(5)).as_deref(),
        Some(&b"ping"[..])
    );
}
