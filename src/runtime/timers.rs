//! Deadlines for the loop: a binary heap ordered by time, with lazy deletion.
//!
//! Entries are never removed when a deadline moves; each owner remembers the one entry
//! it considers current, and the loop drops stale entries as they come out. The poll
//! timeout is simply the time until the earliest entry.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Check connection `slot` (still the one with this `id`) for idle/drain deadlines.
    Conn { slot: usize, id: u64 },
    /// Start accepting on listener `index` again after running out of file descriptors.
    ResumeListener(usize),
    /// Graceful shutdown took too long: close what is left.
    ShutdownDeadline,
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    pub fn push(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// How long the loop may sleep: until the earliest deadline, or forever.
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((at, _))| at.saturating_duration_since(now))
    }

    /// Takes the earliest deadline that is due at `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Timer)> {
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
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.push(t0 + Duration::from_secs(2), Timer::ShutdownDeadline);
        t.push(t0 + Duration::from_secs(1), Timer::ResumeListener(3));
        assert_eq!(t.timeout(t0), Some(Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let due = t0 + Duration::from_secs(5);
        assert_eq!(t.pop_due(due).map(|e| e.1), Some(Timer::ResumeListener(3)));
        assert_eq!(t.pop_due(due).map(|e| e.1), Some(Timer::ShutdownDeadline));
        assert!(t.is_empty());
    }
}
