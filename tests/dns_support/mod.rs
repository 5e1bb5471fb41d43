//! Helpers for the `sockloop lookup` tests: an independent DNS server (dnsmasq) on
//! 127.0.0.1 with a small authoritative zone, and a way to run the client with a
//! deadline.
//!
//! dnsmasq is a real, widely deployed DNS server written in C by other people, so the
//! tests check our encoder and parser against someone else's. It is installed by
//! `scripts/install-test-deps.sh` (Debian package dnsmasq-base, which has no system
//! service). When it is missing, the tests that need it print SKIPPED and return —
//! unless `SOCKLOOP_REQUIRE_TEST_DEPS` is set (CI sets it), in which case they fail.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sockloop");

/// A client run that takes longer than this is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------
// The zone every test server serves
// ---------------------------------------------------------------------------------

pub const WWW_V4: [&str; 2] = ["192.0.2.10", "192.0.2.11"];
pub const WWW_V6: &str = "2001:db8::10";
pub const V6ONLY: &str = "2001:db8::99";
/// Addresses of `big.example.test`: 40 A records, 746 bytes over TCP, so the UDP
/// answer (512 bytes at most without EDNS) is cut short and has TC set.
pub fn big_addresses() -> Vec<String> {
    (101..=140).map(|i| format!("192.0.2.{i}")).collect()
}

fn zone_config(port: u16, listen: &str, log: &Path) -> String {
    let mut lines = vec![
        format!("port={port}"),
        format!("listen-address={listen}"),
        "bind-interfaces".into(),
        "no-resolv".into(),
        "no-hosts".into(),
        "log-queries".into(),
        format!("log-facility={}", log.display()),
        // Authoritative for example.test and the reverse zones of its subnets: queries
        // arriving on the listen address are answered from the zone, anything else is
        // REFUSED.
        format!("auth-server=ns1.example.test,{listen}"),
        "auth-sec-servers=ns2.example.test".into(),
        "auth-zone=example.test,192.0.2.0/24,2001:db8::/64".into(),
        format!("host-record=www.example.test,{},{WWW_V6}", WWW_V4[0]),
        format!("host-record=www.example.test,{}", WWW_V4[1]),
        "cname=alias.example.test,www.example.test".into(),
        format!("host-record=v6only.example.test,{V6ONLY}"),
        "txt-record=txtonly.example.test,only text here".into(),
    ];
    for ip in big_addresses() {
        lines.push(format!("host-record=big.example.test,{ip}"));
    }
    lines.join("\n") + "\n"
}

// ---------------------------------------------------------------------------------
// Finding dnsmasq
// ---------------------------------------------------------------------------------

pub fn deps_required() -> bool {
    std::env::var_os("SOCKLOOP_REQUIRE_TEST_DEPS").is_some_and(|v| !v.is_empty())
}

pub fn dnsmasq_path() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = vec!["/usr/sbin/dnsmasq".into(), "/sbin/dnsmasq".into()];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("dnsmasq")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// dnsmasq, or `None` after saying the test is skipped (a failure if CI requires it).
pub fn dnsmasq_or_skip(test: &str) -> Option<PathBuf> {
    match dnsmasq_path() {
        Some(p) => Some(p),
        None if deps_required() => panic!(
            "{test}: dnsmasq not found but SOCKLOOP_REQUIRE_TEST_DEPS is set — \
             run scripts/install-test-deps.sh"
        ),
        None => {
            skipped(&format!(
                "{test}: dnsmasq not found (run scripts/install-test-deps.sh; \
                 set SOCKLOOP_REQUIRE_TEST_DEPS=1 to make this a failure)"
            ));
            None
        }
    }
}

