//! One connection of the stream engine and what it does with a readiness event: read
//! and check echoes, queue the messages that replace them, write, close.

use super::{Engine, Wire};
use crate::bench::stats::Histogram;
use crate::bench::tcp::LineRx;
use crate::bench::ws::{self, WsRx};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::transport::Stream;
use std::io;
use std::time::Instant;

pub(super) enum Rx {
    Ws(Box<WsRx>),
    Line(LineRx),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
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

pub(super) struct Conn {
    pub(super) sock: Stream,
    pub(super) phase: Phase,
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
    /// A connection as `open` hands it over; `out` has room for `depth` messages,
    /// so the hot path never grows it.
    pub(super) fn new(
        sock: Stream,
        registration: Registration,
        out: Vec<u8>,
        depth: usize,
        rx: Rx,
    ) -> Conn {
        Conn {
            sock,
            phase: Phase::Running,
            out,
            out_pos: 0,
            registration,
            sent: 0,
            done: 0,
            times: vec![0; depth].into_boxed_slice(),
            rx,
        }
    }

    pub(super) fn in_flight(&self) -> u64 {
        self.sent - self.done
    }

    pub(super) fn live(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Closing { .. })
    }

    /// Appends the next `n` messages to the output, stamped `now_ns`.
    #[inline]
    pub(super) fn queue(&mut self, wire: &Wire, n: u64, now_ns: u64) {
        let depth = self.times.len() as u64;
        for _ in 0..n {
            self.out.extend_from_slice(wire.message(self.sent));
            if let Some(t) = self.times.get_mut((self.sent % depth) as usize) {
                *t = now_ns;
            }
            self.sent += 1;
        }
    }

    /// Records the send-to-echo time of the `n` oldest messages, now complete.
    #[inline]
    fn complete(&mut self, n: u64, now_ns: u64, hist: &mut Histogram) {
        let depth = self.times.len() as u64;
        for _ in 0..n {
            let sent_at = self.times.get((self.done % depth) as usize).copied();
            hist.record_ns(now_ns.saturating_sub(sent_at.unwrap_or(now_ns)));
            self.done += 1;
        }
    }
}

impl Engine<'_> {
    /// Sending is over: our Close (ws) or FIN (tcp) on every running connection.
    pub(super) fn start_closing(&mut self) {
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
                    if let Some(c) = self.conns.get_mut(i) {
                        c.sock.shutdown_write();
                    }
                }
            }
        }
    }

    /// Reads what connection `i` has, checks it, answers it.
    pub(super) fn read(&mut self, i: usize) {
        loop {
            let Some(c) = self.conns.get_mut(i) else {
                return;
            };
            if !c.live() {
                return;
            }
            match c.sock.read(&mut self.rbuf) {
                Ok(0) => {
                    let phase = c.phase;
                    let why = self.why_closed(phase);
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

    /// The server closed a connection in `phase`: fine once we are closing (for ws,
    /// once its Close came), an error otherwise.
    fn why_closed(&self, phase: Phase) -> Option<String> {
        match phase {
            Phase::Closing { close_seen: true } => None,
            Phase::Closing { .. } if matches!(self.wire, Wire::Line(_)) => None,
            Phase::Closing { .. } => Some("closed without a WebSocket Close".to_string()),
            _ => Some("the server closed the connection".to_string()),
        }
    }

    /// Checks bytes from connection `i` and queues the messages that replace the
    /// echoes they completed.
    pub(super) fn process(&mut self, i: usize, data: &[u8], now_ns: u64) {
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
        c.complete(completed, now_ns, &mut self.hist);
        self.total_done += completed;
        if self.sending && c.phase == Phase::Running {
            let n = completed.min(self.budget);
            self.budget -= n;
            c.queue(&self.wire, n, now_ns);
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
    pub(super) fn flush(&mut self, i: usize) {
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
        // TLS records rustls made but the kernel did not take yet.
        if let Err(e) = c.sock.flush_unsent() {
            self.end(i, Some(format!("write: {e}")));
            return;
        }
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let wanted = c
            .sock
            .interest(Interest::new(true, c.out_pos < c.out.len()));
        if let Err(e) = c.registration.set(self.poller, &c.sock, i, wanted) {
            self.end(i, Some(format!("poller: {e}")));
        }
    }

    /// Connection `i` is finished: cleanly (`None`) or with an error.
    pub(super) fn end(&mut self, i: usize, error: Option<String>) {
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
        match error {
            // The run is over; a messy goodbye is reported but is not an error.
            Some(_) if closing => self.unclean += 1,
            Some(e) => self.errors.add(|| format!("connection {i}: {e}")),
            None => {}
        }
    }
}
