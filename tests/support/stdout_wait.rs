//! Waiting for a client [`Proc`] to print something on stdout, such as its prompt or
//! the answer to what it was just sent.

use super::process::Proc;
use std::time::Duration;

/// How long to wait for one expected piece of output.
pub const OUTPUT_TIMEOUT: Duration = Duration::from_secs(5);

impl Proc {
    /// Waits until stdout contains `needle`; panics with all output after
    /// [`OUTPUT_TIMEOUT`], or at once if the process has exited without printing it.
    pub fn wait_stdout(&mut self, needle: &str) {
        self.wait_for("stdout", needle, OUTPUT_TIMEOUT, |p| {
            p.stdout().contains(needle)
        });
    }
}
