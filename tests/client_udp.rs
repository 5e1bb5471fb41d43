//! The `udp` client as a real process: one datagram per line (newline included), each
//! reply printed, silence and ICMP port-unreachable reported for what they are,
//! `--prompt` with STOP, `-e` one-shot — against `sockloop serve` and an inline peer.

mod support {
    pub mod client_run;
    pub mod exit;
    pub mod finished;
    pub mod finished_asserts;
    pub mod one_listener;
    pub mod output;
    pub mod peer_thread;
    pub mod process;
    pub mod server;
    pub mod stdout_wait;
    pub mod time;
}

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use support::client_run::run;
use support::finished::CHILD_TIMEOUT;
use support::one_listener::serve_one;
use support::peer_thread::{PEER_IO_TIMEOUT, PeerThread};
use support::process::{Proc, sockloop};
use support::server::Server;
use support::time::assert_time_now;

fn udp_server(service: &str) -> (Server, String) {
    let (server, addr) = serve_one("udp", service, &[]);
    (server, addr.to_string())
}

/// An independent UDP peer: answers each datagram with its upper-case copy, until
/// `count` datagrams have come or nothing comes for a while; returns what it got.
fn upper_peer(count: usize) -> (SocketAddr, PeerThread<Vec<Vec<u8>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut got = Vec::new();
        let deadline = Instant::now() + CHILD_TIMEOUT;
        let mut buf = [0u8; 2048];
        while got.len() < count && Instant::now() < deadline {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            got.push(buf[..n].to_vec());
            sock.send_to(&buf[..n].to_ascii_uppercase(), from).unwrap();
        }
        got
    });
    (addr, PeerThread::from(thread))
}

#[test]
fn udp_each_line_is_one_datagram_to_an_independent_peer() {
    let (addr, peer) = upper_peer(3);
    // The last line has no newline: it is still a datagram.
    let done = run(&["udp", &addr.to_string()], b"one\ntwo words\nlast");
    done.assert_code(0).assert_stdout("ONE\nTWO WORDS\nLAST\n");
    assert_eq!(
        peer.join(),
        [b"one\n".to_vec(), b"two words\n".to_vec(), b"last".to_vec()]
    );
}

#[test]
fn udp_echo_against_sockloop() {
    let (_server, addr) = udp_server("echo");
    let done = run(&["udp", &addr], b"hello\nworld\n");
    done.assert_code(0).assert_stdout("hello\nworld\n");
}

#[test]
fn udp_cmd_replies_from_sockloop() {
    let (_server, addr) = udp_server("cmd");
    let done = run(&["udp", &addr], b"ADD 1 2\nTIME\n");
    done.assert_code(0);
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "stdout: {:?}", done.stdout);
    assert_eq!(lines[0], "3");
    assert_time_now(lines[1]);
}

#[test]
fn udp_one_shot() {
    let (_server, addr) = udp_server("cmd");
    run(&["udp", "-e", "SUB 2 5", &addr], b"ADD 1 1\n")
        .assert_code(0)
        .assert_stdout("-3\n");
    // Escapes, and no newline added (one datagram exactly as written).
    let (addr, peer) = upper_peer(1);
    run(&["udp", "-e", r"a\tb\x21", &addr.to_string()], b"")
        .assert_code(0)
        .assert_stdout("A\tB!\n");
    assert_eq!(peer.join(), [b"a\tb!".to_vec()]);
}

#[test]
fn udp_no_reply_is_reported_and_exits_1() {
    // A socket that receives but never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    silent.set_read_timeout(Some(PEER_IO_TIMEOUT)).unwrap();
    let addr = silent.local_addr().unwrap();
    let done = run(&["udp", "-w", "0.5", &addr.to_string()], b"anyone?\n");
    done.assert_code(1)
        .assert_stdout("")
        .assert_stderr_has(&format!(
            "no reply from {addr} within 0.5 s — is a UDP server listening?"
        ))
        .assert_stderr_has(&format!("1 datagram to {addr} got no reply"));
    assert!(
        done.elapsed >= Duration::from_millis(450) && done.elapsed < Duration::from_secs(4),
        "took {:?}",
        done.elapsed
    );
    let mut buf = [0u8; 64];
    let n = silent.recv(&mut buf).expect("the datagram arrived");
    assert_eq!(&buf[..n], b"anyone?\n");
}

#[test]
fn udp_no_reply_default_wait_is_two_seconds() {
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().unwrap();
    let done = run(&["udp", "-e", "ping", &addr.to_string()], b"");
    done.assert_code(1).assert_stderr_has(&format!(
        "no reply from {addr} within 2 s — is a UDP server listening?"
    ));
    assert!(
        done.elapsed >= Duration::from_millis(1900) && done.elapsed < Duration::from_secs(5),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn udp_icmp_port_unreachable() {
    // Bound and released: nothing listens there, so loopback answers with ICMP.
    let addr = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port");
    let done = run(&["udp", &addr.to_string()], b"hello?\n");
    done.assert_code(1).assert_stderr_has(&format!(
        "{addr} answered with ICMP port unreachable — no UDP server is listening there"
    ));
    assert!(
        done.elapsed < Duration::from_millis(1500),
        "reported at once, not after the reply timeout: {:?}",
        done.elapsed
    );
}

#[test]
fn udp_prompt_and_stop_against_sockloop_echo() {
    let (_server, addr) = udp_server("echo");
    let mut client = Proc::spawn(sockloop(&["udp", "--prompt", &addr]));
    client.wait_stdout(">> ");
    client.write(b"hi\n");
    client.wait_stdout("Reply: hi\n>> ");
    client.write(b"STOP\n");
    // stdin stays open: STOP ends the client once its reply is in.
    client
        .wait()
        .assert_code(0)
        .assert_stdout(">> Reply: hi\n>> Reply: STOP\nExiting UDP client!\n");
}

#[test]
fn udp_verbose_and_usage_errors() {
    let (addr, peer) = upper_peer(1);
    run(&["udp", "-v", "-e", "x", &addr.to_string()], b"")
        .assert_code(0)
        .assert_stdout("X\n")
        .assert_stderr_has(&format!("The UDP server is {addr}"));
    peer.join();
    let cases: &[&[&str]] = &[
        &["udp"],
        &["udp", "127.0.0.1"],
        &["udp", "-w", "0", "127.0.0.1:9"],
        &["udp", "-w", "x", "127.0.0.1:9"],
        &["udp", "127.0.0.1:9", "extra"],
    ];
    for args in cases {
        run(args, b"")
            .assert_code(2)
            .assert_stderr_has("sockloop udp: ");
    }
}

#[test]
fn udp_many_lines_all_answered() {
    let (_server, addr) = udp_server("echo");
    let input: String = (0..50).map(|i| format!("datagram {i}\n")).collect();
    let mut client = Proc::spawn(sockloop(&["udp", &addr]));
    client.write(input.as_bytes());
    client.close_stdin();
    let done = client.wait();
    done.assert_code(0);
    // Loopback keeps order in practice, but UDP promises nothing: compare as sets.
    let mut got: Vec<&str> = done.stdout.lines().collect();
    let mut want: Vec<&str> = input.lines().collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
}
