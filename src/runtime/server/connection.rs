//! A connection's events, carried out: the system calls and the dispatch to its
//! service. What a connection's life looks like — when to pause reading, when to send
//! the FIN, what the poller must watch, when the timer must look — is decided by the
//! pure state machine in `runtime/conn/state.rs`; this file does what it says.
//!
//! ```text
//!   readable/writable → flush queued output → read once → serve (one step of the
//!                       service) → serve the backlog if output drained → settle
//!   timer             → the state machine says why: the service's deadline, idle,
//!                       or give up
//!   settle            → close, or FIN, or new poller interest, or a new timer entry
//! ```

use super::Server;
use crate::clock::Millis;
use crate::debug;
use crate::runtime::conn::Conn;
use crate::runtime::conn::state::{
    DRAIN_TIMEOUT, Due, FINISHED, PeerFin, Policy, Reading, output_budget,
};
use crate::runtime::poll::{self, Ready};
use crate::runtime::timers::Timer;
use crate::runtime::transport::would_block;
use crate::service::{Next, Service, Shared};
use crate::trace::{self, Layer};
use std::time::Duration;

/// One step of a connection's service. Every way the loop calls a service goes
/// through [`Server::serve`], so the input buffer, the output, the counters and the
/// verdict are handled in one place.
#[derive(Clone, Copy, Debug)]
pub(super) enum Step {
    /// Just accepted (daytime talks first).
    Open,
    /// This many bytes arrived in the loop's read buffer.
    Data(usize),
    /// Serve the input that waited for the output to drain.
    Backlog,
    /// The peer sent its FIN: an unterminated last request is still one.
    Eof,
    /// The service's own deadline passed.
    Timer,
    /// Quiet for this long: say why, then close.
    Idle(Duration),
    /// The server is shutting down.
    Shutdown,
}

/// Rounds of backlog served per event at most, so one busy client cannot hold the
/// loop; writable interest brings us back.
const BACKLOG_ROUNDS: usize = 4;

/// The answer to plain HTTP on an `https://` listener.
const PLAIN_HTTP_ON_TLS: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
Content-Length: 61\r\nConnection: close\r\n\r\n\
This port speaks HTTPS: ask for https:// instead of http://.\n";

impl Server {
    pub(super) fn on_conn(&mut self, slot: usize, ready: Ready) {
        if trace::any() {
            self.trace_ready(slot, ready);
        }
        if ready.writable && !self.flush(slot) {
            return;
        }
        if ready.readable {
            self.read(slot);
        }
        self.settle(slot);
    }

    /// One service step, then settling (which serves the backlog it may leave).
    pub(super) fn step(&mut self, slot: usize, step: Step) {
        self.serve(slot, step);
        self.settle(slot);
    }

    /// Writes queued output; false if the connection failed (and is closed).
    pub(super) fn flush(&mut self, slot: usize) -> bool {
        let Some(conn) = self.conns.get_mut(slot) else {
            return false;
        };
        let before = conn.footprint();
        match conn.flush() {
            Ok(n) => {
                // Output only shrinks here, so the budget cannot refuse it.
                self.shared.memory.resize(before, conn.footprint());
                took_output(conn, &mut self.shared, n);
                if conn.queued() == 0 && conn.session.fanout().is_some() {
                    self.tell_missed(slot);
                }
                true
            }
            Err(e) => {
                self.close(slot, &format!("write failed: {e}"));
                false
            }
        }
    }

