//! THE loop: one thread, one poller, every socket.
//!
//! ```text
//!   wait for readiness (timeout = next deadline)
//!     signal pipe  → begin graceful shutdown (second signal: exit now)
//!     listener     → accept until WouldBlock / receive datagrams and answer them
//!                    (server/incoming.rs)
//!     connection   → write queued output; read into the shared buffer; let the
//!                    service answer; write (queue only what the kernel refuses)
//!   fire due timers (idle timeouts, drain deadlines, paused listeners)
//! ```
//!
//! Level-triggered: the poller reports a socket for as long as it is ready, so a
//! connection gets one read per turn and nobody starves; interest changes (writable
//! while output is queued, not readable while paused) cost one `epoll_ctl` each.

use super::conn::{Conn, DRAIN_TIMEOUT, Phase, would_block};
use super::listener::{BindError, BindOptions, ListenSocket, bind};
use super::poll::{self, Events, Interest, Registration};
use super::signals::{SIGNAL_KEY, SignalPipe};
use super::slab::Slab;
use super::spec::ListenSpec;
use super::timers::{Timer, Timers};
use crate::clock::Millis;
use crate::proto::command::After;
use crate::service::web::WebConfig;
use crate::service::{Service, Shared};
use crate::trace::{self, Layer};
use crate::{debug, info};
use polling::Poller;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

mod incoming;

/// Poller keys: connections use their slab index; listeners count down from below
/// the signal pipe's key at the top of the key space, so the two ranges never meet.
const LISTENER_KEY_TOP: usize = SIGNAL_KEY - 1;

/// One read buffer for the whole loop (safe: one thread). 64 KiB takes a full
/// socket buffer's worth in one call.
const READ_BUF: usize = 64 * 1024;
/// How long graceful shutdown waits for queued output to drain.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_line: usize,
    pub idle_timeout: Option<Duration>,
    pub max_conns: usize,
    /// Queued output per connection above which we stop reading from it.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 1024,
            idle_timeout: Some(Duration::from_secs(120)),
            max_conns: 10_000,
            max_output: 256 * 1024,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub listeners: Vec<ListenSpec>,
    pub bind: BindOptions,
    pub limits: Limits,
    pub web: WebConfig,
}

/// A bound listener as the banner shows it.
pub struct ListenerInfo {
    pub transport: &'static str,
    pub address: String,
    pub service: Service,
}

/// What `run` reports when the loop ends.
#[derive(Debug)]
pub struct Summary {
    pub served: u64,
    pub active_at_exit: u64,
    /// A second signal cut the graceful shutdown short.
    pub forced: bool,
}

struct Listener {
    socket: Option<ListenSocket>,
    info: ListenerInfo,
    /// Accepting is paused after EMFILE; logged once per episode.
    paused: bool,
    fd_exhaustion_logged: bool,
}

pub struct Server {
    poller: Poller,
    listeners: Vec<Listener>,
    conns: Slab<Conn>,
    timers: Timers,
    shared: Shared,
    limits: Limits,
    signals: Option<SignalPipe>,
    read_buf: Box<[u8]>,
    /// Services write replies here; it is sent and cleared right away.
    scratch: Vec<u8>,
    next_conn_id: u64,
    shutting_down: bool,
    forced: bool,
}

