//! `bench idle`: open many WebSocket connections, check one echo on each, hold them,
//! then close them all with the closing handshake. With `--server-pid`, the server's
//! resident memory is read before and while the connections are held, which gives
//! its memory per idle connection.
//!
//! Connections open `--batch` at a time through the loop (non-blocking connect, then
//! the handshake), so ten thousand of them never block anything. While holding, a
//! line "holding N connections" is printed for scripts that sample memory
//! themselves.

use super::open::{self, OpenResult, Target};
use super::progress::Progress;
use super::stats::{Histogram, thousands};
use super::sys;
use super::waiter::Waiter;
use super::window::Meters;
use super::ws::{self, WsRx, WsWire};
use super::{Errors, IdleFigures, Options, Report};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::transport::Stream;
use polling::Poller;
use std::io;
use std::time::{Duration, Instant};

/// How often the status line is refreshed while waiting (the hold's countdown).
const STATUS_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Our message is out; its echo is awaited.
    Echo,
    Held,
    /// Our Close is out; `seen`: the server's came back.
    Closing {
        seen: bool,
    },
    Closed,
    Dead,
}

/// The parts of the run, each one turn of [`Idle::pump`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Until every connection has its echo (or the timeout).
    Echo,
    /// For `--hold`, whatever happens.
    Hold,
    /// Until every closing handshake is done (or the timeout).
    Close,
}

impl Phase {
    /// Whether the phase still waits for `c`; the hold waits for time alone.
    fn waits_for(self, c: &Conn) -> bool {
        match self {
            Phase::Echo => c.state == State::Echo,
            Phase::Hold => false,
            Phase::Close => matches!(c.state, State::Closing { .. }),
        }
    }
}

struct Conn {
    sock: Stream,
    state: State,
    /// When our message went out (ns since `base`).
    sent_at: u64,
    rx: WsRx,
}

struct Idle<'a> {
    poller: &'a Poller,
    wire: WsWire,
    conns: Vec<Conn>,
    rbuf: Vec<u8>,
    scratch: Vec<u8>,
    hist: Histogram,
    base: Instant,
    errors: Errors,
    dropped: u64,
    closed_clean: u64,
}

pub fn run(opts: &Options, target: Target) -> Result<Report, String> {
    sys::check_nofile(opts.conns as u64 + 64)?;
    let (poller, mut waiter) = Waiter::new()?;
    let me = std::process::id();
    let mut figures = IdleFigures {
        server_rss_before: opts.server_pid.and_then(sys::rss_bytes),
        client_rss_before: sys::rss_bytes(me),
        ..IdleFigures::default()
    };
    let meters = Meters::start(opts);
    let mut progress = Progress::new(opts);
    let mut opened = open_many(opts, &poller, &mut waiter, &target, &mut progress)?;
    figures.opened = opts.conns as u64 - opened.failed;
    figures.failed = opened.failed;
    figures.open_secs = opened.elapsed.as_secs_f64();
    let (mut idle, leftovers) = Idle::new(&poller, opts, &mut opened);

    idle.echo_once(&mut waiter, &mut progress, leftovers, opts.connect_timeout)?;
    let held = idle.count(State::Held);
    progress.line(&format!(
        "holding {held} connections for {:.1} s",
        opts.hold.as_secs_f64()
    ));
    let hold_start = Instant::now();
    idle.pump(
        &mut waiter,
        &mut progress,
        hold_start + opts.hold,
        Phase::Hold,
    )?;
    figures.hold_secs = hold_start.elapsed().as_secs_f64();
    figures.server_rss_held = opts.server_pid.and_then(sys::rss_bytes);
    figures.client_rss_held = sys::rss_bytes(me);
    let (cpu_pct, server_cpu_pct) = meters.read();
    figures.held = held - idle.dropped;
    figures.dropped = idle.dropped;

    progress.line(&format!(
        "closing {}",
        crate::plural::count(figures.held, "connection")
    ));
    let unclean = idle.close_all(&mut waiter, &mut progress)?;
    progress.finish();
    figures.closed_clean = idle.closed_clean;
    Ok(Report {
        messages: idle.hist.count(),
        latency: idle.hist.summary(),
        errors: idle.errors.count,
        first_error: idle.errors.first.or(opened.first_error),
        unclean_closes: unclean,
        cpu_pct,
        server_cpu_pct,
        interrupted: waiter.interrupted(),
        elapsed: Duration::from_secs_f64(figures.hold_secs),
        idle: Some(figures),
        ..Report::new(opts)
    })
}

