//! --max-conns-per-ip against a real server: refusal with each protocol's busy answer
//! (ERR for line services, 503 for the web), recovery as connections close, one log
//! line per episode, Unix clients exempt, and a client of another address served
//! while one address floods the listener. Loopback has all of 127/8, so 127.0.0.2 is
//! "another address".

mod support {
    pub mod net;
    pub mod output;
    pub mod poll;
    pub mod process;
    pub mod server;
    pub mod stderr_wait;
    pub mod temp;
    pub mod unix_spec;
}

use socket2::{Domain, Socket, Type};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::net::{IO_TIMEOUT, connect_tcp};
use support::poll::wait_until;
use support::server::Server;
use support::unix_spec::UnixSpec;

const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const BUSY: &str = "connections open from your address (the limit per address); try again later\n";

/// A TCP connection from `local` (port chosen by the kernel) to `to`.
fn connect_from(local: IpAddr, to: SocketAddr) -> TcpStream {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::new(local, 0).into())
        .unwrap_or_else(|e| panic!("bind {local}: {e}"));
    sock.connect_timeout(&to.into(), IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {to} from {local}: {e}"));
    let stream = TcpStream::from(sock);
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

/// One request line, one reply line (without its newline).
fn request(stream: &mut (impl Read + Write), line: &str) -> String {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("send");
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while reply.last() != Some(&b'\n') {
        match stream.read(&mut byte) {
            Ok(0) => panic!("EOF after {:?}", String::from_utf8_lossy(&reply)),
            Ok(_) => reply.push(byte[0]),
            Err(e) => panic!("{line}: reading the reply: {e}"),
        }
    }
    reply.pop();
    String::from_utf8(reply).expect("UTF-8")
}

/// Everything the server sends until it closes (within the read timeout). A reset
/// after the data counts as the end.
fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("reading to EOF: {e} (have {got:?})"),
        }
    }
}

/// A fresh connection from 127.0.0.1 that must be refused with `expected`.
fn assert_refused(addr: SocketAddr, expected: &[u8]) {
    let mut c = connect_tcp(addr).expect("connect");
    let got = read_to_end(&mut c);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

fn stats(addr: SocketAddr) -> String {
    request(&mut connect_from(OTHER, addr), "STATS")
}

#[test]
fn over_the_limit_line_services_say_err_busy_and_recover() {
    let unix = UnixSpec::new("per_ip", "cmd");
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "-l",
        "tcp://127.0.0.1:0=echo",
        "-l",
        &unix.spec,
        "--max-conns-per-ip",
        "2",
    ]);
    let addr = server.addr("tcp", "cmd");
    let mut a = connect_tcp(addr).expect("connect");
    let mut b = connect_tcp(addr).expect("connect");
    assert_eq!(request(&mut a, "ECHO a"), "a");
    assert_eq!(request(&mut b, "ECHO b"), "b");
    let busy = format!("ERR server busy: 2 {BUSY}");
    assert_refused(addr, busy.as_bytes());
    // The limit is per address, across listeners: echo refuses too, silently
    // (its output stays byte-exact).
    assert_refused(server.addr("tcp", "echo"), b"");

    // Another address is not held back; nor are Unix clients, which have none.
    let mut other = connect_from(OTHER, addr);
    assert_eq!(request(&mut other, "ADD 1 2"), "3");
    let mut locals: Vec<UnixStream> = (0..4)
        .map(|_| UnixStream::connect(&unix.path).expect("connect unix"))
        .collect();
    for (i, l) in locals.iter_mut().enumerate() {
        l.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        assert_eq!(request(l, &format!("ADD {i} 1")), (i + 1).to_string());
    }
    let line = request(&mut other, "STATS");
    assert!(
        line.contains(" conns_active=7 ") && line.contains(" refused_per_ip=2 "),
        "{line:?}"
    );

    // The ones admitted still work; once one leaves, 127.0.0.1 may connect again.
    assert_eq!(request(&mut a, "ADD 2 2"), "4");
    b.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(read_to_end(&mut b), b"");
    let mut back = None;
    assert!(
        wait_until(Duration::from_secs(5), || {
            let mut c = connect_tcp(addr).expect("connect");
            c.write_all(b"ECHO back\n").expect("send");
            let mut reader = BufReader::new(c.try_clone().expect("clone"));
            let mut reply = String::new();
            let _ = reader.read_line(&mut reply);
            let ok = reply == "back\n";
            if ok {
                back = Some(c);
            }
            ok
        }),
        "127.0.0.1 not admitted again after one of its connections closed"
    );
    // Exactly two again: the next is refused.
    assert_refused(addr, busy.as_bytes());
}

