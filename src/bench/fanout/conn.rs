//! One connection of the fanout run, subscriber or publisher, and what the engine
//! does with its readiness: read and check replies, write, close.

use super::Engine;
use super::publisher::{Bufs, Publisher};
use super::rx::Rx;
use super::subscriber::Subscriber;
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::transport::Stream;
use std::io;
use std::time::Instant;

pub(super) enum Role {
    Sub(Subscriber),
    Pub(Publisher),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Running,
    /// Our Close (or FIN) is out; `close_seen`: the server's Close arrived.
    Closing {
        close_seen: bool,
    },
    Done,
    /// Failed; no longer polled.
    Dead,
}

pub(super) struct Conn {
    pub(super) sock: Stream,
    registration: Registration,
    pub(super) phase: Phase,
    pub(super) out: Vec<u8>,
    out_pos: usize,
    pub(super) rx: Rx,
    pub(super) role: Role,
}

impl Conn {
    pub(super) fn new(sock: Stream, registration: Registration, rx: Rx, role: Role) -> Conn {
        Conn {
            sock,
            registration,
            phase: Phase::Running,
            out: Vec::new(),
            out_pos: 0,
            rx,
            role,
        }
    }

    pub(super) fn live(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Closing { .. })
    }
}

impl Engine<'_> {
    /// Reads what connection `i` has and handles it; a publisher then sends what it
    /// may, and whatever was queued is written.
    pub(super) fn read(&mut self, i: usize) {
        loop {
            let Some(c) = self.conns.get_mut(i).filter(|c| c.live()) else {
                return;
            };
            match c.sock.read(&mut self.rbuf) {
                Ok(0) => {
                    let why = match c.phase {
                        Phase::Closing { close_seen } if close_seen || !self.ws => None,
                        Phase::Closing { .. } => Some("closed without a WebSocket Close".into()),
                        _ => Some("the server closed the connection".into()),
                    };
                    return self.end(i, why);
                }
                Ok(n) => {
                    let now = Instant::now();
                    let mut data = std::mem::take(&mut self.rbuf);
                    self.process(i, data.get_mut(..n).unwrap_or_default(), now);
                    self.rbuf = data;
                    if n < self.rbuf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.end(i, Some(format!("read: {e}"))),
            }
        }
        let now = Instant::now();
        self.publish_more(i, now);
        self.flush(i);
    }

    /// Hands bytes from connection `i` to its role, one reply at a time.
    pub(super) fn process(&mut self, i: usize, data: &mut [u8], now: Instant) {
        let now_ns = self.now_ns(now);
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let (tally, payloads) = (&mut self.tally, &self.payloads);
        let Conn { rx, out, role, .. } = c;
        let fed = rx.feed(data, out, &mut |reply| match role {
            Role::Sub(s) => s.on_reply(reply, now_ns, payloads, tally),
            Role::Pub(p) => p.on_reply(reply, tally),
        });
        match fed {
            Err(e) => self.end(i, Some(e)),
            Ok(fed) => match (fed.close, c.phase) {
                (None, _) => {}
                (Some(_), Phase::Closing { .. }) => c.phase = Phase::Closing { close_seen: true },
                (Some(code), _) => {
                    let code = code.map_or("no code".to_string(), |c| c.to_string());
                    self.end(i, Some(format!("the server closed the WebSocket ({code})")));
                }
            },
        }
    }

    /// Publisher `i` sends what its window (`--depth`), the pace (`--rate`) and the
    /// budget (`--count`) allow.
    pub(super) fn publish_more(&mut self, i: usize, now: Instant) {
        let now_ns = self.now_ns(now);
        let Some(c) = self.conns.get_mut(i).filter(|c| c.phase == Phase::Running) else {
            return;
        };
        let Role::Pub(p) = &mut c.role else {
            return;
        };
        if !self.sending {
            return;
        }
        let room = (self.opts.depth as u64).saturating_sub(p.outstanding());
        let due = match &self.pace {
            Some(pace) => pace.due(now).saturating_sub(p.sent),
            None => u64::MAX,
        };
        let n = room.min(due).min(self.budget);
        let mut bufs = Bufs {
            out: &mut c.out,
            scratch: &mut self.scratch,
        };
        for _ in 0..n {
            p.write_next(self.ws, &self.payloads, now_ns, &mut bufs);
        }
        self.budget -= n;
        self.tally.sent += n;
        self.tally.outstanding += n;
    }

    /// Writes what connection `i` has queued, and keeps its write interest in step.
    pub(super) fn flush(&mut self, i: usize) {
        let Some(c) = self.conns.get_mut(i).filter(|c| c.live()) else {
            return;
        };
        while c.out_pos < c.out.len() {
            match c.sock.write(c.out.get(c.out_pos..).unwrap_or_default()) {
                Ok(n) => c.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.end(i, Some(format!("write: {e}"))),
            }
        }
        if c.out_pos == c.out.len() {
            c.out.clear();
            c.out_pos = 0;
        }
        if let Err(e) = c.sock.flush_unsent() {
            return self.end(i, Some(format!("write: {e}")));
        }
        let wanted = c
            .sock
            .interest(Interest::new(true, c.out_pos < c.out.len()));
        if let Err(e) = c.registration.set(self.poller, &c.sock, i, wanted) {
            self.end(i, Some(format!("poller: {e}")));
        }
    }

    /// Publishing is over: our Close 1000 (WebSocket) or FIN (tcp) on every
    /// connection still running.
    pub(super) fn start_closing(&mut self) {
        for i in 0..self.conns.len() {
            let Some(c) = self.conns.get_mut(i).filter(|c| c.phase == Phase::Running) else {
                continue;
            };
            c.phase = Phase::Closing { close_seen: false };
            let ws = c.rx.close(&mut c.out);
            self.flush(i);
            if !ws && let Some(c) = self.conns.get_mut(i).filter(|c| c.live()) {
                c.sock.shutdown_write();
            }
        }
    }

    /// Connection `i` is finished: cleanly (`None`) or with an error. What a failed
    /// connection had in flight no longer counts towards the drain.
    pub(super) fn end(&mut self, i: usize, error: Option<String>) {
        let Some(c) = self.conns.get_mut(i).filter(|c| c.live()) else {
            return;
        };
        poll::remove(self.poller, &c.sock);
        let closing = matches!(c.phase, Phase::Closing { .. });
        c.phase = if error.is_some() {
            Phase::Dead
        } else {
            Phase::Done
        };
        if error.is_some() && !closing {
            match &c.role {
                Role::Sub(s) => {
                    self.live_subs -= 1;
                    self.tally.accounted -= s.accounted();
                }
                Role::Pub(p) => {
                    self.live_pubs -= 1;
                    self.tally.outstanding -= p.outstanding();
                }
            }
        }
        let what = match &c.role {
            Role::Sub(_) => format!("subscriber {i}"),
            Role::Pub(p) => format!("publisher {}", p.id),
        };
        match error {
            // The run is over; a messy goodbye is reported but is not an error.
            Some(_) if closing => self.unclean += 1,
            Some(e) => self.errors.add(|| format!("{what}: {e}")),
            None => {}
        }
    }
}