/// Opens the connections; those that fail are counted, and the rest are held.
fn open_many(
    opts: &Options,
    poller: &Poller,
    waiter: &mut Waiter,
    target: &Target,
    progress: &mut Progress,
) -> Result<OpenResult, String> {
    let n = opts.conns as u64;
    let plan = open::Plan::new(opts, false);
    let opened = open::open_all(poller, waiter, target, plan, &mut |ok, failed| {
        progress.status(|| {
            format!(
                "opening: {}/{} open, {failed} failed",
                thousands(ok),
                thousands(n)
            )
        })
    })?;
    progress.finish();
    let first_failure = opened
        .first_error
        .as_deref()
        .map_or(String::new(), |e| format!(" (first failure: {e})"));
    progress.line(&format!(
        "{} of {} connection{} open in {:.2} s{first_failure}",
        thousands(n - opened.failed),
        thousands(n),
        if n == 1 { "" } else { "s" },
        opened.elapsed.as_secs_f64(),
    ));
    Ok(opened)
}

impl<'a> Idle<'a> {
    /// Takes over the connections that opened, numbered densely from 0 (while
    /// opening, the keys were the connection numbers, failed ones included). Gives
    /// back, by new number, what came after each handshake response.
    fn new(
        poller: &'a Poller,
        opts: &Options,
        opened: &mut OpenResult,
    ) -> (Self, Vec<(usize, Vec<u8>)>) {
        let mut idle = Idle {
            poller,
            wire: WsWire::new(opts.size, opts.binary, false),
            conns: Vec::with_capacity(opts.conns),
            rbuf: vec![0u8; 64 * 1024],
            scratch: Vec::new(),
            hist: Histogram::new(),
            base: Instant::now(),
            errors: Errors::default(),
            dropped: 0,
            closed_clean: 0,
        };
        let mut leftovers = Vec::new();
        for (i, c) in opened.conns.iter_mut().enumerate() {
            let Some(c) = c.take() else { continue };
            let key = idle.conns.len();
            if key != i {
                poll::remove(poller, &c.sock);
                if let Err(e) = Registration::add(poller, &c.sock, key, Interest::READ) {
                    idle.fail(key, &format!("poller: {e}"));
                    continue;
                }
            }
            leftovers.push((key, c.leftover));
            idle.conns.push(Conn {
                sock: c.sock,
                state: State::Echo,
                sent_at: 0,
                rx: WsRx::default(),
            });
        }
        (idle, leftovers)
    }

    fn count(&self, state: State) -> u64 {
        self.conns.iter().filter(|c| c.state == state).count() as u64
    }

    /// One message on each connection, and its echo back within `timeout`;
    /// `leftovers` are checked as the first bytes received.
    fn echo_once(
        &mut self,
        waiter: &mut Waiter,
        progress: &mut Progress,
        leftovers: Vec<(usize, Vec<u8>)>,
        timeout: Duration,
    ) -> Result<(), String> {
        self.base = Instant::now();
        let frame = self.wire.frame(0).to_vec();
        for i in 0..self.conns.len() {
            let now_ns = self.base.elapsed().as_nanos() as u64;
            let Some(c) = self.conns.get_mut(i) else {
                continue;
            };
            c.sent_at = now_ns;
            // A fresh socket's buffer takes a small frame whole.
            match c.sock.write(&frame) {
                Ok(k) if k == frame.len() => {}
                Ok(_) => self.fail(i, "the first message did not fit the socket buffer"),
                Err(e) => self.fail(i, &format!("write: {e}")),
            }
        }
        for (i, leftover) in leftovers {
            if !leftover.is_empty() {
                self.process(i, &leftover, 0);
            }
        }
        self.pump(waiter, progress, Instant::now() + timeout, Phase::Echo)?;
        for i in 0..self.conns.len() {
            if self.conns.get(i).is_some_and(|c| c.state == State::Echo) {
                self.fail(i, "no echo within the connect timeout");
            }
        }
        Ok(())
    }