    /// One read from a readable connection, handed to its service.
    fn read(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let reading = conn.state.reading();
        if reading == Reading::Skip {
            return;
        }
        if conn.bytes_in == 0
            && conn.session.service() == Service::Web
            && conn.stream.plain_text_on_tls()
        {
            return self.refuse_plain_http(slot);
        }
        let len = read_len(conn, &self.policy);
        let result = conn
            .stream
            .read(self.read_buf.get_mut(..len).unwrap_or_default());
        if conn.stream.handshake_ended() {
            self.shared.tls_handshakes -= 1;
        }
        let n = match result {
            Ok(0) => return self.on_peer_fin(slot),
            Ok(n) => n,
            Err(e) if would_block(&e) => {
                crate::trace!(Layer::Loop, "read: would block (nothing there after all)");
                return;
            }
            Err(e) => return self.close(slot, &format!("read failed: {e}")),
        };
        let discard = reading == Reading::Discard;
        crate::trace!(
            Layer::Loop,
            "read {n} bytes{}",
            if discard {
                ", discarded (draining)"
            } else {
                ""
            }
        );
        conn.bytes_in += n as u64;
        self.shared.bytes_in += n as u64;
        if !discard {
            conn.state.on_input(self.shared.now);
            self.serve(slot, Step::Data(n));
        }
    }

    /// An `http://` request sent to an `https://` listener: a readable 400 in plain
    /// text, as nginx gives, instead of a TLS alert a browser shows as gibberish.
    fn refuse_plain_http(&mut self, slot: usize) {
        if let Some(conn) = self.conns.get_mut(slot) {
            conn.stream.write_plain(PLAIN_HTTP_ON_TLS);
        }
        self.close(slot, "plain HTTP on a TLS port: answered 400");
    }

    fn on_peer_fin(&mut self, slot: usize) {
        crate::trace!(
            Layer::Loop,
            "read 0 bytes: the peer sent FIN (it will send no more)"
        );
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        match conn.state.on_peer_fin() {
            PeerFin::Close => self.close(slot, "closed: both sides sent FIN"),
            PeerFin::Finish => self.serve(slot, Step::Eof),
        }
    }

