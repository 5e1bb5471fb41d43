//! HTTP/1.1 message heads: a push parser for request and response heads, and the
//! writers for them (RFC 9112 §2–§6, field syntax from RFC 9110 §5.1–§5.6).
//!
//! The parser has the httparse shape: show it everything received so far and it answers
//! `Incomplete` or `Complete { value, consumed }`; the caller keeps the bytes and asks
//! again when more arrive. The size limit is checked first, so a head that can no longer
//! fit is refused at once instead of being waited for.
//!
//! Where the RFC leaves a choice, this parser takes these:
//! - A bare LF is accepted as a line terminator (RFC 9112 §2.2 allows it; `nc` and
//!   hand-typed requests send it). A CR anywhere but right before an LF is refused.
//! - Empty lines before the request line are skipped (RFC 9112 §2.2), within `max_head`.
//! - Request-line parts are separated by exactly one SP (no lenient whitespace).
//! - obs-fold (a field line starting with SP or HTAB) is refused (RFC 9112 §5.2).
//! - Field values must be UTF-8: heads are handed out as `String`, and obs-text that is
//!   not UTF-8 is refused rather than silently rewritten.
//! - Request targets: origin-form (`/path?q`), asterisk-form (`*`) and absolute-form
//!   (`http://host/path`). Authority-form is only for CONNECT proxies, which we are not.
//!
//! This file finds where a head ends and cuts it into lines (RFC 9112 §2.2), and has the
//! limits and the errors. `request.rs` and `response.rs` hold the two kinds of start
//! line and the writers for them; `fields.rs` the header field lines.

use super::Parsed;
use std::fmt;

mod fields;
mod request;
mod response;

pub(crate) use fields::{header_values, list_elements};
pub use fields::{is_token, write_field};
pub use request::{RequestHead, parse_request, write_request};
pub use response::{ResponseHead, parse_response, reason_phrase, write_response};

/// Bounds on what the parser accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in the whole head, including the terminating empty line.
    pub max_head: usize,
    /// Number of header field lines.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8192,
            max_headers: 64,
        }
    }
}

/// Why a head was refused. [`HttpError::status`] is the response to send back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// No end of head within `limit` bytes.
    HeadTooLarge {
        limit: usize,
    },
    /// More than `limit` header lines.
    TooManyHeaders {
        limit: usize,
    },
    BadRequestLine(&'static str),
    BadTarget,
    BadHeader(&'static str),
    /// Well-formed `HTTP/x.y`, but not 1.0 or 1.1.
    UnsupportedVersion,
    /// Only from [`parse_response`]: the peer server's status line is malformed.
    BadStatusLine(&'static str),
}

impl HttpError {
    /// The HTTP status to answer with. A bad status line is the peer server's fault,
    /// so it maps to 502 as a gateway would report it; nothing is sent for it here.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge { .. } | HttpError::TooManyHeaders { .. } => 431,
            HttpError::BadRequestLine(_) | HttpError::BadTarget | HttpError::BadHeader(_) => 400,
            HttpError::UnsupportedVersion => 505,
            HttpError::BadStatusLine(_) => 502,
        }
    }

    pub fn reason(&self) -> &'static str {
        reason_phrase(self.status())
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::HeadTooLarge { limit } => write!(
                f,
                "message head has no end within {limit} bytes; send fewer or shorter header fields"
            ),
            HttpError::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header fields; send fewer")
            }
            HttpError::BadRequestLine(why) => write!(f, "malformed request line: {why}"),
            HttpError::BadTarget => f.write_str(
                "request target must be a path like `/chat`, `*`, or an `http://host/path` URL",
            ),
            HttpError::BadHeader(why) => write!(f, "malformed header field: {why}"),
            HttpError::UnsupportedVersion => {
                f.write_str("HTTP version not supported; use HTTP/1.1 (or HTTP/1.0)")
            }
            HttpError::BadStatusLine(why) => write!(f, "malformed response status line: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Header fields as the heads hold them: in arrival order, names as sent.
type Fields = Vec<(String, String)>;

/// A head that has wholly arrived at the start of `buf`: what `start_line` makes of its
/// first line, and its fields; `consumed` is the length of the head.
fn parse_head<S>(
    buf: &[u8],
    limits: &Limits,
    start_line: impl FnOnce(&[u8]) -> Result<S, HttpError>,
) -> Result<Parsed<(S, Fields)>, HttpError> {
    let Some(end) = find_head_end(buf, limits.max_head)? else {
        return Ok(Parsed::Incomplete);
    };
    let mut lines = head_lines(buf.get(..end).unwrap_or_default());
    let start = start_line(lines.next().unwrap_or_default())?;
    let headers = fields::parse_fields(lines, limits.max_headers)?;
    Ok(Parsed::Complete {
        value: (start, headers),
        consumed: end,
    })
}

/// Index just past the empty line that ends the head, `None` if it has not arrived yet.
///
/// Only the first `max_head` bytes are searched, so the answer for a prefix never
/// contradicts the answer for the whole: once more than `max_head` bytes are here with
/// no end among them, the head can never fit.
fn find_head_end(buf: &[u8], max_head: usize) -> Result<Option<usize>, HttpError> {
    let window = buf.get(..max_head).unwrap_or(buf);
    let mut line_start = 0;
    let mut seen_start_line = false;
    for (i, _) in window.iter().enumerate().filter(|&(_, &b)| b == b'\n') {
        let line = trim_cr(window.get(line_start..i).unwrap_or_default());
        if !line.is_empty() {
            seen_start_line = true;
        } else if seen_start_line {
            return Ok(Some(i + 1));
        }
        line_start = i + 1;
    }
    if buf.len() > max_head {
        Err(HttpError::HeadTooLarge { limit: max_head })
    } else {
        Ok(None)
    }
}

/// The start line and field lines of a complete head, terminators removed.
fn head_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(trim_cr)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `None` if `v` is not `HTTP/d.d` at all; `Some(Err)` for a well-formed other version.
fn parse_version(v: &[u8]) -> Option<Result<u8, HttpError>> {
    match v.strip_prefix(b"HTTP/")? {
        [b'1', b'.', minor @ (b'0' | b'1')] => Some(Ok(minor - b'0')),
        [major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            Some(Err(HttpError::UnsupportedVersion))
        }
        _ => None,
    }
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    let (head, tail) = s.split_at(i);
    Some((head, tail.get(1..).unwrap_or_default()))
}

/// Callers have checked the bytes are ASCII; anything else would be replaced, not panic.
fn ascii_string(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests;
