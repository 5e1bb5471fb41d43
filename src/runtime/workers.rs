//! `serve --workers N`: a supervisor and N single-threaded workers, one per core.
//!
//! The supervisor binds every listener — a TCP or UDP address N times with
//! SO_REUSEPORT, so the kernel spreads connections and datagrams over the workers by
//! a hash of the addresses; a Unix or passed socket once, shared — and starts each
//! worker with its share (runtime/handover.rs). It never accepts anything itself: it
//! keeps the sockets open, which is what makes restarts lose nothing. A worker that
//! dies leaves its SO_REUSEPORT socket, and the connections queued on it, in the
//! supervisor's hands until its successor (same socket) takes them; closing it would
//! reset them.
//!
//! ```text
//!   wait (timeout = next restart)
//!     SIGINT/SIGTERM → "stop" to every worker (again: "exit"); end when all are gone
//!     SIGUSR2        → start a new generation on the same sockets; once all say
//!                      ready, "drain" to the old one (they finish and exit)
//!     a channel      → "ready", "served N M", or closed: the worker ended; restart
//!                      it after a back-off that doubles while it keeps dying young
//! ```

use super::Config;
use super::handover::{self, Channel, Heard, Passed, Role};
use super::listener::{BindError, BindOptions, ListenSocket, bind};
use super::poll::{self, Events, Interest, Registration};
use super::server::{ListenerInfo, Restart, Summary, scheme_of, socket_fd, take_inherited};
use super::signals::{HANGUP_KEY, SIGNAL_KEY, SignalPipe, UPGRADE_KEY};
use super::spec::Endpoint;
use crate::{error, info, plural};
use polling::Poller;
use std::io;
use std::os::fd::AsRawFd;
use std::process::Child;
use std::time::{Duration, Instant};

/// A restart waits this long at first, doubling (to [`MAX_BACKOFF`]) while the
/// worker keeps dying within [`YOUNG`] of its start.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const YOUNG: Duration = Duration::from_secs(10);
/// How long a new generation has to say ready before the upgrade is given up.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Workers told to stop that are still running this long after are killed: their
/// own shutdown takes 3 s at most (a hand-over drain 13 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// One listener of the command line: N sockets (SO_REUSEPORT), or one for all.
struct Group {
    sockets: Vec<ListenSocket>,
    info: ListenerInfo,
    tls: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Started, not yet ready.
    Starting,
    Serving,
    /// Started by a SIGUSR2, not yet ready; the old generation serves meanwhile.
    Upgrading,
    /// Told to drain (replaced) or to stop: not restarted when it ends.
    Leaving,
}

struct Worker {
    /// Worker number, from 1: which share of the SO_REUSEPORT sockets it serves.
    n: u32,
    /// Which SIGUSR2 started it (0: the first workers).
    generation: u32,
    key: usize,
    child: Child,
    channel: Channel,
    state: State,
    started: Instant,
    /// What it reported at its end.
    served: Option<(u64, u64)>,
}

pub struct Supervisor {
    poller: Poller,
    groups: Vec<Group>,
    count: u32,
    restart: Restart,
    workers: Vec<Worker>,
    next_key: usize,
    /// Workers to start again (number, generation, when), and per worker number the
    /// back-off after that.
    pending: Vec<(u32, u32, Instant)>,
    backoff: Vec<Duration>,
    upgrade_deadline: Option<Instant>,
    stop_deadline: Option<Instant>,
    generation: u32,
    signals: SignalPipe,
    usr2: SignalPipe,
    /// SIGHUP, with a certificate to reload: passed on to every worker.
    hangup: Option<SignalPipe>,
    stopping: bool,
    forced: bool,
    served: u64,
    active_at_exit: u64,
    restarts: u64,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::server::ServerTls>,
}

