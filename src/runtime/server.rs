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

use super::activation::Inherited;
use super::conn::Conn;
use super::conn::state::Policy;
use super::handover::{Channel, Handover, Role};
use super::listener::{BindError, BindOptions, ListenSocket};
use super::poll::{self, Events};
use super::signals::{HANGUP_KEY, SIGNAL_KEY, SignalPipe, UPGRADE_KEY};
use super::slab::Slab;
use super::spec::{Endpoint, ListenSpec};
use super::timers::{Timer, Timers};
use crate::clock::Millis;
use crate::info;
use crate::service::{Service, Settings, Shared};
use crate::trace;
use polling::Poller;
use std::io;
use std::time::{Duration, Instant};

mod broker;
mod connection;
mod fanout;
mod incoming;
mod listeners;
mod per_ip;
mod upgrade;

pub use broker::BrokerConfig;
use broker::{PUBLISHER_KEY, SUBSCRIBER_KEY};
use connection::Step;
use listeners::listener_key;
pub(crate) use listeners::{scheme_of, socket_fd, take_inherited};
pub use upgrade::Restart;
use upgrade::{Drain, Link};

/// Poller keys: connections use their slab index; listeners count down from below
/// the signal pipes' and the hand-over channel's keys at the top of the key space, so
/// the two ranges never meet.
const LISTENER_KEY_TOP: usize = PUBLISHER_KEY - 1;

/// One read buffer for the whole loop (safe: one thread). 256 KiB takes what a busy
/// connection has queued in one call: a client with four 16 KiB messages in flight
/// sends 65,592 bytes, which a 64 KiB read would cut, costing a second read, a
/// second write and a copy of the cut message. How much one read may take is also
/// bounded per connection (`read_len` in server/connection.rs).
pub(super) const READ_BUF: usize = 256 * 1024;
/// How long graceful shutdown waits for queued output to drain.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The default `--max-conns-per-ip`: enough for a NAT'ed office of browsers (six or
/// so connections each, plus WebSockets), small enough that it takes 79 addresses to
/// fill the default 10,000 connections. nginx's `limit_conn` has no default; its docs
/// show 1 (downloads) to 10s, which shared addresses (carrier-grade NAT) outgrow.
pub const DEFAULT_MAX_CONNS_PER_IP: usize = 128;

/// The loop's own limits; the services' settings are in [`Settings`].
#[derive(Clone, Debug)]
pub struct Limits {
    pub idle_timeout: Option<Duration>,
    pub max_conns: usize,
    /// Open connections from one address (an IPv6 /64) at most; 0 is no limit.
    pub max_conns_per_ip: usize,
    /// Queued output per connection above which we stop reading from it.
    pub max_output: usize,
    /// TLS handshakes under way at once, at most (each costs a key exchange and a
    /// signature, and its state until it ends); more TLS connections are closed.
    pub max_tls_handshakes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: Some(Duration::from_secs(120)),
            max_conns: 10_000,
            max_conns_per_ip: DEFAULT_MAX_CONNS_PER_IP,
            max_output: 256 * 1024,
            max_tls_handshakes: 128,
        }
    }
}

#[derive(Default)]
pub struct Config {
    pub listeners: Vec<ListenSpec>,
    pub bind: BindOptions,
    pub limits: Limits,
    /// Passed to the services as they are.
    pub services: Settings,
    /// Sockets passed at start (socket activation), for the `fd:` listeners.
    pub inherited: Vec<Inherited>,
    /// `--inetd SERVICE`: serve the one connection on standard input, then exit.
    pub inetd: Option<Service>,
    /// Listeners passed by a supervisor or by the server we take over from.
    pub handover: Option<Handover>,
    /// How to start this server again on SIGUSR2 (None: SIGUSR2 is refused).
    pub restart: Option<Restart>,
    /// `--broker redis://…`: rooms and topics shared through Redis.
    pub broker: Option<BrokerConfig>,
    /// The certificate for `tls://` and `https://` listeners.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::server::ServerTls>,
}

