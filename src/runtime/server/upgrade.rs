//! Handing the listeners over to another process without refusing anyone
//! (runtime/handover.rs has the protocol).
//!
//! `kill -USR2` on a plain `sockloop serve` starts the binary again (the file at the
//! path this one was started from, so a new build installed there is what starts),
//! with the same command line and our listening sockets. Once the new process says
//! `ready`, this one hands over: it stops accepting — closing its descriptors only,
//! the sockets and their accept queues live on in the new process — and drains.
//! A worker hears the same `drain` from its supervisor.
//!
//! A hand-over drain is gentler than SIGTERM's: WebSockets get Close 1001 (come back:
//! the new process answers), but stream and HTTP connections are served until they
//! have been quiet for [`HANDOVER_QUIET`] — a client that connected just before the
//! hand-over still gets its answer — and only after [`HANDOVER_GRACE`] does the
//! ordinary shutdown close what is left.

use super::{Server, socket_fd};
use crate::clock::Millis;
use crate::info;
use crate::runtime::handover::{self, Channel, Heard, Passed, Role};
use crate::runtime::listener::{ListenSocket, OwnedPath};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::signals::SignalPipe;
use crate::runtime::timers::Timer;
use crate::service::Service;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// The poller key of the hand-over channel (below the signal pipes' keys).
pub const CHANNEL_KEY: usize = crate::runtime::signals::UPGRADE_KEY - 1;

/// A connection this quiet (no byte either way) is between requests: closing it
/// loses nothing.
const HANDOVER_QUIET: Duration = Duration::from_secs(1);
/// How long a hand-over drain waits for busy connections before the ordinary
/// shutdown (WebSocket 1001 and the flush grace) closes the rest.
const HANDOVER_GRACE: Duration = Duration::from_secs(10);
/// How long a new binary has to say `ready` before it is given up on.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How to start this server again: the binary's path and the arguments after it.
#[derive(Clone, Debug)]
pub struct Restart {
    pub exe: PathBuf,
    pub args: Vec<String>,
}

/// The other end of the hand-over channel.
pub enum Link {
    /// A worker's supervisor: it says stop, exit or drain; its end closing means it
    /// is gone.
    Supervisor(Channel),
    /// The new binary a USR2 started, until it says ready (or fails).
    NewBinary { channel: Channel, child: Child },
}

/// Where the loop is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    Serving,
    /// Handed over: serving open connections until they are quiet.
    HandOver,
    /// SIGTERM's shutdown (or a hand-over's grace ran out).
    Shutdown,
}

impl Server {
    /// A worker's supervisor, or the parent that started this upgrade, hears that we
    /// are ready: our listeners are set up and the loop starts now. A worker keeps
    /// listening to its supervisor; a new binary's parent is done with us.
    pub(super) fn say_ready(&mut self, role: Option<Role>, channel: Option<Channel>) {
        let Some(mut channel) = channel else { return };
        channel.say("ready");
        if let Some(Role::Worker(_)) = role {
            match Registration::add(&self.poller, &channel.stream, CHANNEL_KEY, Interest::READ) {
                Ok(_) => self.link = Some(Link::Supervisor(channel)),
                Err(e) => crate::error!("cannot watch the supervisor's channel: {e}"),
            }
        }
    }

    /// The last thing a worker tells its supervisor: how many it served.
    pub(super) fn say_served(&mut self, served: u64, active: u64) {
        if let Some(Link::Supervisor(channel)) = &mut self.link {
            channel.say(&format!("served {served} {active}"));
        }
    }

    /// SIGUSR2: start the binary again with our listeners.
    pub(super) fn on_usr2(&mut self) {
        if self.usr2.as_mut().map_or(0, SignalPipe::drain) == 0 {
            return;
        }
        let refuse = |why: &str| info!("SIGUSR2 ignored: {why}");
        match (&self.link, &self.restart) {
            (Some(Link::Supervisor(_)), _) => {
                return refuse("this is a worker; send it to the supervisor");
            }
            (Some(Link::NewBinary { child, .. }), _) => {
                return refuse(&format!("the new binary (pid {}) is starting", child.id()));
            }
            (None, None) => return refuse("this server cannot start itself again"),
            _ if self.drain != Drain::Serving => return refuse("already stopping"),
            (None, Some(_)) => {}
        }
        let Some(restart) = self.restart.clone() else {
            return;
        };
        let passed: Vec<_> = self
            .listeners
            .iter()
            .filter_map(|l| {
                let socket = l.socket.as_ref()?;
                let fd = socket_fd(socket);
                let passed = Passed {
                    fd: fd.as_raw_fd(),
                    service: l.info.service,
                    tls: l.tls,
                    own: matches!(socket, ListenSocket::Unix(_, Some(_))),
                };
                Some((fd, passed))
            })
            .collect();
        match handover::spawn(&restart.exe, &restart.args, Role::Upgrade, &passed) {
            Ok((child, stream)) => {
                if let Err(e) =
                    Registration::add(&self.poller, &stream, CHANNEL_KEY, Interest::READ)
                {
                    crate::error!("SIGUSR2: cannot watch the new binary's channel: {e}");
                    return;
                }
                info!(
                    "SIGUSR2: started {} (pid {}) with {} listeners; serving on until it is ready",
                    restart.exe.display(),
                    child.id(),
                    passed.len()
                );
                self.link = Some(Link::NewBinary {
                    channel: Channel::new(stream),
                    child,
                });
                let at = self.shared.now.after(READY_TIMEOUT);
                self.timers.push(at, Timer::UpgradeDeadline);
            }
            Err(e) => crate::error!(
                "SIGUSR2: cannot start {}: {e}; serving on",
                restart.exe.display()
            ),
        }
    }