    /// Runs one step of the connection's service with the loop's scratch buffer as its
    /// output, sends what it wrote, and applies its verdict.
    fn serve(&mut self, slot: usize, step: Step) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let before = conn.footprint();
        let member = super::fanout::member_id(slot, conn.id);
        let (shared, out) = (&mut self.shared, &mut self.scratch);
        shared.serving = member;
        let (next, fed) = match step {
            Step::Data(_) | Step::Backlog => {
                let budget = step_budget(conn.queued(), before, shared, &self.policy);
                let data = match step {
                    Step::Data(n) => self.read_buf.get_mut(..n).unwrap_or_default(),
                    _ => &mut [],
                };
                if !trace::any() {
                    // Large echoes may go out from the read buffer (service/lend.rs).
                    shared.lend.open(data);
                }
                let mut input = conn.take_input();
                let next = conn.session.on_data(&mut input, data, shared, out, budget);
                conn.keep_input(input);
                (next, true)
            }
            Step::Eof => {
                let mut input = conn.take_input();
                conn.session.on_eof(&mut input, shared, out);
                (Next::Close, true)
            }
            Step::Open => (conn.session.on_open(shared, out), false),
            Step::Timer => {
                let last_active = conn.state.last_active();
                (conn.session.on_timer(last_active, shared, out), false)
            }
            Step::Idle(idle) => {
                conn.session.on_idle_timeout(idle, shared, out);
                (Next::Close, false)
            }
            Step::Shutdown => (conn.session.on_shutdown(shared, out), false),
        };
        let lent = shared.lend.close();
        let sent = match step {
            Step::Data(n) if !lent.is_empty() => {
                conn.send_lent(out, lent, self.read_buf.get(..n).unwrap_or_default())
            }
            _ => conn.send(out),
        };
        shared.lend.clear();
        release_scratch(out);
        match sent {
            Ok(n) => took_output(conn, shared, n),
            Err(e) => {
                shared.memory.resize(before, conn.footprint());
                return self.close(slot, &format!("write failed: {e}"));
            }
        }
        let stopped = if fed {
            conn.state.served(next)
        } else {
            conn.state.answered(next)
        };
        if stopped {
            drop(conn.take_input()); // never served now
        }
        if !shared.memory.resize(before, conn.footprint()) {
            self.shed(slot);
        }
        if !self.shared.outbox.is_empty() {
            self.deliver();
        }
    }

    /// The connection grew past what the memory budget allows: it gets its service's
    /// busy answer (if its output is not in the middle of something) and is closed,
    /// and what it held goes back to the budget.
    fn shed(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        self.shared.memory.refuse();
        debug!(
            "#{} shed: {} bytes held would take the memory budget past its limit",
            conn.id,
            conn.footprint()
        );
        if conn.queued() == 0 {
            let out = &mut self.scratch;
            conn.session.on_memory_shed(&mut self.shared, out);
            let _ = conn.send(out);
            out.clear();
        }
        self.close(slot, "shed: over the memory budget");
    }

    /// Serves input a service set aside when its output budget ran out, now that the
    /// client has taken most of the queued output.
    fn serve_backlog(&mut self, slot: usize) {
        for _ in 0..BACKLOG_ROUNDS {
            let ready = self
                .conns
                .get(slot)
                .is_some_and(|c| c.state.backlog_ready(c.queued(), &self.policy));
            if !ready {
                return;
            }
            self.serve(slot, Step::Backlog);
        }
    }

    /// Moves a connection along after any activity, as its state machine decides:
    /// first a backlog that can now be served, then closing, the FIN, the poller's
    /// interest and the timer.
    pub(super) fn settle(&mut self, slot: usize) {
        let Some(mut conn) = self.conns.get_mut(slot) else {
            return;
        };
        // Almost never a backlog: one flag tells.
        if conn.state.has_backlog() {
            self.serve_backlog(slot);
            let Some(again) = self.conns.get_mut(slot) else {
                return;
            };
            conn = again;
        }
        let session_deadline = next_deadline(conn, &self.shared);
        let queued = conn.queued();
        let now = self.shared.now;
        let settled = conn
            .state
            .settle(queued, now, &self.policy, session_deadline);
        if let Some(on) = settled.paused {
            trace_backpressure(conn, on, queued, self.policy.max_output);
        }
        if settled.close {
            return self.close(slot, FINISHED);
        }
        if settled.send_fin {
            crate::trace!(
                Layer::Loop,
                "shutdown(write): FIN sent; discarding input until the peer's FIN ({} s max)",
                DRAIN_TIMEOUT.as_secs()
            );
            conn.stream.shutdown_write();
        }
        let wanted = conn.stream.interest(settled.interest);
        if let Err(e) = conn
            .state
            .registration
            .set(&self.poller, &conn.stream, slot, wanted)
        {
            return self.close(slot, &format!("poller: {e}"));
        }
        if let Some(at) = settled.arm {
            self.timers.push(at, Timer::Conn(slot as u32));
            crate::trace!(
                Layer::Loop,
                "timer armed: {} in {:.3} s",
                conn.state.timer_purpose(),
                now.until(at).as_secs_f64()
            );
        }
    }

    pub(super) fn on_conn_timer(&mut self, slot: usize, at: Millis, now: Millis) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let session_deadline = next_deadline(conn, &self.shared);
        let handshake_over = conn.stream.handshake_deadline().is_some_and(|d| d <= now);
        let due = conn.state.on_timer(at, now, &self.policy, session_deadline);
        if due != Due::Stale && trace::any() {
            self.trace_context(slot);
            crate::trace!(Layer::Loop, "timer fired");
        }
        match due {
            Due::Stale => {}
            // A TLS client that has not finished its handshake in time (a slowloris
            // of the handshake): nothing can be said to it but goodbye.
            Due::Session if handshake_over => self.close(
                slot,
                "TLS handshake not finished within --handshake-timeout",
            ),
            Due::Session => self.step(slot, Step::Timer),
            Due::Idle(idle) => {
                if let Some(conn) = self.conns.get(slot) {
                    debug!("#{} idle for {} s: closing", conn.id, idle.as_secs_f64());
                }
                self.step(slot, Step::Idle(idle));
            }
            Due::Close(why) => self.close(slot, why),
            Due::Recheck => self.settle(slot),
        }
    }

    pub(super) fn close(&mut self, slot: usize, why: &str) {
        if trace::any() {
            self.trace_context(slot);
        }
        let member = self.member(slot);
        let Some(mut conn) = self.conns.remove(slot) else {
            return;
        };
        if matches!(
            conn.session.service(),
            Service::Chat | Service::PubSub | Service::Web
        ) {
            self.depart(member);
        }
        conn.stream.before_close();
        self.shared.memory.release(conn.footprint());
        if conn.stream.handshake_in_flight() {
            self.shared.tls_handshakes -= 1;
        }
        poll::remove(&self.poller, &conn.stream);
        self.shared.conns_active -= 1;
        if let Some(counts) = self.shared.metrics.listeners.get_mut(conn.peer.listener()) {
            counts.open -= 1;
        }
        self.release_address(&conn.peer);
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

    fn trace_ready(&self, slot: usize, ready: Ready) {
        self.trace_context(slot);
        let what = match (ready.hangup, ready.readable, ready.writable) {
            (true, _, _) => "hang-up or error (epoll reports it as readable and writable)",
            (false, true, true) => "readable, writable",
            (false, true, false) => "readable",
            (false, false, true) => "writable",
            (false, false, false) => "nothing",
        };
        crate::trace!(Layer::Loop, "ready: {what}");
    }
}