impl Supervisor {
    /// Binds every listener `count` times (or once, for Unix and passed sockets).
    pub fn bind(config: Config, count: u32, restart: Restart) -> Result<Supervisor, BindError> {
        let poller = Poller::new().map_err(|e| fail("cannot create poller", e))?;
        let signals =
            SignalPipe::watch(&poller).map_err(|e| fail("cannot install signal handlers", e))?;
        let hangup = match config.tls_reloadable() {
            true => Some(
                SignalPipe::watch_hangup(&poller)
                    .map_err(|e| fail("cannot install the SIGHUP handler", e))?,
            ),
            false => None,
        };
        let usr2 = SignalPipe::watch_upgrade(&poller)
            .map_err(|e| fail("cannot install the SIGUSR2 handler", e))?;
        let options = BindOptions {
            reuse_port: true,
            ..config.bind
        };
        let mut groups = Vec::new();
        for spec in &config.listeners {
            let group = match &spec.endpoint {
                Endpoint::Fd(name) => {
                    let (socket, address) =
                        take_inherited(name, spec.service, &config.inherited, true)?;
                    (vec![socket], address)
                }
                endpoint => bind_shares(endpoint, count, &options).inspect_err(|_| {
                    remove_unix_files(&groups);
                })?,
            };
            let (sockets, address) = group;
            let transport = scheme_of(&sockets[0], spec.service, spec.tls);
            groups.push(Group {
                sockets,
                info: ListenerInfo {
                    transport,
                    address,
                    service: spec.service,
                },
                tls: spec.tls,
            });
        }
        Ok(Supervisor {
            poller,
            groups,
            count,
            restart,
            workers: Vec::new(),
            next_key: 0,
            pending: Vec::new(),
            backoff: vec![FIRST_BACKOFF; count as usize + 1],
            upgrade_deadline: None,
            stop_deadline: None,
            generation: 0,
            signals,
            usr2,
            hangup,
            stopping: false,
            forced: false,
            served: 0,
            active_at_exit: 0,
            restarts: 0,
            #[cfg(feature = "tls")]
            tls: config.tls,
        })
    }

    pub fn listeners(&self) -> impl Iterator<Item = &ListenerInfo> {
        self.groups.iter().map(|g| &g.info)
    }

    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::tls::server::ServerTls> {
        self.tls.as_ref()
    }

    /// Starts the workers and supervises them until a stop signal and their end.
    pub fn run(mut self) -> io::Result<Summary> {
        for n in 1..=self.count {
            self.start(n, 0, State::Starting);
        }
        let mut events = Events::new();
        while !(self.stopping && self.workers.is_empty()) {
            let now = Instant::now();
            let next = poll::earliest(
                self.pending
                    .iter()
                    .map(|(_, _, at)| Some(*at))
                    .chain([self.upgrade_deadline, self.stop_deadline]),
            );
            poll::wait(&self.poller, &mut events, poll::timeout_until(next, now))?;
            for event in events.iter() {
                match event.key {
                    SIGNAL_KEY => self.on_signal(),
                    UPGRADE_KEY => self.on_usr2(),
                    HANGUP_KEY => self.on_hangup(),
                    key => self.on_channel(key),
                }
            }
            self.on_timers(Instant::now());
        }
        remove_unix_files(&self.groups);
        info!(
            "{} ran; {}",
            plural::count(u64::from(self.count), "worker"),
            plural::count(self.restarts, "restart")
        );
        Ok(Summary {
            served: self.served,
            active_at_exit: self.active_at_exit,
            forced: self.forced,
        })
    }

    /// Starts worker `n` on its share of the sockets.
    fn start(&mut self, n: u32, generation: u32, state: State) {
        let share = (n as usize - 1) % self.count as usize;
        let passed: Vec<_> = self
            .groups
            .iter()
            .map(|g| {
                let socket = g.sockets.get(share).unwrap_or(&g.sockets[0]);
                let fd = socket_fd(socket);
                let p = Passed {
                    fd: fd.as_raw_fd(),
                    service: g.info.service,
                    tls: g.tls,
                    own: false,
                };
                (fd, p)
            })
            .collect();
        let spawned = handover::spawn(
            &self.restart.exe,
            &self.restart.args,
            Role::Worker(n),
            &passed,
        );
        let (child, stream) = match spawned {
            Ok(s) => s,
            Err(e) => {
                error!("cannot start worker {n}: {e}");
                return self.schedule(n, generation, Duration::from_secs(1));
            }
        };
        let key = self.next_key;
        self.next_key += 1;
        if let Err(e) = Registration::add(&self.poller, &stream, key, Interest::READ) {
            error!("cannot watch worker {n}: {e}");
        }
        crate::debug!("worker {n} started (pid {})", child.id());
        self.workers.push(Worker {
            n,
            generation,
            key,
            child,
            channel: Channel::new(stream),
            state,
            started: Instant::now(),
            served: None,
        });
    }

