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

use super::open::{self, Target};
use super::stats::Histogram;
use super::sys::CpuMeter;
use super::tcp::{LineRx, LineWire};
use super::ws::{self, WsRx, WsWire};
use super::{Options, Progress, Report, Stop};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::signals::SIGNAL_KEY;
use polling::Poller;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
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
}

enum Rx {
    Ws(Box<WsRx>),
    Line(LineRx),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// We sent our Close (or FIN); `close_seen`: the server's Close arrived.
    Closing {
        close_seen: bool,
    },
    /// Closed cleanly.
    Done,
    /// Failed or closed uncleanly; no longer polled.
    Dead,
}

struct Conn {
    sock: TcpStream,
    phase: Phase,
    out: Vec<u8>,
    out_pos: usize,
    registration: Registration,
    sent: u64,
    done: u64,
    /// Send time (ns since the start) of message `k`, at `k % depth`.
    times: Box<[u64]>,
    rx: Rx,
}

impl Conn {
    fn in_flight(&self) -> u64 {
        self.sent - self.done
    }

    fn live(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Closing { .. })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Measuring,
    Draining { until: Instant },
    Closing { until: Instant },
}

struct Engine<'a> {
    opts: &'a Options,
    poller: &'a Poller,
    wire: Wire,
    conns: Vec<Conn>,
    hist: Histogram,
    rbuf: Vec<u8>,
    base: Instant,
    /// Messages that may still be sent (`--count`), or u64::MAX.
    budget: u64,
    sending: bool,
    total_done: u64,
    errors: u64,
    first_error: Option<String>,
    unclean: u64,
    /// Connections running or closing.
    live: usize,
}

pub fn run(opts: &Options, target: Target, wire: Wire, stop: &mut Stop) -> Result<Report, String> {
    super::sys::check_nofile(opts.conns as u64 + 32)?;
    let poller = super::new_poller(stop)?;
    let mut progress = Progress::new(opts);
    let opened = open::open_all(
        &poller,
        stop,
        &target,
        opts.conns,
        opts.batch,
        opts.connect_timeout,
        true,
        &mut |ok, _| progress.status(&format!("connecting: {ok}/{} open", opts.conns)),
    )?;
    if opened.failed > 0 {
        for c in opened.conns.iter().flatten() {
            poll::remove(&poller, &c.sock);
        }
        progress.finish();
        return Err(format!(
            "could not open all {} connections: {}",
            opts.conns,
            opened.first_error.unwrap_or_default()
        ));
    }
    progress.line(&format!(
        "{} connection{} open in {:.0} ms; running {}",
        opts.conns,
        if opts.conns == 1 { "" } else { "s" },
        opened.elapsed.as_secs_f64() * 1000.0,
        match opts.count {
            Some(n) => format!(
                "{n} messages (at most {:.0} s)",
                opts.duration.as_secs_f64()
            ),
            None => format!("{:.1} s", opts.duration.as_secs_f64()),
        }
    ));
    let depth = opts.depth;
    let mut conns = Vec::with_capacity(opts.conns);
    let mut leftovers = Vec::new();
    for c in opened.conns.into_iter().flatten() {
        let rx = match wire {
            Wire::Ws(_) => Rx::Ws(Box::default()),
            Wire::Line(_) => Rx::Line(LineRx::default()),
        };
        leftovers.push(c.leftover);
        conns.push(Conn {
            sock: c.sock,
            phase: Phase::Running,
            out: Vec::with_capacity(depth * wire.message(0).len()),
            out_pos: 0,
            registration: c.registration,
            sent: 0,
            done: 0,
            times: vec![0; depth].into_boxed_slice(),
            rx,
        });
    }
    let mut engine = Engine {
        opts,
        poller: &poller,
        wire,
        conns,
        hist: Histogram::new(),
        rbuf: vec![0u8; 256 * 1024],
        base: Instant::now(),
        budget: opts.count.unwrap_or(u64::MAX),
        sending: true,
        total_done: 0,
        errors: 0,
        first_error: None,
        unclean: 0,
        live: 0,
    };
    engine.live = engine.conns.len();
    for (i, leftover) in leftovers.into_iter().enumerate() {
        if !leftover.is_empty() {
            engine.process(i, &leftover, 0);
        }
    }
    engine.measure(stop, &mut progress)
}

