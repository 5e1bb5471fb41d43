//! What the benchmark reads about processes from /proc (Linux): CPU time, resident
//! memory and the open-file limit. std has no getrusage or getrlimit, and sockloop
//! takes no libc dependency, so /proc it is; every reader answers `None` where /proc
//! is missing instead of failing the run.

use std::time::{Duration, Instant};

/// Clock ticks per second of /proc/PID/stat times (USER_HZ). It is 100 on every Linux
/// architecture sockloop builds for; std cannot ask sysconf(_SC_CLK_TCK).
const CLK_TCK: f64 = 100.0;

/// CPU time (user + system) of process `pid` (None: ourselves), in seconds.
///
/// Ours comes from /proc/self/schedstat where the kernel keeps it: nanoseconds
/// instead of 10 ms ticks, so a window of a millisecond (a short `--count` run) still
/// gets a figure. It counts one thread, which is the whole generator. A server's comes
/// from /proc/PID/stat, which counts every thread of a process that may have many,
/// plus its children's (a `--workers` supervisor's workers: the supervisor itself
/// does next to nothing).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    match pid {
        Some(p) => {
            let own = stat_cpu_seconds(&format!("/proc/{p}/stat"))?;
            let children: f64 = children(p)
                .iter()
                .filter_map(|c| stat_cpu_seconds(&format!("/proc/{c}/stat")))
                .sum();
            Some(own + children)
        }
        None => own_cpu_ns()
            .map(|ns| ns as f64 / 1e9)
            .or_else(|| stat_cpu_seconds("/proc/self/stat")),
    }
}

/// The live children of `pid`, as its main thread's /proc children list says (a
/// supervisor's workers are all started from its one thread).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|text| {
            text.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn stat_cpu_seconds(path: &str) -> Option<f64> {
    parse_stat_cpu(&std::fs::read_to_string(path).ok()?)
}

/// Our thread's time on a CPU, in ns (the first field of /proc/self/schedstat).
fn own_cpu_ns() -> Option<u64> {
    parse_schedstat(&std::fs::read_to_string("/proc/self/schedstat").ok()?)
}

pub fn parse_schedstat(schedstat: &str) -> Option<u64> {
    schedstat.split_ascii_whitespace().next()?.parse().ok()
}

/// Fields 14 and 15 (utime, stime) of a /proc/PID/stat line. The command name (field
/// 2) is in parentheses and may hold spaces, so count from the last ')'.
pub fn parse_stat_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11); // field 3 is the first
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / CLK_TCK)
}

/// Resident memory of process `pid` in bytes (VmRSS of /proc/PID/status).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss(&status)
}

pub fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The soft and hard limits on open files ("Max open files" of /proc/self/limits);
/// `None` for unlimited or unreadable.
pub fn nofile_limits() -> Option<(u64, u64)> {
    parse_nofile(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

pub fn parse_nofile(limits: &str) -> Option<(u64, u64)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line["Max open files".len()..].split_ascii_whitespace();
    let soft = nums.next()?.parse().ok()?;
    let hard = nums.next()?.parse().ok()?;
    Some((soft, hard))
}

/// Checks that `needed` descriptors fit under the soft limit. std cannot raise the
/// limit (setrlimit needs libc), so the answer is advice for the shell.
pub fn check_nofile(needed: u64) -> Result<(), String> {
    match nofile_limits() {
        Some((soft, hard)) if soft < needed => Err(if hard >= needed {
            format!(
                "{needed} file descriptors are needed but the soft limit is {soft}; \
                 raise it first: ulimit -n {hard}"
            )
        } else {
            format!(
                "{needed} file descriptors are needed but the limit is {soft} (hard {hard}); \
                 use fewer connections or raise the hard limit (limits.conf, systemd LimitNOFILE)"
            )
        }),
        _ => Ok(()),
    }
}

/// CPU used by a process between two points in time, as % of one core.
pub struct CpuMeter {
    pid: Option<u32>,
    start_cpu: Option<f64>,
    start: Instant,
    /// Windows shorter than this get no figure: with 10 ms ticks a millisecond
    /// reads 0 % or 1000 %; with nanoseconds, only the clock reads themselves count.
    shortest: Duration,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> Self {
        let precise = pid.is_none() && own_cpu_ns().is_some();
        CpuMeter {
            pid,
            start_cpu: cpu_seconds(pid),
            start: Instant::now(),
            shortest: if precise {
                Duration::from_micros(50)
            } else {
                Duration::from_millis(1)
            },
        }
    }

    /// % of one core since `start` (None if /proc could not be read).
    pub fn percent(&self) -> Option<f64> {
        let used = cpu_seconds(self.pid)? - self.start_cpu?;
        let wall = self.start.elapsed();
        (wall > self.shortest).then(|| 100.0 * used / wall.as_secs_f64())
    }
}

/// At or above this % of one core the generator itself may be the limit.
pub const SATURATED_PCT: f64 = 90.0;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stat_line() {
        let line =
            "1234 (sock loop) S 1 1234 1234 0 -1 4194560 1074 0 0 0 250 75 0 0 20 0 1 0 1 1 1";
        assert_eq!(parse_stat_cpu(line), Some(3.25));
        assert_eq!(parse_stat_cpu("garbage"), None);
        assert!(cpu_seconds(None).is_some());
        assert_eq!(parse_schedstat("326626 112102 2\n"), Some(326_626));
        assert_eq!(parse_schedstat(""), None);
    }

    #[test]
    fn status_and_limits() {
        assert_eq!(
            parse_vmrss("Name:\tx\nVmRSS:\t   2048 kB\nThreads: 1\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_vmrss("Name: x\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 20000                files     \n";
        assert_eq!(parse_nofile(limits), Some((1024, 20000)));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_nofile(unlimited), None);
    }
}