impl Config {
    /// There is a certificate SIGHUP can reload.
    pub fn tls_reloadable(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }
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
    /// For a UDP listener: the port of a TCP listener with the same service, which
    /// refusals of over-large replies point to.
    tcp_port: Option<u16>,
    /// Accepted connections speak TLS.
    tls: bool,
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
    /// Open connections per client address (`--max-conns-per-ip`).
    per_ip: per_ip::PerIp,
    /// The limits that shape each connection's life (from `limits`).
    policy: Policy,
    signals: Option<SignalPipe>,
    /// SIGHUP, when there is a certificate to reload.
    hangup: Option<SignalPipe>,
    read_buf: Box<[u8]>,
    /// Services write replies here; it is sent and cleared right away.
    scratch: Vec<u8>,
    /// The ports of our UDP listeners: datagrams from them are never answered (two
    /// sockloops, or a sockloop and itself, must not ping-pong).
    udp_ports: Vec<u16>,
    next_conn_id: u64,
    /// Connections that got fan-out frames this turn with nothing queued before:
    /// written at the end of the turn.
    dirty: Vec<usize>,
    /// Scratch for a publish's recipients.
    recipients: Vec<crate::service::hub::Member>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::server::ServerTls>,
    /// Serving, or not accepting any more and draining (after a hand-over or a
    /// stop signal).
    drain: Drain,
    forced: bool,
    /// SIGUSR2: start the binary again and hand over.
    usr2: Option<SignalPipe>,
    restart: Option<Restart>,
    /// What this process was handed over as, and the channel to who did it.
    role: Option<Role>,
    first_word: Option<Channel>,
    /// The channel, once the loop runs: to our supervisor, or to the new binary.
    link: Option<Link>,
    broker: Option<broker::Broker>,
    /// `--inetd`: the connection on standard input, served from the first turn; the
    /// loop ends when it closes.
    inetd: Option<(super::transport::Stream, Option<std::net::SocketAddr>)>,
    one_connection: bool,
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
            shared: Shared::new(config.services),
            policy: Policy {
                max_output: config.limits.max_output,
                idle_timeout: config.limits.idle_timeout,
            },
            per_ip: per_ip::PerIp::new(config.limits.max_conns_per_ip),
            limits: config.limits,
            signals: None,
            hangup: None,
            read_buf: vec![0u8; READ_BUF].into_boxed_slice(),
            scratch: Vec::with_capacity(4096),
            udp_ports: Vec::new(),
            next_conn_id: 1,
            dirty: Vec::new(),
            recipients: Vec::new(),
            #[cfg(feature = "tls")]
            tls: config.tls,
            drain: Drain::Serving,
            forced: false,
            usr2: None,
            restart: config.restart,
            role: config.handover.as_ref().map(|h| h.role),
            first_word: None,
            link: None,
            broker: None,
            inetd: None,
            one_connection: false,
        };
        // Signals first: once a Unix socket file exists, every failure path below
        // removes it again.
        let signals = SignalPipe::watch(&server.poller)
            .map_err(|e| BindError::Other("cannot install signal handlers".into(), e))?;
        server.signals = Some(signals);
        #[cfg(feature = "tls")]
        if server.tls.is_some() {
            let hangup = SignalPipe::watch_hangup(&server.poller)
                .map_err(|e| BindError::Other("cannot install the SIGHUP handler".into(), e))?;
            server.hangup = Some(hangup);
        }
        if config.inetd.is_none() {
            let usr2 = SignalPipe::watch_upgrade(&server.poller)
                .map_err(|e| BindError::Other("cannot install the SIGUSR2 handler".into(), e))?;
            server.usr2 = Some(usr2);
        }
        for spec in &config.listeners {
            if let Err(e) = server.add_listener(spec, &config.bind, &config.inherited) {
                server.remove_unix_files();
                return Err(e);
            }
            let own = |h: &Handover| {
                h.listeners
                    .iter()
                    .any(|p| p.own && Endpoint::Fd(p.fd.to_string()) == spec.endpoint)
            };
            if config.handover.as_ref().is_some_and(own) {
                server.own_unix_file(server.listeners.len() - 1);
            }
        }
        if let Some(handover) = &config.handover {
            let channel = super::handover::take_channel(handover.channel)
                .map_err(|e| BindError::Other("the hand-over channel".into(), e))?;
            server.first_word = Some(Channel::new(channel));
        }
        server.link_udp_to_tcp();
        if let Some(config) = config.broker {
            let origin = rand::RngExt::random::<u64>(&mut server.shared.rng);
            server.shared.metrics.broker_url = Some(config.url.clone());
            server
                .shared
                .chat
                .tag_guests(&format!("{:04x}", origin >> 48));
            server.broker = Some(broker::Broker::new(config, origin));
        }
        if let Some(service) = config.inetd {
            server.adopt_stdin(service)?;
        }
        Ok(server)
    }

    /// The certificate TLS listeners present, for the banner.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::tls::server::ServerTls> {
        self.tls.as_ref()
    }

    /// `--inetd`: the one connection is standard input.
    pub fn serves_stdin(&self) -> bool {
        self.one_connection
    }

    pub fn listeners(&self) -> impl Iterator<Item = &ListenerInfo> {
        self.listeners.iter().map(|l| &l.info)
    }

    /// Serves until SIGINT/SIGTERM and the graceful shutdown that follows.
    pub fn run(mut self) -> io::Result<Summary> {
        let mut events = Events::new();
        let channel = self.first_word.take();
        self.say_ready(self.role, channel);
        self.broker_connect();
        if let Some((stream, addr)) = self.inetd.take() {
            let index = self.listeners.len() - 1;
            let peer = match addr {
                Some(addr) => super::conn::Peer::ip(addr, index as u16),
                None => super::conn::Peer::Unix(index as u16),
            };
            self.on_accept(index, stream, peer);
        }
        loop {
            self.fire_timers(self.shared.now);
            self.flush_fanout();
            self.broker_sync();
            let done = self.shutting_down() || self.one_connection;
            if self.forced || (done && self.conns.is_empty()) {
                break;
            }
            let timeout = self.timers.timeout(self.shared.now);
            let waited = poll::wait(&self.poller, &mut events, timeout);
            // One clock read per turn: every event of this turn happened "now".
            let turn_start = Instant::now();
            self.shared.now = Millis::since(self.shared.started);
            waited?;
            for event in events.iter() {
                match event.key {
                    SIGNAL_KEY => self.on_signal(),
                    HANGUP_KEY => self.on_hangup(),
                    UPGRADE_KEY => self.on_usr2(),
                    upgrade::CHANNEL_KEY => self.on_channel(),
                    SUBSCRIBER_KEY | PUBLISHER_KEY => self.on_broker(event.key),
                    key if key > LISTENER_KEY_TOP - self.listeners.len() => {
                        self.on_listener(LISTENER_KEY_TOP - key)
                    }
                    slot => self.on_conn(slot, event),
                }
                if self.forced {
                    break;
                }
            }
            self.shared.metrics.turns.record(turn_start.elapsed());
            #[cfg(debug_assertions)]
            self.check_memory_count();
        }
        let active_at_exit = self.conns.len() as u64;
        for slot in self.conns.keys() {
            self.close(slot, "server exit");
        }
        self.remove_unix_files();
        self.say_served(self.shared.conns_total, active_at_exit);
        Ok(Summary {
            served: self.shared.conns_total,
            active_at_exit,
            forced: self.forced,
        })
    }

    /// Debug builds (every test run) check after each turn that the memory budget's
    /// count is exactly what the connections hold: a buffer that grew or shrank
    /// outside the places that count would show here.
    #[cfg(debug_assertions)]
    fn check_memory_count(&self) {
        let held: usize = self
            .conns
            .keys()
            .into_iter()
            .filter_map(|slot| self.conns.get(slot))
            .map(Conn::footprint)
            .sum();
        debug_assert_eq!(
            held,
            self.shared.memory.held_by_conns(),
            "memory budget count drifted from what connections hold"
        );
    }

    fn on_signal(&mut self) {
        let count = self.signals.as_mut().map_or(0, SignalPipe::drain);
        if count == 0 {
            return;
        }
        if self.drain == Drain::HandOver && count == 1 {
            self.cut_drain_short();
        } else if self.shutting_down() || count > 1 {
            info!("second signal: exiting now");
            self.forced = true;
        } else {
            self.begin_shutdown();
        }
    }

    /// SIGHUP: read the certificate and key again. New TLS connections get the new
    /// pair; open ones keep theirs; a pair that does not load changes nothing.
    fn on_hangup(&mut self) {
        if self.hangup.as_mut().map_or(0, SignalPipe::drain) > 0 {
            self.reload_certificate();
        }
    }

    /// SIGHUP's work (a worker hears it from its supervisor as `reload`).
    fn reload_certificate(&mut self) {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            match tls.reload() {
                Ok(true) => info!(
                    "SIGHUP: certificate reloaded (SHA-256 {}); open connections keep the old one",
                    tls.fingerprint
                ),
                Ok(false) => info!("SIGHUP: the self-signed certificate is kept as it is"),
                Err(e) => crate::error!("SIGHUP: reload failed, keeping the old certificate: {e}"),
            }
        }
    }

    /// Stop accepting, let every connection send what it has queued, then close.
    fn begin_shutdown(&mut self) {
        info!(
            "shutting down: closing listeners, flushing {} (signal again to exit now)",
            crate::plural::count(self.conns.len() as u64, "connection")
        );
        self.stop_accepting(Drain::Shutdown);
        let now = Millis::since(self.shared.started);
        self.shared.now = now;
        for slot in self.conns.keys() {
            self.shut_one(slot, true, now);
        }
        self.timers
            .push(now.after(SHUTDOWN_GRACE), Timer::ShutdownDeadline);
    }

    /// Out of the poller and closed, every listener: /health says 503 from now on.
    /// After a hand-over the sockets live on in the new process (only our descriptors
    /// close) and the Unix socket files are its; after a stop they are removed.
    fn stop_accepting(&mut self, drain: Drain) {
        self.drain = drain;
        self.shared.metrics.draining = true;
        for listener in &mut self.listeners {
            if let Some(socket) = listener.socket.take() {
                poll::remove(&self.poller, &socket_fd(&socket));
                if let (Drain::Shutdown, ListenSocket::Unix(_, Some(owned))) = (drain, &socket) {
                    owned.remove();
                }
            }
        }
    }

    /// Not accepting any more: draining.
    fn shutting_down(&self) -> bool {
        self.drain != Drain::Serving
    }

    /// A hand-over drain's time is up (or a stop signal came): the ordinary shutdown
    /// for the connections still open.
    fn cut_drain_short(&mut self) {
        info!(
            "hand-over drain over: shutting down {}",
            crate::plural::count(self.conns.len() as u64, "connection")
        );
        self.drain = Drain::Shutdown;
        let now = self.shared.now;
        for slot in self.conns.keys() {
            self.shut_one(slot, true, now);
        }
        self.timers
            .push(now.after(SHUTDOWN_GRACE), Timer::ShutdownDeadline);
    }

    /// One connection enters the shutdown: its service says goodbye (`tell`: a
    /// WebSocket's 1001) and it closes once flushed; without `tell` it is only looked
    /// at again under the (shortened) idle timeout.
    fn shut_one(&mut self, slot: usize, tell: bool, now: Millis) {
        if trace::any() {
            self.trace_context(slot);
        }
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        if tell && conn.state.on_shutdown(now) {
            self.step(slot, Step::Shutdown);
        } else {
            self.settle(slot);
        }
    }

    fn fire_timers(&mut self, now: Millis) {
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::Conn(slot) => self.on_conn_timer(slot as usize, at, now),
                Timer::ResumeListener(index) => self.resume_listener(index as usize),
                Timer::ShutdownDeadline if self.drain == Drain::HandOver => self.cut_drain_short(),
                Timer::UpgradeDeadline => self.on_upgrade_deadline(),
                Timer::BrokerRetry => self.on_broker_retry(at),
                Timer::ShutdownDeadline => {
                    if self.shutting_down() && !self.conns.is_empty() {
                        info!(
                            "shutdown grace over: dropping {}",
                            crate::plural::count(self.conns.len() as u64, "connection")
                        );
                        for slot in self.conns.keys() {
                            self.close(slot, "shutdown");
                        }
                    }
                }
            }
        }
    }

    /// Tags the trace events that follow with this connection: `#3 tcp 127.0.0.1:5000`.
    fn trace_context(&self, slot: usize) {
        if let Some(conn) = self.conns.get(slot) {
            let info = &self.listeners[conn.peer.listener()].info;
            match conn.peer.addr() {
                Some(addr) => {
                    trace::set_context(format_args!("#{} {} {addr}", conn.id, info.transport))
                }
                None => trace::set_context(format_args!("#{} unix {}", conn.id, info.address)),
            }
        }
    }
}
