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

use super::Parsed;
use std::fmt;

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

/// A parsed request line and header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    /// 0 or 1: the `x` of `HTTP/1.x`.
    pub minor_version: u8,
    /// In arrival order, names as sent, values with surrounding whitespace removed.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether any `name` header lists `token` in its comma-separated value.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        has_token(&self.headers, name, token)
    }

    /// The target's path: no query, and for absolute-form no scheme or authority.
    pub fn path(&self) -> &str {
        let target = self.target.as_str();
        let path = match strip_http_scheme(target) {
            Some(rest) => {
                let after_authority = rest.find(['/', '?']).and_then(|i| rest.get(i..));
                match after_authority {
                    Some(p) if p.starts_with('/') => p,
                    _ => return "/",
                }
            }
            None => target,
        };
        path.split_once('?').map_or(path, |(p, _)| p)
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        if self.header_has_token("connection", "close") {
            return false;
        }
        self.minor_version >= 1 || self.header_has_token("connection", "keep-alive")
    }
}

/// A parsed status line and header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub minor_version: u8,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether any `name` header lists `token` in its comma-separated value.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        has_token(&self.headers, name, token)
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

/// Parse a request head from the start of `buf`.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, HttpError> {
    let Some(end) = find_head_end(buf, limits.max_head)? else {
        return Ok(Parsed::Incomplete);
    };
    let mut lines = head_lines(buf.get(..end).unwrap_or_default());
    let start = lines.next().unwrap_or_default();
    let (method, target, minor_version) = parse_request_line(start)?;
    let headers = parse_fields(lines, limits.max_headers)?;
    let value = RequestHead {
        method,
        target,
        minor_version,
        headers,
    };
    Ok(Parsed::Complete {
        value,
        consumed: end,
    })
}

/// Parse a response head from the start of `buf` (the client side of the handshake).
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Parsed<ResponseHead>, HttpError> {
    let Some(end) = find_head_end(buf, limits.max_head)? else {
        return Ok(Parsed::Incomplete);
    };
    let mut lines = head_lines(buf.get(..end).unwrap_or_default());
    let start = lines.next().unwrap_or_default();
    let (minor_version, status, reason) = parse_status_line(start)?;
    let headers = parse_fields(lines, limits.max_headers)?;
    let value = ResponseHead {
        status,
        reason,
        minor_version,
        headers,
    };
    Ok(Parsed::Complete {
        value,
        consumed: end,
    })
}

/// The standard reason phrase, or `""` for codes we do not name (an empty reason is valid).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Append a whole HTTP/1.1 response: status line, `headers`, `Content-Length`, empty
/// line, body.
///
/// 1xx, 204 and 304 responses carry no body and no `Content-Length` (RFC 9110 §8.6,
/// §6.4.1), so for them `body` is ignored. A `Content-Length` in `headers` is skipped:
/// the real one is always written. See [`write_field`] for how fields are written.
pub fn write_response(out: &mut Vec<u8>, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            write_field(out, name, value);
        }
    }
    if !bodiless {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !bodiless {
        out.extend_from_slice(body);
    }
}

/// Append a bodiless HTTP/1.1 request head (the client side of the WebSocket handshake).
/// `method` must be a token and `target` visible ASCII; see [`write_field`] for fields.
pub fn write_request(out: &mut Vec<u8>, method: &str, target: &str, headers: &[(&str, &str)]) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        write_field(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
}

