//! `serve --workers N` and `kill -USR2`: connections spread over worker processes by
//! SO_REUSEPORT, a killed worker restarted, the combined count at exit, workers that
//! outlive a killed supervisor ending by themselves, and binary upgrades — of a plain
//! server and of a supervisor's workers — under a steady stream of new connections
//! with not one refused, reset or left unanswered.

mod support {
    pub mod exit;
    pub mod output;
    pub mod poll;
    pub mod process;
    pub mod server;
    pub mod signal;
    pub mod stderr_wait;
    pub mod temp;
}

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::poll::wait_until;
use support::process::{BIN, Proc, sockloop};
use support::server::Server;
use support::temp::TempDir;

const WAIT: Duration = Duration::from_secs(10);

/// The `pid=` of a STATS answer from the cmd service at `addr`.
fn served_by(addr: SocketAddr) -> std::io::Result<u32> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(WAIT))?;
    s.write_all(b"STATS\n")?;
    pid_in(BufReader::new(s))
}

fn pid_in(mut reader: impl BufRead) -> std::io::Result<u32> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    line.split(' ')
        .find_map(|kv| kv.trim().strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no pid in {line:?}")))
}

/// Field 4 of /proc/PID/stat, and whether it is running (not gone, not a zombie).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    let mut fields = after.split(' ');
    let state = fields.next()?;
    (state != "Z").then(|| fields.next()?.parse().ok())?
}

fn alive(pid: u32) -> bool {
    parent_of(pid).is_some()
}

fn kill(sig: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Kills what a test started outside a [`Proc`] (a new binary is not our child).
struct KillOnDrop(Arc<Mutex<Vec<u32>>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in self.0.lock().unwrap().iter() {
            kill("KILL", *pid);
        }
    }
}

/// The pids answering `addr` over `tries` connections.
fn pids(addr: SocketAddr, tries: usize) -> BTreeSet<u32> {
    (0..tries)
        .map(|_| served_by(addr).expect("STATS"))
        .collect()
}

#[test]
fn two_workers_share_the_connections_and_one_killed_is_restarted() {
    let dir = TempDir::new("workers");
    let unix = dir.join("cmd.sock");
    let unix_spec = format!("unix:{}=cmd", unix.display());
    let mut server = Server::start(&[
        "--workers",
        "2",
        "-l",
        "tcp://127.0.0.1:0=cmd",
        "-l",
        "udp://127.0.0.1:0=echo",
        "-l",
        &unix_spec,
    ]);
    assert!(
        server.banner[0].contains(", 2 worker processes — one thread, 3 listeners"),
        "{:?}",
        server.banner
    );
    let tcp = server.addr("tcp", "cmd");
    let seen = pids(tcp, 64);
    assert_eq!(
        seen.len(),
        2,
        "SO_REUSEPORT spreads 64 connections: {seen:?}"
    );
    for pid in &seen {
        assert_eq!(parent_of(*pid), Some(server.pid()), "worker {pid}");
    }
    // The Unix socket is one, shared: whoever accepts answers.
    let answer = pid_in(BufReader::new({
        let mut s = UnixStream::connect(&unix).unwrap();
        s.write_all(b"STATS\n").unwrap();
        s
    }))
    .unwrap();
    assert!(seen.contains(&answer));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    udp.send_to(b"hello", server.addr("udp", "echo")).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");

    let victim = *seen.iter().next().unwrap();
    kill("KILL", victim);
    server.wait_stderr("restarting it in 0.1 s", WAIT);
    // Every connection is answered — those queued on the dead worker's socket wait
    // for its successor — and soon by two live workers again.
    let deadline = Instant::now() + WAIT;
    let mut now_seen = BTreeSet::new();
    while now_seen.len() < 2 && Instant::now() < deadline {
        now_seen.insert(served_by(tcp).expect("answered while a worker restarts"));
    }
    assert_eq!(now_seen.len(), 2, "{now_seen:?}\n{}", server.stderr());
    assert!(!now_seen.contains(&victim));
    server.signal("TERM");
    let status = server.wait_exit(WAIT);
    assert!(status.success(), "{status:?}\n{}", server.stderr());
    assert!(
        !unix.exists(),
        "the supervisor removes the Unix socket file"
    );
    assert!(now_seen.iter().all(|p| !alive(*p)), "workers gone");
}

