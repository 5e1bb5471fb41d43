//! Shared helpers for the integration tests: start a real `sockloop serve`, read its
//! banner, talk to it over TCP, UDP and Unix sockets with timeouts everywhere, watch
//! its process in /proc, and clean up temp dirs.
//!
//! Every blocking operation here has a deadline, so a misbehaving server makes a test
//! fail with a message instead of hanging the suite.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Timeout for every socket operation in the tests.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server may take to print its banner.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

pub const SIGTERM: &str = "TERM";
pub const SIGINT: &str = "INT";

pub const BIN: &str = env!("CARGO_BIN_EXE_sockloop");

// ---------------------------------------------------------------------------------
// Temp dirs
// ---------------------------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed (with its contents) on drop.
/// Names stay short: Unix socket paths are limited to 107 bytes.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let short: String = name.chars().take(24).collect();
        let path = std::env::temp_dir().join(format!("sl-{}-{n}-{short}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------

/// One listener line of the banner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub transport: String,
    pub address: String,
    pub service: String,
}

/// A running `sockloop serve`; killed on drop.
pub struct Server {
    child: Child,
    pub banner: Vec<String>,
    pub listeners: Vec<Listener>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Server {
    /// `sockloop serve ARGS`, waiting (at most [`STARTUP_TIMEOUT`]) for `ready`.
    pub fn start(args: &[&str]) -> Server {
        Server::start_wrapped(&[], args)
    }

    /// Like [`Server::start`] but run through a wrapper that execs the server, such as
    /// `prlimit --nofile=40:40` (the process id stays the server's).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Server {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        command
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn sockloop");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_thread = {
            let pipe = child.stderr.take().expect("stderr pipe");
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || collect(pipe, &sink))
        };
        let (tx, rx) = mpsc::channel::<String>();
        {
            let pipe = child.stdout.take().expect("stdout pipe");
            std::thread::spawn(move || {
                // Keep reading to EOF after `ready` so the pipe never fills.
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        // Nobody listens any more; keep draining.
                    }
                }
            });
        }
        let mut server = Server {
            child,
            banner: Vec::new(),
            listeners: Vec::new(),
            stderr,
            stderr_thread: Some(stderr_thread),
            status: None,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with("ready");
                    server.banner.push(line);
                    if done {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "sockloop serve {args:?}: no `ready` within {STARTUP_TIMEOUT:?}\nstdout: {:?}\nstderr: {}",
                    server.banner,
                    server.stderr()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().ok();
                    panic!(
                        "sockloop serve {args:?} ended before `ready` ({status:?})\nstdout: {:?}\nstderr: {}",
                        server.banner,
                        server.stderr()
                    )
                }
            }
        }
        server.listeners = parse_banner(&server.banner);
        server
    }

    /// The bound address of the first `transport` listener running `service`.
    pub fn addr(&self, transport: &str, service: &str) -> SocketAddr {
        let l = self.listener(transport, service);
        l.address
            .parse()
            .unwrap_or_else(|e| panic!("banner address {:?}: {e}", l.address))
    }

    /// The socket path of the first Unix listener running `service`.
    pub fn path(&self, service: &str) -> PathBuf {
        PathBuf::from(&self.listener("unix", service).address)
    }

    fn listener(&self, transport: &str, service: &str) -> &Listener {
        self.listeners
            .iter()
            .find(|l| l.transport == transport && l.service == service)
            .unwrap_or_else(|| {
                panic!(
                    "no {transport} {service} listener in banner {:?}",
                    self.banner
                )
            })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
            if self.status.is_some() {
                self.join_stderr();
            }
        }
        self.status
    }

    /// Waits for the process to end; panics (with its stderr) after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "server {} still running after {timeout:?}\nstderr: {}",
                    self.pid(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn join_stderr(&mut self) {
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Polls stderr until it contains `needle`; false after `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.stderr().contains(needle))
    }

    /// The `Threads:` count of the server process.
    pub fn threads(&self) -> usize {
        self.status_field("Threads:")
    }

    /// Resident set size in KiB (`VmRSS:`).
    pub fn rss_kib(&self) -> usize {
        self.status_field("VmRSS:")
    }

    fn status_field(&self, key: &str) -> usize {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc/{}/status", self.pid()))
    }

    /// CPU time used so far (user + system), in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("read /proc/PID/stat");
        // Fields after the command name, which is in parentheses and may hold spaces:
        // state is field 3, utime 14, stime 15.
        let rest = &text[text.rfind(')').expect("stat format") + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields[11].parse().expect("utime");
        let stime: u64 = fields[12].parse().expect("stime");
        utime + stime
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(mut pipe: impl Read, sink: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
    }
}

/// `  <transport> <address>  <service>  try: ...` lines between the title and `ready`.
fn parse_banner(lines: &[String]) -> Vec<Listener> {
    let title = lines.first().expect("banner title");
    assert!(
        title.starts_with("sockloop ") && title.contains(" — one thread, "),
        "banner title: {title:?}"
    );
    let listeners: Vec<Listener> = lines[1..lines.len() - 1]
        .iter()
        .map(|line| {
            assert!(line.starts_with("  "), "banner line {line:?}");
            let (head, _) = line
                .split_once(" try: ")
                .unwrap_or_else(|| panic!("no `try:` in banner line {line:?}"));
            let words: Vec<&str> = head.split_whitespace().collect();
            assert_eq!(words.len(), 3, "banner line {line:?}");
            Listener {
                transport: words[0].to_string(),
                address: words[1].to_string(),
                service: words[2].to_string(),
            }
        })
        .collect();
    let n = listeners.len();
    let expected = format!(
        " — one thread, {n} listener{}",
        if n == 1 { "" } else { "s" }
    );
    assert!(
        title.ends_with(&expected),
        "banner title {title:?} for {n} listeners"
    );
    listeners
}

/// Runs `sockloop ARGS` to completion (at most `timeout`): (status, stdout, stderr).
pub fn run_to_exit(args: &[&str], timeout: Duration) -> (ExitStatus, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockloop");
    let out = Arc::new(Mutex::new(String::new()));
    let err = Arc::new(Mutex::new(String::new()));
    let t_out = {
        let pipe = child.stdout.take().expect("stdout");
        let sink = Arc::clone(&out);
        std::thread::spawn(move || collect(pipe, &sink))
    };
    let t_err = {
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&err);
        std::thread::spawn(move || collect(pipe, &sink))
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sockloop {args:?} still running after {timeout:?}\nstdout: {}\nstderr: {}",
                out.lock().unwrap(),
                err.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = t_out.join();
    let _ = t_err.join();
    let stdout = out.lock().unwrap().clone();
    let stderr = err.lock().unwrap().clone();
    (status, stdout, stderr)
}

// ---------------------------------------------------------------------------------
// Stream clients
// ---------------------------------------------------------------------------------

pub enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_nonblocking(on),
            Sock::Unix(s) => s.set_nonblocking(on),
        }
    }

    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_read_timeout(t),
            Sock::Unix(s) => s.set_read_timeout(t),
        }
    }
}

/// A stream client (TCP or Unix) with a read buffer; every read and write times out
/// after [`IO_TIMEOUT`], and helpers panic with a clear message on timeout.
pub struct Client {
    sock: Sock,
    buf: Vec<u8>,
    what: String,
}

impl Client {
    pub fn tcp(addr: SocketAddr) -> Client {
        Client::try_tcp(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    pub fn try_tcp(addr: SocketAddr) -> io::Result<Client> {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.set_nodelay(true)?;
        Ok(Client {
            sock: Sock::Tcp(s),
            buf: Vec::new(),
            what: format!("tcp {addr}"),
        })
    }

    pub fn unix(path: &Path) -> Client {
        let s =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            sock: Sock::Unix(s),
            buf: Vec::new(),
            what: format!("unix {}", path.display()),
        }
    }

    pub fn tcp_stream(&self) -> &TcpStream {
        match &self.sock {
            Sock::Tcp(s) => s,
            Sock::Unix(_) => panic!("not a TCP client"),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.sock.write(rest) {
                Ok(0) => panic!("{}: write returned 0", self.what),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("{}: write: {e}", self.what),
            }
        }
    }

    /// Sends `line` plus `\n`.
    pub fn send_line(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send(&bytes);
    }

    /// Reads more into the buffer; Ok(0) at EOF. Panics on timeout.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!(
                        "{}: no data within {IO_TIMEOUT:?} (have {} bytes: {:?})",
                        self.what,
                        self.buf.len(),
                        abbreviate(&self.buf)
                    )
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next line including its `\n`, or None at EOF (after any partial line is
    /// returned as is). Panics on timeout.
    pub fn read_line_bytes(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return Some(self.buf.drain(..=i).collect());
            }
            match self.fill() {
                Ok(0) | Err(_) => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    return Some(std::mem::take(&mut self.buf));
                }
                Ok(_) => {}
            }
        }
    }

    /// The next line without its terminator; panics at EOF or timeout.
    pub fn read_line(&mut self) -> String {
        let line = self
            .read_line_bytes()
            .unwrap_or_else(|| panic!("{}: EOF while waiting for a line", self.what));
        if line.last() != Some(&b'\n') {
            panic!(
                "{}: EOF inside a line of {} bytes: {:?}",
                self.what,
                line.len(),
                abbreviate(&line)
            );
        }
        let text = String::from_utf8(line).expect("reply is UTF-8");
        text[..text.len() - 1].to_string()
    }

    /// Sends `line\n` and returns the reply line.
    pub fn request(&mut self, line: &str) -> String {
        self.send_line(line);
        self.read_line()
    }

    /// Exactly `n` bytes; panics on EOF or timeout.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match self.fill() {
                Ok(0) => panic!("{}: EOF after {} of {n} bytes", self.what, self.buf.len()),
                Ok(_) => {}
                Err(e) => panic!("{}: read: {e}", self.what),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Everything until EOF (within [`IO_TIMEOUT`] per read). A reset counts as EOF but
    /// is reported in the result so callers can assert a clean close.
    pub fn read_to_eof(&mut self) -> (Vec<u8>, Option<io::Error>) {
        loop {
            match self.fill() {
                Ok(0) => return (std::mem::take(&mut self.buf), None),
                Ok(_) => {}
                Err(e) => return (std::mem::take(&mut self.buf), Some(e)),
            }
        }
    }

    /// Asserts the server closes cleanly (FIN) with nothing more to say.
    pub fn expect_eof(&mut self) {
        let (rest, err) = self.read_to_eof();
        assert!(
            rest.is_empty(),
            "{}: expected EOF, got {:?}",
            self.what,
            String::from_utf8_lossy(&rest)
        );
        assert!(
            err.is_none(),
            "{}: expected EOF, got error {err:?}",
            self.what
        );
    }

    /// Writes `data` from a helper thread (so the caller can read meanwhile, and
    /// neither side's buffers deadlock); the thread returns how the writes went.
    pub fn send_in_background(&self, data: Vec<u8>) -> JoinHandle<io::Result<()>> {
        let mut sock = match &self.sock {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone().expect("clone")),
            Sock::Unix(s) => Sock::Unix(s.try_clone().expect("clone")),
        };
        std::thread::spawn(move || {
            let mut rest = &data[..];
            while !rest.is_empty() {
                match sock.write(rest) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }

    pub fn shutdown_write(&self) {
        let _ = match &self.sock {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }

    /// True if the server has closed the connection (EOF or reset) within `timeout`,
    /// false if it is still open with nothing to read. Data read meanwhile is kept.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.sock.set_read_timeout(Some(timeout)).expect("timeout");
        let mut chunk = [0u8; 4096];
        let closed = loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => break true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break false;
                }
                Err(_) => break true,
            }
        };
        self.sock
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("timeout");
        closed
    }

    /// One non-blocking write attempt: Ok(n) bytes taken, Ok(0) would block.
    pub fn write_nonblocking(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sock.set_nonblocking(true)?;
        let r = match self.sock.write(bytes) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        };
        self.sock.set_nonblocking(false)?;
        r
    }
}

/// At most 120 bytes of `bytes` for a failure message.
pub fn abbreviate(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
    if bytes.len() > 120 {
        format!("{text}…")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------
// Datagram clients
// ---------------------------------------------------------------------------------

/// A UDP client bound to 127.0.0.1:0 and connected to the server.
pub struct Udp {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Udp {
    pub fn new(server: SocketAddr) -> Udp {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        sock.connect(server).expect("connect udp");
        sock.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        sock.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Udp { sock, server }
    }

    /// Sends one datagram and returns the one reply datagram.
    pub fn request(&self, payload: &[u8]) -> Vec<u8> {
        self.send(payload);
        let mut buf = vec![0u8; 65536];
        let n = self.sock.recv(&mut buf).unwrap_or_else(|e| {
            panic!(
                "udp {}: no reply to {:?} within {IO_TIMEOUT:?}: {e}",
                self.server,
                abbreviate(payload)
            )
        });
        buf.truncate(n);
        buf
    }

    pub fn send(&self, payload: &[u8]) {
        self.sock.send(payload).expect("udp send");
    }

    /// The next datagram; panics after [`IO_TIMEOUT`].
    pub fn recv(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 65536];
        let n = self.sock.recv(&mut buf).unwrap_or_else(|e| {
            panic!(
                "udp {}: no datagram within {IO_TIMEOUT:?}: {e}",
                self.server
            )
        });
        buf.truncate(n);
        buf
    }

    /// Sends `text` (no newline added) and returns the reply as a string.
    pub fn request_str(&self, text: &str) -> String {
        String::from_utf8(self.request(text.as_bytes())).expect("UTF-8 reply")
    }
}

// ---------------------------------------------------------------------------------
// Small checks
// ---------------------------------------------------------------------------------

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` with plausible field ranges.
pub fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z'
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
}

/// The current UTC time formatted like the server (from Unix seconds), to compare
/// against what daytime/TIME return.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds (days-from-civil, Howard Hinnant).
pub fn parse_rfc3339_utc(s: &str) -> i64 {
    assert!(is_rfc3339_utc(s), "not RFC 3339 UTC: {s:?}");
    let y: i64 = s[0..4].parse().unwrap();
    let m: i64 = s[5..7].parse().unwrap();
    let d: i64 = s[8..10].parse().unwrap();
    let hh: i64 = s[11..13].parse().unwrap();
    let mm: i64 = s[14..16].parse().unwrap();
    let ss: i64 = s[17..19].parse().unwrap();
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

/// Asserts a time string is RFC 3339 UTC and within a few seconds of now.
pub fn assert_time_now(s: &str) {
    let t = parse_rfc3339_utc(s);
    let now = unix_now();
    assert!(
        (t - now).abs() <= 5,
        "time {s:?} ({t}) is not close to now ({now})"
    );
}
