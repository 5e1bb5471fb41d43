//! Waiting for a [`Proc`] to say something on stderr: a server's log line, a client's
//! reminder.

use super::process::Proc;
use std::time::Duration;

impl Proc {
    /// Waits until stderr contains `needle`; panics with all output after `within`, or
    /// at once if the process has exited without printing it.
    pub fn wait_stderr(&mut self, needle: &str, within: Duration) {
        self.wait_for("stderr", needle, within, |p| p.stderr().contains(needle));
    }
}
