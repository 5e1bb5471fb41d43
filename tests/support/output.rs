//! Waiting for what a [`Proc`] prints: a line on stdout (a server's `ready`, a peer's
//! `READY`), and the machinery the other output waits share.

use super::process::{POLL, Proc};
use std::time::{Duration, Instant};

impl Proc {
    /// The next whole line of stdout after byte `*from` that starts with `prefix`;
    /// `*from` moves past it, so the lines before it are passed over for good. Panics
    /// with all output after `within`, or once the process has exited without it.
    pub fn next_line(&mut self, from: &mut usize, prefix: &str, within: Duration) -> String {
        let mut line = None;
        self.wait_for("stdout", prefix, within, |p| {
            line = take_line(&p.stdout(), from, prefix);
            line.is_some()
        });
        line.expect("found")
    }

    /// Polls `found` until it holds; panics (naming `stream` and `needle`) with all
    /// output after `within`, or once the process has exited and it still does not.
    pub(super) fn wait_for(
        &mut self,
        stream: &str,
        needle: &str,
        within: Duration,
        mut found: impl FnMut(&mut Proc) -> bool,
    ) {
        let deadline = Instant::now() + within;
        loop {
            if found(self) {
                return;
            }
            let exited = self.try_exit();
            if exited.is_some() {
                // The readers may still hold the last bytes.
                self.finish_output();
                if found(self) {
                    return;
                }
            }
            if exited.is_some() || Instant::now() >= deadline {
                panic!(
                    "{}: {stream} never showed {needle:?} ({}, {:?} since it started)\nstdout: {:?}\nstderr: {:?}",
                    self.what,
                    match exited {
                        Some(s) => format!("exited: {s}"),
                        None => format!("still running after {within:?}"),
                    },
                    self.started.elapsed(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(POLL);
        }
    }
}

/// The first whole line of `text` after byte `*from` that starts with `prefix`, with
/// `*from` moved past it (and past the lines before it).
fn take_line(text: &str, from: &mut usize, prefix: &str) -> Option<String> {
    while let Some(end) = text.get(*from..)?.find('\n') {
        let line = &text[*from..*from + end];
        *from += end + 1;
        if line.starts_with(prefix) {
            return Some(line.to_string());
        }
    }
    None
}
