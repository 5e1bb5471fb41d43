//! Shared helpers for the client integration tests (`client_*.rs`): run a `sockloop`
//! client as a real process with its stdin piped, watch what it prints, start small
//! peers (inline `std::net` servers and the Python scripts in `tests/peers/`), and send
//! signals.
//!
//! Every wait has a deadline: a client still running after [`CHILD_TIMEOUT`] is killed
//! and the test fails with everything it printed, so a hung client never hangs the
//! suite. Peers kill themselves after 15 s and are killed on drop.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sockloop");

/// The longest any client process may run.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout for socket operations of the inline peers.
pub const PEER_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for one expected piece of output.
pub const OUTPUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Set to 1 (in CI) to make missing test dependencies a failure instead of a skip.
pub const REQUIRE_DEPS_VAR: &str = "SOCKLOOP_REQUIRE_TEST_DEPS";
/// How to install what the WebSocket peer tests need, from the repository root.
pub const VENV_INSTALL: &str =
    "python3 -m venv target/test-venv && target/test-venv/bin/pip install websockets";

// ---------------------------------------------------------------------------------
// A client process
// ---------------------------------------------------------------------------------

type Sink = Arc<Mutex<Vec<u8>>>;

/// A running process with stdin piped (fed by a writer thread, so a client that
/// stops reading never blocks the test) and stdout/stderr collected; killed on drop.
pub struct Proc {
    child: Child,
    what: String,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    stdin_thread: Option<JoinHandle<()>>,
    stdout: Sink,
    stderr: Sink,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
    status: Option<ExitStatus>,
}

