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

use std::fmt;
use std::io::Write;

/// The one-line answer to `HELP`.
pub const HELP: &str = "commands: HELP | ECHO <text> | TIME | TIMESTAMP | RANDOM [MIN MAX] \
     | RANDOMS N [MIN MAX] | COUNT | ADD A B | SUB A B | STATS | STOP | QUIT";

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

/// Numbers a `STATS` reply (and the HTTP `/stats` page) reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub uptime_secs: u64,
    pub conns_active: u64,
    pub conns_total: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub requests: u64,
}

/// Writes `stats` as space-separated `key=value` pairs (no newline).
pub fn write_stats(stats: &Stats, out: &mut Vec<u8>) {
    let _ = write!(
        out,
        "uptime={} conns_active={} conns_total={} bytes_in={} bytes_out={} requests={}",
        stats.uptime_secs,
        stats.conns_active,
        stats.conns_total,
        stats.bytes_in,
        stats.bytes_out,
        stats.requests
    );
}

/// What the server provides to answer requests: time, randomness and counters.
pub trait Env {
    /// Current Unix time in seconds.
    fn unix_time(&mut self) -> i64;
    /// A uniformly drawn integer in `min..=max` (the caller guarantees `min <= max`).
    fn random(&mut self, min: i64, max: i64) -> i64;
    /// Connections accepted so far, this one included.
    fn client_number(&mut self) -> u64;
    fn stats(&mut self) -> Stats;
}

/// Whether the connection goes on after the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    Continue,
    Close,
}

/// Parses one request line (without its terminator).
pub fn parse(line: &[u8]) -> Result<Request<'_>, CommandError> {
    if line.contains(&b'\n') {
        return Err(CommandError::LineBreak);
    }
    let line = line.trim_ascii_start();
    let (verb, rest) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (
            line.get(..i).unwrap_or(line),
            line.get(i + 1..).unwrap_or(&[]),
        ),
        None => (line, &[][..]),
    };
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
    let mut next = || args.next();
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

/// Parses and answers one request line: appends exactly one line (ending in `\n`) to
/// `out` and says whether the connection goes on.
pub fn respond(line: &[u8], env: &mut impl Env, out: &mut Vec<u8>) -> After {
    let after = match parse(line) {
        Ok(request) => answer(&request, env, out),
        Err(err) => {
            write_error(&err, out);
            After::Continue
        }
    };
    out.push(b'\n');
    after
}

/// Writes `ERR <reason>` (no newline).
pub fn write_error(err: &CommandError, out: &mut Vec<u8>) {
    let _ = write!(out, "ERR {err}");
}

/// Writes the reply to a parsed request (no newline).
pub fn answer(request: &Request<'_>, env: &mut impl Env, out: &mut Vec<u8>) -> After {
    match *request {
        Request::Help => out.extend_from_slice(HELP.as_bytes()),
        Request::Echo(text) => out.extend_from_slice(text),
        Request::Time => {
            let mut s = String::with_capacity(20);
            crate::proto::rfc3339::write_utc(&mut s, env.unix_time());
            out.extend_from_slice(s.as_bytes());
        }
        Request::Timestamp => {
            let _ = write!(out, "{}", env.unix_time());
        }
        Request::Random { min, max } => {
            let _ = write!(out, "{}", env.random(min, max));
        }
        Request::Randoms { count, min, max } => {
            for i in 0..count {
                if i > 0 {
                    out.push(b' ');
                }
                let _ = write!(out, "{}", env.random(min, max));
            }
        }
        Request::Count => {
            let _ = write!(out, "Client number: {}", env.client_number());
        }
        Request::Add(a, b) => match a.checked_add(b) {
            Some(r) => {
                let _ = write!(out, "{r}");
            }
            None => write_error(&CommandError::Overflow { op: '+', a, b }, out),
        },
        Request::Sub(a, b) => match a.checked_sub(b) {
            Some(r) => {
                let _ = write!(out, "{r}");
            }
            None => write_error(&CommandError::Overflow { op: '-', a, b }, out),
        },
        Request::Stats => write_stats(&env.stats(), out),
        Request::Quit => {
            out.extend_from_slice(b"BYE");
            return After::Close;
        }
    }
    After::Continue
}

/// A reply line as a client sees it (without its newline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The answer itself: a number, the time, `BYE`, ...
    Value(&'a [u8]),
    /// `ERR <reason>`: the request was refused, for this reason.
    Error(&'a [u8]),
}

/// Splits a reply line (newline already removed) into value or error.
pub fn parse_reply(line: &[u8]) -> Reply<'_> {
    match line.strip_prefix(b"ERR ") {
        Some(reason) => Reply::Error(reason),
        None => Reply::Value(line),
    }
}