impl Server {
    /// Binds every listener (failing on the first that cannot be bound) and installs
    /// the signal handlers. Nothing is accepted until `run`.
    pub fn bind(config: Config) -> Result<Server, BindError> {
        let poller =
            Poller::new().map_err(|e| BindError::Other("cannot create poller".into(), e))?;
        let mut server = Server {
            poller,
            listeners: Vec::new(),
            conns: Slab::default(),
            timers: Timers::default(),
            shared: Shared::new(config.limits.max_line),
            limits: config.limits,
            signals: None,
            read_buf: vec![0u8; READ_BUF].into_boxed_slice(),
            scratch: Vec::with_capacity(4096),
            next_conn_id: 1,
            shutting_down: false,
            forced: false,
        };
        server.shared.web = config.web.clone();
        // Signals first: once a Unix socket file exists, every failure path below
        // removes it again.
        let signals = SignalPipe::watch(&server.poller)
            .map_err(|e| BindError::Other("cannot install signal handlers".into(), e))?;
        server.signals = Some(signals);
        for spec in &config.listeners {
            let index = server.listeners.len();
            let bound = bind(&spec.endpoint, &config.bind).and_then(|(socket, address)| {
                let watched = Registration::add(
                    &server.poller,
                    &socket_fd(&socket),
                    listener_key(index),
                    Interest::READ,
                );
                match watched {
                    Ok(_) => Ok((socket, address)),
                    Err(e) => {
                        if let ListenSocket::Unix(_, owned) = &socket {
                            owned.remove();
                        }
                        Err(BindError::Other("cannot watch listener".into(), e))
                    }
                }
            });
            let (socket, address) = match bound {
                Ok(bound) => bound,
                Err(e) => {
                    server.remove_unix_files();
                    return Err(e);
                }
            };
            if trace::on(Layer::Loop) {
                trace_listen(&socket, &address, spec, &config.bind);
            }
            server.listeners.push(Listener {
                socket: Some(socket),
                info: ListenerInfo {
                    transport: match spec.service {
                        Service::Web => "http",
                        _ => spec.endpoint.transport(),
                    },
                    address,
                    service: spec.service,
                },
                paused: false,
                fd_exhaustion_logged: false,
            });
        }
        Ok(server)
    }

    pub fn listeners(&self) -> impl Iterator<Item = &ListenerInfo> {
        self.listeners.iter().map(|l| &l.info)
    }

    /// Serves until SIGINT/SIGTERM and the graceful shutdown that follows.
    pub fn run(mut self) -> io::Result<Summary> {
        let mut events = Events::new();
        loop {
            self.fire_timers(self.shared.now);
            if self.forced || (self.shutting_down && self.conns.is_empty()) {
                break;
            }
            let timeout = self.timers.timeout(self.shared.now);
            let waited = poll::wait(&self.poller, &mut events, timeout);
            // One clock read per turn: every event of this turn happened "now".
            self.shared.now = Millis::since(self.shared.started);
            waited?;
            for event in events.iter() {
                match event.key {
                    SIGNAL_KEY => self.on_signal(),
                    key if key > LISTENER_KEY_TOP - self.listeners.len() => {
                        self.on_listener(LISTENER_KEY_TOP - key)
                    }
                    slot => self.on_conn(slot, event.readable, event.writable, event.hangup),
                }
                if self.forced {
                    break;
                }
            }
        }
        let active_at_exit = self.conns.len() as u64;
        for slot in self.conns.keys() {
            self.close(slot, "server exit");
        }
        self.remove_unix_files();
        Ok(Summary {
            served: self.shared.conns_total,
            active_at_exit,
            forced: self.forced,
        })
    }

    fn on_signal(&mut self) {
        let count = self.signals.as_mut().map_or(0, SignalPipe::drain);
        if count == 0 {
            return;
        }
        if self.shutting_down || count > 1 {
            info!("second signal: exiting now");
            self.forced = true;
        } else {
            self.begin_shutdown();
        }
    }

    /// Stop accepting, let every connection send what it has queued, then close.
    fn begin_shutdown(&mut self) {
        info!(
            "shutting down: closing listeners, flushing {} connection(s) (signal again to exit now)",
            self.conns.len()
        );
        self.shutting_down = true;
        for listener in &mut self.listeners {
            if let Some(socket) = listener.socket.take() {
                let _ = self.poller.delete(socket_fd(&socket));
                if let ListenSocket::Unix(_, owned) = &socket {
                    owned.remove();
                }
            }
        }
        let now = Millis::since(self.shared.started);
        self.shared.now = now;
        for slot in self.conns.keys() {
            if trace::any() {
                self.trace_context(slot);
            }
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if conn.phase == Phase::Open {
                conn.last_active = now;
                let after = conn
                    .session
                    .on_shutdown(now, &mut self.shared, &mut self.scratch);
                self.deliver(slot, after);
            } else {
                self.settle(slot);
            }
        }
        self.timers
            .push(now.after(SHUTDOWN_GRACE), Timer::ShutdownDeadline);
    }

