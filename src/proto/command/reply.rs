//! Reply lines as they travel: `ERR <reason>` for a refused request, anything else is
//! the value. A client reads them with [`parse_reply`]; the server writes errors with
//! [`write_error`].

use std::io::Write;

use super::CommandError;

/// What starts an error line, and no value line (the protocol reserves it).
const ERR: &[u8] = b"ERR ";

/// Writes `ERR <reason>` (no newline).
pub fn write_error(err: &CommandError, out: &mut Vec<u8>) {
    out.extend_from_slice(ERR);
    let _ = write!(out, "{err}");
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
    match line.strip_prefix(ERR) {
        Some(reason) => Reply::Error(reason),
        None => Reply::Value(line),
    }
}

/// Writes a reply line, newline included; the inverse of [`parse_reply`].
pub fn write_reply(reply: Reply<'_>, out: &mut Vec<u8>) {
    if let Reply::Error(reason) = reply {
        out.extend_from_slice(ERR);
        out.extend_from_slice(reason);
    } else if let Reply::Value(value) = reply {
        out.extend_from_slice(value);
    }
    out.push(b'\n');
}
