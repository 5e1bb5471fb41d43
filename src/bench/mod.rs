//! `sockloop bench`: a load generator in the same style as everything else — one
//! thread, one readiness loop, non-blocking sockets, no async runtime.
//!
//! - `ws`: N WebSocket connections, each keeping `depth` messages in flight (closed
//!   loop); every echo is checked byte for byte ([`ws`], [`stream`]).
//! - `tcp`: the same over raw TCP with newline-terminated messages ([`tcp`]).
//! - `udp`: datagram round trips with loss counted ([`udp`]).
//! - `idle`: open many WebSocket connections, check one echo on each, hold them,
//!   close them cleanly — for memory-per-connection figures ([`idle`]).
//!
//! A generator that is itself the bottleneck measures nothing, so the hot paths
//! allocate nothing, and the report gives the generator's own CPU use and says when it
//! was saturated. Latencies go into a fixed log-linear histogram ([`stats`]).
//!
//! Compiled only with the `bench` cargo feature (on by default).
#![cfg(feature = "bench")]

pub mod idle;
pub mod open;
pub mod pattern;
pub mod report;
pub mod stats;
pub mod stream;
pub mod sys;
pub mod tcp;
pub mod udp;
pub mod ws;

use crate::client::ClientError;
use crate::client::connect;
use crate::runtime::poll::{self, Events};
use crate::runtime::signals::SignalPipe;
use polling::Poller;
use stats::{Histogram, human_us, thousands};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;

pub use report::{IdleFigures, Report};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ws,
    Tcp,
    Udp,
    Idle,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ws => "ws",
            Mode::Tcp => "tcp",
            Mode::Udp => "udp",
            Mode::Idle => "idle",
        }
    }
}

/// Everything a run needs; `cmd::bench` builds it from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub mode: Mode,
    /// `ws://HOST:PORT/PATH` for ws and idle, `HOST:PORT` for tcp and udp.
    pub target: String,
    /// Connections (ws, tcp, idle) or sockets (udp).
    pub conns: usize,
    /// Bytes per message: the WebSocket payload, the line with its '\n', the datagram.
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// How long to measure (with `count`: the most it may take).
    pub duration: Duration,
    /// Stop after exactly this many echoed messages.
    pub count: Option<u64>,
    pub binary: bool,
    /// idle: how long to hold the connections.
    pub hold: Duration,
    /// Connections opening at the same time.
    pub batch: usize,
    pub connect_timeout: Duration,
    /// udp: a datagram not answered within this is lost (and replaced).
    pub loss_timeout: Duration,
    pub json: bool,
    pub quiet: bool,
    /// A server process to watch: its CPU use (and for idle, its memory).
    pub server_pid: Option<u32>,
}

/// Runs the benchmark `opts` describes.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    let mut stop = Stop::new();
    let failed = ClientError::Failed;
    match opts.mode {
        Mode::Ws | Mode::Idle => {
            let url = crate::client::ws::parse_url(&opts.target)?;
            let addr = first_addr(&url.target)?;
            let target = open::Target {
                addr,
                ws: Some((url.host, url.path)),
            };
            if opts.mode == Mode::Idle {
                idle::run(opts, target, &mut stop).map_err(failed)
            } else {
                let wire = stream::Wire::Ws(ws::WsWire::new(opts.size, opts.binary));
                stream::run(opts, target, wire, &mut stop).map_err(failed)
            }
        }
        Mode::Tcp => {
            let target = open::Target {
                addr: first_addr(&opts.target)?,
                ws: None,
            };
            let wire = stream::Wire::Line(tcp::LineWire::new(opts.size));
            stream::run(opts, target, wire, &mut stop).map_err(failed)
        }
        Mode::Udp => udp::run(opts, first_addr(&opts.target)?, &mut stop).map_err(failed),
    }
}

fn first_addr(target: &str) -> Result<SocketAddr, ClientError> {
    connect::resolve(target)?
        .into_iter()
        .next()
        .ok_or_else(|| ClientError::Failed(format!("{target} resolves to no address")))
}

/// A poller with the signal pipe in it: the pipe is made here, with the poller, so
/// that it is watched from the start.
fn new_poller(stop: &mut Stop) -> Result<Poller, String> {
    let poller = Poller::new().map_err(|e| format!("poller: {e}"))?;
    stop.signals = SignalPipe::watch(&poller).ok();
    Ok(poller)
}

fn events() -> Events {
    Events::new()
}

/// Ctrl-C (or SIGTERM) ends the measurement early and still reports; a second one
/// exits at once.
pub struct Stop {
    signals: Option<SignalPipe>,
    requested: bool,
}

impl Stop {
    fn new() -> Stop {
        Stop {
            signals: None,
            requested: false,
        }
    }

    /// The signal pipe is readable.
    pub fn on_signal(&mut self) {
        let Some(s) = &mut self.signals else {
            return;
        };
        if s.drain() > 0 {
            if self.requested {
                eprintln!("\nsockloop bench: interrupted again; exiting without a report");
                std::process::exit(130);
            }
            self.requested = true;
        }
    }

    pub fn requested(&self) -> bool {
        self.requested
    }
}

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

    /// Once a second: the rate since the last tick, the p99 so far, errors, CPU.
    pub fn tick(&mut self, now: Instant, done: u64, errors: u64, hist: &Histogram, extra: &str) {
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
        let text = format!(
            "{:>6.1} s {:>12} msg/s {:>9.2} MB/s  p99 {:>9}  errors {}{extra}  cpu {cpu_pct}",
            (now - self.start).as_secs_f64(),
            thousands(rate as u64),
            rate * self.size as f64 / 1e6,
            human_us(hist.quantile_us(0.99)),
            errors,
        );
        self.show(&text, true);
    }

    /// A passing status ("connecting: 300/1000"): in place on a terminal, at most once
    /// a second otherwise.
    pub fn status(&mut self, text: &str) {
        let now = Instant::now();
        if !self.tty
            && self
                .last_status
                .is_some_and(|t| now - t < Duration::from_secs(1))
        {
            return;
        }
        self.last_status = Some(now);
        self.show(text, true);
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

/// One poll, waiting at most `timeout` (a signal arriving just ends it early), with
/// the error in the generator's words.
fn wait(
    poller: &polling::Poller,
    events: &mut Events,
    timeout: std::time::Duration,
) -> Result<(), String> {
    match poll::wait(poller, events, Some(timeout)) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("poller: {e}")),
    }
}
