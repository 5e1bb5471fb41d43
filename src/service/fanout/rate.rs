//! The publish rate limit of one connection (`--publish-rate`): a flood is refused
//! with an error, not relayed to everyone in the room.
//!
//! GCRA, the token bucket written as one number: each message pushes a "theoretical
//! arrival time" on by 1/rate; a message that would push it more than a second ahead
//! of now is refused. So a connection may send `rate` messages at once, then `rate`
//! per second — in 4 bytes, kept only for connections that have published.

use crate::clock::Millis;

/// The bucket's clock: ticks of 16 µs, in 32 bits (it wraps every 19 hours; see
/// [`Bucket::allow`]).
const TICKS_PER_SECOND: u32 = 62_500;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// When the messages allowed so far are "paid for", in ticks.
    tat: u32,
}

impl Bucket {
    /// May one more message go at `now`, with `rate` messages per second allowed (0:
    /// no limit; above 62,500 per second there is no limit either; between, 1/rate is
    /// rounded down to the 16 µs tick)? Counts it if so.
    pub fn allow(&mut self, now: Millis, rate: u32) -> bool {
        if rate == 0 {
            return true;
        }
        let now = (now.ms().wrapping_mul(u64::from(TICKS_PER_SECOND)) / 1000) as u32;
        let interval = TICKS_PER_SECOND / rate;
        // How far ahead of now the bucket is. Never more than a second (and one
        // interval) for a live bucket: more, or behind, is a bucket last used long
        // ago, seen through the clock's wrap — it starts afresh.
        let ahead = self.tat.wrapping_sub(now);
        let tat = if ahead > TICKS_PER_SECOND + interval {
            now
        } else {
            self.tat
        };
        if tat.wrapping_sub(now).wrapping_add(interval) > TICKS_PER_SECOND {
            return false;
        }
        self.tat = tat.wrapping_add(interval);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_rate_then_rate_per_second() {
        let start = Millis::START;
        let mut b = Bucket::default();
        let sent = (0..50).filter(|_| b.allow(start, 10)).count();
        assert_eq!(sent, 10, "a burst of one second's worth");
        let later = start.after(Duration::from_millis(500));
        let sent = (0..50).filter(|_| b.allow(later, 10)).count();
        assert_eq!(sent, 5, "half a second refills half");
        assert!(Bucket::default().allow(start, 0), "0 is no limit");
        let mut fast = Bucket::default();
        assert_eq!((0..5000).filter(|_| fast.allow(start, 2500)).count(), 2500);
    }

    #[test]
    fn a_bucket_idle_past_the_clocks_wrap_starts_afresh() {
        let mut b = Bucket::default();
        let start = Millis::START.after(Duration::from_secs(5));
        assert_eq!((0..20).filter(|_| b.allow(start, 10)).count(), 10);
        // 2^32 ticks of 16 µs later, less a moment: the bucket looks "ahead" by
        // almost the whole clock.
        let wrapped = start.after(Duration::from_micros((1u64 << 32) * 16 - 3_000_000));
        assert_eq!((0..20).filter(|_| b.allow(wrapped, 10)).count(), 10);
        let hours = start.after(Duration::from_secs(3 * 3600));
        assert_eq!((0..20).filter(|_| b.allow(hours, 10)).count(), 10);
    }
}
