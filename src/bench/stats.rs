//! A fixed-size latency histogram: recording is an index computation and an add, so
//! the hot path never allocates and a run of any length costs the same memory.
//!
//! Buckets are log-linear over microseconds, in the HdrHistogram style: 1 µs wide up
//! to 128 µs, then every power of two is cut into 64 equal sub-buckets, so a value
//! read back is never more than 1/64 (1.6 %) above the true one. Values from
//! 2^32 µs (71 minutes) up land in the last bucket; the exact maximum, minimum and
//! sum are kept on the side.

/// Values below this are exact (one bucket per microsecond).
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above `LINEAR` (log2 of it: 6).
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered: [2^7, 2^32) µs.
const OCTAVES: u64 = 32 - 7;
const BUCKETS: usize = (LINEAR + OCTAVES * SUB) as usize;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} values)", self.count)
    }
}

/// The bucket holding `us` microseconds.
fn index(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    // Top bit position k >= 7; keep the SUB_BITS bits below it.
    let k = u64::from(63 - us.leading_zeros());
    if k >= 7 + OCTAVES {
        return BUCKETS - 1;
    }
    let sub = (us >> (k - u64::from(SUB_BITS))) - SUB;
    (LINEAR + (k - 7) * SUB + sub) as usize
}

/// The largest value (µs) that falls in bucket `i`.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let k = 7 + (i - LINEAR) / SUB;
    let sub = (i - LINEAR) % SUB;
    let width = 1u64 << (k - u64::from(SUB_BITS));
    ((SUB + sub) << (k - u64::from(SUB_BITS))) + width - 1
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    /// Records one latency given in nanoseconds.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        let i = index(ns / 1000);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds every value of `other` (e.g. one connection's histogram into the total).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The smallest recorded value `v` (µs, bucket resolution) such that at least the
    /// fraction `q` (0..=1) of all values are `<= v`. 0 for an empty histogram.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                // A bucket's top can be above anything recorded; never report more
                // than the real maximum (or less than the real minimum).
                let high = bucket_high(i) as f64;
                return high.min(self.max_us()).max(self.min_us());
            }
        }
        self.max_us()
    }

    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64 / 1000.0
        }
    }

    pub fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1000.0
    }

    pub fn min_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.min_ns as f64 / 1000.0
        }
    }

    /// The usual summary: p50, p90, p99, p99.9, max, mean (all µs).
    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count,
            p50: self.quantile_us(0.50),
            p90: self.quantile_us(0.90),
            p99: self.quantile_us(0.99),
            p999: self.quantile_us(0.999),
            max: self.max_us(),
            mean: self.mean_us(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// Microseconds for people: "87 µs", "1.25 ms", "2.0 s".
pub fn human_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        // Every value maps to a bucket whose top is >= the value, and the previous
        // bucket's top is below it: no gaps, no overlaps.
        let mut last = None;
        for us in (0..5000).chain([1 << 20, (1 << 20) + 1, (1 << 31) + 12345]) {
            let i = index(us);
            assert!(bucket_high(i) >= us, "{us} above its bucket {i}");
            if i > 0 {
                assert!(bucket_high(i - 1) < us, "{us} also fits bucket {}", i - 1);
            }
            if let Some(l) = last {
                assert!(i >= l);
            }
            last = Some(i);
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(index(1 << 32), BUCKETS - 1);
        assert!(index((1 << 32) - 1) < BUCKETS);
    }

    #[test]
    fn relative_error_is_bounded() {
        for us in [
            128u64,
            129,
            1000,
            4095,
            4096,
            65_537,
            1_000_000,
            3_000_000_000,
        ] {
            let high = bucket_high(index(us)) as f64;
            let err = (high - us as f64) / us as f64;
            assert!((0.0..=1.0 / 64.0).contains(&err), "{us}: {err}");
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for us in 1..=100 {
            h.record_ns(us * 1000);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_us(0.5), 50.0);
        assert_eq!(h.quantile_us(0.99), 99.0);
        assert_eq!(h.quantile_us(1.0), 100.0);
        assert_eq!(h.quantile_us(0.0), 1.0);
        assert_eq!(h.min_us(), 1.0);
        assert_eq!(h.max_us(), 100.0);
        assert!((h.mean_us() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn percentiles_of_a_skewed_distribution() {
        // 990 fast values and 10 slow ones: p99 is still fast, p99.9 is slow.
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record_ns(20_000);
        }
        for _ in 0..10 {
            h.record_ns(5_000_000);
        }
        let s = h.summary();
        assert_eq!(s.p50, 20.0);
        assert_eq!(s.p99, 20.0);
        // 5000 µs reads back within 1.6 %, capped at the true maximum.
        assert_eq!(s.p999, 5000.0);
        assert_eq!(s.max, 5000.0);
        let mut h2 = Histogram::new();
        for _ in 0..1000 {
            h2.record_ns(1_234_567_000);
        }
        let p = h2.quantile_us(0.5);
        assert!((1_234_567.0..=1_234_567.0 * (1.0 + 1.0 / 64.0)).contains(&p));
    }

    #[test]
    fn empty_and_merge() {
        let h = Histogram::new();
        assert_eq!(h.summary(), Summary::default());
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record_ns(10_000);
        b.record_ns(30_000);
        b.record_ns(500);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile_us(1.0), 30.0);
        assert_eq!(a.min_us(), 0.5);
        assert_eq!(a.quantile_us(0.0), 0.5);
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_us(87.4), "87 µs");
        assert_eq!(human_us(1250.0), "1.25 ms");
        assert_eq!(human_us(2_000_000.0), "2.00 s");
    }
}
