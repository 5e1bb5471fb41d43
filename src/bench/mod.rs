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
use stats::{Histogram, Summary, human_us, thousands};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
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

/// Memory figures of `bench idle`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdleFigures {
    pub opened: u64,
    pub failed: u64,
    pub open_secs: f64,
    /// Connections held (opened and echoed).
    pub held: u64,
    /// Held connections the server closed during the hold.
    pub dropped: u64,
    pub hold_secs: f64,
    pub closed_clean: u64,
    pub server_rss_before: Option<u64>,
    pub server_rss_held: Option<u64>,
    pub client_rss_before: Option<u64>,
    pub client_rss_held: Option<u64>,
}

impl IdleFigures {
    /// Server memory per held connection, in bytes.
    pub fn server_bytes_per_conn(&self) -> Option<f64> {
        per_conn(self.server_rss_before, self.server_rss_held, self.held)
    }

    pub fn client_bytes_per_conn(&self) -> Option<f64> {
        per_conn(self.client_rss_before, self.client_rss_held, self.held)
    }
}

fn per_conn(before: Option<u64>, held: Option<u64>, n: u64) -> Option<f64> {
    match (before, held) {
        (Some(b), Some(h)) if n > 0 => Some((h as f64 - b as f64) / n as f64),
        _ => None,
    }
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub mode: Mode,
    pub target: String,
    pub conns: usize,
    pub size: usize,
    pub depth: usize,
    pub binary: bool,
    /// The measured window.
    pub elapsed: Duration,
    /// Echoes completed and checked within the window.
    pub messages: u64,
    pub latency: Summary,
    /// Wrong echoes, failed connections, unexpected closes.
    pub errors: u64,
    pub first_error: Option<String>,
    /// udp: datagrams not answered within the loss timeout; answers that came later.
    pub lost: u64,
    pub late: u64,
    /// Connections whose closing handshake did not finish cleanly.
    pub unclean_closes: u64,
    /// Our CPU use over the window, % of one core.
    pub cpu_pct: Option<f64>,
    pub server_pid: Option<u32>,
    pub server_cpu_pct: Option<f64>,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    pub idle: Option<IdleFigures>,
}

impl Report {
    pub fn new(opts: &Options) -> Report {
        Report {
            mode: opts.mode,
            target: opts.target.clone(),
            conns: opts.conns,
            size: opts.size,
            depth: opts.depth,
            binary: opts.binary,
            elapsed: Duration::ZERO,
            messages: 0,
            latency: Summary::default(),
            errors: 0,
            first_error: None,
            lost: 0,
            late: 0,
            unclean_closes: 0,
            cpu_pct: None,
            server_pid: opts.server_pid,
            server_cpu_pct: None,
            interrupted: false,
            idle: None,
        }
    }

