//! The server's memory budget: one bound on everything it buffers on behalf of peers
//! (unfinished lines, HTTP heads and WebSocket messages, output the peer has not read),
//! whatever the peers do, so that no number of connections can push a small machine
//! out of memory.
//!
//! The count is exact at the end of every step of a connection: the loop measures the
//! connection's heap before and after and adds the difference (`resize`), and takes
//! it all back when the connection closes (`release`). Inside a step, a WebSocket
//! session asks before its message buffer grows (`may_grow`).
//!
//! The rules, at `--max-memory` = L:
//! - A connection holding at most [`SMALL`] bytes may grow until the total reaches L.
//! - A connection holding more ("bulk": a large message, a big reply the peer is not
//!   reading) may grow only while the total stays under ¾ L. So peers that hold large
//!   buffers can never take the last quarter, and small requests keep being served
//!   while an attacker holds all it can.
//! - A WebSocket message that would break the rule is refused with close 1013 ("try
//!   again later") before its buffer grows.
//! - Output is bounded before it is made: a step may write only what [`room`] leaves,
//!   so a peer that does not read its big replies has its requests paused, as at
//!   `--max-output`, instead of being queued more. A connection with nothing queued
//!   still gets one reply (else nothing would ever wake it), so bulk holders may pass
//!   ¾ L by one reply each, once: the reply left unsent is queued, and then they wait.
//! - Anything that still grew the total past L in one step (a read and a reply at
//!   most) is shed: its protocol's busy answer (`ERR`, HTTP 503), then closed.
//! - When there is no room for one more small connection, new connections are
//!   refused with the same busy answers.
//! - Fan-out frames (a chat line, a published message) are shared by every queue
//!   they wait in and count once, from when they are made until the last queue lets
//!   go ([`fanout_cell`]); they are bulk, and a frame the ¾ rule has no room for is
//!   not made: its deliveries count as dropped.
//!
//! [`fanout_cell`]: MemoryBudget::fanout_cell
//! [`room`]: MemoryBudget::room

/// What one connection may hold and still count as small: a read's worth.
pub const SMALL: usize = 64 * 1024;

/// The default `--max-memory`: 64 MiB, an eighth of a 512 MiB machine, leaving the
/// rest to the kernel's socket buffers and everything else on it. At the default
/// 1 MiB `--max-message`, 48 large messages can be in flight at once.
pub const DEFAULT_LIMIT: usize = 64 << 20;

use std::cell::Cell;
use std::rc::Rc;