/// Says a test is skipped on the real stderr: `eprintln!` would be captured by the test
/// harness and never shown for a test that returns normally.
pub fn skipped(why: &str) {
    let line = format!("SKIPPED {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

// ---------------------------------------------------------------------------------
// Temp dirs
// ---------------------------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("sl-dns-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file in the dir and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------

pub fn ipv6_loopback_works() -> bool {
    UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// A port free for both UDP and TCP on `ip` right now.
fn free_port(ip: &str) -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind((ip, 0)).expect("bind UDP port 0");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on {ip}");
}

/// True if a DNS query sent over UDP to `addr` gets any answer within 200 ms.
fn answers_udp(addr: SocketAddr) -> bool {
    use sockloop::proto::dns::{self, Name, RType};
    let bind: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0".parse().expect("addr")
    } else {
        "[::1]:0".parse().expect("addr")
    };
    let Ok(sock) = UdpSocket::bind(bind) else {
        return false;
    };
    let name: Name = "example.test".parse().expect("name");
    let query = dns::query(4242, &name, RType::SOA, false);
    let mut buf = [0u8; 512];
    sock.connect(addr).is_ok()
        && sock
            .set_read_timeout(Some(Duration::from_millis(200)))
            .is_ok()
        && sock.send(&query).is_ok()
        && sock.recv(&mut buf).is_ok_and(|n| n >= 12)
}

pub struct Dnsmasq {
    child: Child,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Dnsmasq {
    /// Starts dnsmasq serving the test zone on `listen` ("127.0.0.1" or "::1") and waits
    /// until it accepts TCP connections (it opens UDP and TCP together).
    pub fn start(path: &Path, listen: &str) -> Dnsmasq {
        let dir = TempDir::new("dnsmasq");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port(listen);
            let log = dir.join("dnsmasq.log");
            let conf = dir.file("dnsmasq.conf", &zone_config(port, listen, &log));
            let mut child = Command::new(path)
                .arg("--no-daemon")
                .arg(format!("--conf-file={}", conf.display()))
                .arg("--pid-file=")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    fs::File::create(dir.join("stderr")).expect("stderr file"),
                ))
                .spawn()
                .expect("start dnsmasq");
            let addr = SocketAddr::new(listen.parse().expect("listen ip"), port);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                // Ready means answering over UDP (what the client asks first) as well
                // as accepting TCP: dnsmasq may open one a moment before the other.
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                    && answers_udp(addr)
                {
                    return Dnsmasq { child, addr, dir };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last_log = format!(
                        "dnsmasq exited ({status}): {}",
                        fs::read_to_string(dir.join("stderr")).unwrap_or_default()
                    );
                    break; // most likely the port was taken meanwhile: try another
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log = "dnsmasq did not start listening within 5 s".into();
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("cannot start dnsmasq: {last_log}");
    }

    /// `IP:PORT` for `--server`.
    pub fn server_arg(&self) -> String {
        self.addr.to_string()
    }

    /// What dnsmasq logged (each query it saw), for failure messages.
    pub fn log(&self) -> String {
        let mut text = fs::read_to_string(self.dir.join("dnsmasq.log")).unwrap_or_default();
        text.push_str(&fs::read_to_string(self.dir.join("stderr")).unwrap_or_default());
        text
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------
// Running the client
// ---------------------------------------------------------------------------------

#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Environment every run gets: a resolv.conf that points at loopback, so a test that
/// forgets --server can never send a query off this machine.
pub struct Env {
    dir: TempDir,
    vars: Vec<(String, PathBuf)>,
}

impl Env {
    pub fn new() -> Env {
        let dir = TempDir::new("env");
        let resolv = dir.file("resolv.conf", "# tests\nnameserver 127.0.0.1\n");
        Env {
            dir,
            vars: vec![("SOCKLOOP_RESOLV_CONF".into(), resolv)],
        }
    }

    /// Uses this text as the hosts file instead of /etc/hosts.
    pub fn hosts(mut self, text: &str) -> Env {
        let p = self.dir.file("hosts", text);
        self.vars.push(("SOCKLOOP_HOSTS".into(), p));
        self
    }

    pub fn resolv_conf(mut self, text: &str) -> Env {
        let p = self.dir.file("resolv.conf", text);
        self.vars.retain(|(k, _)| k != "SOCKLOOP_RESOLV_CONF");
        self.vars.push(("SOCKLOOP_RESOLV_CONF".into(), p));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("lookup").args(args);
        cmd.env_remove("SOCKLOOP_HOSTS");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `sockloop lookup ARGS`, killing it after [`RUN_LIMIT`].
    pub fn run(&self, args: &[&str]) -> Run {
        let started = Instant::now();
        let mut child = self.command(args).spawn().expect("start sockloop");
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_string(&mut text);
                }
                text
            })
        };
        let out = read(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let err = read(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for sockloop") {
                break status;
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sockloop lookup {args:?} still running after {RUN_LIMIT:?}: killed");
            }
            thread::sleep(Duration::from_millis(5));
        };
        let elapsed = started.elapsed();
        Run {
            status,
            stdout: out.join().expect("stdout reader"),
            stderr: err.join().expect("stderr reader"),
            elapsed,
        }
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

// ---------------------------------------------------------------------------------
// Hand-written wire bytes (independent of proto::dns)
// ---------------------------------------------------------------------------------

/// A query for `name`/`qtype`, class IN, RD off, written out by hand.
pub fn raw_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

/// Asks `server` over UDP with hand-written bytes and returns the raw reply.
pub fn raw_udp_exchange(server: SocketAddr, query: &[u8]) -> Vec<u8> {
    let bind: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().expect("addr")
    } else {
        "[::1]:0".parse().expect("addr")
    };
    let s = UdpSocket::bind(bind).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.send_to(query, server).expect("send");
    let mut buf = [0u8; 2048];
    let n = s.recv(&mut buf).expect("reply from the DNS server");
    buf[..n].to_vec()
}

/// Asks `server` over TCP with hand-written bytes and returns the raw reply.
pub fn raw_tcp_exchange(server: SocketAddr, query: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).expect("send");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).expect("length");
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut reply).expect("reply");
    reply
}