    /// The channel is readable: the supervisor speaks, or the new binary is ready
    /// (or gone).
    pub(super) fn on_channel(&mut self) {
        loop {
            let heard = match &mut self.link {
                Some(Link::Supervisor(c)) | Some(Link::NewBinary { channel: c, .. }) => c.hear(),
                None => return,
            };
            let supervisor = matches!(self.link, Some(Link::Supervisor(_)));
            match (heard, supervisor) {
                (Heard::Nothing, _) => return,
                (Heard::Line(line), true) => self.on_supervisor(&line),
                (Heard::Closed, true) => {
                    self.unlink();
                    if self.drain == Drain::Serving {
                        info!("the supervisor is gone: shutting down");
                        self.begin_shutdown();
                    }
                    return;
                }
                (Heard::Line(line), false) if line == "ready" => {
                    if let Some(Link::NewBinary { child, .. }) = self.unlink() {
                        info!("the new binary (pid {}) is ready: handing over", child.id());
                    }
                    self.begin_handover();
                    return;
                }
                (Heard::Line(_), false) => {}
                (Heard::Closed, false) => {
                    return self.upgrade_failed("it ended before it was ready");
                }
            }
        }
    }

    fn on_supervisor(&mut self, line: &str) {
        match line {
            "stop" if self.drain == Drain::Serving => self.begin_shutdown(),
            "stop" => {}
            "drain" if self.drain == Drain::Serving => {
                info!("the new workers are ready: handing over");
                self.begin_handover();
            }
            "reload" => self.reload_certificate(),
            "exit" => {
                info!("told to exit now");
                self.forced = true;
            }
            _ => {}
        }
    }

    /// The new binary did not make it: we go on serving as before.
    pub(super) fn upgrade_failed(&mut self, why: &str) {
        if let Some(Link::NewBinary { mut child, .. }) = self.unlink() {
            let _ = child.kill();
            let status = child.wait().map_or("unknown".into(), |s| s.to_string());
            crate::error!(
                "SIGUSR2: the new binary (pid {}) failed: {why} ({status}); serving on",
                child.id()
            );
        }
    }

    /// Timer::UpgradeDeadline: still no `ready`?
    pub(super) fn on_upgrade_deadline(&mut self) {
        if matches!(self.link, Some(Link::NewBinary { .. })) {
            self.upgrade_failed("no 'ready' within 10 s");
        }
    }

    fn unlink(&mut self) -> Option<Link> {
        let link = self.link.take()?;
        let stream = match &link {
            Link::Supervisor(c) | Link::NewBinary { channel: c, .. } => &c.stream,
        };
        poll::remove(&self.poller, stream);
        Some(link)
    }

    /// Another process serves our listeners now: stop accepting (leaving Unix socket
    /// files in place, they are its), close WebSockets with 1001, serve the rest
    /// until quiet.
    fn begin_handover(&mut self) {
        info!(
            "handed over: no longer accepting; draining {}",
            crate::plural::count(self.conns.len() as u64, "connection")
        );
        self.stop_accepting(Drain::HandOver);
        self.policy.idle_timeout = Some(
            self.policy
                .idle_timeout
                .map_or(HANDOVER_QUIET, |t| t.min(HANDOVER_QUIET)),
        );
        let now = Millis::since(self.shared.started);
        self.shared.now = now;
        for slot in self.conns.keys() {
            let websocket = self
                .conns
                .get(slot)
                .is_some_and(|c| c.session.service() == Service::Web && c.session.is_websocket());
            self.shut_one(slot, websocket, now);
        }
        self.timers
            .push(now.after(HANDOVER_GRACE), Timer::ShutdownDeadline);
    }

    /// A listener passed as ours to remove at exit gets its file remembered.
    pub(super) fn own_unix_file(&mut self, index: usize) {
        if let Some(ListenSocket::Unix(listener, owned @ None)) = &mut self.listeners[index].socket
            && let Ok(addr) = listener.local_addr()
            && let Some(path) = addr.as_pathname()
        {
            *owned = OwnedPath::existing(path).ok();
        }
    }
}