/// How a process ended and everything it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit (as seen by polling every few ms).
    pub elapsed: Duration,
    what: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit code, showing all output if it differs.
    pub fn assert_code(&self, code: i32) -> &Finished {
        assert_eq!(
            self.status.code(),
            Some(code),
            "{}: exit status {:?}, expected {code}\nstdout: {:?}\nstderr: {:?}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stderr contains `needle`.
    pub fn assert_stderr_has(&self, needle: &str) -> &Finished {
        assert!(
            self.stderr.contains(needle),
            "{}: stderr lacks {needle:?}\nstderr: {:?}\nstdout: {:?}",
            self.what,
            self.stderr,
            self.stdout
        );
        self
    }

    /// Asserts stdout is exactly `expected`.
    pub fn assert_stdout(&self, expected: &str) -> &Finished {
        assert_eq!(
            self.stdout, expected,
            "{}: stdout differs (stderr: {:?})",
            self.what, self.stderr
        );
        self
    }
}

impl Proc {
    /// `sockloop ARGS` with stdin, stdout and stderr piped.
    pub fn sockloop(args: &[&str]) -> Proc {
        let mut command = Command::new(BIN);
        command.args(args);
        Proc::spawn(command, &format!("sockloop {}", args.join(" ")))
    }

    pub fn spawn(mut command: Command, what: &str) -> Proc {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let stdout: Sink = Arc::default();
        let stderr: Sink = Arc::default();
        let readers = vec![
            collect(child.stdout.take().expect("stdout pipe"), &stdout),
            collect(child.stderr.take().expect("stderr pipe"), &stderr),
        ];
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let mut pipe: ChildStdin = child.stdin.take().expect("stdin pipe");
        let stdin_thread = std::thread::spawn(move || {
            // Ends (closing the pipe) when the sender is dropped or the child stops
            // reading for good (EPIPE).
            for chunk in rx {
                if pipe.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        Proc {
            child,
            what: what.to_string(),
            stdin: Some(tx),
            stdin_thread: Some(stdin_thread),
            stdout,
            stderr,
            readers,
            started: Instant::now(),
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Queues `bytes` for the child's stdin.
    pub fn write(&self, bytes: &[u8]) {
        if let Some(tx) = &self.stdin {
            let _ = tx.send(bytes.to_vec());
        } else {
            panic!("{}: stdin already closed", self.what);
        }
    }

    /// Closes stdin (end of input) once everything queued has been written.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout.lock().map(|b| b.clone()).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// Waits until stdout contains `needle`; panics with all output after `timeout`
    /// (or at once if the process has exited without printing it).
    pub fn wait_stdout(&mut self, needle: &str) {
        self.wait_for("stdout", needle, |p| p.stdout().contains(needle));
    }

    /// Waits until stderr contains `needle`, like [`Proc::wait_stdout`].
    pub fn wait_stderr(&mut self, needle: &str) {
        self.wait_for("stderr", needle, |p| p.stderr().contains(needle));
    }

    fn wait_for(&mut self, stream: &str, needle: &str, found: impl Fn(&Proc) -> bool) {
        let deadline = Instant::now() + OUTPUT_TIMEOUT;
        loop {
            if found(self) {
                return;
            }
            let exited = self.try_exit().is_some();
            if exited {
                // The readers may still hold the last bytes.
                self.join_readers();
                if found(self) {
                    return;
                }
            }
            if exited || Instant::now() >= deadline {
                panic!(
                    "{}: {stream} never showed {needle:?} ({})\nstdout: {:?}\nstderr: {:?}",
                    self.what,
                    match self.status {
                        Some(s) => format!("exited: {s}"),
                        None => format!("still running after {OUTPUT_TIMEOUT:?}"),
                    },
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// True if the process is still running after `d` (it is given that long to exit).
    pub fn still_running_after(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if self.try_exit().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.try_exit().is_none()
    }

    /// Sends a signal by name (`INT`, `TERM`) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// Waits for the exit (killing the process and failing after [`CHILD_TIMEOUT`]
    /// from its start) and returns the status with all output.
    pub fn wait(mut self) -> Finished {
        let deadline = self.started + CHILD_TIMEOUT;
        let status = loop {
            if let Some(status) = self.try_exit() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.join_readers();
                panic!(
                    "{}: still running after {CHILD_TIMEOUT:?}; killed\nstdout: {:?}\nstderr: {:?}",
                    self.what,
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = self.started.elapsed();
        self.stdin = None;
        self.join_readers();
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            elapsed,
            what: self.what.clone(),
        }
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stdin = None;
        if let Some(t) = self.stdin_thread.take() {
            // The pipe's reader is gone, so the writer cannot block any more.
            let _ = t.join();
        }
    }
}

fn collect(mut pipe: impl Read + Send + 'static, sink: &Sink) -> JoinHandle<()> {
    let sink = Arc::clone(sink);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if let Ok(mut s) = sink.lock() {
                        s.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
    })
}

fn text(sink: &Sink) -> String {
    sink.lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Runs `sockloop ARGS` with `input` on stdin (then end of input) to completion.
pub fn run(args: &[&str], input: &[u8]) -> Finished {
    let mut p = Proc::sockloop(args);
    if !input.is_empty() {
        p.write(input);
    }
    p.close_stdin();
    p.wait()
}

// ---------------------------------------------------------------------------------
// Inline peers
// ---------------------------------------------------------------------------------

/// Binds 127.0.0.1:0 and serves one connection with `serve` on a thread; the
/// accepted stream has [`PEER_IO_TIMEOUT`] on reads and writes, and accepting gives
/// up after [`CHILD_TIMEOUT`].
pub fn tcp_peer<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, PeerThread<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind peer");
    let addr = listener.local_addr().expect("peer address");
    let handle = std::thread::spawn(move || {
        let stream = accept_within(&listener, CHILD_TIMEOUT);
        serve(stream)
    });
    (addr, PeerThread { handle })
}

/// Accepts one connection within `timeout` (panics otherwise).
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> TcpStream {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                stream
                    .set_read_timeout(Some(PEER_IO_TIMEOUT))
                    .expect("timeout");
                stream
                    .set_write_timeout(Some(PEER_IO_TIMEOUT))
                    .expect("timeout");
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "peer: no connection within {timeout:?}"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("peer accept: {e}"),
        }
    }
}

/// A peer's thread; `join` waits at most [`CHILD_TIMEOUT`] and re-raises its panic.
pub struct PeerThread<T> {
    handle: JoinHandle<T>,
}

impl<T> From<JoinHandle<T>> for PeerThread<T> {
    fn from(handle: JoinHandle<T>) -> PeerThread<T> {
        PeerThread { handle }
    }
}

impl<T> PeerThread<T> {
    pub fn join(self) -> T {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        while !self.handle.is_finished() {
            assert!(
                Instant::now() < deadline,
                "peer thread still busy after {CHILD_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        match self.handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Reads until EOF (panics on a timeout or error).
pub fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream
        .read_to_end(&mut all)
        .unwrap_or_else(|e| panic!("peer: read to EOF: {e} (after {} bytes)", all.len()));
    all
}

/// Reads one `\n`-terminated line (without it); panics on EOF or timeout.
pub fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    let n = reader
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("peer: read line: {e}"));
    assert!(n > 0 && line.ends_with('\n'), "peer: EOF in {line:?}");
    line.pop();
    line
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn free_tcp_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

// ---------------------------------------------------------------------------------
// Python peers
// ---------------------------------------------------------------------------------

/// The directory of the peer scripts.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// The venv's python, where `websockets` is installed.
pub fn venv_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python")
}

/// `python3` (standard library only), or `None` after printing why the test is
/// skipped (a panic if [`REQUIRE_DEPS_VAR`] is 1).
pub fn python3() -> Option<PathBuf> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let ok = *FOUND.get_or_init(|| python_can(&PathBuf::from("python3"), "import socket"));
    if ok {
        return Some(PathBuf::from("python3"));
    }
    missing("python3 is not on PATH (install Python 3)")
}

/// The test venv's python with `websockets` importable, or `None` after printing why
/// the test is skipped (a panic if [`REQUIRE_DEPS_VAR`] is 1).
pub fn websockets_python() -> Option<PathBuf> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let python = venv_path();
    let ok = *FOUND.get_or_init(|| python_can(&python, "import websockets.sync.server"));
    if ok {
        return Some(python);
    }
    missing(&format!(
        "{} cannot import websockets.sync.server; install it with: {VENV_INSTALL}",
        python.display()
    ))
}

fn missing<T>(why: &str) -> Option<T> {
    if std::env::var(REQUIRE_DEPS_VAR).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_DEPS_VAR}=1 but {why}");
    }
    eprintln!("skipping: {why} (set {REQUIRE_DEPS_VAR}=1 to make this a failure)");
    None
}

fn python_can(python: &PathBuf, code: &str) -> bool {
    let Ok(mut child) = Command::new(python)
        .args(["-c", code])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + CHILD_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// A Python peer script from `tests/peers/`, running until it exits or is dropped.
/// It prints `READY ADDRESS` first, then one line per event.
pub struct Peer {
    child: Child,
    what: String,
    /// The address from its `READY` line.
    pub addr: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Sink,
}

impl Peer {
    pub fn start(python: &PathBuf, script: &str, args: &[&str]) -> Peer {
        let what = format!("peer {script} {}", args.join(" "));
        let mut child = Command::new(python)
            .arg("-u")
            .arg(peers_dir().join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let stderr: Sink = Arc::default();
        collect(child.stderr.take().expect("stderr"), &stderr);
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut peer = Peer {
            child,
            what,
            addr: String::new(),
            lines: rx,
            seen: Vec::new(),
            stderr,
        };
        let ready = peer.wait_line("READY ");
        peer.addr = ready["READY ".len()..].to_string();
        peer
    }

    /// The next line starting with `prefix` (earlier lines are kept in `seen`);
    /// panics after [`OUTPUT_TIMEOUT`] or if the peer exits first.
    pub fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + OUTPUT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "{}: no line starting with {prefix:?} ({e:?})\nlines: {:?}\nstderr: {}",
                    self.what,
                    self.seen,
                    text(&self.stderr)
                ),
            }
        }
    }

    /// Every line printed after `READY` until the peer exits (at most [`CHILD_TIMEOUT`]).
    pub fn lines_to_exit(&mut self) -> Vec<String> {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{}: still running after {CHILD_TIMEOUT:?}\nlines: {:?}",
                    self.what, self.seen
                ),
            }
        }
        let _ = self.child.wait();
        self.seen
            .iter()
            .filter(|l| !l.starts_with("READY "))
            .cloned()
            .collect()
    }

    /// The peer's stderr so far (Python tracebacks land here).
    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------
// Small things
// ---------------------------------------------------------------------------------

/// True when the tests run as root (which ignores socket file permissions).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Deterministic filler bytes for bulk transfers (no `STOP` line can appear: only
/// digits and newlines).
pub fn digits(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'0' + ((i * 7 + i / 64) % 10) as u8
            }
        })
        .collect()
}
