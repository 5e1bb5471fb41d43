//! Assertions on how a client run ended, which show all its output when they fail.

use super::finished::Finished;

impl Finished {
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
