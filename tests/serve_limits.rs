//! Limits and load: many clients at once on one thread, idle timeouts, over-long
//! lines, backpressure against a client that never reads, running out of file
//! descriptors, and --max-conns.

mod support {
    pub mod background_send;
    pub mod bounded_read;
    pub mod bulk_io;
    pub mod half_close;
    pub mod line_client;
    pub mod net;
    pub mod nonblocking_write;
    pub mod output;
    pub mod poll;
    pub mod process;
    pub mod procfs;
    pub mod server;
    pub mod stderr_wait;
    pub mod tcp_and_unix;
    pub mod temp;
    pub mod udp_client;
    pub mod unix_spec;
}

use std::time::{Duration, Instant};
use support::line_client::Client;
use support::poll::wait_until;
use support::server::Server;
use support::tcp_and_unix::TcpAndUnix;
use support::udp_client::Udp;

#[test]
fn many_concurrent_clients_one_thread() {
    const N: usize = 250;
    // All from 127.0.0.1: over the default --max-conns-per-ip (128).
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "-q",
        "--max-conns-per-ip",
        "0",
    ]);
    let addr = server.addr("tcp", "cmd");
    // Every connection open before any request is sent.
    let mut clients: Vec<Client> = (0..N).map(|_| Client::tcp(addr)).collect();
    // Requests round-robin, several rounds, replies read only after each round was
    // sent to everyone: the server must interleave all 250.
    for round in 0..3i64 {
        for (i, c) in clients.iter_mut().enumerate() {
            c.send_line(&format!("ADD {i} {}", round * 1_000_000));
        }
        for (i, c) in clients.iter_mut().enumerate().rev() {
            assert_eq!(
                c.read_line(),
                (i as i64 + round * 1_000_000).to_string(),
                "client {i}, round {round}"
            );
        }
    }
    // All of them are open at once, served by one thread.
    let stats = clients[0].request("STATS");
    assert!(
        stats.contains(&format!(" conns_active={N} conns_total={N} ")),
        "{stats:?}"
    );
    assert_eq!(server.threads(), 1, "the server must run on one thread");
    // Mixed pipelined requests on every connection at once.
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(format!("ECHO c{i}\nSUB {i} 1\n").as_bytes());
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.read_line(), format!("c{i}"));
        assert_eq!(c.read_line(), (i as i64 - 1).to_string());
    }
    assert_eq!(server.threads(), 1);
    // Half of them leave; the rest are unaffected.
    let mut rest: Vec<Client> = clients.into_iter().skip(N / 2).collect();
    for c in rest.iter_mut() {
        assert_eq!(c.request("ADD 1 1"), "2");
    }
    assert!(
        wait_until(Duration::from_secs(5), || {
            rest[0]
                .request("STATS")
                .contains(&format!(" conns_active={} ", N - N / 2))
        }),
        "closed connections not reaped"
    );
}

#[test]
fn idle_connections_are_closed_active_ones_are_not() {
    let both = TcpAndUnix::start(
        "idle",
        "cmd",
        &["-l", "tcp://127.0.0.1:0=echo", "--idle-timeout", "0.5"],
    );
    let (server, path) = (&both.server, &both.unix.path);
    let addr = server.addr("tcp", "cmd");

    let mut idle = Client::tcp(addr);
    let mut idle_unix = Client::unix(path);
    let mut idle_echo = Client::tcp(server.addr("tcp", "echo"));
    let mut active = Client::tcp(addr);
    assert_eq!(idle.request("ECHO hi"), "hi");
    assert_eq!(idle_unix.request("ECHO hi"), "hi");
    assert_eq!(idle_echo.request("hi"), "hi");
    let quiet_since = Instant::now();

    // The active client keeps talking every 200 ms for 1.5 s and is never cut off.
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(active.request(&format!("ADD {n} 1")), (n + 1).to_string());
        n += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(n >= 5);

    // The idle line clients were told why, then closed cleanly.
    for c in [&mut idle, &mut idle_unix] {
        let line = c.read_line();
        assert!(
            line.starts_with("ERR idle for ") && line.ends_with(" s; closing"),
            "{line:?}"
        );
        c.expect_eof();
    }
    // Echo must stay byte-exact: closed without a word.
    idle_echo.expect_eof();
    assert!(quiet_since.elapsed() < Duration::from_secs(5));

    // Timing: a fresh idle client is closed after about 0.5 s, not at once, and not late.
    let mut c = Client::tcp(addr);
    assert_eq!(c.request("ECHO x"), "x");
    let t0 = Instant::now();
    let line = c.read_line();
    let waited = t0.elapsed();
    assert!(line.starts_with("ERR idle for "), "{line:?}");
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(2500),
        "idle close after {waited:?} with --idle-timeout 0.5"
    );
    c.expect_eof();
    // Still serving new clients.
    let mut fresh = Client::tcp(addr);
    assert_eq!(fresh.request("ECHO alive"), "alive");
}