    fn on_conn(&mut self, slot: usize, readable: bool, writable: bool, hangup: bool) {
        if trace::any() {
            self.trace_context(slot);
            let what = match (hangup, readable, writable) {
                (true, _, _) => "hang-up or error (epoll reports it as readable and writable)",
                (false, true, true) => "readable, writable",
                (false, true, false) => "readable",
                (false, false, true) => "writable",
                (false, false, false) => "nothing",
            };
            crate::trace!(Layer::Loop, "ready: {what}");
        }
        if writable {
            let Some(conn) = self.conns.get_mut(slot) else {
                return;
            };
            match conn.flush() {
                Ok(n) => {
                    if n > 0 {
                        conn.last_active = self.shared.now;
                        self.shared.bytes_out += n as u64;
                    }
                }
                Err(e) => return self.close(slot, &format!("write failed: {e}")),
            }
        }
        if readable {
            self.read(slot);
        }
        if self
            .conns
            .get(slot)
            .is_some_and(|c| c.session.has_backlog())
        {
            self.serve_backlog(slot);
        }
        self.settle(slot);
    }

    /// One read from a readable connection, answered by its service. The caller
    /// (`on_conn`) then serves any backlog and settles the connection, once per event.
    fn read(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let draining = conn.phase == Phase::Draining;
        if conn.phase == Phase::Flushing {
            return;
        }
        let n = match conn.stream.read(&mut self.read_buf) {
            Ok(0) => {
                crate::trace!(
                    Layer::Loop,
                    "read 0 bytes: the peer sent FIN (it will send no more)"
                );
                conn.peer_eof = true;
                if draining {
                    return self.close(slot, "closed: both sides sent FIN");
                }
                let mut input = conn.take_input();
                conn.session
                    .on_eof(&mut input, &mut self.shared, &mut self.scratch);
                return self.deliver_only(slot, After::Close);
            }
            Ok(n) => n,
            Err(e) if would_block(&e) => {
                crate::trace!(Layer::Loop, "read: would block (nothing there after all)");
                return;
            }
            Err(e) => return self.close(slot, &format!("read failed: {e}")),
        };
        crate::trace!(
            Layer::Loop,
            "read {n} bytes{}",
            if draining {
                ", discarded (draining)"
            } else {
                ""
            }
        );
        conn.bytes_in += n as u64;
        self.shared.bytes_in += n as u64;
        if draining {
            // Discard: we already said goodbye. Not activity either: the drain ends
            // on time however much the peer still sends.
            return;
        }
        conn.last_active = self.shared.now;
        let budget = output_budget(conn, self.limits.max_output);
        let data = &mut self.read_buf[..n];
        let mut input = conn.take_input();
        let after = conn.session.on_data(
            &mut input,
            data,
            &mut self.shared,
            &mut self.scratch,
            budget,
        );
        conn.keep_input(input);
        self.deliver_only(slot, after);
    }

    /// Serves input a session set aside when its output budget ran out, now that the
    /// client has taken most of the queued output. A few rounds per turn at most, so
    /// one busy client cannot hold the loop; writable interest brings us back.
    fn serve_backlog(&mut self, slot: usize) {
        for _ in 0..4 {
            let Some(conn) = self.conns.get_mut(slot) else {
                return;
            };
            let ready = conn.phase == Phase::Open
                && conn.session.has_backlog()
                && conn.queued() <= self.limits.max_output / 4;
            if !ready {
                return;
            }
            let budget = output_budget(conn, self.limits.max_output);
            let mut input = conn.take_input();
            let after = conn.session.on_data(
                &mut input,
                &mut [],
                &mut self.shared,
                &mut self.scratch,
                budget,
            );
            conn.keep_input(input);
            self.deliver_only(slot, after);
        }
    }

    /// Sends what the service wrote to the scratch buffer, ends reading if the service
    /// asked to close, and moves the connection along.
    fn deliver(&mut self, slot: usize, after: After) {
        self.deliver_only(slot, after);
        self.serve_backlog(slot);
        self.settle(slot);
    }

    fn deliver_only(&mut self, slot: usize, after: After) {
        let Some(conn) = self.conns.get_mut(slot) else {
            self.scratch.clear();
            return;
        };
        let sent = conn.send(&self.scratch);
        self.scratch.clear();
        match sent {
            Ok(n) => {
                self.shared.bytes_out += n as u64;
                // A client taking our output is active even if it sends nothing.
                if n > 0 {
                    conn.last_active = self.shared.now;
                }
            }
            Err(e) => return self.close(slot, &format!("write failed: {e}")),
        }
        if after == After::Close && conn.phase == Phase::Open {
            conn.phase = Phase::Flushing;
            drop(conn.take_input()); // never served now
        }
    }

