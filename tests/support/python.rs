//! Python peers: the scripts in `tests/peers/`, run by `python3` (standard library
//! only) or by the test venv's python with the independent `websockets` package.

use super::deps;
use super::finished::CHILD_TIMEOUT;
use super::process::Proc;
use super::stdout_wait::OUTPUT_TIMEOUT;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `python3`, or `None` after saying why the test is skipped (see [`deps::missing`]).
pub fn python3() -> Option<PathBuf> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let python = PathBuf::from("python3");
    if *FOUND.get_or_init(|| python_can(&python, "import socket")) {
        return Some(python);
    }
    deps::missing("python3 is not on PATH (install Python 3)")
}

/// True if `python -c CODE` succeeds within [`CHILD_TIMEOUT`].
pub fn python_can(python: &Path, code: &str) -> bool {
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

/// A peer script from `tests/peers/`, running until it exits or is dropped. It prints
/// `READY ADDRESS` first, then one line per event.
pub struct Peer {
    process: Proc,
    /// How much of its stdout [`Peer::wait_line`] has looked at.
    lines_read: usize,
    /// The address from its `READY` line.
    pub addr: String,
}

impl Peer {
    pub fn start(python: &Path, script: &str, args: &[&str]) -> Peer {
        let mut command = Command::new(python);
        command
            .arg("-u")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/peers")
                    .join(script),
            )
            .args(args);
        let mut peer = Peer {
            process: Proc::spawn(command),
            lines_read: 0,
            addr: String::new(),
        };
        let ready = peer.wait_line("READY ");
        peer.addr = ready["READY ".len()..].to_string();
        peer
    }

    /// The next line starting with `prefix` (passing over the lines before it); panics
    /// after [`OUTPUT_TIMEOUT`] or if the peer exits first.
    pub fn wait_line(&mut self, prefix: &str) -> String {
        self.process
            .next_line(&mut self.lines_read, prefix, OUTPUT_TIMEOUT)
    }

    /// Every line printed after `READY`, once the peer has exited (within
    /// [`CHILD_TIMEOUT`]).
    pub fn lines_to_exit(&mut self) -> Vec<String> {
        self.process.wait_exit(CHILD_TIMEOUT);
        self.process
            .stdout()
            .lines()
            .filter(|l| !l.starts_with("READY "))
            .map(str::to_string)
            .collect()
    }
}