    pub fn msgs_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.messages as f64 / s
        } else {
            0.0
        }
    }

    /// Payload megabytes (10^6) per second, one direction.
    pub fn mb_per_s(&self) -> f64 {
        self.msgs_per_s() * self.size as f64 / 1e6
    }

    /// CPU time per echoed message, in ns, given a CPU use in % of one core. Where
    /// neither side saturates its core (wakeup latency bound, as in many VMs), this
    /// is the figure that compares implementations.
    pub fn cpu_ns_per_msg(&self, pct: Option<f64>) -> Option<f64> {
        let rate = self.msgs_per_s();
        pct.filter(|_| rate > 0.0 && self.idle.is_none())
            .map(|p| p / 100.0 / rate * 1e9)
    }

    pub fn saturated(&self) -> bool {
        self.cpu_pct.is_some_and(|c| c >= sys::SATURATED_PCT)
    }

    /// Whether the run went as it should: no errors, and something was measured.
    pub fn ok(&self) -> bool {
        match &self.idle {
            Some(i) => self.errors == 0 && i.failed == 0 && i.dropped == 0 && i.held > 0,
            None => self.errors == 0 && self.messages > 0,
        }
    }

    /// The summary for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let what = match self.mode {
            Mode::Ws => format!(
                "{} B {} messages",
                self.size,
                if self.binary { "binary" } else { "text" }
            ),
            Mode::Tcp => format!("{} B lines", self.size),
            Mode::Udp => format!("{} B datagrams", self.size),
            Mode::Idle => format!("one {} B echo each", self.size),
        };
        let conns = match (self.mode, self.conns) {
            (Mode::Udp, 1) => "socket",
            (Mode::Udp, _) => "sockets",
            (_, 1) => "connection",
            _ => "connections",
        };
        let _ = writeln!(
            s,
            "sockloop bench {} {}: {} {conns}{}, {what}{}",
            self.mode.name(),
            self.target,
            self.conns,
            if self.mode == Mode::Idle {
                String::new()
            } else {
                format!(" × depth {}", self.depth)
            },
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        if let Some(i) = &self.idle {
            let _ = writeln!(
                s,
                "  opened     {} in {:.2} s ({:.0}/s), {} failed",
                thousands(i.opened),
                i.open_secs,
                i.opened as f64 / i.open_secs.max(1e-9),
                i.failed
            );
            let _ = writeln!(
                s,
                "  held       {} for {:.1} s, {} dropped by the server; {} closed cleanly",
                thousands(i.held),
                i.hold_secs,
                i.dropped,
                thousands(i.closed_clean)
            );
            let mem = |before: Option<u64>, held: Option<u64>, per: Option<f64>| match (
                before, held, per,
            ) {
                (Some(b), Some(h), Some(p)) => format!(
                    "{:.1} MiB → {:.1} MiB: {:.0} bytes per connection",
                    b as f64 / 1048576.0,
                    h as f64 / 1048576.0,
                    p
                ),
                _ => "unknown".into(),
            };
            if self.server_pid.is_some() {
                let _ = writeln!(
                    s,
                    "  server rss {}",
                    mem(
                        i.server_rss_before,
                        i.server_rss_held,
                        i.server_bytes_per_conn()
                    )
                );
            }
            let _ = writeln!(
                s,
                "  our rss    {}",
                mem(
                    i.client_rss_before,
                    i.client_rss_held,
                    i.client_bytes_per_conn()
                )
            );
            let l = &self.latency;
            let _ = writeln!(
                s,
                "  echo       p50 {}  p99 {}  max {}",
                human_us(l.p50),
                human_us(l.p99),
                human_us(l.max)
            );
        } else {
            let _ = writeln!(
                s,
                "  messages   {} in {:.2} s: {} msg/s, {:.2} MB/s each way",
                thousands(self.messages),
                self.elapsed.as_secs_f64(),
                thousands(self.msgs_per_s().round() as u64),
                self.mb_per_s()
            );
            let l = &self.latency;
            let _ = writeln!(
                s,
                "  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
                human_us(l.p50),
                human_us(l.p90),
                human_us(l.p99),
                human_us(l.p999),
                human_us(l.max),
                human_us(l.mean)
            );
            if self.mode == Mode::Udp {
                let _ = writeln!(
                    s,
                    "  loss       {} lost ({:.3} %), {} late",
                    self.lost,
                    100.0 * self.lost as f64 / (self.messages + self.lost).max(1) as f64,
                    self.late
                );
            }
        }
        let _ = write!(s, "  errors     {}", self.errors);
        if let Some(e) = &self.first_error {
            let _ = write!(s, " (first: {e})");
        }
        if self.unclean_closes > 0 {
            let _ = write!(s, "; {} closed uncleanly", self.unclean_closes);
        }
        s.push('\n');
        match self.cpu_pct {
            Some(c) if c >= sys::SATURATED_PCT => {
                let _ = writeln!(
                    s,
                    "  generator  cpu {c:.0}% of one core — SATURATED: the generator may be the \
                     limit, so these figures are a lower bound for the server"
                );
            }
            Some(c) => {
                let _ = writeln!(s, "  generator  cpu {c:.0}% of one core");
            }
            None => {}
        }
        if let (Some(pid), Some(c)) = (self.server_pid, self.server_cpu_pct) {
            let per = self.cpu_ns_per_msg(Some(c)).map_or(String::new(), |ns| {
                format!(", {ns:.0} ns of CPU per message")
            });
            let _ = writeln!(s, "  server     cpu {c:.0}% of one core (pid {pid}){per}");
        }
        s
    }

    /// One JSON object, for scripts.
    pub fn json(&self) -> String {
        let num = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.3}"));
        let int = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
        let l = &self.latency;
        let mut s = String::from("{");
        let _ = write!(
            s,
            "\"mode\":\"{}\",\"target\":{},\"conns\":{},\"size\":{},\"depth\":{},\"binary\":{},",
            self.mode.name(),
            json_string(&self.target),
            self.conns,
            self.size,
            self.depth,
            self.binary
        );
        let _ = write!(
            s,
            "\"elapsed_s\":{:.6},\"messages\":{},\"msgs_per_s\":{:.1},\"mb_per_s\":{:.3},",
            self.elapsed.as_secs_f64(),
            self.messages,
            self.msgs_per_s(),
            self.mb_per_s()
        );
        let _ = write!(
            s,
            "\"latency_us\":{{\"p50\":{:.1},\"p90\":{:.1},\"p99\":{:.1},\"p999\":{:.1},\"max\":{:.1},\"mean\":{:.1}}},",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        let _ = write!(
            s,
            "\"errors\":{},\"first_error\":{},\"lost\":{},\"late\":{},\"unclean_closes\":{},",
            self.errors,
            self.first_error
                .as_deref()
                .map_or("null".to_string(), json_string),
            self.lost,
            self.late,
            self.unclean_closes
        );
        let _ = write!(
            s,
            "\"cpu_pct\":{},\"cpu_ns_per_msg\":{},\"saturated\":{},\"server_pid\":{},\"server_cpu_pct\":{},\"server_cpu_ns_per_msg\":{},\"interrupted\":{},\"ok\":{},",
            num(self.cpu_pct),
            num(self.cpu_ns_per_msg(self.cpu_pct)),
            self.saturated(),
            int(self.server_pid.map(u64::from)),
            num(self.server_cpu_pct),
            num(self.cpu_ns_per_msg(self.server_cpu_pct)),
            self.interrupted,
            self.ok()
        );
        match &self.idle {
            None => s.push_str("\"idle\":null"),
            Some(i) => {
                let _ = write!(
                    s,
                    "\"idle\":{{\"opened\":{},\"failed\":{},\"open_s\":{:.3},\"held\":{},\"dropped\":{},\"hold_s\":{:.3},\"closed_clean\":{},\
                     \"server_rss_before\":{},\"server_rss_held\":{},\"server_bytes_per_conn\":{},\
                     \"client_rss_before\":{},\"client_rss_held\":{},\"client_bytes_per_conn\":{}}}",
                    i.opened,
                    i.failed,
                    i.open_secs,
                    i.held,
                    i.dropped,
                    i.hold_secs,
                    i.closed_clean,
                    int(i.server_rss_before),
                    int(i.server_rss_held),
                    num(i.server_bytes_per_conn()),
                    int(i.client_rss_before),
                    int(i.client_rss_held),
                    num(i.client_bytes_per_conn()),
                );
            }
        }
        s.push('}');
        s
    }
}

