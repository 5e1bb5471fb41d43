//! The `cmd` line protocol: one request per line, exactly one reply line per request.
//!
//! | request               | reply                                         |
//! |-----------------------|-----------------------------------------------|
//! | `HELP`                | one line listing the commands                 |
//! | `ECHO <text>`         | `<text>`                                      |
//! | `TIME`                | RFC 3339 UTC time                             |
//! | `TIMESTAMP`           | Unix seconds                                  |
//! | `RANDOM [MIN MAX]`    | one integer in MIN..=MAX (default 1..=1000)   |
//! | `RANDOMS N [MIN MAX]` | N integers separated by spaces (1..=10000)    |
//! | `COUNT`               | `Client number: K`                            |
//! | `ADD A B`, `SUB A B`  | signed 64-bit result; overflow is an error    |
//! | `STATS`               | `key=value` pairs                             |
//! | `STOP`, `QUIT`        | `BYE`, then the connection closes             |
//! | anything else         | `ERR <reason>`                                |
//!
//! Verbs are case-insensitive; arguments are separated by spaces or tabs. The clock,
//! the random source and the counters come from the caller through [`Env`], so the
//! parser and the formatter can be fuzzed with no server around them.
//!
//! This file parses requests; `answer.rs` writes the reply to each one, `reply.rs`
//! has the two shapes of a reply line and `random_request.rs` reads the WebSocket
//! `/random` endpoint's `N [MIN MAX]`. The protocol is ours (no RFC); `TIME` answers in
//! RFC 3339 (`super::rfc3339`).

use std::fmt;

mod answer;
mod random_request;
mod reply;

pub use answer::{After, Env, HELP, Stats, answer, respond, write_stats};
pub use random_request::{RandomRequestError, parse_random_request};
pub use reply::{Reply, parse_reply, write_error, write_reply};

/// Most integers one `RANDOMS` may ask for (keeps one reply line under ~210 KB).
pub const MAX_RANDOMS: u32 = 10_000;

/// The range `RANDOM` and the random service use when none is given.
pub const DEFAULT_RANGE: (i64, i64) = (1, 1000);

/// A parsed request. `Echo` borrows its text from the request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Help,
    Echo(&'a [u8]),
    Time,
    Timestamp,
    Random { min: i64, max: i64 },
    Randoms { count: u32, min: i64, max: i64 },
    Count,
    Add(i64, i64),
    Sub(i64, i64),
    Stats,
    Quit,
}

/// Why a request got `ERR`. The `Display` text is the reason sent after `ERR `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    Empty,
    Unknown(String),
    Usage(&'static str),
    NotAnInteger(String),
    InvertedRange { min: i64, max: i64 },
    CountOutOfRange(String),
    Overflow { op: char, a: i64, b: i64 },
    LineBreak,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty request; try HELP"),
            Self::Unknown(verb) => write!(f, "unknown command '{verb}'; try HELP"),
            Self::Usage(usage) => write!(f, "usage: {usage}"),
            Self::NotAnInteger(arg) => write!(f, "'{arg}' is not a 64-bit whole number"),
            Self::InvertedRange { min, max } => {
                write!(f, "MIN {min} is greater than MAX {max}")
            }
            Self::CountOutOfRange(n) => {
                write!(f, "RANDOMS count {n} is not between 1 and {MAX_RANDOMS}")
            }
            Self::Overflow { op, a, b } => {
                write!(f, "{a} {op} {b} does not fit in a signed 64-bit integer")
            }
            Self::LineBreak => write!(f, "a request is one line; this one has a line break"),
        }
    }
}

/// Parses one request line (without its terminator).
pub fn parse(line: &[u8]) -> Result<Request<'_>, CommandError> {
    if line.contains(&b'\n') {
        return Err(CommandError::LineBreak);
    }
    let (verb, rest) = split_verb(line.trim_ascii_start());
    if verb.is_empty() {
        return Err(CommandError::Empty);
    }
    // ECHO keeps its text byte for byte, spaces included.
    if verb.eq_ignore_ascii_case(b"ECHO") {
        return Ok(Request::Echo(rest));
    }
    let mut args = rest
        .split(|&b| b == b' ' || b == b'\t' || b == b'\r')
        .filter(|a| !a.is_empty());
    parse_verb(verb, || args.next())
}

/// The verb, and what follows the one space or tab after it.
fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (
            line.get(..i).unwrap_or(line),
            line.get(i + 1..).unwrap_or(&[]),
        ),
        None => (line, &[][..]),
    }
}