    /// Moves a connection along after any activity: applies backpressure, shuts our
    /// side once output is flushed, updates poller interest and the timer.
    fn settle(&mut self, slot: usize) {
        let max_output = self.limits.max_output;
        let idle = self.limits.idle_timeout;
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let session_deadline = conn.session.deadline(conn.last_active, &self.shared);
        let queued = conn.queued();
        if !conn.paused && queued >= max_output {
            conn.paused = true;
            debug!("#{} backpressure on: {queued} bytes queued", conn.id);
            crate::trace!(
                Layer::Loop,
                "backpressure on: {queued} bytes queued >= {max_output}; reading paused"
            );
        } else if conn.paused && queued <= max_output / 4 {
            conn.paused = false;
            debug!("#{} backpressure off", conn.id);
            crate::trace!(
                Layer::Loop,
                "backpressure off: {queued} bytes queued; reading again"
            );
        }
        if conn.phase == Phase::Flushing && queued == 0 {
            if conn.peer_eof {
                return self.close(slot, "closed: the peer sent FIN first, all replies sent");
            }
            crate::trace!(
                Layer::Loop,
                "shutdown(write): FIN sent; discarding input until the peer's FIN ({} s max)",
                DRAIN_TIMEOUT.as_secs()
            );
            conn.stream.shutdown_write();
            conn.phase = Phase::Draining;
            conn.last_active = self.shared.now;
        }
        let wanted = conn.wanted_interest();
        if let Err(e) = conn
            .registration
            .set(&self.poller, &conn.stream, slot, wanted)
        {
            return self.close(slot, &format!("poller: {e}"));
        }
        // Arm a timer only when the deadline moved earlier; later deadlines are found
        // when the current entry fires (lazy deletion keeps the heap small).
        if let Some(at) = conn.deadline(idle, session_deadline) {
            if conn.timer_at.is_none_or(|t| at < t) {
                conn.timer_at = Some(at);
                self.timers.push(at, Timer::Conn(slot as u32));
                crate::trace!(
                    Layer::Loop,
                    "timer armed: {} in {:.3} s",
                    timer_purpose(conn.phase),
                    self.shared.now.until(at).as_secs_f64()
                );
            }
        }
    }

    fn fire_timers(&mut self, now: Millis) {
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::Conn(slot) => self.on_conn_timer(slot as usize, at, now),
                Timer::ResumeListener(index) => self.resume_listener(index as usize),
                Timer::ShutdownDeadline => {
                    if self.shutting_down && !self.conns.is_empty() {
                        info!(
                            "shutdown grace over: dropping {} connection(s)",
                            self.conns.len()
                        );
                        for slot in self.conns.keys() {
                            self.close(slot, "shutdown");
                        }
                    }
                }
            }
        }
    }

    fn on_conn_timer(&mut self, slot: usize, at: Millis, now: Millis) {
        let idle = self.limits.idle_timeout;
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        if conn.timer_at != Some(at) {
            return; // stale entry
        }
        conn.timer_at = None;
        if trace::any() {
            self.trace_context(slot);
            crate::trace!(Layer::Loop, "timer fired");
        }
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        // The session's own deadlines first (handshake, close handshake, keepalive).
        let session_deadline = conn.session.deadline(conn.last_active, &self.shared);
        if conn.phase == Phase::Open && session_deadline.is_some_and(|d| d <= now) {
            let last_active = conn.last_active;
            let after =
                conn.session
                    .on_timer(now, last_active, &mut self.shared, &mut self.scratch);
            return self.deliver(slot, after);
        }
        match conn.deadline(idle, None) {
            Some(deadline) if deadline <= now => match conn.phase {
                Phase::Open => {
                    let idle = idle.unwrap_or_default();
                    debug!("#{} idle for {} s: closing", conn.id, idle.as_secs_f64());
                    conn.session
                        .on_idle_timeout(idle, &mut self.shared, &mut self.scratch);
                    conn.last_active = now;
                    self.deliver(slot, After::Close);
                }
                Phase::Flushing => self.close(slot, "peer stopped reading"),
                Phase::Draining => {
                    self.close(slot, "the peer did not send its FIN within the drain time")
                }
            },
            _ => self.settle(slot),
        }
    }

    fn close(&mut self, slot: usize, why: &str) {
        if trace::any() {
            self.trace_context(slot);
        }
        let Some(conn) = self.conns.remove(slot) else {
            return;
        };
        let _ = self.poller.delete(conn.stream.as_fd());
        self.shared.conns_active -= 1;
        crate::trace!(
            Layer::Loop,
            "close ({why}): {} bytes in, {} bytes out",
            conn.bytes_in,
            conn.bytes_out
        );
        debug!(
            "#{} {why}: {} in={} out={}",
            conn.id, conn.peer, conn.bytes_in, conn.bytes_out
        );
    }

    /// Tags the trace events that follow with this connection: `#3 tcp 127.0.0.1:5000`.
    fn trace_context(&self, slot: usize) {
        if let Some(conn) = self.conns.get(slot) {
            let info = &self.listeners[usize::from(conn.listener)].info;
            match conn.peer.addr() {
                Some(addr) => {
                    trace::set_context(format_args!("#{} {} {addr}", conn.id, info.transport))
                }
                None => trace::set_context(format_args!("#{} unix {}", conn.id, info.address)),
            }
        }
    }

    fn remove_unix_files(&mut self) {
        for listener in &mut self.listeners {
            if let Some(ListenSocket::Unix(_, owned)) = &listener.socket {
                owned.remove();
            }
        }
    }
}

