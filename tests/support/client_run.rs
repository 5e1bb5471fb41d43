//! Feeding a client [`Proc`] on stdin, and running `sockloop` clients to their end
//! with given input.

use super::finished::Finished;
use super::process::{Proc, sockloop};

impl Proc {
    /// Queues `bytes` for the child's stdin.
    pub fn write(&self, bytes: &[u8]) {
        match &self.stdin {
            Some(stdin) => {
                let _ = stdin.send(bytes.to_vec());
            }
            None => panic!("{}: stdin already closed", self.what),
        }
    }

    /// Closes stdin (end of input) once everything queued has been written.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

/// Runs `sockloop ARGS` with `input` on stdin (then end of input) to completion.
pub fn run(args: &[&str], input: &[u8]) -> Finished {
    let mut p = Proc::spawn(sockloop(args));
    if !input.is_empty() {
        p.write(input);
    }
    p.close_stdin();
    p.wait()
}
