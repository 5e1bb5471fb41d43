//! Start-up and shut-down: the banner, bind errors and exit codes, Unix socket files
//! (stale, live, not a socket, mode), signals and graceful shutdown, log levels.

mod support {
    pub mod bounded_read;
    pub mod exit;
    pub mod line_client;
    pub mod net;
    pub mod nonblocking_write;
    pub mod output;
    pub mod poll;
    pub mod process;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod temp;
    pub mod udp_client;
    pub mod unix_spec;
}

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitStatus;
use std::time::{Duration, Instant};
use support::line_client::Client;
use support::poll::wait_until;
use support::process::{Proc, sockloop};
use support::server::Server;
use support::temp::TempDir;
use support::udp_client::Udp;
use support::unix_spec::UnixSpec;

const EXIT_TIMEOUT: Duration = Duration::from_secs(5);
const SIGTERM: &str = "TERM";
const SIGINT: &str = "INT";

/// Runs `sockloop ARGS` to its end: (status, stdout, stderr).
fn run_to_exit(args: &[&str], within: Duration) -> (ExitStatus, String, String) {
    let mut run = Proc::spawn(sockloop(args));
    let status = run.wait_exit(within);
    (status, run.stdout(), run.stderr())
}

#[test]
fn banner_lists_every_listener_with_its_real_address() {
    let unix = UnixSpec::new("banner", "cmd");
    let (path, spec) = (&unix.path, &unix.spec);
    let server = Server::start(&[
        "-l",
        "tcp://127.0.0.1:0=echo",
        "-l",
        "udp://127.0.0.1:0=cmd",
        "-l",
        spec,
        "-l",
        "tcp://:0",
        "-l",
        "udp://localhost:0=daytime",
    ]);
    assert_eq!(
        server.banner[0], "sockloop 0.1.0 — one thread, 5 listeners",
        "{:?}",
        server.banner
    );
    assert_eq!(server.banner.last().unwrap(), "ready; Ctrl-C stops");
    let got: Vec<(&str, &str)> = server
        .listeners
        .iter()
        .map(|l| (l.transport.as_str(), l.service.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("tcp", "echo"),
            ("udp", "cmd"),
            ("unix", "cmd"),
            ("tcp", "echo"),
            ("udp", "daytime")
        ]
    );
    for l in &server.listeners {
        if l.transport == "unix" {
            assert_eq!(l.address, path.display().to_string());
            continue;
        }
        let addr: std::net::SocketAddr = l.address.parse().expect("address");
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_ne!(addr.port(), 0, "port 0 must be resolved in the banner");
    }
    // The two tcp echo listeners got different ports, and the banner ports are real.
    assert_ne!(server.listeners[0].address, server.listeners[3].address);
    for i in [0, 3] {
        let addr = server.listeners[i].address.parse().unwrap();
        assert_eq!(Client::tcp(addr).request("ping"), "ping");
    }
    assert!(
        std::fs::symlink_metadata(path)
            .unwrap()
            .file_type()
            .is_socket()
    );
    // The try: hints name the transport.
    assert!(
        server.banner[1].contains("try: nc 127.0.0.1 "),
        "{:?}",
        server.banner
    );
    assert!(
        server.banner[2].contains("try: nc -u 127.0.0.1 "),
        "{:?}",
        server.banner
    );
    assert!(
        server.banner[3].contains(&format!("try: nc -U {}", path.display())),
        "{:?}",
        server.banner
    );

    let one = Server::start(&["-l", "tcp://127.0.0.1:0=cmd"]);
    assert_eq!(one.banner[0], "sockloop 0.1.0 — one thread, 1 listener");
    assert_eq!(one.banner.len(), 3);
}

