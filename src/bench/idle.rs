//! `bench idle`: open many WebSocket connections, check one echo on each, hold them,
//! then close them all with the closing handshake. With `--server-pid`, the server's
//! resident memory is read before and while the connections are held, which gives
//! its memory per idle connection.
//!
//! Connections open `--batch` at a time through the loop (non-blocking connect, then
//! the handshake), so ten thousand of them never block anything. While holding, a
//! line "holding N connections" is printed for scripts that sample memory
//! themselves.

use super::open::{self, Target};
use super::stats::{Histogram, thousands};
use super::sys::{self, CpuMeter};
use super::ws::{self, WsRx, WsWire};
use super::{IdleFigures, Options, Progress, Report, Stop};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::signals::SIGNAL_KEY;
use polling::Poller;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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

struct Conn {
    sock: TcpStream,
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
    errors: u64,
    first_error: Option<String>,
    dropped: u64,
    closed_clean: u64,
}

pub fn run(opts: &Options, target: Target, stop: &mut Stop) -> Result<Report, String> {
    sys::check_nofile(opts.conns as u64 + 64)?;
    let poller = super::new_poller(stop)?;
    let me = std::process::id();
    let mut figures = IdleFigures {
        server_rss_before: opts.server_pid.and_then(sys::rss_bytes),
        client_rss_before: sys::rss_bytes(me),
        ..IdleFigures::default()
    };
    let cpu = CpuMeter::start(None);
    let server_cpu = opts.server_pid.map(|p| CpuMeter::start(Some(p)));
    let mut progress = Progress::new(opts);
    let n = opts.conns;
    let opened = open::open_all(
        &poller,
        stop,
        &target,
        n,
        opts.batch,
        opts.connect_timeout,
        false,
        &mut |ok, failed| {
            progress.status(&format!(
                "opening: {}/{} open, {failed} failed",
                thousands(ok),
                thousands(n as u64)
            ))
        },
    )?;
    figures.opened = n as u64 - opened.failed;
    figures.failed = opened.failed;
    figures.open_secs = opened.elapsed.as_secs_f64();
    progress.finish();
    progress.line(&format!(
        "{} of {} connections open in {:.2} s{}",
        thousands(figures.opened),
        thousands(n as u64),
        figures.open_secs,
        opened
            .first_error
            .as_deref()
            .map_or(String::new(), |e| format!(" (first failure: {e})"))
    ));
    let mut idle = Idle {
        poller: &poller,
        wire: WsWire::new(opts.size, opts.binary),
        conns: Vec::with_capacity(n),
        rbuf: vec![0u8; 64 * 1024],
        scratch: Vec::new(),
        hist: Histogram::new(),
        base: Instant::now(),
        errors: 0,
        first_error: None,
        dropped: 0,
        closed_clean: 0,
    };
    let mut leftovers = Vec::new();
    for (i, c) in opened.conns.into_iter().enumerate() {
        let Some(c) = c else { continue };
        // Keys were the connection numbers while opening; renumber densely.
        let key = idle.conns.len();
        if key != i {
            poll::remove(&poller, &c.sock);
            if let Err(e) = Registration::add(&poller, &c.sock, key, Interest::READ) {
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

    // One echo on each.
    idle.base = Instant::now();
    let frame = idle.wire.frame(0).to_vec();
    for i in 0..idle.conns.len() {
        let now_ns = idle.base.elapsed().as_nanos() as u64;
        let Some(c) = idle.conns.get_mut(i) else {
            continue;
        };
        c.sent_at = now_ns;
        // A fresh socket's buffer takes a small frame whole.
        match c.sock.write(&frame) {
            Ok(k) if k == frame.len() => {}
            Ok(_) => idle.fail(i, "the first message did not fit the socket buffer"),
            Err(e) => idle.fail(i, &format!("write: {e}")),
        }
    }
    for (i, leftover) in leftovers {
        if !leftover.is_empty() {
            idle.process(i, &leftover, 0);
        }
    }
    let echo_deadline = Instant::now() + opts.connect_timeout;
    idle.pump(
        stop,
        &mut progress,
        echo_deadline,
        |c| c.state == State::Echo,
        "echo",
    )?;
    for i in 0..idle.conns.len() {
        if idle.conns.get(i).is_some_and(|c| c.state == State::Echo) {
            idle.fail(i, "no echo within the connect timeout");
        }
    }
    let held = idle.count(State::Held);
    figures.held = held;

    // Hold.
    progress.line(&format!(
        "holding {held} connections for {:.1} s",
        opts.hold.as_secs_f64()
    ));
    let hold_start = Instant::now();
    let hold_end = hold_start + opts.hold;
    idle.pump(stop, &mut progress, hold_end, |_| true, "hold")?;
    figures.hold_secs = hold_start.elapsed().as_secs_f64();
    figures.server_rss_held = opts.server_pid.and_then(sys::rss_bytes);
    figures.client_rss_held = sys::rss_bytes(me);
    let cpu_pct = cpu.percent();
    let server_cpu_pct = server_cpu.as_ref().and_then(CpuMeter::percent);
    figures.held = held - idle.dropped;
    figures.dropped = idle.dropped;

    // Close them all.
    progress.line(&format!("closing {} connections", figures.held));
    for i in 0..idle.conns.len() {
        idle.send_close(i);
    }
    let close_deadline =
        Instant::now() + Duration::from_secs(5) + Duration::from_millis(n as u64 / 2);
    let closing = |c: &Conn| matches!(c.state, State::Closing { .. });
    idle.pump(stop, &mut progress, close_deadline, closing, "close")?;
    progress.finish();
    let mut unclean = 0;
    for c in &mut idle.conns {
        if matches!(c.state, State::Closing { .. }) {
            unclean += 1;
            poll::remove(&poller, &c.sock);
            c.state = State::Dead;
        }
    }
    figures.closed_clean = idle.closed_clean;
    Ok(Report {
        messages: idle.hist.count(),
        latency: idle.hist.summary(),
        errors: idle.errors,
        first_error: idle.first_error.or(opened.first_error),
        unclean_closes: unclean,
        cpu_pct,
        server_cpu_pct,
        interrupted: stop.requested(),
        elapsed: Duration::from_secs_f64(figures.hold_secs),
        idle: Some(figures),
        ..Report::new(opts)
    })
}

impl Idle<'_> {
    fn count(&self, state: State) -> u64 {
        self.conns.iter().filter(|c| c.state == state).count() as u64
    }

    /// Runs the loop until `until`, or until no connection is `waiting` (for phases
    /// that wait for something).
    fn pump(
        &mut self,
        stop: &mut Stop,
        progress: &mut Progress,
        until: Instant,
        waiting: impl Fn(&Conn) -> bool,
        phase: &str,
    ) -> Result<(), String> {
        let mut events = super::events();
        let everyone = phase == "hold";
        loop {
            let now = Instant::now();
            if now >= until || stop.requested() {
                return Ok(());
            }
            let left = self.conns.iter().filter(|c| waiting(c)).count();
            if !everyone && left == 0 {
                return Ok(());
            }
            if everyone {
                progress.status(&format!(
                    "holding {} connections: {:.0} s left",
                    self.count(State::Held),
                    (until - now).as_secs_f64()
                ));
            } else {
                progress.status(&format!("{phase}: {left} to go"));
            }
            let timeout = (until - now).min(Duration::from_millis(250));
            super::wait(self.poller, &mut events, timeout)?;
            for ev in events.iter() {
                if ev.key == SIGNAL_KEY {
                    stop.on_signal();
                } else if ev.readable {
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
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("connection {i}: {why}"));
        }
    }
}
