//! What a publisher puts in each message, and what a subscriber reads back out of it:
//! who sent it, its number in that publisher's sequence, and when it was sent.
//!
//! ```text
//! PPPP.SSSSSSSSSS.TTTTTTTTTTTTTT<padding>
//! │    │          │             └ printable padding up to --size bytes
//! │    │          └ send time: ns since the generator started, 14 digits (27 hours)
//! │    └ sequence number within the publisher, 10 digits
//! └ publisher id, 4 digits
//! ```
//!
//! Fixed widths keep both ends trivial: the publisher writes digits into a copy of a
//! prebuilt template, the subscriber reads them at known offsets and compares the
//! padding with the template's, so a payload cut, joined or mangled on the way is
//! caught. Every byte is printable ASCII (valid UTF-8 for a WebSocket text message)
//! and none is a space, a CR or a LF.

use crate::bench::pattern::{Pattern, pattern};

const ID_DIGITS: usize = 4;
const SEQ_DIGITS: usize = 10;
const TIME_DIGITS: usize = 14;
const SEQ_AT: usize = ID_DIGITS + 1;
const TIME_AT: usize = SEQ_AT + SEQ_DIGITS + 1;
/// The smallest payload: the three fields and their two dots.
pub const HEADER_LEN: usize = TIME_AT + TIME_DIGITS;
/// Publisher ids have four digits.
pub const MAX_PUBLISHERS: usize = 1000;

/// What a payload says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub publisher: usize,
    pub seq: u64,
    /// ns since the generator's start.
    pub sent_ns: u64,
}

/// The payload of every publish of a run: `size` bytes, stamped as it is written.
pub struct Payloads {
    template: Vec<u8>,
}

impl Payloads {
    /// `size` must be at least [`HEADER_LEN`] (the command line checks it).
    pub fn new(size: usize) -> Payloads {
        let mut template = pattern(size.max(HEADER_LEN), 1, Pattern::Text);
        for (i, b) in template.iter_mut().take(HEADER_LEN).enumerate() {
            *b = if i == SEQ_AT - 1 || i == TIME_AT - 1 {
                b'.'
            } else {
                b'0'
            };
        }
        Payloads { template }
    }

    pub fn size(&self) -> usize {
        self.template.len()
    }

    /// Appends the payload stamped `stamp` to `out`.
    #[inline]
    pub fn write(&self, stamp: Stamp, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.template);
        if let Some(head) = out.get_mut(start..start + HEADER_LEN) {
            digits(head, 0, ID_DIGITS, stamp.publisher as u64);
            digits(head, SEQ_AT, SEQ_DIGITS, stamp.seq);
            digits(head, TIME_AT, TIME_DIGITS, stamp.sent_ns);
        }
    }

    /// Reads the stamp of a delivered payload, after checking that it is one of ours
    /// whole: the length, the dots, the digits and the padding.
    #[inline]
    pub fn read(&self, payload: &[u8]) -> Result<Stamp, String> {
        if payload.len() != self.template.len() {
            return Err(format!(
                "a delivery of {} bytes; {} were published",
                payload.len(),
                self.template.len()
            ));
        }
        self.stamp(payload).ok_or_else(|| {
            let shown = String::from_utf8_lossy(payload.get(..64).unwrap_or(payload)).into_owned();
            format!("a delivery that is not a payload of this run: '{shown}'")
        })
    }

    #[inline]
    fn stamp(&self, payload: &[u8]) -> Option<Stamp> {
        let dots =
            payload.get(SEQ_AT - 1) == Some(&b'.') && payload.get(TIME_AT - 1) == Some(&b'.');
        let padding = payload.get(HEADER_LEN..) == self.template.get(HEADER_LEN..);
        if !(dots && padding) {
            return None;
        }
        Some(Stamp {
            publisher: number(payload.get(..ID_DIGITS)?)? as usize,
            seq: number(payload.get(SEQ_AT..SEQ_AT + SEQ_DIGITS)?)?,
            sent_ns: number(payload.get(TIME_AT..HEADER_LEN)?)?,
        })
    }
}

/// Writes `n` as `width` decimal digits at `at`; a value too wide keeps its low digits
/// (27 hours of nanoseconds, 10^10 messages: not reached by a bounded run).
#[inline]
fn digits(out: &mut [u8], at: usize, width: usize, mut n: u64) {
    if let Some(field) = out.get_mut(at..at + width) {
        for d in field.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
}

/// Decimal digits only (at most 20, which the fields never exceed).
#[inline]
fn number(field: &[u8]) -> Option<u64> {
    field.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0')))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_are_printable() {
        for size in [HEADER_LEN, 64, 1000] {
            let p = Payloads::new(size);
            let stamp = Stamp {
                publisher: 999,
                seq: 1_234_567,
                sent_ns: 98_765_432_109,
            };
            let mut out = b"PUB bench ".to_vec();
            p.write(stamp, &mut out);
            let payload = &out[10..];
            assert_eq!(payload.len(), size);
            assert!(payload.iter().all(|b| b.is_ascii_graphic()), "{payload:?}");
            assert!(payload.starts_with(b"0999.0001234567.00098765432109"));
            assert_eq!(p.read(payload), Ok(stamp));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let p = Payloads::new(64);
        let mut good = Vec::new();
        p.write(
            Stamp {
                publisher: 1,
                seq: 2,
                sent_ns: 3,
            },
            &mut good,
        );
        assert!(p.read(&good[..63]).is_err());
        let mut longer = good.clone();
        longer.push(b'x');
        assert!(p.read(&longer).is_err());
        for at in [0, SEQ_AT - 1, TIME_AT + 3, HEADER_LEN, 63] {
            let mut bad = good.clone();
            bad[at] = b' ';
            assert!(p.read(&bad).is_err(), "byte {at}");
        }
        assert!(Payloads::new(64).read(b"hello").is_err());
    }
}
