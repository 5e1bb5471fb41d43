//! What /proc says about a running process: its threads (the server must have one) and
//! its resident memory (a stuck client must not make it grow).

use super::process::Proc;

impl Proc {
    /// The `Threads:` count.
    pub fn threads(&self) -> usize {
        self.status_field("Threads:")
    }

    /// Resident set size in KiB (`VmRSS:`).
    pub fn rss_kib(&self) -> usize {
        self.status_field("VmRSS:")
    }

    fn status_field(&self, key: &str) -> usize {
        let pid = self.pid();
        let text =
            std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
    }
}