impl Engine<'_> {
    fn now_ns(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.base).as_nanos() as u64
    }

    fn measure(mut self, stop: &mut Stop, progress: &mut Progress) -> Result<Report, String> {
        let opts = self.opts;
        let t0 = Instant::now();
        self.base = t0;
        let cpu = CpuMeter::start(None);
        let server_cpu = opts.server_pid.map(|p| CpuMeter::start(Some(p)));
        progress.start(t0);
        for i in 0..self.conns.len() {
            let n = (opts.depth as u64).min(self.budget);
            self.budget -= n;
            if let Some(c) = self.conns.get_mut(i) {
                queue(c, &self.wire, n, 0, opts.depth);
            }
            self.flush(i);
        }
        let deadline = t0 + opts.duration;
        let mut stage = Stage::Measuring;
        let mut window = (0u64, Duration::ZERO);
        let mut cpu_pct = None;
        let mut server_pct = None;
        let mut events = super::events();
        loop {
            let now = Instant::now();
            if stage == Stage::Measuring {
                let finished = opts.count.is_some_and(|n| self.total_done >= n);
                if finished || now >= deadline || stop.requested() || self.live == 0 {
                    window = (self.total_done, now - t0);
                    cpu_pct = cpu.percent();
                    server_pct = server_cpu.as_ref().and_then(CpuMeter::percent);
                    self.sending = false;
                    stage = Stage::Draining { until: now + DRAIN };
                    progress.finish();
                }
            }
            if let Stage::Draining { until } = stage {
                if self.in_flight() == 0 || now >= until || stop.requested() {
                    self.start_closing();
                    stage = Stage::Closing {
                        until: now + CLOSE_WAIT,
                    };
                }
            }
            if let Stage::Closing { until } = stage {
                if self.live == 0 || now >= until {
                    break;
                }
            }
            if stage == Stage::Measuring {
                progress.tick(now, self.total_done, self.errors, &self.hist, "");
            }
            let wake = match stage {
                Stage::Measuring => deadline.min(progress.next_tick()),
                Stage::Draining { until } | Stage::Closing { until } => until,
            };
            let timeout = wake
                .saturating_duration_since(now)
                .min(Duration::from_millis(100));
            super::wait(self.poller, &mut events, timeout)?;
            for ev in events.iter() {
                if ev.key == SIGNAL_KEY {
                    stop.on_signal();
                    continue;
                }
                if ev.writable {
                    self.flush(ev.key);
                }
                if ev.readable {
                    self.read(ev.key);
                }
            }
        }
        // Whatever did not finish closing in time.
        for c in &mut self.conns {
            if c.live() {
                self.unclean += 1;
                poll::remove(self.poller, &c.sock);
                c.phase = Phase::Dead;
            }
        }
        let (messages, elapsed) = window;
        if messages == 0 && self.errors == 0 && !stop.requested() {
            self.errors += 1;
            self.first_error = Some(format!(
                "no echo came back in {:.1} s — is {} an echo server?",
                elapsed.as_secs_f64(),
                opts.target
            ));
        }
        if let Some(n) = opts.count {
            if messages < n && !stop.requested() && self.errors == 0 {
                self.errors += 1;
                self.first_error = Some(format!(
                    "only {messages} of the {n} messages were echoed within the {:.0} s limit",
                    opts.duration.as_secs_f64()
                ));
            }
        }
        Ok(Report {
            elapsed,
            messages,
            latency: self.hist.summary(),
            errors: self.errors,
            first_error: self.first_error,
            unclean_closes: self.unclean,
            cpu_pct,
            server_cpu_pct: server_pct,
            interrupted: stop.requested(),
            ..Report::new(opts)
        })
    }

    fn in_flight(&self) -> u64 {
        self.conns
            .iter()
            .filter(|c| c.phase == Phase::Running)
            .map(Conn::in_flight)
            .sum()
    }

    fn start_closing(&mut self) {
        for i in 0..self.conns.len() {
            let Some(c) = self.conns.get_mut(i) else {
                continue;
            };
            if c.phase != Phase::Running {
                continue;
            }
            c.phase = Phase::Closing { close_seen: false };
            match self.wire {
                Wire::Ws(_) => {
                    ws::close_frame(&mut c.out);
                    self.flush(i);
                }
                Wire::Line(_) => {
                    self.flush(i);
                    if let Some(c) = self.conns.get(i) {
                        let _ = c.sock.shutdown(Shutdown::Write);
                    }
                }
            }
        }
    }

    /// Reads what connection `i` has, checks it, answers it.
    fn read(&mut self, i: usize) {
        loop {
            let Some(c) = self.conns.get_mut(i) else {
                return;
            };
            if !c.live() {
                return;
            }
            match c.sock.read(&mut self.rbuf) {
                Ok(0) => {
                    let why = match c.phase {
                        Phase::Closing { close_seen: true } => None,
                        Phase::Closing { .. } if matches!(self.wire, Wire::Line(_)) => None,
                        Phase::Closing { .. } => {
                            Some("closed without a WebSocket Close".to_string())
                        }
                        _ => Some("the server closed the connection".to_string()),
                    };
                    self.end(i, why);
                    return;
                }
                Ok(n) => {
                    let now_ns = self.now_ns(Instant::now());
                    let data = std::mem::take(&mut self.rbuf);
                    self.process(i, data.get(..n).unwrap_or_default(), now_ns);
                    self.rbuf = data;
                    if n < self.rbuf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.end(i, Some(format!("read: {e}")));
                    return;
                }
            }
        }
        self.flush(i);
    }

    /// Checks bytes from connection `i` and queues the messages that replace the
    /// echoes they completed.
    fn process(&mut self, i: usize, data: &[u8], now_ns: u64) {
        let depth = self.opts.depth;
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let fed = match (&mut c.rx, &self.wire) {
            (Rx::Ws(rx), Wire::Ws(w)) => rx
                .feed(data, w, c.done, c.sent - c.done, &mut c.out)
                .map(|f| (f.messages, f.close)),
            (Rx::Line(rx), Wire::Line(w)) => {
                rx.feed(data, w, c.done, c.sent - c.done).map(|n| (n, None))
            }
            _ => Err("internal: wire and receiver disagree".to_string()),
        };
        let (completed, close) = match fed {
            Ok(f) => f,
            Err(e) => {
                self.end(i, Some(e));
                return;
            }
        };
        for _ in 0..completed {
            let sent_at = c.times.get((c.done % depth as u64) as usize).copied();
            self.hist
                .record_ns(now_ns.saturating_sub(sent_at.unwrap_or(now_ns)));
            c.done += 1;
        }
        self.total_done += completed;
        if self.sending && c.phase == Phase::Running {
            let n = completed.min(self.budget);
            self.budget -= n;
            queue(c, &self.wire, n, now_ns, depth);
        }
        if let Some(code) = close {
            match c.phase {
                Phase::Closing { .. } => c.phase = Phase::Closing { close_seen: true },
                _ => {
                    let code = code.map_or("no code".to_string(), |c| c.to_string());
                    self.end(i, Some(format!("the server closed the WebSocket ({code})")));
                }
            }
        }
    }

    /// Writes what connection `i` has queued, and keeps its write interest in step.
    fn flush(&mut self, i: usize) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if !c.live() {
            return;
        }
        while c.out_pos < c.out.len() {
            match c.sock.write(c.out.get(c.out_pos..).unwrap_or_default()) {
                Ok(n) => c.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.end(i, Some(format!("write: {e}")));
                    return;
                }
            }
        }
        if c.out_pos == c.out.len() {
            c.out.clear();
            c.out_pos = 0;
        }
        let wanted = Interest::new(true, c.out_pos < c.out.len());
        if let Err(e) = c.registration.set(self.poller, &c.sock, i, wanted) {
            self.end(i, Some(format!("poller: {e}")));
        }
    }

    /// Connection `i` is finished: cleanly (`None`) or with an error.
    fn end(&mut self, i: usize, error: Option<String>) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if !c.live() {
            return;
        }
        self.live -= 1;
        poll::remove(self.poller, &c.sock);
        let closing = matches!(c.phase, Phase::Closing { .. });
        c.phase = if error.is_none() {
            Phase::Done
        } else {
            Phase::Dead
        };
        if let Some(e) = error {
            if closing {
                // The run is over; a messy goodbye is reported but is not an error.
                self.unclean += 1;
            } else {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("connection {i}: {e}"));
                }
            }
        }
    }
}

/// Appends the next `n` messages to `c`'s output, stamped `now_ns`.
#[inline]
fn queue(c: &mut Conn, wire: &Wire, n: u64, now_ns: u64, depth: usize) {
    for _ in 0..n {
        c.out.extend_from_slice(wire.message(c.sent));
        if let Some(t) = c.times.get_mut((c.sent % depth as u64) as usize) {
            *t = now_ns;
        }
        c.sent += 1;
    }
}