    fn on_signal(&mut self) {
        let count = self.signals.drain();
        if count == 0 {
            return;
        }
        let word = if self.stopping || count > 1 {
            info!("second signal: telling the workers to exit now");
            self.forced = true;
            "exit"
        } else {
            info!(
                "stopping: {} drain and exit (signal again to exit now)",
                plural::count(self.workers.len() as u64, "worker")
            );
            "stop"
        };
        self.stopping = true;
        self.stop_deadline
            .get_or_insert(Instant::now() + STOP_TIMEOUT);
        self.pending.clear();
        self.upgrade_deadline = None;
        for w in &mut self.workers {
            w.channel.say(word);
            w.state = State::Leaving;
        }
    }

    /// SIGHUP: every worker reads its certificate again.
    fn on_hangup(&mut self) {
        if self.hangup.as_mut().map_or(0, SignalPipe::drain) > 0 {
            info!("SIGHUP: the workers reload the certificate");
            for w in &mut self.workers {
                w.channel.say("reload");
            }
        }
    }

    /// SIGUSR2: a new generation of workers from the binary at its path.
    fn on_usr2(&mut self) {
        if self.usr2.drain() == 0 {
            return;
        }
        if self.stopping || self.upgrade_deadline.is_some() {
            return info!("SIGUSR2 ignored: stopping, or an upgrade is under way");
        }
        info!(
            "SIGUSR2: starting {} new workers from {}",
            self.count,
            self.restart.exe.display()
        );
        self.generation += 1;
        for n in 1..=self.count {
            self.start(n, self.generation, State::Upgrading);
        }
        self.upgrade_deadline = Some(Instant::now() + READY_TIMEOUT);
    }

    fn on_channel(&mut self, key: usize) {
        let Some(i) = self.workers.iter().position(|w| w.key == key) else {
            return;
        };
        loop {
            match self.workers[i].channel.hear() {
                Heard::Nothing => return,
                Heard::Line(line) => self.on_line(i, &line),
                Heard::Closed => return self.ended(i),
            }
        }
    }

