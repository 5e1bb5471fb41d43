//! Waiting for a [`Proc`] to exit, with a deadline.

use super::process::{POLL, Proc};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

impl Proc {
    /// Waits for the exit, then for the last of its output; panics with everything it
    /// printed if it is still running after `within` (it is killed when dropped).
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_exit() {
                self.finish_output();
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: still running after {within:?} ({:?} since it started)\nstdout: {:?}\nstderr: {:?}",
                    self.what,
                    self.started.elapsed(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(POLL);
        }
    }
}
