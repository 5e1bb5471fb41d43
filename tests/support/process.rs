//! The one process type of the tests, for servers, clients and peers alike: a child
//! with stdin fed by a writer thread (so a child that stops reading never blocks the
//! test), stdout and stderr gathered by reader threads (so its pipes never fill), and
//! killed on drop, so a failing test leaves nothing behind.
//!
//! What a test does with it beyond that comes in small modules of their own, so that
//! each test binary compiles only what it uses (an item one of them left unused would
//! warn): `output`, `stdout_wait`, `stderr_wait` (wait for what it prints),
//! `client_run` (feed its stdin), `exit`, `signal`, `procfs`, `finished`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sockloop");

/// How often a wait looks at the child again: often enough that a measured run time
/// is off by no more than this.
pub(super) const POLL: Duration = Duration::from_millis(2);

pub struct Proc {
    child: Child,
    /// What was started, for failure messages.
    pub(super) what: String,
    pub(super) stdin: Option<Sender<Vec<u8>>>,
    stdin_writer: Option<JoinHandle<()>>,
    stdout: Captured,
    stderr: Captured,
    pub(super) started: Instant,
    status: Option<ExitStatus>,
}

/// `command.spawn()`, tried again while it fails with "Text file busy". A test that
/// has just written an executable (a copy of sockloop) can meet that: another test
/// thread forking at the same moment holds the written file's descriptor open until
/// its child execs, and Linux refuses to run a file open for writing. The window is
/// a fork's length, so a few tries a few milliseconds apart get past it.
fn spawn_past_busy_text(command: &mut Command) -> std::io::Result<Child> {
    const ETXTBSY: i32 = 26;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// The command `sockloop ARGS`, for [`Proc::spawn`].
pub fn sockloop(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args);
    command
}

impl Proc {
    /// Any program: sockloop, a wrapper that execs it (the process id stays the one
    /// sockloop runs as), or a peer.
    pub fn spawn(mut command: Command) -> Proc {
        let what = describe(&command);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child =
            spawn_past_busy_text(&mut command).unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let stdout = Captured::start(child.stdout.take().expect("stdout pipe"));
        let stderr = Captured::start(child.stderr.take().expect("stderr pipe"));
        let (stdin, chunks) = mpsc::channel::<Vec<u8>>();
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let stdin_writer = std::thread::spawn(move || {
            // Ends, closing the pipe, when the sender is dropped or the child stops
            // reading for good (EPIPE).
            for chunk in chunks {
                if pipe.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        Proc {
            child,
            what,
            stdin: Some(stdin),
            stdin_writer: Some(stdin_writer),
            stdout,
            stderr,
            started: Instant::now(),
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Once the process has exited, waits for the readers to take the last of its
    /// output.
    pub(super) fn finish_output(&mut self) {
        if self.status.is_some() {
            self.stdout.finish();
            self.stderr.finish();
        }
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            let pid = self.pid();
            match self.child.try_wait() {
                Ok(status) => self.status = status,
                Err(e) => panic!("{}: try_wait on pid {pid}: {e}", self.what),
            }
        }
        self.status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        drop(self.stdin.take());
        if let Some(writer) = self.stdin_writer.take() {
            // The pipe's reader is gone, so the writer cannot block any more.
            let _ = writer.join();
        }
    }
}

/// `program args...` with the program's file name only: the full path of the binary
/// under test says nothing in a failure message.
fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    let mut words = vec![program];
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Everything a child wrote to one pipe so far, gathered by a thread that reads to EOF.
struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    fn start(mut pipe: impl Read + Send + 'static) -> Captured {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bytes);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if let Ok(mut all) = sink.lock() {
                            all.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
        });
        Captured {
            bytes,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        self.bytes
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits for the reader to reach EOF: call only once the child has exited.
    fn finish(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