/// Most of its capacity the scratch buffer keeps between steps: a read's worth, which
/// an echo step writes every turn; but a step that wrote a larger reply (a 1 MiB
/// echo) must not leave the loop holding that much for good.
const SCRATCH_KEEP: usize = super::READ_BUF;

/// The smallest read: enough for a request head or a TLS record's plaintext.
const MIN_READ: usize = 16 * 1024;

/// How much one read may take for this connection: no more than its output budget
/// leaves (an echo answers byte for byte), and for a connection that can publish, a
/// quarter of `--max-output`, so that what one read publishes fits in every
/// subscriber's queue before the end of the turn writes it.
fn read_len(conn: &Conn, policy: &Policy) -> usize {
    let mut len = output_budget(conn.queued(), policy);
    if conn.session.fanout().is_some() {
        len = len.min(policy.max_output / 4);
    }
    len.clamp(MIN_READ, super::READ_BUF)
}

fn release_scratch(out: &mut Vec<u8>) {
    out.clear();
    if out.capacity() > SCRATCH_KEEP {
        out.shrink_to(SCRATCH_KEEP);
    }
}

/// The peer took `n` bytes of output: counted, and activity.
fn took_output(conn: &mut Conn, shared: &mut Shared, n: usize) {
    shared.bytes_out += n as u64;
    conn.state.on_output(n, shared.now);
}

fn trace_backpressure(conn: &Conn, on: bool, queued: usize, max_output: usize) {
    if on {
        debug!("#{} backpressure on: {queued} bytes queued", conn.id);
        crate::trace!(
            Layer::Loop,
            "backpressure on: {queued} bytes queued >= {max_output}; reading paused"
        );
    } else {
        debug!("#{} backpressure off", conn.id);
        crate::trace!(
            Layer::Loop,
            "backpressure off: {queued} bytes queued; reading again"
        );
    }
}

/// How much output a step may write for a connection that has `queued` bytes waiting
/// and holds `held` in all: what its output budget and the memory budget leave. With
/// nothing queued, at least one reply however full the budget: a step that answered
/// nothing would wait for a write that never comes. With output queued, the write
/// that drains it wakes the connection again.
fn step_budget(queued: usize, held: usize, shared: &Shared, policy: &Policy) -> usize {
    let room = match shared.memory.room(held) {
        0 if queued == 0 => 1,
        room => room,
    };
    output_budget(queued, policy).min(room)
}

/// The connection's own next deadline besides the idle timeout: its service's, or its
/// TLS handshake's while that is not done, whichever is first.
fn next_deadline(conn: &Conn, shared: &Shared) -> Option<Millis> {
    let session = conn.session.deadline(conn.state.last_active(), shared);
    match (session, conn.stream.handshake_deadline()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
