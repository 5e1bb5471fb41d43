//! RESP2, the Redis serialization protocol, as the broker client speaks it: a parser
//! for what a Redis server sends, writers for commands and values, and the reading of
//! the replies a connection in subscribe mode receives.
//!
//! ```text
//! +OK\r\n                        simple string: text up to CRLF (no CR or LF in it)
//! -ERR unknown command\r\n       error: like a simple string, but it is an error reply
//! :1000\r\n                      integer: signed 64-bit, decimal
//! $5\r\nhello\r\n                bulk string: a byte length, CRLF, that many bytes, CRLF
//! *2\r\n$3\r\nfoo\r\n:7\r\n      array: an element count, CRLF, then that many values
//! $-1\r\n  *-1\r\n               null (a missing bulk string, a missing array)
//! ```
//!
//! The first byte of every value says its type; every line ends with CRLF. Bulk strings
//! are binary-safe because they are counted, not terminated: the payload may hold CR,
//! LF or anything else, and the parser never looks inside it. Arrays nest: an element
//! may be an array. A client sends a command as an array of bulk strings
//! ([`write_command`]). RESP3 types (`_`, `#`, `,`, `%`, `~`, `>` …) and inline
//! commands are not RESP2 and are refused as an unknown type.
//!
//! The parser is strict: it accepts only the canonical form Redis itself writes, so
//! `write_value(parse(b)) == b` for anything accepted (the fuzz target's oracle), except
//! that both nulls parse to [`Value::Null`], which is written back as `$-1`. Lengths and
//! integers are `-`? digits with no `+`, no leading zero and no `-0`; the only negative
//! length is -1; lines end with CRLF (a bare LF, or a CR without its LF, is an error).
//!
//! Limits are checked from the header: `$2000000\r\n` with a 1 MiB `max_bulk` is an
//! error as soon as its CRLF arrives, before any of the payload. A peer that announces a
//! huge length cannot make us buffer it while we wait for bytes that would be refused
//! anyway, and an array header cannot make us allocate for elements that never come
//! (room is reserved only for as many elements as the bytes in hand could hold). A line
//! without a length (simple string, error) is capped at `max_bulk` too; a number line is
//! at most 20 characters, since an i64 has no more.
//!
//! Errors are reported as soon as the bytes that show them are here, and more bytes
//! never turn an error into something else.
//!
//! Not resumable: `parse` starts again from the first byte each time it is called. For a
//! bulk string that costs nothing (an incomplete one is answered from its header and the
//! buffer length, without looking at the payload). A partial array is walked again up
//! to where it stops, and a partial simple string or error line scanned again (at most
//! `max_bulk + 1` bytes): bounded by the limits and by what the caller buffers.

use std::fmt;

use super::Parsed;

/// One RESP2 value borrowed from the read buffer (no copy of payloads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `+text`; never holds CR or LF.
    Simple(&'a [u8]),
    /// `-text`, an error reply; never holds CR or LF.
    Error(&'a [u8]),
    Integer(i64),
    Bulk(&'a [u8]),
    /// `$-1` and `*-1`.
    Null,
    Array(Vec<Value<'a>>),
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest bulk string, and longest simple string or error line, in bytes.
    pub max_bulk: usize,
    /// Most elements in one array.
    pub max_elements: usize,
    /// Most arrays nested in one another (an array at the top is depth 1; 0 refuses
    /// every array but the null one). Each level is one stack frame of the parser.
    pub max_depth: usize,
}

impl Default for Limits {
    /// A 1 MiB pub/sub payload plus room for the message envelope around it.
    fn default() -> Self {
        Self {
            max_bulk: (1 << 20) + 4096,
            max_elements: 1024,
            max_depth: 4,
        }
    }
}

/// Input that no Redis server sends, or that is over a [`Limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RespError {
    /// A value starts with a byte that is not `+ - : $ *`.
    UnknownType(u8),
    /// A `$` or `*` length that is not -1 or canonical digits.
    BadLength,
    /// A `:` integer that is not canonical digits within i64.
    BadInteger,
    /// An LF without a CR before it.
    BareLf,
    /// A CR not followed by LF.
    ControlInLine,
    /// The two bytes after a bulk string's payload are not CRLF.
    MissingCrlf,
    /// A simple string or error line longer than `max_bulk`.
    LineTooLong,
    /// A bulk string announced longer than `max_bulk`.
    BulkTooLong { len: u64 },
    /// An array announced with more than `max_elements`.
    TooManyElements { len: u64 },
    /// Arrays nested deeper than `max_depth`.
    TooDeep,
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RespError::UnknownType(b) if b.is_ascii_graphic() => write!(
                f,
                "unknown type byte '{}' (a RESP2 value starts with + - : $ or *)",
                char::from(b)
            ),
            RespError::UnknownType(b) => write!(
                f,
                "unknown type byte {b:#04x} (a RESP2 value starts with + - : $ or *)"
            ),
            RespError::BadLength => f.write_str("bad length (-1 or digits, no leading zero)"),
            RespError::BadInteger => {
                f.write_str("bad integer (digits and an optional '-', no leading zero, in i64)")
            }
            RespError::BareLf => f.write_str("an LF without CR (RESP2 lines end with CRLF)"),
            RespError::ControlInLine => f.write_str("a CR not followed by LF in a line"),
            RespError::MissingCrlf => f.write_str("bulk string not followed by CRLF"),
            RespError::LineTooLong => f.write_str("simple string or error line over the limit"),
            RespError::BulkTooLong { len } => {
                write!(f, "bulk string of {len} bytes over the limit")
            }
            RespError::TooManyElements { len } => {
                write!(f, "array of {len} elements over the limit")
            }
            RespError::TooDeep => f.write_str("arrays nested deeper than the limit"),
        }
    }
}