#[test]
fn the_summary_adds_up_every_worker() {
    let mut server = Server::start(&["--workers", "2", "-l", "tcp://127.0.0.1:0=cmd"]);
    let tcp = server.addr("tcp", "cmd");
    let seen = pids(tcp, 30);
    assert_eq!(seen.len(), 2);
    // Ctrl-C reaches the supervisor only (workers have their own process group);
    // it passes the stop on once.
    server.signal("INT");
    let status = server.wait_exit(WAIT);
    assert!(status.success(), "{status:?}");
    let err = server.stderr();
    assert!(
        err.contains("sockloop: served 30 clients, 0 active at exit"),
        "{err}"
    );
    assert!(err.contains("2 workers ran; 0 restarts"), "{err}");
}

#[test]
fn workers_end_by_themselves_when_the_supervisor_is_killed() {
    let server = Server::start(&["--workers", "2", "-l", "tcp://127.0.0.1:0=cmd"]);
    let seen = pids(server.addr("tcp", "cmd"), 32);
    assert_eq!(seen.len(), 2);
    kill("KILL", server.pid());
    assert!(
        wait_until(WAIT, || seen.iter().all(|p| !alive(*p))),
        "workers {seen:?} outlived their supervisor"
    );
}

#[test]
fn workers_refuse_what_cannot_work() {
    // Without TLS in the build, the certificate options are what is refused.
    let self_signed = match cfg!(feature = "tls") {
        true => "each worker would make its own",
        false => "built without the `tls` feature",
    };
    for (args, says) in [
        (vec!["--workers", "0"], "is not auto or a number"),
        (
            vec!["--workers", "2", "--inetd", "echo"],
            "--workers and --inetd",
        ),
        (
            vec![
                "--workers",
                "2",
                "--tls-self-signed",
                "-l",
                "tls://127.0.0.1:0=echo",
            ],
            self_signed,
        ),
    ] {
        let out = sockloop(&[&["serve"], args.as_slice()].concat())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// New connections, one after another, each asking who serves it; every failure
/// (refused, reset, no answer) is kept.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<u32>>>,
    failures: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Load {
    fn start(addr: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (s, p, f) = (stop.clone(), seen.clone(), failures.clone());
        let thread = std::thread::spawn(move || {
            let mut count = 0;
            while !s.load(Ordering::Relaxed) {
                match served_by(addr) {
                    Ok(pid) => p.lock().unwrap().push(pid),
                    Err(e) => f.lock().unwrap().push(e.to_string()),
                }
                count += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            count
        });
        Load {
            stop,
            seen,
            failures,
            thread: Some(thread),
        }
    }

    fn latest(&self) -> Option<u32> {
        self.seen.lock().unwrap().last().copied()
    }

    fn recent(&self, n: usize) -> BTreeSet<u32> {
        let seen = self.seen.lock().unwrap();
        seen.iter().rev().take(n).copied().collect()
    }

    /// Stops it: how many connections it made, and what failed.
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let count = self.thread.take().unwrap().join().unwrap();
        (count, self.failures.lock().unwrap().clone())
    }
}

#[test]
fn usr2_hands_a_plain_server_over_to_a_new_process_refusing_nobody() {
    let mut old = Server::start(&["-l", "tcp://127.0.0.1:0=cmd", "-l", "http://127.0.0.1:0"]);
    let tcp = old.addr("tcp", "cmd");
    let web = old.addr("http", "web");
    let started = Arc::new(Mutex::new(Vec::new()));
    let _cleanup = KillOnDrop(started.clone());
    // A WebSocket open across the hand-over is told to come back (1001).
    let mut ws = Proc::spawn(sockloop(&["ws", "-v", &format!("ws://{web}/ws")]));
    ws.wait_stderr("connected", WAIT);
    let load = Load::start(tcp);
    assert!(wait_until(WAIT, || load.latest() == Some(old.pid())));
    old.signal("USR2");
    assert!(
        wait_until(WAIT, || load.latest().is_some_and(|p| p != old.pid())),
        "no new process answers\n{}",
        old.stderr()
    );
    let new = load.latest().unwrap();
    started.lock().unwrap().push(new);
    // The old one drains and exits (its output pipes stay open in the new one, so
    // wait for the exit alone).
    assert!(
        wait_until(WAIT, || old.try_exit().is_some()),
        "the old process still runs\n{}",
        old.stderr()
    );
    assert!(old.try_exit().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    let (count, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {count} failed: {failures:?}",
        failures.len()
    );
    assert!(count > 100, "only {count} connections were tried");
    let exe = std::fs::read_link(format!("/proc/{new}/exe")).unwrap();
    assert_eq!(exe, std::fs::canonicalize(BIN).unwrap());
    ws.wait_stderr("1001 (going away)", WAIT);
    let err = old.stderr();
    assert!(err.contains("SIGUSR2: started"), "{err}");
    assert!(err.contains("is ready: handing over"), "{err}");
    kill("TERM", new);
    assert!(wait_until(WAIT, || !alive(new)));
}

#[test]
fn usr2_on_the_supervisor_replaces_every_worker_refusing_nobody() {
    let mut server = Server::start(&["--workers", "2", "-l", "tcp://127.0.0.1:0=cmd"]);
    let tcp = server.addr("tcp", "cmd");
    let before = pids(tcp, 32);
    assert_eq!(before.len(), 2);
    let load = Load::start(tcp);
    std::thread::sleep(Duration::from_millis(200));
    server.signal("USR2");
    let replaced = || {
        let recent = load.recent(32);
        recent.len() == 2 && recent.is_disjoint(&before)
    };
    assert!(wait_until(WAIT, replaced), "{}", server.stderr());
    assert!(
        wait_until(WAIT, || before.iter().all(|p| !alive(*p))),
        "the old workers still run\n{}",
        server.stderr()
    );
    let (count, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {count} failed: {failures:?}",
        failures.len()
    );
    let after = pids(tcp, 32);
    assert!(after.is_disjoint(&before));
    for pid in &after {
        assert_eq!(parent_of(*pid), Some(server.pid()));
    }
    server.wait_stderr("the old ones", WAIT);
    server.signal("TERM");
    assert!(server.wait_exit(WAIT).success());
}

#[test]
fn usr2_with_no_binary_to_start_serves_on() {
    let dir = TempDir::new("upgrade-missing");
    let copy = dir.join("sockloop");
    std::fs::copy(BIN, &copy).unwrap();
    let mut command = Command::new(&copy);
    command.args(["serve", "-l", "tcp://127.0.0.1:0=cmd"]);
    let mut p = Proc::spawn(command);
    let line = p.next_line(&mut 0, "  tcp", WAIT);
    let addr: SocketAddr = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    std::fs::remove_file(&copy).unwrap();
    p.signal("USR2");
    p.wait_stderr("SIGUSR2: cannot start", WAIT);
    assert_eq!(served_by(addr).unwrap(), p.pid(), "still serving");
}

#[test]
fn a_worker_that_keeps_dying_young_waits_longer_each_time() {
    let mut server = Server::start(&["--workers", "1", "-l", "tcp://127.0.0.1:0=cmd"]);
    let tcp = server.addr("tcp", "cmd");
    for backoff in ["0.1", "0.2", "0.4"] {
        let worker = served_by(tcp).expect("a worker answers");
        kill("KILL", worker);
        server.wait_stderr(&format!("restarting it in {backoff} s"), WAIT);
        assert!(wait_until(WAIT, || served_by(tcp).is_ok_and(|p| p != worker)));
    }
    server.signal("TERM");
    assert!(server.wait_exit(WAIT).success());
    assert!(
        server.stderr().contains("1 worker ran; 3 restarts"),
        "{}",
        server.stderr()
    );
}