#[test]
fn over_long_lines_get_one_error_and_the_connection_goes_on() {
    let both = TcpAndUnix::start(
        "long",
        "cmd",
        &[
            "-l",
            "tcp://127.0.0.1:0=random",
            "-l",
            "tcp://127.0.0.1:0=echo",
            "-l",
            "udp://127.0.0.1:0=cmd",
            "--max-line",
            "16",
        ],
    );
    let server = &both.server;
    let long = vec![b'x'; 100 * 1024];
    for mut c in both.clients() {
        let mut data = long.clone();
        data.extend_from_slice(b"\nECHO ok\n");
        c.send(&data);
        assert_eq!(
            c.read_line_bytes().unwrap(),
            b"ERR line too long (max 16 bytes)\n"
        );
        assert_eq!(c.read_line_bytes().unwrap(), b"ok\n");
        // The cap is exact: 16 bytes pass (with LF or CRLF), 17 do not.
        assert_eq!(c.request("ECHO 12345678901"), "12345678901");
        assert_eq!(c.request("ECHO 12345678901\r"), "12345678901");
        assert_eq!(
            c.request("ECHO 123456789012"),
            "ERR line too long (max 16 bytes)"
        );
        // An over-long line arriving in pieces is answered once.
        for _ in 0..10 {
            c.send(&long[..10_000]);
        }
        c.send(b"\nADD 1 2\n");
        assert_eq!(c.read_line(), "ERR line too long (max 16 bytes)");
        assert_eq!(c.read_line(), "3");
    }
    // Every line service has the cap.
    let mut r = Client::tcp(server.addr("tcp", "random"));
    r.send(&long);
    r.send(b"\n2 2\n");
    assert_eq!(r.read_line(), "ERR line too long (max 16 bytes)");
    assert_eq!(r.read_line(), "2");
    // Echo has no lines to cap: it stays byte-exact.
    let mut e = Client::tcp(server.addr("tcp", "echo"));
    for chunk in long.chunks(8192) {
        e.send(chunk);
        assert_eq!(e.read_exact(chunk.len()), chunk);
    }
    // UDP: the datagram is the line.
    let udp = Udp::new(server.addr("udp", "cmd"));
    assert_eq!(
        udp.request_str("ECHO 123456789012\n"),
        "ERR line too long (max 16 bytes)\n"
    );
    assert_eq!(udp.request_str("ECHO 12345678901\n"), "12345678901\n");
}