impl std::error::Error for RespError {}

/// The value at the start of `buf`. `Incomplete` when `buf` ends inside it: keep the
/// bytes and call again with more (from the same first byte).
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<Value<'a>>, RespError> {
    Ok(match value(buf, limits, 0)? {
        Some((value, consumed)) => Parsed::Complete { value, consumed },
        None => Parsed::Incomplete,
    })
}

/// A value and the bytes it took, or `None` while it is not all here.
type Step<'a> = Result<Option<(Value<'a>, usize)>, RespError>;

/// `depth` is the number of arrays around this value.
fn value<'a>(buf: &'a [u8], limits: &Limits, depth: usize) -> Step<'a> {
    let Some((&kind, rest)) = buf.split_first() else {
        return Ok(None);
    };
    let step = match kind {
        b'+' => line(rest, limits.max_bulk)?.map(|(s, n)| (Value::Simple(s), n)),
        b'-' => line(rest, limits.max_bulk)?.map(|(s, n)| (Value::Error(s), n)),
        b':' => number(rest, RespError::BadInteger)?.map(|(i, n)| (Value::Integer(i), n)),
        b'$' => bulk(rest, limits)?,
        b'*' => array(rest, limits, depth)?,
        other => return Err(RespError::UnknownType(other)),
    };
    Ok(step.map(|(v, n)| (v, n + 1)))
}

/// Text up to CRLF, at most `max` bytes of it. Only the first `max + 2` bytes are ever
/// looked at, so a line that never ends costs a bounded scan per call.
fn line(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, RespError> {
    let window = buf.get(..max.saturating_add(1)).unwrap_or(buf);
    let Some(end) = window.iter().position(|&b| b == b'\r' || b == b'\n') else {
        return match buf.len() > max {
            true => Err(RespError::LineTooLong),
            false => Ok(None),
        };
    };
    let (text, terminator) = buf.split_at_checked(end).unwrap_or((buf, &[]));
    match terminator {
        [b'\r', b'\n', ..] => Ok(Some((text, end + 2))),
        [b'\r'] => Ok(None),
        [b'\r', ..] => Err(RespError::ControlInLine),
        _ => Err(RespError::BareLf),
    }
}

/// A number line: `-`? digits, canonical, then CRLF; `bad` names what is wrong with a
/// malformed one. Returns the number and the bytes taken, CRLF included.
fn number(buf: &[u8], bad: RespError) -> Result<Option<(i64, usize)>, RespError> {
    let mut negative = false;
    let mut digits = 0usize;
    let mut n: i64 = 0;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'-' if i == 0 => negative = true,
            b'0'..=b'9' => {
                // "0" stands alone: no "01", and no "-0" (Redis writes 0 as "0").
                if (digits > 0 && n == 0) || (negative && digits == 0 && b == b'0') {
                    return Err(bad);
                }
                let d = i64::from(b - b'0');
                // Accumulated negative when the number is, so that i64::MIN fits.
                n = n
                    .checked_mul(10)
                    .and_then(|n| match negative {
                        true => n.checked_sub(d),
                        false => n.checked_add(d),
                    })
                    .ok_or(bad)?;
                digits += 1;
            }
            b'\r' if digits == 0 => return Err(bad),
            b'\r' => {
                return match buf.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some((n, i + 2))),
                    Some(_) => Err(RespError::ControlInLine),
                };
            }
            b'\n' => return Err(RespError::BareLf),
            _ => return Err(bad),
        }
    }
    Ok(None)
}

/// A `$` or `*` length checked against `max`: `None` for -1 (null).
fn length(n: i64, max: usize, too_big: fn(u64) -> RespError) -> Result<Option<usize>, RespError> {
    if n == -1 {
        return Ok(None);
    }
    let len = u64::try_from(n).map_err(|_| RespError::BadLength)?;
    match usize::try_from(len) {
        Ok(len) if len <= max => Ok(Some(len)),
        _ => Err(too_big(len)),
    }
}

