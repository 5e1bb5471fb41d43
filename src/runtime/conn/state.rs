//! A connection's life as a pure state machine: where it is (open, flushing its last
//! replies, draining after our FIN), whether reading is paused and why, what the
//! poller must watch, and when its timer must look at it. No sockets and no clock:
//! the loop reports what happened (bytes read, bytes the peer took, the service's
//! verdict, a timer firing, `now`) and carries out what this file decides.
//!
//! ```text
//!            service says Close, peer FIN,        all output sent:
//!            idle timeout, shutdown               shutdown(write) (FIN)
//!   Open ───────────────────────────────► Flushing ─────────────────► Draining
//!     │ reads, serves, writes               writes only                 reads and discards
//!     │                                     │ peer stopped reading      │ peer's FIN, or
//!     │                                     ▼ (flush timeout): close    ▼ drain timeout: close
//!     │                                     (and if the peer's FIN came first: close
//!     │                                      as soon as everything is sent)
//! ```
//!
//! Reading is paused while the connection has too much output queued (backpressure:
//! from `max_output` down to a quarter of it) and while input waits in its backlog
//! (the service stopped at its output budget; it is served again, without reading,
//! once the output has drained to the low mark).

use crate::clock::Millis;
use crate::runtime::poll::{Interest, Registration};
use crate::service::Next;
use std::time::Duration;

/// How long a connection that stopped reading may take to drain our output, and how
/// long we wait for the peer's FIN after sending ours.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a connection closes when [`Settled::close`] says so.
pub const FINISHED: &str = "closed: the peer sent FIN first, all replies sent";

/// The loop's limits that shape a connection's life.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Queued output at which reading pauses (a quarter of it resumes).
    pub max_output: usize,
    pub idle_timeout: Option<Duration>,
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading requests and answering them.
    Open,
    /// Done reading (peer finished, the service closed, timeout, shutdown): sending
    /// what is queued.
    Flushing,
    /// Our side is shut (FIN sent); reading and discarding until the peer closes too,
    /// so unread input cannot turn our close into a reset that destroys the replies.
    Draining,
}

/// What a readable connection's bytes are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Hand them to the service.
    Serve,
    /// Read and throw away (draining after our FIN).
    Discard,
    /// Do not read (flushing: reading is not wanted; a hang-up shows up on write).
    Skip,
}

/// The peer sent its FIN: what now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerFin {
    /// The service gets to answer an unterminated last request; then flushing.
    Finish,
    /// Both sides have said goodbye.
    Close,
}

/// What the loop must do after something happened to a connection. Small (16
/// bytes), as it is made after every event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Close it now: all replies are sent and the peer had sent its FIN first
    /// ([`FINISHED`]).
    pub close: bool,
    /// Shut our writing side (send the FIN): everything is sent.
    pub send_fin: bool,
    /// What the poller should watch.
    pub interest: Interest,
    /// Push a timer entry for this moment (the deadline moved earlier).
    pub arm: Option<Millis>,
    /// Backpressure was just switched on (`Some(true)`) or off, for the log.
    pub paused: Option<bool>,
}