/// Floods `flood` for ~2 s without ever reading the echo, and checks the server
/// stopped taking input, kept its memory, and still served `other` meanwhile.
fn flood_without_reading(server: &Server, mut flood: Client, mut other: Client) {
    // A server that kept reading would take all 32 MB within 2 s on loopback; the
    // kernel buffers on both sides can hold only several MB.
    const TARGET: usize = 32 * 1024 * 1024;
    assert_eq!(other.request("warm up"), "warm up");
    let rss_before = server.rss_kib();
    let chunk = vec![b'z'; 64 * 1024];
    let mut written = 0usize;
    let mut blocked = 0usize;
    let mut last_progress = Instant::now();
    let started = Instant::now();
    while written < TARGET && started.elapsed() < Duration::from_millis(2000) {
        let n = flood.write_nonblocking(&chunk).expect("write");
        if n == 0 {
            blocked += 1;
            std::thread::sleep(Duration::from_millis(2));
        } else {
            written += n;
            last_progress = Instant::now();
        }
    }
    let stalled_for = last_progress.elapsed();
    let rss_after = server.rss_kib();
    let growth = rss_after.saturating_sub(rss_before);
    let report = format!(
        "wrote {written} bytes, blocked {blocked} times, stalled for {stalled_for:?}, \
         server RSS {rss_before} -> {rss_after} KiB"
    );
    assert!(written < TARGET, "the server kept reading: {report}");
    assert!(blocked > 0, "writes never blocked: {report}");
    assert!(
        stalled_for >= Duration::from_millis(500),
        "writes were still progressing near the end: {report}"
    );
    assert!(
        growth < 8 * 1024,
        "server memory grew for one stuck client: {report}"
    );
    // Meanwhile another client is served promptly.
    let t0 = Instant::now();
    assert_eq!(other.request("still served"), "still served");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[test]
fn never_reading_tcp_client_is_held_back_by_backpressure() {
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=echo", "-q"]);
    let addr = server.addr("tcp", "echo");
    flood_without_reading(&server, Client::tcp(addr), Client::tcp(addr));
    let mut fresh = Client::tcp(addr);
    assert_eq!(fresh.request("fresh"), "fresh");
}

#[test]
fn never_reading_unix_client_is_held_back_by_backpressure() {
    let both = TcpAndUnix::start("flood_unix", "echo", &["-q"]);
    let (server, path) = (&both.server, &both.unix.path);
    let other = Client::tcp(server.addr("tcp", "echo"));
    flood_without_reading(server, Client::unix(path), other);
}

#[test]
fn pipelined_requests_with_big_replies_stay_within_the_output_cap() {
    // 1000 requests of 20 bytes ask for ~30 MB of replies. The server must not
    // produce them all at once: a slow reader may cost about --max-output, not 30 MB.
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "-q"]);
    let addr = server.addr("tcp", "cmd");
    let mut other = Client::tcp(addr);
    assert_eq!(other.request("ECHO warm"), "warm");
    let rss_before = server.rss_kib();
    let mut c = Client::tcp(addr);
    c.send("RANDOMS 10000 10 99\n".repeat(1000).as_bytes());
    std::thread::sleep(Duration::from_millis(500));
    let rss_stalled = server.rss_kib();
    // Other clients are not held up by the big one.
    let t0 = Instant::now();
    assert_eq!(other.request("ECHO quick"), "quick");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // Every reply arrives, whole and in order.
    for i in 0..1000 {
        let line = c.read_line_bytes().expect("reply");
        assert_eq!(line.len(), 10000 * 3, "reply {i}");
    }
    assert_eq!(c.request("ADD 1 1"), "2");
    let rss_peak = server.rss_kib().max(rss_stalled);
    let growth = rss_peak.saturating_sub(rss_before);
    assert!(
        growth < 16 * 1024,
        "server RSS grew {growth} KiB ({rss_before} -> {rss_stalled} -> {rss_peak}) for \
         one client's pipelined requests"
    );
}

#[test]
fn stuck_client_is_dropped_after_idle_timeout() {
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0=echo",
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "--idle-timeout",
        "0.5",
    ]);
    let mut stuck = Client::tcp(server.addr("tcp", "echo"));
    let chunk = vec![b's'; 64 * 1024];
    let t0 = Instant::now();
    while stuck.write_nonblocking(&chunk).expect("write") > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "writes never blocked"
        );
    }
    // Blocked: the server has output queued for it that it never takes. The idle
    // timeout still applies, then the flush gives up, and the slot is freed.
    let stats = || Client::tcp(server.addr("tcp", "cmd")).request("STATS");
    assert!(
        wait_until(Duration::from_secs(5), || stats()
            .contains(" conns_active=1 ")),
        "stuck client still held: {}",
        stats()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    // Panics unless the server closes the socket (FIN or reset) within 5 s.
    let _ = stuck.read_to_eof();
}

#[test]
fn max_conns_refuses_politely() {
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "-l",
        "tcp://127.0.0.1:0=echo",
        "--max-conns",
        "2",
    ]);
    let addr = server.addr("tcp", "cmd");
    let mut a = Client::tcp(addr);
    let mut b = Client::tcp(addr);
    assert_eq!(a.request("ECHO a"), "a");
    assert_eq!(b.request("ECHO b"), "b");

    let mut third = Client::tcp(addr);
    let (got, err) = third.read_to_eof();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "ERR server busy: 2 connections open (the limit); try again later\n"
    );
    // The limit is server-wide: echo is full too, and says nothing (byte-exact).
    let mut echo = Client::tcp(server.addr("tcp", "echo"));
    echo.expect_eof();

    // The first two still work.
    assert_eq!(a.request("ADD 1 2"), "3");
    assert_eq!(b.request("ADD 3 4"), "7");
    let stats = a.request("STATS");
    assert!(
        stats.contains(" conns_active=2 conns_total=2 "),
        "{stats:?}"
    );

    // A slot frees up when one leaves.
    b.send_line("QUIT");
    assert_eq!(b.read_line(), "BYE");
    b.expect_eof();
    drop(b);
    let mut next = None;
    assert!(
        wait_until(Duration::from_secs(5), || {
            let mut c = Client::tcp(addr);
            c.send_line("ECHO in");
            match c.read_line_bytes() {
                Some(line) if line == b"in\n" => {
                    next = Some(c);
                    true
                }
                _ => false,
            }
        }),
        "no slot after a client left"
    );
    assert_eq!(next.unwrap().request("ADD 5 5"), "10");
    assert_eq!(a.request("ECHO a"), "a");
}

