//! A client process run to its end: how it ended, everything it printed and how long
//! it took, with a deadline on the whole run.

use super::process::Proc;
use std::fmt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// The longest any client process may run, counted from its start.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit (as seen by polling every few ms).
    pub elapsed: Duration,
    pub(super) what: String,
}

impl Proc {
    /// Waits for the exit (failing, and killed on the way out, once [`CHILD_TIMEOUT`]
    /// has passed since the start) and returns the status with all output.
    pub fn wait(mut self) -> Finished {
        let left = (self.started + CHILD_TIMEOUT).saturating_duration_since(Instant::now());
        let status = self.wait_exit(left);
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            elapsed: self.started.elapsed(),
            what: self.what.clone(),
        }
    }
}

/// Shown in the failure messages of the tests: all of it, the run time included.
impl fmt::Debug for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("what", &self.what)
            .field("status", &self.status)
            .field("elapsed", &self.elapsed)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}
