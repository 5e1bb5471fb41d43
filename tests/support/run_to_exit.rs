//! Running `sockloop ARGS` to its end, for the command lines that must exit.

use super::process::{Proc, sockloop};
use std::process::ExitStatus;
use std::time::Duration;

/// Runs `sockloop ARGS` to its end: (status, stdout, stderr).
pub fn run_to_exit(args: &[&str], within: Duration) -> (ExitStatus, String, String) {
    let mut run = Proc::spawn(sockloop(args));
    let status = run.wait_exit(within);
    (status, run.stdout(), run.stderr())
}
