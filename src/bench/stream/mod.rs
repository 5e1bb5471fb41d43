//! The closed-loop engine for stream transports: `bench ws` (WebSocket echo) and
//! `bench tcp` (line echo). N connections each keep `depth` messages in flight; every
//! echo that comes back, checked, is answered with the next message.
//!
//! The hot path allocates nothing: messages are prebuilt (`ws::WsWire`,
//! `tcp::LineWire`), echoes are checked in the loop's one read buffer, each
//! connection's output buffer keeps its capacity, and send times sit in a ring of
//! `depth` slots. Whatever one read completes is answered with one write. The clock
//! is read once per read, and the messages that read completes and the ones it sends
//! share that instant.
//!
//! This file is the run: setup, the stages of the loop, the report. What one
//! connection does with one readiness event is in `conn.rs`.

mod conn;

use super::open::{self, OpenResult, Target};
use super::progress::{self, Progress};
use super::stats::Histogram;
use super::tcp::{LineRx, LineWire};
use super::waiter::Waiter;
use super::window::{Measured, Window};
use super::ws::{WsRx, WsWire};
use super::{Errors, Options, Report};
use crate::runtime::poll;
use conn::{Conn, Phase, Rx};
use polling::Poller;
use std::time::{Duration, Instant};

/// After the run, how long in-flight messages may take to come back.
const DRAIN: Duration = Duration::from_secs(2);
/// How long the closing handshakes may take.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

pub enum Wire {
    Ws(WsWire),
    Line(LineWire),
}

impl Wire {
    #[inline]
    fn message(&self, i: u64) -> &[u8] {
        match self {
            Wire::Ws(w) => w.frame(i),
            Wire::Line(l) => l.line(i),
        }
    }