    /// Our Close on every held connection, the server's back; returns how many did
    /// not finish in time.
    fn close_all(&mut self, waiter: &mut Waiter, progress: &mut Progress) -> Result<u64, String> {
        for i in 0..self.conns.len() {
            self.send_close(i);
        }
        // More connections take longer to close: half a millisecond each on top.
        let n = self.conns.len() as u64;
        let until = Instant::now() + Duration::from_secs(5) + Duration::from_millis(n / 2);
        self.pump(waiter, progress, until, Phase::Close)?;
        let mut unclean = 0;
        for c in &mut self.conns {
            if matches!(c.state, State::Closing { .. }) {
                unclean += 1;
                poll::remove(self.poller, &c.sock);
                c.state = State::Dead;
            }
        }
        Ok(unclean)
    }

    /// Runs the loop until `until`, or until the phase waits for no connection.
    fn pump(
        &mut self,
        waiter: &mut Waiter,
        progress: &mut Progress,
        until: Instant,
        phase: Phase,
    ) -> Result<(), String> {
        loop {
            let now = Instant::now();
            if now >= until || waiter.interrupted() {
                return Ok(());
            }
            if phase == Phase::Hold {
                let left = (until - now).as_secs_f64();
                progress.status(|| {
                    let held = self.count(State::Held);
                    format!("holding {held} connections: {left:.0} s left")
                });
            } else {
                let left = self.conns.iter().filter(|c| phase.waits_for(c)).count();
                if left == 0 {
                    return Ok(());
                }
                let name = if phase == Phase::Echo {
                    "echo"
                } else {
                    "close"
                };
                progress.status(|| format!("{name}: {left} to go"));
            }
            for ev in waiter.wait(self.poller, until.min(now + STATUS_EVERY))? {
                if ev.readable {
                    self.read(ev.key);
                }
            }
        }
    }

    fn read(&mut self, i: usize) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        match c.sock.read(&mut self.rbuf) {
            Ok(0) => match c.state {
                State::Closing { seen: true } => {
                    poll::remove(self.poller, &c.sock);
                    c.state = State::Closed;
                    self.closed_clean += 1;
                }
                State::Held => {
                    self.dropped += 1;
                    self.fail(i, "the server closed a held connection");
                }
                _ => self.fail(i, "the server closed the connection"),
            },
            Ok(n) => {
                let now_ns = self.base.elapsed().as_nanos() as u64;
                let data = std::mem::take(&mut self.rbuf);
                self.process(i, data.get(..n).unwrap_or_default(), now_ns);
                self.rbuf = data;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if c.state == State::Held {
                    self.dropped += 1;
                }
                self.fail(i, &format!("read: {e}"));
            }
        }
    }

    fn process(&mut self, i: usize, data: &[u8], now_ns: u64) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let in_flight = u64::from(c.state == State::Echo);
        self.scratch.clear();
        let fed = match c.rx.feed(data, &self.wire, 0, in_flight, &mut self.scratch) {
            Ok(f) => f,
            Err(e) => {
                self.fail(i, &e);
                return;
            }
        };
        if !self.scratch.is_empty() {
            // A pong: small, rare; a full buffer would just lose it.
            let _ = c.sock.write(&self.scratch);
        }
        if fed.messages > 0 {
            self.hist.record_ns(now_ns.saturating_sub(c.sent_at));
            c.state = State::Held;
        }
        if fed.close.is_some() {
            match c.state {
                State::Closing { .. } => c.state = State::Closing { seen: true },
                State::Held => {
                    self.dropped += 1;
                    self.fail(i, "the server closed a held connection");
                }
                _ => self.fail(i, "the server closed the connection"),
            }
        }
    }

    fn send_close(&mut self, i: usize) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if c.state != State::Held {
            return;
        }
        self.scratch.clear();
        ws::close_frame(&mut self.scratch);
        match c.sock.write(&self.scratch) {
            Ok(n) if n == self.scratch.len() => c.state = State::Closing { seen: false },
            Ok(_) => self.fail(i, "the close frame did not fit the socket buffer"),
            Err(e) => self.fail(i, &format!("write: {e}")),
        }
    }

    fn fail(&mut self, i: usize, why: &str) {
        if let Some(c) = self.conns.get_mut(i) {
            poll::remove(self.poller, &c.sock);
            c.state = State::Dead;
        }
        self.errors.add(|| format!("connection {i}: {why}"));
    }
}
