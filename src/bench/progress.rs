//! The progress lines on standard error, and the lines that announce each phase.
//! Only for people and for scripts that follow a run (`benches/compare.sh` waits for
//! "holding N connections"); the report itself goes to standard output.

use super::Options;
use super::stats::{Histogram, human_us, thousands};
use super::sys;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The progress line on standard error: rewritten in place on a terminal, one line
/// per second otherwise (so a script reading it sees whole lines).
pub struct Progress {
    enabled: bool,
    tty: bool,
    /// A status line is showing and must be ended before other output.
    dirty: bool,
    size: usize,
    next: Instant,
    last_status: Option<Instant>,
    last: (Instant, u64, Option<f64>),
    start: Instant,
}

impl Progress {
    pub fn new(opts: &Options) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: !opts.quiet,
            tty: std::io::stderr().is_terminal(),
            dirty: false,
            size: opts.size,
            next: now,
            last_status: None,
            last: (now, 0, None),
            start: now,
        }
    }

    /// The measurement starts now.
    pub fn start(&mut self, t0: Instant) {
        self.start = t0;
        self.next = t0 + Duration::from_secs(1);
        self.last = (t0, 0, sys::cpu_seconds(None));
    }

    pub fn next_tick(&self) -> Instant {
        self.next
    }

    /// Once a second: the rate since the last tick, the p99 so far, errors (udp: and
    /// losses), CPU. Called on every turn of a loop, so it does nothing, and allocates
    /// nothing, until the second is up.
    pub fn tick(
        &mut self,
        now: Instant,
        done: u64,
        errors: u64,
        lost: Option<u64>,
        hist: &Histogram,
    ) {
        if now < self.next {
            return;
        }
        self.next = now + Duration::from_secs(1);
        let (at, count, cpu) = self.last;
        let secs = (now - at).as_secs_f64().max(1e-9);
        let rate = (done - count) as f64 / secs;
        let cpu_now = sys::cpu_seconds(None);
        let cpu_pct = match (cpu, cpu_now) {
            (Some(a), Some(b)) => format!("{:.0}%", 100.0 * (b - a) / secs),
            _ => "?".into(),
        };
        self.last = (now, done, cpu_now);
        let lost = lost.map_or(String::new(), |n| format!("  lost {n}"));
        let text = format!(
            "{:>6.1} s {:>12} msg/s {:>9.2} MB/s  p99 {:>9}  errors {}{lost}  cpu {cpu_pct}",
            (now - self.start).as_secs_f64(),
            thousands(rate as u64),
            rate * self.size as f64 / 1e6,
            human_us(hist.quantile_us(0.99)),
            errors,
        );
        self.show(&text, true);
    }

    /// A passing status ("connecting: 300/1000"): in place on a terminal, at most once
    /// a second otherwise. `text` is only called when the status is shown: loops call
    /// this on every turn.
    pub fn status(&mut self, text: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if !self.tty
            && self
                .last_status
                .is_some_and(|t| now - t < Duration::from_secs(1))
        {
            return;
        }
        self.last_status = Some(now);
        self.show(&text(), true);
    }

    /// A line that stays.
    pub fn line(&mut self, text: &str) {
        self.show(text, false);
    }

    fn show(&mut self, text: &str, passing: bool) {
        if !self.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = if self.tty && passing {
            self.dirty = true;
            write!(err, "\r{text}\x1b[K")
        } else if self.tty && self.dirty {
            self.dirty = false;
            writeln!(err, "\r{text}\x1b[K")
        } else {
            writeln!(err, "{text}")
        };
        let _ = err.flush();
    }

    /// Ends an in-place line, so what follows starts on its own line.
    pub fn finish(&mut self) {
        if self.dirty {
            self.dirty = false;
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// "1 connection", "50 connections".
pub fn count_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a closed-loop run will do: "20000 messages (at most 300 s)" or "10.0 s".
pub fn plan(opts: &Options, unit: &str) -> String {
    let secs = opts.duration.as_secs_f64();
    match opts.count {
        Some(n) => format!("{n} {unit} (at most {secs:.0} s)"),
        None => format!("{secs:.1} s"),
    }
}