#[test]
fn over_the_limit_the_web_says_503_at_accept() {
    let server = Server::start(&["-l", "http://127.0.0.1:0", "--max-conns-per-ip", "1"]);
    let addr = server.addr("http", "web");
    let mut first = connect_tcp(addr).expect("connect");
    first
        .write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut buf = [0u8; 4096];
    let n = first.read(&mut buf).expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "), "{:?}", &buf[..n]);

    // Refused at accept, before any request is read (so a WebSocket upgrade gets this
    // 503 too). It comes unasked; sending nothing keeps the close clean (a request the
    // server never reads could turn its close into a reset).
    let mut c = connect_tcp(addr).expect("connect");
    let page = String::from_utf8(read_to_end(&mut c)).expect("UTF-8");
    assert!(page.starts_with("HTTP/1.1 503 "), "{page}");
    assert!(page.contains("\r\nRetry-After: 1\r\n"), "{page}");
    assert!(
        page.ends_with(&format!("\r\n\r\nserver busy: 1 {BUSY}")),
        "{page}"
    );
    // Recovery: the first leaves, the next is served.
    drop(first);
    assert!(
        wait_until(Duration::from_secs(5), || {
            let mut c = connect_tcp(addr).expect("connect");
            let _ = c.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let page = String::from_utf8_lossy(&read_to_end(&mut c)).into_owned();
            page.starts_with("HTTP/1.1 200 ") && !page.contains(" refused_per_ip=0 ")
        }),
        "not served again after the first connection closed"
    );
}

#[test]
fn each_episode_of_refusals_is_logged_once() {
    let mut server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "--max-conns-per-ip", "1"]);
    let addr = server.addr("tcp", "cmd");
    let started = "127.0.0.1: 1 connections open, the --max-conns-per-ip limit; refusing";
    for (episode, refusals) in [(1, 5), (2, 3)] {
        let mut holder = connect_tcp(addr).expect("connect");
        assert_eq!(request(&mut holder, "ECHO held"), "held");
        for _ in 0..refusals {
            assert_refused(addr, b"ERR server busy: 1 connections open from your address (the limit per address); try again later\n");
        }
        drop(holder);
        server.wait_stderr(
            &format!(
                "127.0.0.1: its last connection closed; {refusals} new ones were refused \
                 over --max-conns-per-ip 1"
            ),
            Duration::from_secs(5),
        );
        // Written after every line about this episode's refusals: one of them.
        assert_eq!(
            server.stderr().matches(started).count(),
            episode,
            "{}",
            server.stderr()
        );
    }
}

#[test]
fn one_address_flooding_does_not_starve_another() {
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "--max-conns-per-ip",
        "8",
        "-q",
    ]);
    let addr = server.addr("tcp", "cmd");
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    // Two threads connect from 127.0.0.1 as fast as they can, holding up to 20
    // connections each and dropping the oldest; bounded in count and time.
    let flood: Vec<_> = (0..2)
        .map(|_| {
            let (stop, attempts) = (stop.clone(), attempts.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut held = std::collections::VecDeque::new();
                for _ in 0..3000 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    if let Ok(c) = TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                        held.push_back(c);
                        attempts.fetch_add(1, Ordering::Relaxed);
                    }
                    if held.len() > 20 {
                        held.pop_front();
                    }
                }
            })
        })
        .collect();
    // Wait until the flood is on.
    assert!(wait_until(Duration::from_secs(5), || attempts
        .load(Ordering::Relaxed)
        > 200));
    let mut times = Vec::new();
    for i in 0..20 {
        let t0 = Instant::now();
        let mut c = connect_from(OTHER, addr);
        assert_eq!(request(&mut c, &format!("ADD {i} 1")), (i + 1).to_string());
        times.push(t0.elapsed());
    }
    times.sort();
    let during = attempts.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for t in flood {
        t.join().expect("flood thread");
    }
    let line = stats(addr);
    let refused: u64 = line
        .split(' ')
        .find_map(|kv| kv.strip_prefix("refused_per_ip="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(refused > 100, "the flood was barely refused: {line:?}");
    // A connect plus a request, each new, behind a flood: well under a second. A
    // starved accept would make most of them wait for the 1 s SYN retry or more; the
    // median, not the slowest, so that a busy machine's hiccup does not count.
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(500),
        "median of 20 from 127.0.0.2: {median:?}, all {times:?} ({during} flood connects meanwhile)"
    );
}
