//! The measured window of a closed-loop run (`ws`, `tcp`, `udp`): it opens when the
//! first messages go out and closes when sending stops, and only what completed
//! inside it counts. CPU is read over the same window, ours and the server's, so
//! that the report's CPU per message divides like by like.

use super::progress::Progress;
use super::report::Report;
use super::stats::Histogram;
use super::sys::CpuMeter;
use super::{Errors, Options};
use std::time::{Duration, Instant};

/// CPU meters for us and for the watched server (`--server-pid`), started together.
pub struct Meters {
    ours: CpuMeter,
    server: Option<CpuMeter>,
}

impl Meters {
    pub fn start(opts: &Options) -> Meters {
        Meters {
            ours: CpuMeter::start(None),
            server: opts.server_pid.map(|p| CpuMeter::start(Some(p))),
        }
    }

    /// (ours, the server's) in % of one core since `start`.
    pub fn read(&self) -> (Option<f64>, Option<f64>) {
        let server = self.server.as_ref().and_then(CpuMeter::percent);
        (self.ours.percent(), server)
    }
}

pub struct Window {
    start: Instant,
    end: Instant,
    count: Option<u64>,
    meters: Meters,
}

/// What a closed window holds.
#[derive(Default)]
pub struct Measured {
    pub messages: u64,
    pub elapsed: Duration,
    pub cpu_pct: Option<f64>,
    pub server_cpu_pct: Option<f64>,
}

impl Window {
    /// The window opens now; `progress` counts its seconds from here.
    pub fn open(opts: &Options, progress: &mut Progress) -> Window {
        let start = Instant::now();
        progress.start(start);
        Window {
            start,
            end: start + opts.duration,
            count: opts.count,
            meters: Meters::start(opts),
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// When the time is up (with `--count`: the most the run may take).
    pub fn end(&self) -> Instant {
        self.end
    }

    /// Whether the window is over at `now`, given `done` messages completed.
    pub fn over(&self, now: Instant, done: u64) -> bool {
        now >= self.end || self.count.is_some_and(|n| done >= n)
    }

    pub fn close(&self, now: Instant, done: u64) -> Measured {
        let (cpu_pct, server_cpu_pct) = self.meters.read();
        Measured {
            messages: done,
            elapsed: now - self.start,
            cpu_pct,
            server_cpu_pct,
        }
    }
}

impl Measured {
    /// Fewer than `--count` `unit` came back in time: an error of the run, unless
    /// Ctrl-C or an earlier error already says why.
    pub fn check_count(&self, opts: &Options, unit: &str, errors: &mut Errors, interrupted: bool) {
        let Some(n) = opts.count else {
            return;
        };
        if self.messages < n && !interrupted && errors.count == 0 {
            errors.add(|| {
                format!(
                    "only {} of the {n} {unit} within the {:.0} s limit",
                    self.messages,
                    opts.duration.as_secs_f64()
                )
            });
        }
    }

    /// The report of the window; the mode adds what only it measures.
    pub fn report(
        self,
        opts: &Options,
        hist: &Histogram,
        errors: Errors,
        interrupted: bool,
    ) -> Report {
        Report {
            elapsed: self.elapsed,
            messages: self.messages,
            latency: hist.summary(),
            errors: errors.count,
            first_error: errors.first,
            cpu_pct: self.cpu_pct,
            server_cpu_pct: self.server_cpu_pct,
            interrupted,
            ..Report::new(opts)
        }
    }
}