#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    /// Bytes held by all connections at the end of their last step.
    used: usize,
    /// Bytes of fan-out frames alive, kept by the frames themselves.
    fanout: Rc<Cell<usize>>,
    /// Granted during the current step and not yet counted in `used`.
    granted: usize,
    peak: usize,
    /// Growths refused (WebSocket 1013s and connections shed).
    refused: u64,
    /// New connections turned away because the budget was full.
    refused_conns: u64,
    /// The budget ran out and that has been logged; cleared once use falls to half.
    episode_logged: bool,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            fanout: Rc::default(),
            granted: 0,
            peak: 0,
            refused: 0,
            refused_conns: 0,
            episode_logged: false,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Everything held: by the connections and by fan-out frames.
    pub fn used(&self) -> usize {
        self.used + self.fanout.get()
    }

    /// What the connections hold (without fan-out frames), for the debug check that
    /// the count matches them.
    pub fn held_by_conns(&self) -> usize {
        self.used
    }

    /// The count fan-out frames keep of their own bytes (see [`Frame`]).
    ///
    /// [`Frame`]: super::fanout::Frame
    pub fn fanout_cell(&self) -> &Rc<Cell<usize>> {
        &self.fanout
    }

    /// May a fan-out frame of `bytes` be made? Frames are bulk: they may take the
    /// total to ¾ of the limit. Records the peak when it may.
    pub fn may_share(&mut self, bytes: usize) -> bool {
        let total = self.used().saturating_add(self.granted);
        let ok = total.saturating_add(bytes) <= self.ceiling(usize::MAX);
        if ok {
            self.peak = self.peak.max(total + bytes);
        }
        ok
    }

    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Growths refused: WebSocket messages closed with 1013, connections shed.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// New connections turned away while the budget was full.
    pub fn refused_conns(&self) -> u64 {
        self.refused_conns
    }

    /// The most a connection holding `held` bytes lets the total reach.
    fn ceiling(&self, held: usize) -> usize {
        if held <= SMALL {
            self.limit
        } else {
            self.limit - self.limit / 4
        }
    }

    /// May a connection take `more` bytes, to hold `held` in all?
    pub fn may_grow(&mut self, more: usize, held: usize) -> bool {
        let total = self
            .used()
            .saturating_add(self.granted)
            .saturating_add(more);
        let ok = total <= self.ceiling(held);
        if ok {
            self.granted += more;
        }
        ok
    }

    /// How much more a connection holding `held` bytes may take now. The output a
    /// step may produce is bounded by it, so a reader of big replies that does not read
    /// is paused before it outgrows the budget (by one reply at most, made while its
    /// queue was empty).
    pub fn room(&self, held: usize) -> usize {
        let total = self.used().saturating_add(self.granted);
        let bulk = self.ceiling(usize::MAX).saturating_sub(total);
        // Up to SMALL in all from the last quarter; past it, only what bulk may take.
        let small = self
            .limit
            .saturating_sub(total)
            .min(SMALL.saturating_sub(held));
        bulk.max(small)
    }

    /// A connection's step is over: it held `before` bytes and now holds `after`.
    /// Returns false when its growth took the total past the limit (the caller sheds
    /// it). Going past three quarters by one step is tolerated: its reading is already
    /// paused by [`room`](Self::room).
    pub fn resize(&mut self, before: usize, after: usize) -> bool {
        self.granted = 0;
        self.used = self.used.saturating_sub(before).saturating_add(after);
        let total = self.used();
        self.peak = self.peak.max(total);
        if total <= self.limit / 2 {
            self.episode_logged = false;
        }
        after <= before || total <= self.limit
    }

    /// Counts a refused growth, and logs the first of an episode (the budget ran out
    /// and has not since fallen to half): a flood of refusals is one log line.
    pub fn refuse(&mut self) {
        self.refused += 1;
        self.log_episode();
    }

    /// Counts a new connection turned away because the budget is full.
    pub fn refuse_connection(&mut self) {
        self.refused_conns += 1;
        self.log_episode();
    }

    fn log_episode(&mut self) {
        if !std::mem::replace(&mut self.episode_logged, true) {
            crate::info!(
                "memory budget reached ({} of {} bytes in use): refusing what asks for more \
                 (WebSocket close 1013, busy answers); said once until half is free again",
                self.used(),
                self.limit
            );
        }
    }

    /// A connection that held `bytes` is gone.
    pub fn release(&mut self, bytes: usize) {
        self.resize(bytes, 0);
    }

    /// No room left for even one more small connection: new connections are
    /// turned away.
    pub fn is_full(&self) -> bool {
        self.used().saturating_add(SMALL) > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_holders_may_use_it_all_bulk_holders_three_quarters() {
        let mut m = MemoryBudget::new(400 * SMALL);
        // A bulk holder grows to ¾ and no further.
        assert!(m.may_grow(299 * SMALL, 299 * SMALL));
        assert!(m.resize(0, 299 * SMALL));
        assert!(m.may_grow(SMALL, 300 * SMALL));
        assert!(!m.may_grow(1, 300 * SMALL + 1), "past three quarters");
        assert!(m.resize(299 * SMALL, 300 * SMALL));
        // Small holders still get the last quarter.
        for _ in 0..100 {
            assert!(m.may_grow(SMALL, SMALL));
        }
        assert!(!m.may_grow(1, 1), "and nothing past the limit");
        assert_eq!(m.used(), 300 * SMALL);
    }

    #[test]
    fn resize_counts_exactly_and_reports_who_grew_past() {
        let mut m = MemoryBudget::new(4 * SMALL);
        assert!(m.resize(0, 2 * SMALL));
        assert!(m.resize(0, SMALL), "small: up to the whole limit");
        assert!(!m.resize(0, 2 * SMALL), "bulk past the limit");
        assert_eq!(m.used(), 5 * SMALL);
        assert!(m.is_full());
        assert!(m.resize(2 * SMALL, SMALL), "shrinking is always fine");
        m.release(SMALL);
        m.release(SMALL);
        m.release(2 * SMALL);
        assert_eq!(m.used(), 0);
        assert_eq!(m.peak(), 5 * SMALL);
        assert!(!m.is_full());
    }

    #[test]
    fn a_step_past_three_quarters_is_paused_not_shed() {
        let mut m = MemoryBudget::new(4 * SMALL);
        assert_eq!(m.room(2 * SMALL), 3 * SMALL);
        assert!(
            m.resize(0, 3 * SMALL + 100),
            "one reply past ¾ is tolerated"
        );
        assert_eq!(m.room(3 * SMALL), 0, "but leaves bulk holders no room");
        assert_eq!(
            m.room(0),
            SMALL - 100,
            "small ones still have the last quarter"
        );
        assert_eq!(m.room(SMALL / 2), SMALL / 2, "up to SMALL in all");
        m.release(3 * SMALL + 100);
        assert_eq!(
            m.room(0),
            3 * SMALL,
            "past SMALL, only what bulk holders may take"
        );
    }

    #[test]
    fn grants_count_until_the_step_ends() {
        let mut m = MemoryBudget::new(4 * SMALL);
        assert!(m.may_grow(2 * SMALL, 2 * SMALL));
        assert!(
            !m.may_grow(2 * SMALL, 4 * SMALL),
            "the first grant is counted"
        );
        assert!(m.resize(0, 2 * SMALL));
        assert!(m.may_grow(SMALL, 3 * SMALL), "and cleared by resize");
    }
}