/// Every verb but ECHO, with its arguments drawn from `next`; none may be left over.
fn parse_verb<'a, 'r>(
    verb: &[u8],
    mut next: impl FnMut() -> Option<&'r [u8]>,
) -> Result<Request<'a>, CommandError> {
    let verb_is = |name: &str| verb.eq_ignore_ascii_case(name.as_bytes());
    let request = if verb_is("HELP") {
        no_args(Request::Help, next(), "HELP")?
    } else if verb_is("TIME") {
        no_args(Request::Time, next(), "TIME")?
    } else if verb_is("TIMESTAMP") {
        no_args(Request::Timestamp, next(), "TIMESTAMP")?
    } else if verb_is("COUNT") {
        no_args(Request::Count, next(), "COUNT")?
    } else if verb_is("STATS") {
        no_args(Request::Stats, next(), "STATS")?
    } else if verb_is("STOP") || verb_is("QUIT") {
        no_args(Request::Quit, next(), "STOP | QUIT")?
    } else if verb_is("RANDOM") {
        const USAGE: &str = "RANDOM [MIN MAX]";
        let (min, max) = optional_range(next(), next(), USAGE)?;
        end(next(), USAGE)?;
        Request::Random { min, max }
    } else if verb_is("RANDOMS") {
        const USAGE: &str = "RANDOMS N [MIN MAX]";
        let n = next().ok_or(CommandError::Usage(USAGE))?;
        let count = parse_count(n)?;
        let (min, max) = optional_range(next(), next(), USAGE)?;
        end(next(), USAGE)?;
        Request::Randoms { count, min, max }
    } else if verb_is("ADD") || verb_is("SUB") {
        let usage = if verb_is("ADD") { "ADD A B" } else { "SUB A B" };
        let a = integer(next().ok_or(CommandError::Usage(usage))?)?;
        let b = integer(next().ok_or(CommandError::Usage(usage))?)?;
        end(next(), usage)?;
        if verb_is("ADD") {
            Request::Add(a, b)
        } else {
            Request::Sub(a, b)
        }
    } else {
        return Err(CommandError::Unknown(printable(verb, 32)));
    };
    Ok(request)
}

/// The random service's request: empty or any text → the default range; `MIN MAX` →
/// that range (an inverted range is an error).
pub fn parse_range_request(line: &[u8]) -> Result<(i64, i64), CommandError> {
    let mut args = line
        .split(|&b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n')
        .filter(|a| !a.is_empty());
    match (args.next(), args.next(), args.next()) {
        (Some(a), Some(b), None) => match (integer(a), integer(b)) {
            (Ok(min), Ok(max)) => checked_range(min, max),
            _ => Ok(DEFAULT_RANGE),
        },
        _ => Ok(DEFAULT_RANGE),
    }
}

fn no_args<'a>(
    request: Request<'a>,
    extra: Option<&[u8]>,
    usage: &'static str,
) -> Result<Request<'a>, CommandError> {
    end(extra, usage).map(|()| request)
}

fn end(extra: Option<&[u8]>, usage: &'static str) -> Result<(), CommandError> {
    match extra {
        None => Ok(()),
        Some(_) => Err(CommandError::Usage(usage)),
    }
}

fn optional_range(
    min: Option<&[u8]>,
    max: Option<&[u8]>,
    usage: &'static str,
) -> Result<(i64, i64), CommandError> {
    match (min, max) {
        (None, _) => Ok(DEFAULT_RANGE),
        (Some(_), None) => Err(CommandError::Usage(usage)),
        (Some(a), Some(b)) => checked_range(integer(a)?, integer(b)?),
    }
}

fn checked_range(min: i64, max: i64) -> Result<(i64, i64), CommandError> {
    if min > max {
        Err(CommandError::InvertedRange { min, max })
    } else {
        Ok((min, max))
    }
}

fn parse_count(arg: &[u8]) -> Result<u32, CommandError> {
    match std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        Some(n) if (1..=MAX_RANDOMS).contains(&n) => Ok(n),
        _ => Err(CommandError::CountOutOfRange(printable(arg, 24))),
    }
}

fn integer(arg: &[u8]) -> Result<i64, CommandError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| CommandError::NotAnInteger(printable(arg, 24)))
}

/// A bounded, printable rendering of client bytes for an error message: the reply stays
/// one short line whatever the client sent.
fn printable(bytes: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