/// Writes a reply line, newline included; the inverse of [`parse_reply`].
pub fn write_reply(reply: Reply<'_>, out: &mut Vec<u8>) {
    if let Reply::Error(reason) = reply {
        out.extend_from_slice(b"ERR ");
        out.extend_from_slice(reason);
    } else if let Reply::Value(value) = reply {
        out.extend_from_slice(value);
    }
    out.push(b'\n');
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A fixed environment: the tests can predict every reply.
    struct Fixed {
        time: i64,
    }

    impl Env for Fixed {
        fn unix_time(&mut self) -> i64 {
            self.time
        }
        fn random(&mut self, min: i64, max: i64) -> i64 {
            assert!(min <= max);
            min + (max - min) / 2
        }
        fn client_number(&mut self) -> u64 {
            7
        }
        fn stats(&mut self) -> Stats {
            Stats {
                uptime_secs: 3,
                conns_active: 1,
                conns_total: 2,
                bytes_in: 10,
                bytes_out: 20,
                requests: 4,
            }
        }
    }

    fn reply(line: &str) -> (String, After) {
        let mut out = Vec::new();
        let after = respond(
            line.as_bytes(),
            &mut Fixed {
                time: 1_795_356_309,
            },
            &mut out,
        );
        (String::from_utf8(out).unwrap(), after)
    }

    #[test]
    fn each_command() {
        assert_eq!(reply("HELP").0, format!("{HELP}\n"));
        assert_eq!(reply("echo  two  spaces ").0, " two  spaces \n");
        assert_eq!(reply("ECHO").0, "\n");
        assert_eq!(reply("time").0, "2026-11-22T14:05:09Z\n");
        assert_eq!(reply("TIMESTAMP").0, "1795356309\n");
        assert_eq!(reply("RANDOM").0, "500\n");
        assert_eq!(reply("random 10 20").0, "15\n");
        assert_eq!(reply("RANDOMS 3 0 0").0, "0 0 0\n");
        assert_eq!(reply("COUNT").0, "Client number: 7\n");
        assert_eq!(reply("ADD -17 18").0, "1\n");
        assert_eq!(reply("sub -17 18").0, "-35\n");
        assert_eq!(
            reply("STATS").0,
            "uptime=3 conns_active=1 conns_total=2 bytes_in=10 bytes_out=20 requests=4\n"
        );
        assert_eq!(reply("QUIT"), ("BYE\n".into(), After::Close));
        assert_eq!(reply("  stop").1, After::Close);
    }

    #[test]
    fn errors_are_one_clear_line() {
        assert_eq!(reply("").0, "ERR empty request; try HELP\n");
        assert_eq!(reply("FROB x").0, "ERR unknown command 'FROB'; try HELP\n");
        assert_eq!(reply("ADD 1").0, "ERR usage: ADD A B\n");
        assert_eq!(reply("ADD 1 2 3").0, "ERR usage: ADD A B\n");
        assert_eq!(reply("ADD x 2").0, "ERR 'x' is not a 64-bit whole number\n");
        assert_eq!(
            reply("ADD 9223372036854775807 1").0,
            "ERR 9223372036854775807 + 1 does not fit in a signed 64-bit integer\n"
        );
        assert_eq!(
            reply("SUB -9223372036854775808 1").0,
            "ERR -9223372036854775808 - 1 does not fit in a signed 64-bit integer\n"
        );
        assert_eq!(reply("RANDOM 5 1").0, "ERR MIN 5 is greater than MAX 1\n");
        assert_eq!(reply("RANDOM 5").0, "ERR usage: RANDOM [MIN MAX]\n");
        assert_eq!(
            reply("RANDOMS 10001").0,
            "ERR RANDOMS count 10001 is not between 1 and 10000\n"
        );
        assert_eq!(reply("HELP me").0, "ERR usage: HELP\n");
        assert_eq!(reply("QUIT now").1, After::Continue);
    }

    #[test]
    fn range_requests() {
        assert_eq!(parse_range_request(b""), Ok(DEFAULT_RANGE));
        assert_eq!(parse_range_request(b"hello"), Ok(DEFAULT_RANGE));
        assert_eq!(parse_range_request(b"5 9\r\n"), Ok((5, 9)));
        assert_eq!(
            parse_range_request(b"9 5"),
            Err(CommandError::InvertedRange { min: 9, max: 5 })
        );
    }

    proptest! {
        #[test]
        fn every_reply_is_exactly_one_line(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            respond(&line, &mut Fixed { time: 0 }, &mut out);
            prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(out.last(), Some(&b'\n'));
        }

        #[test]
        fn replies_parse_back_to_what_was_written(
            value in proptest::collection::vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..80),
            error in any::<bool>(),
        ) {
            // A value never starts with "ERR " (the protocol reserves it for errors).
            prop_assume!(error || !value.starts_with(b"ERR "));
            let reply = if error { Reply::Error(&value) } else { Reply::Value(&value) };
            let mut line = Vec::new();
            write_reply(reply, &mut line);
            prop_assert_eq!(line.pop(), Some(b'\n'));
            prop_assert_eq!(parse_reply(&line), reply);
        }

        #[test]
        fn every_reply_of_respond_parses(line in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = Vec::new();
            respond(&line, &mut Fixed { time: 0 }, &mut out);
            out.pop();
            let mut again = Vec::new();
            write_reply(parse_reply(&out), &mut again);
            again.pop();
            prop_assert_eq!(again, out);
        }

        #[test]
        fn arithmetic_agrees_with_checked_i64(a in any::<i64>(), b in any::<i64>(), sub in any::<bool>()) {
            let (verb, expected) = if sub { ("SUB", a.checked_sub(b)) } else { ("ADD", a.checked_add(b)) };
            let (got, _) = reply(&format!("{verb} {a} {b}"));
            match expected {
                Some(r) => prop_assert_eq!(got, format!("{r}\n")),
                None => prop_assert!(got.starts_with("ERR ")),
            }
        }

        #[test]
        fn randoms_reply_has_count_numbers_in_range(n in 1u32..50, min in -5i64..5, span in 0i64..10) {
            let (got, _) = reply(&format!("RANDOMS {n} {min} {}", min + span));
            let nums: Vec<i64> = got.trim_end().split(' ').map(|s| s.parse().unwrap()).collect();
            prop_assert_eq!(nums.len(), n as usize);
            prop_assert!(nums.iter().all(|&x| x >= min && x <= min + span));
        }
    }
}
