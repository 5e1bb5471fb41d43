//! Deadlines for the loop: a binary heap ordered by time, with lazy deletion.
//!
//! Entries are never removed when a deadline moves; each owner remembers the one entry
//! it considers current, and the loop drops stale entries as they come out. The poll
//! timeout is simply the time until the earliest entry.

use crate::clock::Millis;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// What a deadline is for. Eight bytes, so a heap entry is sixteen: a server holding
/// many idle connections holds about one entry for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Look at connection `slot`'s deadlines. The connection remembers the deadline of
    /// its current entry; an entry that does not match it is stale and skipped (one
    /// that matches a newer connection in a reused slot just makes that connection
    /// check its own deadlines, which is harmless).
    Conn(u32),
    /// Start accepting on listener `index` again after running out of file descriptors.
    ResumeListener(u32),
    /// Graceful shutdown took too long: close what is left (after a hand-over: start
    /// the ordinary shutdown).
    ShutdownDeadline,
    /// The binary a SIGUSR2 started has not said it is ready.
    UpgradeDeadline,
    /// Connect to the `--broker` again.
    BrokerRetry,
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Millis, Timer)>>,
}

impl Timers {
    pub fn push(&mut self, at: Millis, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// How long the loop may sleep: until the earliest deadline, or forever.
    pub fn timeout(&self, now: Millis) -> Option<Duration> {
        self.heap.peek().map(|Reverse((at, _))| now.until(*at))
    }

    /// Takes the earliest deadline that is due at `now`, if any.
    pub fn pop_due(&mut self, now: Millis) -> Option<(Millis, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_and_only_when_due() {
        let t0 = Millis::START;
        let mut t = Timers::default();
        t.push(t0.after(Duration::from_secs(2)), Timer::ShutdownDeadline);
        t.push(t0.after(Duration::from_secs(1)), Timer::ResumeListener(3));
        assert_eq!(t.timeout(t0), Some(Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let due = t0.after(Duration::from_secs(5));
        assert_eq!(t.pop_due(due).map(|e| e.1), Some(Timer::ResumeListener(3)));
        assert_eq!(t.pop_due(due).map(|e| e.1), Some(Timer::ShutdownDeadline));
        assert!(t.is_empty());
    }
}