    /// A connection's receive state for this wire.
    fn rx(&self) -> Rx {
        match self {
            Wire::Ws(_) => Rx::Ws(Box::<WsRx>::default()),
            Wire::Line(_) => Rx::Line(LineRx::default()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Measuring,
    /// Sending has stopped; the echoes still in flight may come back.
    Draining {
        until: Instant,
    },
    Closing {
        until: Instant,
    },
    Over,
}

struct Engine<'a> {
    opts: &'a Options,
    poller: &'a Poller,
    wire: Wire,
    conns: Vec<Conn>,
    hist: Histogram,
    rbuf: Vec<u8>,
    /// Where send times count from (ns): the window's start.
    base: Instant,
    /// Messages that may still be sent (`--count`), or u64::MAX.
    budget: u64,
    sending: bool,
    total_done: u64,
    errors: Errors,
    unclean: u64,
    /// Connections running or closing.
    live: usize,
    /// Set when the window closes.
    measured: Option<Measured>,
}

pub fn run(opts: &Options, target: Target, wire: Wire) -> Result<Report, String> {
    super::sys::check_nofile(opts.conns as u64 + 32)?;
    let (poller, mut waiter) = Waiter::new()?;
    let mut progress = Progress::new(opts);
    let opened = open::open_every(opts, &poller, &mut waiter, &target, &mut progress)?;
    progress.line(&format!(
        "{} open in {:.0} ms; running {}",
        progress::count_of(opts.conns, "connection", "connections"),
        opened.elapsed.as_secs_f64() * 1000.0,
        progress::plan(opts, "messages"),
    ));
    let engine = Engine::new(opts, &poller, wire, opened);
    engine.measure(&mut waiter, &mut progress)
}

impl<'a> Engine<'a> {
    fn new(opts: &'a Options, poller: &'a Poller, wire: Wire, opened: OpenResult) -> Self {
        let mut engine = Engine {
            opts,
            poller,
            conns: Vec::with_capacity(opts.conns),
            hist: Histogram::new(),
            rbuf: vec![0u8; 256 * 1024],
            base: Instant::now(),
            budget: opts.count.unwrap_or(u64::MAX),
            sending: true,
            total_done: 0,
            errors: Errors::default(),
            unclean: 0,
            live: 0,
            measured: None,
            wire,
        };
        let mut leftovers = Vec::new();
        for c in opened.conns.into_iter().flatten() {
            leftovers.push(c.leftover);
            let out = Vec::with_capacity(opts.depth * engine.wire.message(0).len());
            let rx = engine.wire.rx();
            engine
                .conns
                .push(Conn::new(c.sock, c.registration, out, opts.depth, rx));
        }
        engine.live = engine.conns.len();
        // Bytes that came right behind the handshake response go through the checker
        // like any others: a ping is answered, an echo of nothing sent is an error.
        for (i, leftover) in leftovers.into_iter().enumerate() {
            if !leftover.is_empty() {
                engine.process(i, &leftover, 0);
            }
        }
        engine
    }

    fn now_ns(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// The loop: measure, drain, close; then the report.
    fn measure(mut self, waiter: &mut Waiter, progress: &mut Progress) -> Result<Report, String> {
        let window = Window::open(self.opts, progress);
        self.base = window.start();
        self.send_first();
        let mut stage = Stage::Measuring;
        loop {
            let now = Instant::now();
            stage = self.advance(stage, now, &window, waiter.interrupted(), progress);
            let wake = match stage {
                Stage::Measuring => {
                    let errors = self.errors.count;
                    progress.tick(now, self.total_done, errors, None, &self.hist);
                    window.end().min(progress.next_tick())
                }
                Stage::Draining { until } | Stage::Closing { until } => until,
                Stage::Over => break,
            };
            for ev in waiter.wait(self.poller, wake)? {
                if ev.writable {
                    self.flush(ev.key);
                }
                if ev.readable {
                    self.read(ev.key);
                }
            }
        }
        Ok(self.finish(waiter.interrupted()))
    }

    /// Every connection's first `depth` messages (fewer if `--count` runs out).
    fn send_first(&mut self) {
        for i in 0..self.conns.len() {
            let n = (self.opts.depth as u64).min(self.budget);
            self.budget -= n;
            if let Some(c) = self.conns.get_mut(i) {
                c.queue(&self.wire, n, 0);
            }
            self.flush(i);
        }
    }

    /// The stage after `stage` at `now`. One turn may pass through several: a window
    /// that closes with nothing in flight starts closing at once.
    fn advance(
        &mut self,
        mut stage: Stage,
        now: Instant,
        window: &Window,
        interrupted: bool,
        progress: &mut Progress,
    ) -> Stage {
        if stage == Stage::Measuring
            && (window.over(now, self.total_done) || interrupted || self.live == 0)
        {
            self.measured = Some(window.close(now, self.total_done));
            self.sending = false;
            progress.finish();
            stage = Stage::Draining { until: now + DRAIN };
        }
        if let Stage::Draining { until } = stage
            && (self.in_flight() == 0 || now >= until || interrupted)
        {
            self.start_closing();
            stage = Stage::Closing {
                until: now + CLOSE_WAIT,
            };
        }
        if let Stage::Closing { until } = stage
            && (self.live == 0 || now >= until)
        {
            stage = Stage::Over;
        }
        stage
    }

    fn in_flight(&self) -> u64 {
        self.conns
            .iter()
            .filter(|c| c.phase == Phase::Running)
            .map(Conn::in_flight)
            .sum()
    }

    /// Counts what did not finish closing in time, and the report.
    fn finish(mut self, interrupted: bool) -> Report {
        for c in &mut self.conns {
            if c.live() {
                self.unclean += 1;
                poll::remove(self.poller, &c.sock);
                c.phase = Phase::Dead;
            }
        }
        let opts = self.opts;
        // The loop only ends after the window has closed.
        let measured = self.measured.take().unwrap_or_default();
        let mut errors = self.errors;
        if measured.messages == 0 && errors.count == 0 && !interrupted {
            errors.add(|| {
                format!(
                    "no echo came back in {:.1} s — is {} an echo server?",
                    measured.elapsed.as_secs_f64(),
                    opts.target
                )
            });
        }
        measured.check_count(opts, "messages were echoed", &mut errors, interrupted);
        Report {
            unclean_closes: self.unclean,
            ..measured.report(opts, &self.hist, errors, interrupted)
        }
    }
}