fn bulk<'a>(buf: &'a [u8], limits: &Limits) -> Step<'a> {
    let Some((n, head)) = number(buf, RespError::BadLength)? else {
        return Ok(None);
    };
    let too_big = |len| RespError::BulkTooLong { len };
    let Some(len) = length(n, limits.max_bulk, too_big)? else {
        return Ok(Some((Value::Null, head)));
    };
    let body = buf.get(head..).unwrap_or_default();
    // Only the length of what is here is compared: the payload is never scanned.
    let Some((payload, tail)) = body.split_at_checked(len) else {
        return Ok(None);
    };
    match tail {
        [b'\r', b'\n', ..] => Ok(Some((Value::Bulk(payload), head + len + 2))),
        [] | [b'\r'] => Ok(None),
        _ => Err(RespError::MissingCrlf),
    }
}

fn array<'a>(buf: &'a [u8], limits: &Limits, depth: usize) -> Step<'a> {
    let Some((n, head)) = number(buf, RespError::BadLength)? else {
        return Ok(None);
    };
    let too_many = |len| RespError::TooManyElements { len };
    let Some(count) = length(n, limits.max_elements, too_many)? else {
        return Ok(Some((Value::Null, head)));
    };
    if depth >= limits.max_depth {
        return Err(RespError::TooDeep);
    }
    // The shortest value ("+\r\n") is 3 bytes: reserve no more than the bytes here hold.
    let mut used = head;
    let room = buf.len().saturating_sub(used) / 3;
    let mut items = Vec::with_capacity(count.min(room));
    for _ in 0..count {
        let rest = buf.get(used..).unwrap_or_default();
        let Some((item, n)) = value(rest, limits, depth + 1)? else {
            return Ok(None);
        };
        items.push(item);
        used += n;
    }
    Ok(Some((Value::Array(items), used)))
}

/// A command as Redis wants it from a client: an array of bulk strings. Appends to `out`.
pub fn write_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let payload: usize = args.iter().map(|a| a.len() + 16).sum();
    out.reserve(payload + 16);
    out.push(b'*');
    push_len(out, args.len());
    for arg in args {
        push_bulk(out, arg);
    }
}

/// Any value, canonically (the inverse of [`parse`]); `Null` is written as `$-1`.
/// Appends to `out`. A `Simple` or `Error` is written as it is: one holding CR or LF
/// (which `parse` never gives) would not read back.
pub fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Simple(text) => push_line(out, b'+', text),
        Value::Error(text) => push_line(out, b'-', text),
        Value::Integer(n) => {
            out.push(b':');
            if *n < 0 {
                out.push(b'-');
            }
            super::push_decimal(out, n.unsigned_abs());
            out.extend_from_slice(b"\r\n");
        }
        Value::Bulk(payload) => push_bulk(out, payload),
        Value::Null => out.extend_from_slice(b"$-1\r\n"),
        Value::Array(items) => {
            out.push(b'*');
            push_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
    }
}

fn push_line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.push(kind);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, payload: &[u8]) {
    out.reserve(payload.len() + 16);
    out.push(b'$');
    push_len(out, payload.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// A length and its CRLF.
fn push_len(out: &mut Vec<u8>, len: usize) {
    super::push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// What a connection in RESP2 subscribe mode receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriberEvent<'a> {
    /// `["message", channel, payload]`.
    Message {
        channel: &'a [u8],
        payload: &'a [u8],
    },
    /// `["subscribe", channel, count]`: `count` channels are now subscribed.
    Subscribed { channel: &'a [u8], count: i64 },
    /// `["unsubscribe", channel, count]`. Redis answers an UNSUBSCRIBE with nothing
    /// subscribed with a null channel (and count 0); that channel is given as empty.
    Unsubscribed { channel: &'a [u8], count: i64 },
    /// `["pong", data]` (PING in subscribe mode), or `+PONG` (PING outside it).
    Pong,
    /// An error reply.
    Error(&'a [u8]),
}

/// `None` for anything else (the caller logs it as unexpected). Kind names compare
/// case-sensitively, as Redis sends them, and are bulk strings, as Redis sends them.
pub fn subscriber_event<'a>(value: &Value<'a>) -> Option<SubscriberEvent<'a>> {
    use SubscriberEvent as E;
    let items = match value {
        Value::Error(text) => return Some(E::Error(text)),
        Value::Simple(b"PONG") => return Some(E::Pong),
        Value::Array(items) => items.as_slice(),
        _ => return None,
    };
    let (kind, channel, third) = match items {
        [Value::Bulk(b"pong"), Value::Bulk(_)] => return Some(E::Pong),
        [Value::Bulk(kind), Value::Bulk(channel), third] => (*kind, *channel, third),
        [Value::Bulk(kind @ b"unsubscribe"), Value::Null, third] => (*kind, &b""[..], third),
        _ => return None,
    };
    match (kind, third) {
        (b"message", &Value::Bulk(payload)) => Some(E::Message { channel, payload }),
        (b"subscribe", &Value::Integer(count)) => Some(E::Subscribed { channel, count }),
        (b"unsubscribe", &Value::Integer(count)) => Some(E::Unsubscribed { channel, count }),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
