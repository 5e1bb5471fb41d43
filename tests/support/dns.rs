//! The DNS fixture of the `sockloop lookup` tests: an independent DNS server (dnsmasq)
//! on loopback with a small authoritative zone, an environment that keeps the client
//! on this machine, and DNS queries written out by hand.
//!
//! dnsmasq is a real, widely deployed DNS server written in C by other people, so the
//! tests check our encoder and parser against someone else's. It is installed by
//! `scripts/install-test-deps.sh` (Debian package dnsmasq-base, which has no system
//! service); without it the tests that need it are skipped (see [`deps::missing`]).

use super::deps;
use super::finished::Finished;
use super::process::{Proc, sockloop};
use super::temp::TempDir;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

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

/// dnsmasq, or `None` after saying the test is skipped (see [`deps::missing`]).
pub fn dnsmasq_or_skip(test: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = vec!["/usr/sbin/dnsmasq".into(), "/sbin/dnsmasq".into()];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("dnsmasq")));
    }
    match candidates.into_iter().find(|p| p.is_file()) {
        Some(p) => Some(p),
        None => deps::missing(&format!(
            "{test}: dnsmasq not found (run scripts/install-test-deps.sh)"
        )),
    }
}

/// Writes a file in `dir` and returns its path.
fn write_file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).expect("write temp file");
    p
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
    process: Proc,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Dnsmasq {
    /// Starts dnsmasq serving the test zone on `listen` ("127.0.0.1" or "::1") and waits
    /// until it answers over UDP and accepts TCP connections.
    pub fn start(path: &Path, listen: &str) -> Dnsmasq {
        let dir = TempDir::new("dnsmasq");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port(listen);
            let log = dir.join("dnsmasq.log");
            let conf = write_file(&dir, "dnsmasq.conf", &zone_config(port, listen, &log));
            let mut command = Command::new(path);
            command
                .arg("--no-daemon")
                .arg(format!("--conf-file={}", conf.display()))
                .arg("--pid-file=");
            let mut process = Proc::spawn(command);
            let addr = SocketAddr::new(listen.parse().expect("listen ip"), port);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                // Ready means answering over UDP (what the client asks first) as well
                // as accepting TCP: dnsmasq may open one a moment before the other.
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                    && answers_udp(addr)
                {
                    return Dnsmasq { process, addr, dir };
                }
                if process.try_exit().is_some() {
                    // Exited: its last words are all there once it is waited for.
                    let status = process.wait_exit(Duration::from_secs(1));
                    last_log = format!("dnsmasq exited ({status}): {}", process.stderr());
                    break; // most likely the port was taken meanwhile: try another
                }
                if Instant::now() > deadline {
                    last_log = "dnsmasq did not start listening within 5 s".into();
                    break; // dropping the process kills it
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
        text.push_str(&self.process.stderr());
        text
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
        let env = Env {
            dir: TempDir::new("env"),
            vars: Vec::new(),
        };
        env.file(
            "SOCKLOOP_RESOLV_CONF",
            "resolv.conf",
            "# tests\nnameserver 127.0.0.1\n",
        )
    }

    /// Points the variable `var` at a file `name` holding `text` (the hosts file or
    /// resolv.conf the client reads instead of the system's).
    pub fn file(mut self, var: &str, name: &str, text: &str) -> Env {
        let p = write_file(&self.dir, name, text);
        self.vars.retain(|(k, _)| k != var);
        self.vars.push((var.to_string(), p));
        self
    }

    /// `sockloop lookup ARGS`, started in this environment.
    pub fn start(&self, args: &[&str]) -> Proc {
        let mut command = sockloop(&["lookup"]);
        command.args(args);
        command.env_remove("SOCKLOOP_HOSTS");
        for (k, v) in &self.vars {
            command.env(k, v);
        }
        Proc::spawn(command)
    }

    /// Runs `sockloop lookup ARGS` to its end (see [`Proc::wait`] for the deadline).
    pub fn run(&self, args: &[&str]) -> Finished {
        self.start(args).wait()
    }
}

impl Finished {
    /// The exit code, -1 if a signal ended the run.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}