/// Why a connection's timer entry fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The entry was for a deadline that has since moved: nothing to do.
    Stale,
    /// The service's own deadline (handshake, close handshake, keepalive).
    Session,
    /// Quiet for the idle timeout: the service says why, then the connection closes.
    Idle(Duration),
    /// Give up on it: close now, for this reason.
    Close(&'static str),
    /// Nothing is due yet (the deadline moved later): settle to re-arm.
    Recheck,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnState {
    /// What the poller watches the connection for. The loop changes it
    /// ([`Registration::set`], after the transport's say); it is kept here, where its
    /// two bytes fill room the state has anyway.
    pub registration: Registration,
    /// Open and flushing: the last activity (bytes either way). Draining: when our FIN
    /// went, and it stays so, so that the drain has a fixed end.
    last_active: Millis,
    /// The deadline of this connection's current timer entry.
    timer_at: Option<Millis>,
    phase: Phase,
    peer_eof: bool,
    /// Reading stopped: too much output queued.
    paused: bool,
    /// Input waits in the connection's buffer to be served once output drains.
    backlog: bool,
}

impl ConnState {
    pub fn new(now: Millis, registration: Registration) -> ConnState {
        ConnState {
            registration,
            last_active: now,
            timer_at: None,
            phase: Phase::Open,
            peer_eof: false,
            paused: false,
            backlog: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn last_active(&self) -> Millis {
        self.last_active
    }

    /// The connection is readable.
    pub fn reading(&self) -> Reading {
        match self.phase {
            Phase::Open => Reading::Serve,
            Phase::Flushing => Reading::Skip,
            Phase::Draining => Reading::Discard,
        }
    }

    /// Bytes arrived. Reads while draining are not activity: the drain ends on time
    /// however much the peer still sends.
    pub fn on_input(&mut self, now: Millis) {
        if self.phase != Phase::Draining {
            self.last_active = now;
        }
    }

    /// The peer took `n` bytes of our output: a client that reads is active even if it
    /// sends nothing.
    pub fn on_output(&mut self, n: usize, now: Millis) {
        if n > 0 && self.phase != Phase::Draining {
            self.last_active = now;
        }
    }

    pub fn on_peer_fin(&mut self) -> PeerFin {
        self.peer_eof = true;
        match self.phase {
            Phase::Draining => PeerFin::Close,
            _ => PeerFin::Finish,
        }
    }

    /// The service's verdict after it was given input (bytes read, or its backlog).
    /// Returns true when the connection just stopped serving: its unserved input is to
    /// be dropped.
    pub fn served(&mut self, next: Next) -> bool {
        self.backlog = next == Next::Backlog && self.phase == Phase::Open;
        self.close_if(next)
    }

    /// The service's verdict after a step without input (opening, a timer, shutdown):
    /// a backlog it had stays.
    pub fn answered(&mut self, next: Next) -> bool {
        if next == Next::Backlog {
            self.backlog = self.phase == Phase::Open;
        }
        self.close_if(next)
    }

    fn close_if(&mut self, next: Next) -> bool {
        if next == Next::Close && self.phase == Phase::Open {
            self.phase = Phase::Flushing;
            return true;
        }
        false
    }

    pub fn has_backlog(&self) -> bool {
        self.backlog
    }

    /// Whether the backlog should be served now: the output has drained to the low mark.
    pub fn backlog_ready(&self, queued: usize, policy: &Policy) -> bool {
        self.backlog && self.phase == Phase::Open && queued <= low_mark(policy)
    }

    /// The server is shutting down: true if the service should be told (it may close
    /// gracefully, as a WebSocket does with 1001); the rest just settle.
    pub fn on_shutdown(&mut self, now: Millis) -> bool {
        if self.phase == Phase::Open {
            self.last_active = now;
            return true;
        }
        false
    }

    /// Moves the connection along once an event's work is done, given how much output
    /// is still queued and the service's own next deadline.
    pub fn settle(
        &mut self,
        queued: usize,
        now: Millis,
        policy: &Policy,
        session_deadline: Option<Millis>,
    ) -> Settled {
        if self.phase == Phase::Open && queued == 0 && !self.paused && !self.backlog {
            // The common case, after almost every echo: all sent, reading on.
            return Settled {
                close: false,
                send_fin: false,
                interest: Interest::READ,
                arm: self.arm(policy, session_deadline),
                paused: None,
            };
        }
        let paused = self.update_backpressure(queued, policy);
        let mut send_fin = false;
        if self.phase == Phase::Flushing && queued == 0 {
            if self.peer_eof {
                return Settled {
                    close: true,
                    send_fin: false,
                    interest: Interest::NONE,
                    arm: None,
                    paused,
                };
            }
            self.phase = Phase::Draining;
            self.last_active = now;
            send_fin = true;
        }
        Settled {
            close: false,
            send_fin,
            interest: self.interest(queued),
            arm: self.arm(policy, session_deadline),
            paused,
        }
    }

    /// The deadline to push a timer entry for, if it moved earlier than the current
    /// entry's; later deadlines are found when the current entry fires (lazy deletion
    /// keeps the heap small).
    fn arm(&mut self, policy: &Policy, session_deadline: Option<Millis>) -> Option<Millis> {
        let arm = self
            .deadline(policy.idle_timeout, session_deadline)
            .filter(|at| self.timer_at.is_none_or(|t| *at < t));
        if arm.is_some() {
            self.timer_at = arm;
        }
        arm
    }

    /// A timer entry for `at` fired at `now`.
    pub fn on_timer(
        &mut self,
        at: Millis,
        now: Millis,
        policy: &Policy,
        session_deadline: Option<Millis>,
    ) -> Due {
        if self.timer_at != Some(at) {
            return Due::Stale;
        }
        self.timer_at = None;
        if self.phase == Phase::Open && session_deadline.is_some_and(|d| d <= now) {
            return Due::Session;
        }
        let idle = policy.idle_timeout;
        match self.deadline(idle, None) {
            Some(deadline) if deadline <= now => match self.phase {
                Phase::Open => {
                    // The flush of the goodbye gets its own full time from now.
                    self.last_active = now;
                    Due::Idle(idle.unwrap_or_default())
                }
                Phase::Flushing => Due::Close("peer stopped reading"),
                Phase::Draining => {
                    Due::Close("the peer did not send its FIN within the drain time")
                }
            },
            _ => Due::Recheck,
        }
    }

    /// What the timer waits for in the current phase, for the trace.
    pub fn timer_purpose(&self) -> &'static str {
        match self.phase {
            Phase::Open => "idle / protocol deadline",
            Phase::Flushing => "flush deadline (peer must read our output)",
            Phase::Draining => "drain deadline (waiting for the peer's FIN)",
        }
    }

    /// Backpressure with hysteresis: on at `max_output`, off at a quarter of it.
    fn update_backpressure(&mut self, queued: usize, policy: &Policy) -> Option<bool> {
        if !self.paused && queued >= policy.max_output {
            self.paused = true;
            return Some(true);
        }
        if self.paused && queued <= low_mark(policy) {
            self.paused = false;
            return Some(false);
        }
        None
    }

    /// A connection with a backlog is not read from (its input is already waiting)
    /// but is woken by writability to serve it.
    fn interest(&self, queued: usize) -> Interest {
        let backlog = self.backlog && self.phase == Phase::Open;
        let readable = match self.phase {
            Phase::Open => !self.paused && !backlog,
            Phase::Flushing => false,
            Phase::Draining => true,
        };
        Interest::new(readable, queued > 0 || backlog)
    }

    /// When the timer should next look at this connection, if ever: the idle timeout
    /// or the service's own deadline while open, then the closing deadlines.
    fn deadline(&self, idle: Option<Duration>, session: Option<Millis>) -> Option<Millis> {
        match self.phase {
            Phase::Open => match (idle.map(|d| self.last_active.after(d)), session) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Phase::Flushing => {
                let limit = idle.map_or(FLUSH_TIMEOUT, |d| d.min(FLUSH_TIMEOUT));
                Some(self.last_active.after(limit))
            }
            Phase::Draining => Some(self.last_active.after(DRAIN_TIMEOUT)),
        }
    }
}

/// Output queued at or below which a paused connection reads (and serves) again.
fn low_mark(policy: &Policy) -> usize {
    policy.max_output / 4
}

/// How much output a service may produce in one step: what is left under the cap,
/// but never so little that it cannot make progress.
pub fn output_budget(queued: usize, policy: &Policy) -> usize {
    policy.max_output.saturating_sub(queued).max(16 * 1024)
}

#[cfg(test)]
mod tests;