#[test]
fn sigterm_stops_gracefully_and_removes_the_socket_file() {
    let unix = UnixSpec::new("sigterm", "cmd");
    let path = &unix.path;
    let mut server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "-l", &unix.spec]);
    let addr = server.addr("tcp", "cmd");
    let mut client = Client::tcp(addr);
    assert_eq!(client.request("ECHO connected"), "connected");
    assert!(path.exists());

    server.signal(SIGTERM);
    // The idle client is told goodbye with a clean EOF...
    client.expect_eof();
    // ...the listeners are gone at once (the server only waits for the client now)...
    assert!(!path.exists(), "socket file still there during shutdown");
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("still accepting after SIGTERM"),
    }
    // ...and once the client hangs up, the server is done.
    drop(client);
    let status = server.wait_exit(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr());
    let log = server.stderr();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("served 1 client, 0 active at exit"), "{log}");
    assert!(!path.exists());
}

#[test]
fn sigint_with_no_clients_exits_zero_at_once() {
    let unix = UnixSpec::new("sigint", "echo");
    let mut server = Server::start(&["-l", &unix.spec, "-l", "udp://127.0.0.1:0=echo"]);
    let t0 = Instant::now();
    server.signal(SIGINT);
    let status = server.wait_exit(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(
        server
            .stderr()
            .contains("served 0 clients, 0 active at exit"),
        "{}",
        server.stderr()
    );
    assert!(!unix.path.exists(), "socket file left behind");
}

#[test]
fn graceful_shutdown_delivers_queued_replies() {
    let mut server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd"]);
    let mut client = Client::tcp(server.addr("tcp", "cmd"));
    // ~1 MB of replies, far more than the kernel buffers take while we do not read.
    let batch: String = (0..50).map(|_| "RANDOMS 10000 10 99\n").collect();
    client.send(batch.as_bytes());
    let first = client.read_line();
    assert_eq!(first.len(), 10000 * 3 - 1);
    server.signal(SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    for i in 1..50 {
        let line = client.read_line();
        assert_eq!(line.len(), 10000 * 3 - 1, "reply {i} cut short");
        assert!(line.split(' ').all(|n| n.len() == 2), "reply {i}");
    }
    client.expect_eof();
    drop(client);
    let status = server.wait_exit(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

/// A client whose echo output is stuck: it floods and never reads.
fn stuck_client(server: &Server) -> Client {
    let mut c = Client::tcp(server.addr("tcp", "echo"));
    let chunk = vec![b'q'; 64 * 1024];
    let mut last_progress = Instant::now();
    let started = Instant::now();
    while last_progress.elapsed() < Duration::from_millis(200) {
        assert!(started.elapsed() < Duration::from_secs(5), "never blocked");
        if c.write_nonblocking(&chunk).expect("write") > 0 {
            last_progress = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    c
}

#[test]
fn second_signal_exits_at_once_with_130() {
    let mut server = Server::start(&["-l", "tcp://127.0.0.1:0=echo"]);
    let _stuck = stuck_client(&server);
    server.signal(SIGTERM);
    server.wait_stderr("shutting down", Duration::from_secs(2));
    // Graceful shutdown waits for the stuck client (up to its grace period)...
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.try_exit().is_none(),
        "exited while output was queued"
    );
    // ...until a second signal says stop now.
    let t0 = Instant::now();
    server.signal(SIGTERM);
    let status = server.wait_exit(EXIT_TIMEOUT);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(status.code(), Some(130), "{}", server.stderr());
    let log = server.stderr();
    assert!(log.contains("second signal"), "{log}");
    assert!(log.contains("served 1 client, 1 active at exit"), "{log}");
    assert!(log.contains("flushing 1 connection (signal"), "{log}");
}

#[test]
fn two_quick_signals_exit_130() {
    let mut server = Server::start(&["-l", "tcp://127.0.0.1:0=echo"]);
    let _stuck = stuck_client(&server);
    let t0 = Instant::now();
    server.signal(SIGTERM);
    server.signal(SIGINT);
    let status = server.wait_exit(EXIT_TIMEOUT);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(status.code(), Some(130), "{}", server.stderr());
}

#[test]
fn graceful_shutdown_gives_up_on_a_stuck_client() {
    let mut server = Server::start(&["-l", "tcp://127.0.0.1:0=echo"]);
    let _stuck = stuck_client(&server);
    let t0 = Instant::now();
    server.signal(SIGTERM);
    let status = server.wait_exit(Duration::from_secs(8));
    let took = t0.elapsed();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_millis(6000),
        "graceful shutdown took {took:?}; expected the 3 s grace period"
    );
    let log = server.stderr();
    assert!(log.contains("dropping 1 connection"), "{log}");
}

#[test]
fn stale_unix_socket_is_replaced() {
    let unix = UnixSpec::new("stale", "cmd");
    let path = &unix.path;
    drop(UnixListener::bind(path).expect("bind"));
    assert!(path.exists(), "the stale file should remain");
    let mut server = Server::start(&["-l", &unix.spec]);
    let mut c = Client::unix(path);
    assert_eq!(c.request("ADD 1 2"), "3");
    server.wait_stderr("replacing stale socket", Duration::from_secs(2));
    drop(c);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(EXIT_TIMEOUT).code(), Some(0));
    assert!(!path.exists());
}

#[test]
fn live_unix_socket_is_never_stolen() {
    let dir = TempDir::new("live");
    let path = dir.join("l.sock");
    let other = dir.join("o.sock");
    let live = UnixListener::bind(&path).expect("bind");
    let spec = format!("unix:{}=cmd", path.display());
    // A listener before the failing one: its file must be cleaned up on the way out.
    let first = format!("unix:{}=echo", other.display());
    let (status, stdout, stderr) = run_to_exit(&["serve", "-l", &first, "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(!stdout.contains("ready"), "{stdout}");
    assert!(
        !other.exists(),
        "created {} and left it behind",
        other.display()
    );
    // The live listener still owns its path and still accepts.
    assert!(path.exists());
    let _c = UnixStream::connect(&path).expect("live listener still reachable");
    live.set_nonblocking(true).unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || live.accept().is_ok()),
        "the live listener lost its connections"
    );

    // Same with another sockloop holding the path.
    let holder_path = dir.join("h.sock");
    let holder_spec = format!("unix:{}=cmd", holder_path.display());
    let holder = Server::start(&["-l", &holder_spec]);
    let (status, _, stderr) = run_to_exit(&["serve", "-l", &holder_spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert_eq!(Client::unix(&holder_path).request("ECHO mine"), "mine");
    drop(holder);
}

#[test]
fn regular_file_is_never_deleted() {
    let dir = TempDir::new("notsock");
    let path = dir.join("f.sock");
    std::fs::write(&path, b"precious data\n").unwrap();
    let spec = format!("unix:{}=cmd", path.display());
    let (status, _, stderr) = run_to_exit(&["serve", "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("is not a socket"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious data\n");
    // A directory is not a socket either.
    let sub = dir.join("d");
    std::fs::create_dir(&sub).unwrap();
    let spec = format!("unix:{}=cmd", sub.display());
    let (status, _, stderr) = run_to_exit(&["serve", "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("is not a socket"), "{stderr}");
    assert!(sub.is_dir());
}

#[test]
fn unix_mode_sets_the_socket_permissions() {
    let dir = TempDir::new("mode");
    for mode in ["600", "660", "644"] {
        let path = dir.join(&format!("m{mode}.sock"));
        let spec = format!("unix:{}=cmd", path.display());
        let server = Server::start(&["-l", &spec, "--unix-mode", mode]);
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            u32::from_str_radix(mode, 8).unwrap(),
            "--unix-mode {mode}"
        );
        assert_eq!(Client::unix(&path).request("ECHO ok"), "ok");
        drop(server);
    }
    let path = dir.join("bad.sock");
    let spec = format!("unix:{}=cmd", path.display());
    for bad in ["999", "1777", "rw"] {
        let (status, _, stderr) =
            run_to_exit(&["serve", "-l", &spec, "--unix-mode", bad], EXIT_TIMEOUT);
        assert_eq!(status.code(), Some(2), "--unix-mode {bad}: {stderr}");
        assert!(stderr.contains("--unix-mode"), "{stderr}");
    }
    assert!(!path.exists());
}

#[test]
fn address_in_use_exits_1() {
    let dir = TempDir::new("inuse");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let sock = dir.join("u.sock");
    let unix = format!("unix:{}=cmd", sock.display());
    let spec = format!("tcp://127.0.0.1:{port}=cmd");
    let (status, stdout, stderr) = run_to_exit(&["serve", "-l", &unix, "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stdout.is_empty(), "no banner on failure: {stdout}");
    assert!(
        !sock.exists(),
        "unix socket file left behind after bind failure"
    );

    let taken_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken_udp.local_addr().unwrap().port();
    let spec = format!("udp://127.0.0.1:{port}=echo");
    let (status, _, stderr) = run_to_exit(&["serve", "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
}

/// Two `-l` on one socket are one command line's mistake, not "another sockloop":
/// a usage error naming both, before anything is bound.
#[test]
fn duplicate_listeners_are_a_usage_error_naming_both() {
    let dir = TempDir::new("dup");
    let sock = dir.join("d.sock");
    let unix_a = format!("unix:{}", sock.display());
    let unix_b = format!("unix:{}=cmd", sock.display());
    let cases: &[(&str, &str, &str)] = &[
        ("tcp://:7100", "tcp://:7100=cmd", "tcp 127.0.0.1:7100"),
        ("tcp://127.0.0.1:7100", "http://:7100", "tcp 127.0.0.1:7100"),
        ("udp://:7101", "udp://:7101=random", "udp 127.0.0.1:7101"),
        (
            "tcp://*:7100",
            "tcp://localhost:7100=cmd",
            "0.0.0.0 is every IPv4 address",
        ),
        (&unix_a, &unix_b, "unix "),
    ];
    for &(a, b, what) in cases {
        let (status, stdout, stderr) = run_to_exit(
            &["serve", "-l", "tcp://:0=cmd", "-l", a, "-l", b],
            EXIT_TIMEOUT,
        );
        assert_eq!(status.code(), Some(2), "{a} {b}: {stderr}");
        assert!(stdout.is_empty(), "{a} {b}: {stdout}");
        let line = format!("sockloop serve: -l {a} and -l {b} both listen on ");
        assert!(stderr.starts_with(&line), "{a} {b}: {stderr}");
        assert!(stderr.contains(what), "{a} {b}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("another sockloop"), "{stderr}");
    }
    assert!(!sock.exists(), "bound a listener before refusing");
    // Port 0 is a fresh port each time, and tcp and udp ports are apart.
    let server = Server::start(&[
        "-l",
        "tcp://:0=echo",
        "-l",
        "tcp://:0=cmd",
        "-l",
        "udp://:0=echo",
    ]);
    assert_eq!(server.listeners.len(), 3);
}

#[test]
fn verbose_logs_connections_quiet_logs_nothing() {
    let mut loud = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "-v"]);
    let stream = support::net::connect_tcp(loud.addr("tcp", "cmd")).expect("connect");
    let local = stream.local_addr().unwrap();
    let mut c = Client::from_tcp(stream);
    assert_eq!(c.request("QUIT"), "BYE");
    c.expect_eof();
    drop(c);
    loud.wait_stderr(&format!("open tcp {local} (cmd)"), Duration::from_secs(2));
    assert!(
        wait_until(Duration::from_secs(3), || loud
            .stderr()
            .lines()
            .any(|l| l.contains("closed") && l.contains(&local.to_string()))),
        "{}",
        loud.stderr()
    );
    loud.signal(SIGTERM);
    assert_eq!(loud.wait_exit(EXIT_TIMEOUT).code(), Some(0));
    // Log lines carry an RFC 3339 timestamp with milliseconds.
    for line in loud.stderr().lines() {
        assert!(line.contains(" sockloop: "), "{line:?}");
        assert_eq!(line.as_bytes().get(23), Some(&b'Z'), "{line:?}");
    }

    let mut quiet = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "-q"]);
    let mut c = Client::tcp(quiet.addr("tcp", "cmd"));
    assert_eq!(c.request("ECHO x"), "x");
    drop(c);
    quiet.signal(SIGTERM);
    assert_eq!(quiet.wait_exit(EXIT_TIMEOUT).code(), Some(0));
    assert_eq!(quiet.stderr(), "", "-q must log errors only");
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    let first = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "--reuse-port"]);
    let addr = first.addr("tcp", "cmd");
    let spec = format!("tcp://{addr}=cmd");
    // Without --reuse-port the port is taken...
    let (status, _, stderr) = run_to_exit(&["serve", "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    // ...with it on both, a second server binds the same port, and clients are served.
    let second = Server::start(&["-l", &spec, "--reuse-port"]);
    assert_eq!(second.addr("tcp", "cmd"), addr);
    for i in 0..20 {
        assert_eq!(
            Client::tcp(addr).request(&format!("ADD {i} 1")),
            (i + 1).to_string()
        );
    }
    // Either one can stop; the other keeps the port.
    drop(first);
    assert!(
        wait_until(Duration::from_secs(5), || {
            (0..5).all(|_| {
                Client::try_tcp(addr)
                    .map(|mut c| {
                        c.send_line("ECHO two");
                        c.read_line_bytes().as_deref() == Some(b"two\n")
                    })
                    .unwrap_or(false)
            })
        }),
        "the second server did not take over"
    );
}

/// SO_REUSEADDR on a UDP socket lets another socket bind the same port and take its
/// datagrams, so a second sockloop must find the port taken, as over TCP; only
/// `--reuse-port` (on both) shares it.
#[test]
fn udp_port_held_by_another_sockloop_exits_1() {
    let first = Server::start(&["-l", "udp://127.0.0.1:0=echo", "-q"]);
    let addr = first.addr("udp", "echo");
    let spec = format!("udp://{addr}=random");
    let (status, stdout, stderr) = run_to_exit(&["serve", "-l", &spec], EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert!(stdout.is_empty(), "no banner on failure: {stdout}");
    // The first one still gets every datagram.
    assert_eq!(Udp::new(addr).request_str("mine"), "mine");

    // With --reuse-port on both, the port is shared on purpose.
    let shared = Server::start(&["-l", "udp://127.0.0.1:0=echo", "-q", "--reuse-port"]);
    let spec = format!("udp://{}=echo", shared.addr("udp", "echo"));
    let second = Server::start(&["-l", &spec, "-q", "--reuse-port"]);
    assert_eq!(second.addr("udp", "echo"), shared.addr("udp", "echo"));
}

#[test]
fn exit_removes_only_its_own_socket_file() {
    let unix = UnixSpec::new("owned", "cmd");
    let path = &unix.path;
    let mut server = Server::start(&["-l", &unix.spec]);
    assert_eq!(Client::unix(path).request("ECHO a"), "a");
    // Someone else takes the path over while the server runs.
    std::fs::remove_file(path).unwrap();
    let newcomer = UnixListener::bind(path).unwrap();
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(EXIT_TIMEOUT).code(), Some(0));
    assert!(
        path.exists(),
        "the server deleted a socket file it did not create"
    );
    let _c = UnixStream::connect(path).expect("newcomer still reachable");
    drop(newcomer);
}

/// `tcp://[::]` is IPv6 only (IPV6_V6ONLY) unless `--dual-stack` lets IPv4 in too.
#[test]
fn ipv6_listeners_take_ipv4_only_with_dual_stack() {
    let v6only = Server::start(&["-l", "tcp://[::]:0=cmd"]);
    let port = v6only.addr("tcp", "cmd").port();
    let mut over_v6 = Client::tcp(std::net::SocketAddr::from((
        std::net::Ipv6Addr::LOCALHOST,
        port,
    )));
    assert_eq!(over_v6.request("ADD 1 1"), "2");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "an IPv4 client reached a V6ONLY listener"
    );

    let dual = Server::start(&["--dual-stack", "-l", "tcp://[::]:0=cmd"]);
    let port = dual.addr("tcp", "cmd").port();
    let mut over_v4 = Client::tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(over_v4.request("ADD 2 2"), "4");
}