/// Append `name: value\r\n`.
///
/// Values may come from users (a close reason, `--header` on the command line), so a CR,
/// LF or NUL in them is replaced by SP — the rule RFC 9110 §5.5 gives recipients — which
/// makes header injection impossible. A field whose name is not a token is dropped, as
/// no recipient could parse it; callers check user-given names with [`is_token`] first.
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &str) {
    if !is_token(name.as_bytes()) {
        return;
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend(value.bytes().map(|b| {
        if matches!(b, b'\r' | b'\n' | 0) {
            b' '
        } else {
            b
        }
    }));
    out.extend_from_slice(b"\r\n");
}

/// Whether `s` is an RFC 9110 §5.6.2 token (method and field-name syntax).
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// field-vchar, SP and HTAB (RFC 9110 §5.5); bytes ≥ 0x80 are obs-text.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
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

/// Strip optional whitespace (SP / HTAB) from both ends (RFC 9110 §5.6.3).
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), HttpError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequestLine(
            "expected `METHOD /path HTTP/1.1` with single spaces",
        ));
    };
    if !is_token(method) {
        return Err(HttpError::BadRequestLine(
            "method is empty or has characters not allowed in a token",
        ));
    }
    let minor = parse_version(version).ok_or(HttpError::BadRequestLine(
        "version must look like `HTTP/1.1`",
    ))??;
    if !is_valid_target(target) {
        return Err(HttpError::BadTarget);
    }
    Ok((ascii_string(method), ascii_string(target), minor))
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

fn is_valid_target(t: &[u8]) -> bool {
    // Visible ASCII only: anything else must arrive percent-encoded (RFC 3986 §2).
    if !t.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return false;
    }
    match t {
        [b'/', ..] | [b'*'] => true,
        _ => std::str::from_utf8(t)
            .ok()
            .and_then(strip_http_scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', '?'])),
    }
}

/// The part after `http://` or `https://` (scheme is case-insensitive, RFC 3986 §3.1).
fn strip_http_scheme(t: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = t.get(..scheme.len())?;
        if head.eq_ignore_ascii_case(scheme) {
            t.get(scheme.len()..)
        } else {
            None
        }
    })
}

fn parse_status_line(line: &[u8]) -> Result<(u8, u16, String), HttpError> {
    const SHAPE: &str = "expected `HTTP/1.1 200 OK`";
    let (version, rest) = split_once(line, b' ').ok_or(HttpError::BadStatusLine(SHAPE))?;
    let minor = parse_version(version).ok_or(HttpError::BadStatusLine(SHAPE))??;
    // The SP before an empty reason is required, but some servers drop it: accept both.
    let (code, reason) = split_once(rest, b' ').unwrap_or((rest, &[]));
    let status = match code {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => {
            return Err(HttpError::BadStatusLine(
                "status code must be three digits, 100 to 999",
            ));
        }
    };
    if !reason.iter().all(|&b| is_field_byte(b)) {
        return Err(HttpError::BadStatusLine(
            "reason phrase has control characters",
        ));
    }
    let reason = std::str::from_utf8(reason)
        .map_err(|_| HttpError::BadStatusLine("reason phrase is not valid UTF-8"))?;
    Ok((minor, status, reason.to_owned()))
}

fn parse_fields<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    max_headers: usize,
) -> Result<Vec<(String, String)>, HttpError> {
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= max_headers {
            return Err(HttpError::TooManyHeaders { limit: max_headers });
        }
        headers.push(parse_field(line)?);
    }
    Ok(headers)
}

fn parse_field(line: &[u8]) -> Result<(String, String), HttpError> {
    if let [b' ' | b'\t', ..] = line {
        return Err(HttpError::BadHeader(
            "line starts with whitespace (obsolete line folding is not accepted)",
        ));
    }
    let (name, value) =
        split_once(line, b':').ok_or(HttpError::BadHeader("line has no `:` after the name"))?;
    if let [.., b' ' | b'\t'] = name {
        // RFC 9112 §5.1: a server MUST reject this, it has been used for smuggling.
        return Err(HttpError::BadHeader(
            "whitespace between the field name and `:`",
        ));
    }
    if !is_token(name) {
        return Err(HttpError::BadHeader(
            "field name is empty or has characters not allowed in a token",
        ));
    }
    let value = trim_ows(value);
    if !value.iter().all(|&b| is_field_byte(b)) {
        return Err(HttpError::BadHeader("field value has control characters"));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| HttpError::BadHeader("field value is not valid UTF-8"))?;
    Ok((ascii_string(name), value.to_owned()))
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

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let start = out.len();
    loop {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = out.get_mut(start..) {
        digits.reverse();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests;
