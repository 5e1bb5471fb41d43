//! The server's clock: whole milliseconds since the server started.
//!
//! Every deadline the loop keeps (idle, handshake, close, drain, keepalive) is coarse,
//! so it is held as a [`Millis`]: 8 bytes instead of an `Instant`'s 16, and moving a
//! deadline is one addition instead of `Instant`'s checked seconds-and-nanoseconds
//! arithmetic — which on the echo path, once per message, cost more than the framing.
//! The loop reads the real clock once per turn and every event of that turn happens
//! at that moment.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

/// A moment of the server's life: milliseconds since it started, plus one (so that
/// `Option<Millis>` needs no extra tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(NonZeroU64);

impl Millis {
    /// The moment the server started.
    pub const START: Millis = Millis(NonZeroU64::MIN);

    /// The time now, measured from `start`, rounded down to the millisecond.
    pub fn since(start: Instant) -> Millis {
        // In u64 parts rather than `as_millis`, which works in u128.
        let d = start.elapsed();
        let elapsed = d
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(d.subsec_millis()));
        Millis(NonZeroU64::MIN.saturating_add(elapsed))
    }

    /// `d` after this moment, rounded up to the millisecond so that a deadline never
    /// comes early.
    pub fn after(self, d: Duration) -> Millis {
        // In u64 parts: `as_nanos` is a u128, and dividing one is a library call.
        let ms = d
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(d.subsec_nanos().div_ceil(1_000_000)));
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds since the server started.
    pub fn ms(self) -> u64 {
        self.0.get() - 1
    }

    /// How long from this moment until `later` (zero if `later` has passed).
    pub fn until(self, later: Millis) -> Duration {
        Duration::from_millis(later.0.get().saturating_sub(self.0.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_never_come_early() {
        let t = Millis::START;
        assert_eq!(
            t.until(t.after(Duration::from_millis(5))),
            Duration::from_millis(5)
        );
        assert_eq!(
            t.until(t.after(Duration::from_micros(1))),
            Duration::from_millis(1)
        );
        assert_eq!(t.until(t.after(Duration::ZERO)), Duration::ZERO);
        let later = t.after(Duration::from_secs(3));
        assert_eq!(later.until(t), Duration::ZERO);
        assert!(t < later);
        assert_eq!(
            t.after(Duration::MAX).after(Duration::MAX),
            t.after(Duration::MAX)
        );
    }

    #[test]
    fn the_clock_starts_at_start_and_moves_forward() {
        let start = Instant::now();
        let a = Millis::since(start);
        std::thread::sleep(Duration::from_millis(3));
        let b = Millis::since(start);
        assert!(a >= Millis::START && a < b);
        assert!(a.until(b) >= Duration::from_millis(2));
        assert_eq!(std::mem::size_of::<Option<Millis>>(), 8);
    }
}