fn json_string(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            mode: Mode::Ws,
            target: "ws://127.0.0.1:1/ws".into(),
            conns: 2,
            size: 100,
            depth: 1,
            duration: Duration::from_secs(1),
            count: None,
            binary: false,
            hold: Duration::from_secs(1),
            batch: 10,
            connect_timeout: Duration::from_secs(1),
            loss_timeout: Duration::from_millis(200),
            json: false,
            quiet: true,
            server_pid: None,
        }
    }

    #[test]
    fn report_rates_and_json() {
        let mut r = Report::new(&opts());
        r.elapsed = Duration::from_secs(2);
        r.messages = 1000;
        r.cpu_pct = Some(95.0);
        r.first_error = Some("a \"quoted\"\nthing".into());
        assert_eq!(r.msgs_per_s(), 500.0);
        assert_eq!(r.mb_per_s(), 0.05);
        assert!(r.saturated());
        assert!(r.ok());
        let j = r.json();
        assert!(j.starts_with("{\"mode\":\"ws\""));
        assert!(j.contains("\"msgs_per_s\":500.0"));
        assert!(j.contains("\"first_error\":\"a \\\"quoted\\\"\\nthing\""));
        assert!(j.contains("\"saturated\":true"));
        // 95 % of a core for 500 msg/s: 1.9 ms each.
        assert!(j.contains("\"cpu_ns_per_msg\":1900000.000"));
        assert!(j.ends_with("\"idle\":null}"));
        assert!(r.human().contains("SATURATED"));
        r.errors = 1;
        assert!(!r.ok());
    }

    #[test]
    fn idle_per_connection() {
        let i = IdleFigures {
            held: 1000,
            server_rss_before: Some(1_000_000),
            server_rss_held: Some(3_000_000),
            ..IdleFigures::default()
        };
        assert_eq!(i.server_bytes_per_conn(), Some(2000.0));
        assert_eq!(i.client_bytes_per_conn(), None);
    }
}