fn listener_key(index: usize) -> usize {
    LISTENER_KEY_TOP - index
}

fn socket_fd(socket: &ListenSocket) -> std::os::fd::BorrowedFd<'_> {
    match socket {
        ListenSocket::Tcp(l) => l.as_fd(),
        ListenSocket::Udp(s) => s.as_fd(),
        ListenSocket::Unix(l, _) => l.as_fd(),
    }
}

/// How much output a session may produce now: what is left under the connection's
/// cap, but never so little that it cannot make progress.
fn output_budget(conn: &Conn, max_output: usize) -> usize {
    max_output.saturating_sub(conn.queued()).max(16 * 1024)
}

/// What a connection's timer waits for in each phase, for the trace.
fn timer_purpose(phase: Phase) -> &'static str {
    match phase {
        Phase::Open => "idle / protocol deadline",
        Phase::Flushing => "flush deadline (peer must read our output)",
        Phase::Draining => "drain deadline (waiting for the peer's FIN)",
    }
}

/// The listener as bound, with the socket options that were set on it.
fn trace_listen(socket: &ListenSocket, address: &str, spec: &ListenSpec, opts: &BindOptions) {
    use std::os::fd::AsRawFd;
    trace::set_context(format_args!("listener"));
    let fd = socket_fd(socket).as_raw_fd();
    let kind = match socket {
        ListenSocket::Tcp(_) => "tcp",
        ListenSocket::Udp(_) => "udp",
        ListenSocket::Unix(..) => "unix",
    };
    let v6 = match &spec.endpoint {
        super::spec::Endpoint::Tcp(a) | super::spec::Endpoint::Udp(a) if a.is_ipv6() => {
            format!(" IPV6_V6ONLY={}", u8::from(opts.v6_only))
        }
        _ => String::new(),
    };
    let (reuse, backlog) = match socket {
        ListenSocket::Unix(..) => (String::new(), format!(" backlog={}", opts.backlog)),
        ListenSocket::Udp(_) => (
            format!(" SO_REUSEADDR=1 SO_REUSEPORT={}", u8::from(opts.reuse_port)),
            String::new(),
        ),
        ListenSocket::Tcp(_) => (
            format!(" SO_REUSEADDR=1 SO_REUSEPORT={}", u8::from(opts.reuse_port)),
            format!(" backlog={}", opts.backlog),
        ),
    };
    crate::trace!(
        Layer::Loop,
        "listen {kind} {address} ({}) fd={fd}{reuse}{v6}{backlog} O_NONBLOCK",
        spec.service
    );
}