    fn on_line(&mut self, i: usize, line: &str) {
        let w = &mut self.workers[i];
        if line == "ready" {
            match w.state {
                State::Starting => w.state = State::Serving,
                State::Upgrading => {
                    w.state = State::Serving;
                    w.started = Instant::now();
                    self.upgrade_if_ready();
                }
                _ => {}
            }
        } else if let Some(rest) = line.strip_prefix("served ") {
            let mut numbers = rest.split(' ').filter_map(|n| n.parse::<u64>().ok());
            w.served = Some((numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)));
        }
    }

    /// Every new worker is ready: the old generation hands over.
    fn upgrade_if_ready(&mut self) {
        if self.upgrade_deadline.is_none()
            || self.workers.iter().any(|w| w.state == State::Upgrading)
        {
            return;
        }
        self.upgrade_deadline = None;
        let mut old = Vec::new();
        let current = self.generation;
        for w in &mut self.workers {
            let replaced = w.generation < current;
            if replaced && matches!(w.state, State::Serving | State::Starting) {
                w.channel.say("drain");
                w.state = State::Leaving;
                old.push(w.child.id().to_string());
            }
        }
        // Old workers waiting for a restart are not restarted: they were replaced.
        self.pending
            .retain(|(_, generation, _)| *generation == current);
        info!(
            "upgrade: the new workers are ready; the old ones ({}) drain and exit",
            old.join(", ")
        );
    }

    /// A worker's channel closed: it ended. Count what it served, restart it unless
    /// it was leaving.
    fn ended(&mut self, i: usize) {
        let mut w = self.workers.swap_remove(i);
        poll::remove(&self.poller, &w.channel.stream);
        let status = reap(&mut w.child);
        let lived = w.started.elapsed();
        match w.served {
            Some((served, active)) => {
                self.served += served;
                self.active_at_exit += active;
            }
            None => error!(
                "worker {} (pid {}) ended without a count ({status})",
                w.n,
                w.child.id()
            ),
        }
        match w.state {
            State::Leaving => crate::debug!("worker {} (pid {}) ended", w.n, w.child.id()),
            State::Upgrading => {
                error!(
                    "upgrade failed: new worker {} (pid {}) ended before it was ready ({status}); \
                     the running workers go on",
                    w.n,
                    w.child.id()
                );
                self.abandon_upgrade();
            }
            State::Starting | State::Serving => {
                let slot = w.n as usize;
                let backoff = match lived < YOUNG {
                    true => self.backoff[slot],
                    false => FIRST_BACKOFF,
                };
                self.backoff[slot] = (backoff * 2).min(MAX_BACKOFF);
                error!(
                    "worker {} (pid {}) ended after {:.1} s ({status}); restarting it in {:.1} s",
                    w.n,
                    w.child.id(),
                    lived.as_secs_f64(),
                    backoff.as_secs_f64()
                );
                self.schedule(w.n, w.generation, backoff);
            }
        }
    }

    fn abandon_upgrade(&mut self) {
        self.upgrade_deadline = None;
        let failed = self.generation;
        self.pending
            .retain(|(_, generation, _)| *generation != failed);
        for w in self
            .workers
            .iter_mut()
            .filter(|w| w.state == State::Upgrading)
        {
            w.channel.say("exit");
            w.state = State::Leaving;
        }
    }

    fn schedule(&mut self, n: u32, generation: u32, after: Duration) {
        self.pending.push((n, generation, Instant::now() + after));
    }

    fn on_timers(&mut self, now: Instant) {
        if self.stop_deadline.is_some_and(|d| d <= now) {
            self.stop_deadline = None;
            for w in &mut self.workers {
                error!(
                    "worker {} (pid {}) did not stop within {} s: killing it",
                    w.n,
                    w.child.id(),
                    STOP_TIMEOUT.as_secs()
                );
                let _ = w.child.kill();
            }
        }
        if self.upgrade_deadline.is_some_and(|d| d <= now) {
            error!("upgrade failed: the new workers were not ready within 10 s");
            self.abandon_upgrade();
        }
        let due: Vec<(u32, u32)> = self
            .pending
            .iter()
            .filter(|(_, _, at)| *at <= now)
            .map(|(n, generation, _)| (*n, *generation))
            .collect();
        self.pending.retain(|(_, _, at)| *at > now);
        for (n, generation) in due {
            if !self.stopping {
                self.restarts += 1;
                self.start(n, generation, State::Starting);
            }
        }
    }
}

/// `count` sockets on one address (the first resolves port 0; the others take the
/// port it got), or one for a Unix path.
fn bind_shares(
    endpoint: &Endpoint,
    count: u32,
    options: &BindOptions,
) -> Result<(Vec<ListenSocket>, String), BindError> {
    let (first, address) = bind(endpoint, options)?;
    let resolved = match (&first, endpoint) {
        (ListenSocket::Tcp(l), _) => l.local_addr().ok().map(Endpoint::Tcp),
        (ListenSocket::Udp(s), _) => s.local_addr().ok().map(Endpoint::Udp),
        (ListenSocket::Unix(..), _) => None,
    };
    let mut sockets = vec![first];
    if let Some(resolved) = resolved {
        for _ in 1..count {
            sockets.push(bind(&resolved, options)?.0);
        }
    }
    Ok((sockets, address))
}

/// The exit status of a worker whose channel closed: it is ending, or has ended.
fn reap(child: &mut Child) -> String {
    for _ in 0..200 {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return e.to_string(),
        }
    }
    // It closed its channel but lives on: not a worker we can trust.
    let _ = child.kill();
    child.wait().map_or_else(
        |e| e.to_string(),
        |s| format!("{s}, killed: it hung at exit"),
    )
}

fn fail(what: &str, e: io::Error) -> BindError {
    BindError::Other(what.into(), e)
}

fn remove_unix_files(groups: &[Group]) {
    for g in groups {
        for socket in &g.sockets {
            if let ListenSocket::Unix(_, Some(owned)) = socket {
                owned.remove();
            }
        }
    }
}
