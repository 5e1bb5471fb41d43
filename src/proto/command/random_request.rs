//! The request of the WebSocket `/random` endpoint: a message `N` or `N MIN MAX`, the
//! arguments of `RANDOMS` without the verb. Parsed here rather than by prefixing
//! `RANDOMS ` and reusing the `cmd` parser, so that an error speaks of what the user
//! sent (`'abc' is not a count`), never of a command they did not type.

use super::{CommandError, DEFAULT_RANGE, MAX_RANDOMS, checked_range, integer, printable};
use std::fmt;

/// Why a `/random` message got `ERR`; `Display` is the text after `ERR `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RandomRequestError {
    /// Nothing, or the wrong number of words.
    Shape,
    /// The first word is not a whole number.
    NotACount(String),
    /// A whole number outside 1..=MAX_RANDOMS.
    CountOutOfRange(String),
    /// MIN or MAX is not an integer, or MIN > MAX (the `cmd` protocol's words).
    Range(CommandError),
}

impl fmt::Display for RandomRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape => write!(f, "send a count N (1 to {MAX_RANDOMS}), or N MIN MAX"),
            Self::NotACount(word) => write!(
                f,
                "'{word}' is not a count; send N (1 to {MAX_RANDOMS}), or N MIN MAX"
            ),
            Self::CountOutOfRange(n) => write!(f, "count {n} is not between 1 and {MAX_RANDOMS}"),
            Self::Range(e) => e.fmt(f),
        }
    }
}

/// `N` or `N MIN MAX` (spaces or tabs between, a line ending allowed) → (count, min, max).
pub fn parse_random_request(message: &[u8]) -> Result<(u32, i64, i64), RandomRequestError> {
    let mut words = message
        .split(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|w| !w.is_empty());
    let (Some(n), min, max, None) = (words.next(), words.next(), words.next(), words.next()) else {
        return Err(RandomRequestError::Shape);
    };
    let count = match std::str::from_utf8(n).ok().map(str::parse::<u64>) {
        Some(Ok(c)) => u32::try_from(c)
            .ok()
            .filter(|c| (1..=MAX_RANDOMS).contains(c))
            .ok_or_else(|| RandomRequestError::CountOutOfRange(c.to_string()))?,
        // All digits, but more than u64 holds: a number, just far too large.
        _ if n.iter().all(u8::is_ascii_digit) => {
            return Err(RandomRequestError::CountOutOfRange(printable(n, 24)));
        }
        _ => return Err(RandomRequestError::NotACount(printable(n, 24))),
    };
    let (min, max) = match (min, max) {
        (None, None) => DEFAULT_RANGE,
        (Some(a), Some(b)) => {
            let range = integer(a).and_then(|min| Ok((min, integer(b)?)));
            range
                .and_then(|(min, max)| checked_range(min, max))
                .map_err(RandomRequestError::Range)?
        }
        _ => return Err(RandomRequestError::Shape),
    };
    Ok((count, min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(message: &str) -> String {
        match parse_random_request(message.as_bytes()) {
            Ok(v) => panic!("{message:?} accepted: {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn counts_and_ranges() {
        assert_eq!(parse_random_request(b"5"), Ok((5, 1, 1000)));
        assert_eq!(parse_random_request(b" 3\t9 9\r\n"), Ok((3, 9, 9)));
        assert_eq!(parse_random_request(b"10000 -5 5"), Ok((10_000, -5, 5)));
    }

    #[test]
    fn errors_speak_of_what_was_sent() {
        assert_eq!(
            err("abc"),
            "'abc' is not a count; send N (1 to 10000), or N MIN MAX"
        );
        assert_eq!(
            err("-3"),
            "'-3' is not a count; send N (1 to 10000), or N MIN MAX"
        );
        assert_eq!(err("0"), "count 0 is not between 1 and 10000");
        assert_eq!(err("10001"), "count 10001 is not between 1 and 10000");
        assert_eq!(
            err("99999999999999999999999"),
            "count 99999999999999999999999 is not between 1 and 10000"
        );
        assert_eq!(err(""), "send a count N (1 to 10000), or N MIN MAX");
        assert_eq!(err("5 1"), "send a count N (1 to 10000), or N MIN MAX");
        assert_eq!(err("5 1 2 3"), "send a count N (1 to 10000), or N MIN MAX");
        assert_eq!(err("5 x 2"), "'x' is not a 64-bit whole number");
        assert_eq!(err("5 9 1"), "MIN 9 is greater than MAX 1");
        for e in ["abc", "0", "5 1", "5 x 2"] {
            assert!(!err(e).contains("RANDOMS"), "{e}: {}", err(e));
        }
    }
}