/// CPU time used so far (user + system) by process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14, stime 15.
    let rest = &text[text.rfind(')').expect("stat format") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// Clock ticks per second for /proc/PID/stat.
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

#[test]
fn out_of_file_descriptors_pauses_accepting_without_spinning() {
    let mut server = Server::start_wrapped(
        &["prlimit", "--nofile=40:40"],
        &["-l", "tcp://127.0.0.1:0=cmd"],
    );
    let addr = server.addr("tcp", "cmd");
    // More clients than the server has descriptors: the rest wait in the backlog.
    let mut clients: Vec<Client> = (0..60).map(|_| Client::tcp(addr)).collect();
    // The EMFILE log.
    server.wait_stderr("pausing accepts", Duration::from_secs(5));
    // The first clients were accepted and are served.
    assert_eq!(clients[0].request("ECHO first"), "first");
    // The server idles instead of spinning on the listener it cannot accept from.
    let ticks = clock_ticks();
    let cpu0 = cpu_ticks(server.pid());
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let used = (cpu_ticks(server.pid()) - cpu0) as f64 / ticks as f64;
    let share = used / t0.elapsed().as_secs_f64();
    assert!(
        share < 0.3,
        "server used {:.0}% of a core while out of descriptors",
        share * 100.0
    );
    assert_eq!(server.threads(), 1);
    // Sustained exhaustion is logged once, not on every 100 ms retry.
    let log = server.stderr();
    assert_eq!(
        log.matches("Too many open files").count(),
        1,
        "EMFILE logged more than once while it lasted:\n{log}"
    );
    // Everyone leaves; the server recovers and takes new clients.
    clients.clear();
    let mut ok = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok && Instant::now() < deadline {
        if let Ok(mut c) = Client::try_tcp(addr) {
            c.send_line("ECHO hi");
            ok = c.read_line_bytes().as_deref() == Some(b"hi\n");
        }
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(
        ok,
        "no reply after descriptors freed up; stderr: {}",
        server.stderr()
    );
    let mut c = Client::tcp(addr);
    assert_eq!(c.request("ADD 20 22"), "42");
    // (Recovery may hit the limit again briefly while the backlog drains.)
    let log = server.stderr();
    let episodes = log.matches("Too many open files").count();
    assert!(episodes <= 10, "EMFILE logged {episodes} times:\n{log}");
}

#[test]
fn pipelined_big_replies_then_half_close_all_arrive() {
    // Requests the server must hold back (their replies exceed the output cap) are
    // still answered when the client has already finished sending.
    let both = TcpAndUnix::start("big_half", "cmd", &["-q"]);

    for mut c in both.clients() {
        let mut data = "RANDOMS 10000 10 99\n".repeat(300).into_bytes();
        data.extend_from_slice(b"ECHO last\nADD 2 3");
        let writer = c.send_in_background(data);
        writer.join().unwrap().expect("write requests");
        c.shutdown_write();
        for i in 0..300 {
            let line = c.read_line_bytes().expect("reply");
            assert_eq!(line.len(), 10000 * 3, "reply {i}");
        }
        assert_eq!(c.read_line(), "last");
        assert_eq!(c.read_line(), "5");
        c.expect_eof();
    }
}

/// A client that reads a long backlog of replies steadily is active, even though it
/// sends nothing while it reads: the idle timeout must not cut it off mid-stream.
#[test]
fn reading_a_long_backlog_is_not_idleness() {
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "--idle-timeout", "1"]);
    let mut client = Client::tcp(server.addr("tcp", "cmd"));
    let requests = 200;
    client.send(&b"RANDOMS 10000 100000 999999\n".repeat(requests));
    // About 14 MB of replies, read in pieces with pauses: well over the 1 s timeout.
    let started = Instant::now();
    let mut replies = 0;
    while replies < requests {
        let line = client.read_line();
        assert!(!line.starts_with("ERR"), "reply {replies}: {line}");
        assert_eq!(line.split(' ').count(), 10_000, "reply {replies}");
        replies += 1;
        if replies % 10 == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "too fast to test anything"
    );
}
