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

/// Outcome of an incremental parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Not enough bytes yet: keep them and call again with more.
    Incomplete,
    /// A whole value; the first `consumed` bytes of the buffer belong to it.
    Complete { value: T, consumed: usize },
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(s: &str) -> Result<Parsed<RequestHead>, HttpError> {
        parse_request(s.as_bytes(), &Limits::default())
    }

    fn complete(s: &str) -> RequestHead {
        match req(s) {
            Ok(Parsed::Complete { value, consumed }) => {
                assert_eq!(consumed, s.len(), "consumed of {s:?}");
                value
            }
            other => panic!("{s:?} gave {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let h = complete("GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  b c \t\r\n\r\n");
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/chat?room=1");
        assert_eq!(h.path(), "/chat");
        assert_eq!(h.minor_version, 1);
        assert_eq!(h.header("host"), Some("example.com"));
        assert_eq!(h.header("X-A"), Some("b c"));
        assert_eq!(h.header("missing"), None);
        assert!(h.keep_alive());
    }

    #[test]
    fn consumed_stops_at_head_end() {
        let s = "GET / HTTP/1.1\r\n\r\nbody";
        match req(s).unwrap() {
            Parsed::Complete { consumed, .. } => assert_eq!(consumed, s.len() - 4),
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn bare_lf_and_leading_empty_lines() {
        let h = complete("\r\n\nGET / HTTP/1.0\nHost: a\n\n");
        assert_eq!(h.header("host"), Some("a"));
        assert_eq!(h.minor_version, 0);
        assert!(!h.keep_alive());
    }

    #[test]
    fn incomplete_until_end() {
        assert_eq!(req(""), Ok(Parsed::Incomplete));
        assert_eq!(req("\r\n"), Ok(Parsed::Incomplete));
        assert_eq!(req("GET / HTTP/1.1\r\nHost: a\r\n"), Ok(Parsed::Incomplete));
        assert_eq!(req("GET / HTTP/1.1\r\n\r"), Ok(Parsed::Incomplete));
    }

    #[test]
    fn tokens_across_headers() {
        let h = complete(
            "GET / HTTP/1.1\r\nConnection: keep-alive,\tUpgrade\r\nconnection: x , Close\r\n\r\n",
        );
        assert!(h.header_has_token("Connection", "upgrade"));
        assert!(h.header_has_token("CONNECTION", "close"));
        assert!(!h.header_has_token("connection", "keep"));
        assert!(!h.keep_alive());
        assert_eq!(h.header("connection"), Some("keep-alive,\tUpgrade"));
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!complete("GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(complete("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(complete("GET / HTTP/1.1\r\n\r\n").keep_alive());
        assert!(!complete("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive());
    }

    #[test]
    fn target_forms_and_paths() {
        assert_eq!(complete("OPTIONS * HTTP/1.1\r\n\r\n").path(), "*");
        let abs = complete("GET HTTP://Example.com:80/a/b?x=/y HTTP/1.1\r\n\r\n");
        assert_eq!(abs.path(), "/a/b");
        assert_eq!(complete("GET https://h HTTP/1.1\r\n\r\n").path(), "/");
        assert_eq!(complete("GET http://h?q HTTP/1.1\r\n\r\n").path(), "/");
        for bad in [
            "chat",
            "example.com:443",
            "http://",
            "http:///x",
            "ftp://h/",
        ] {
            let s = format!("GET {bad} HTTP/1.1\r\n\r\n");
            assert_eq!(req(&s), Err(HttpError::BadTarget), "{bad}");
        }
    }

    #[test]
    fn malformed_request_lines() {
        for bad in [
            "GET  / HTTP/1.1",
            "GET / HTTP/1.1 ",
            "GET /",
            "G(T / HTTP/1.1",
            " GET / HTTP/1.1",
            "GET / HTTP/1.1\r",
            "GET / http/1.1",
            "GET / HTTP/1.10",
            "GET /a\u{e9} HTTP/1.1",
        ] {
            let s = format!("{bad}\r\n\r\n");
            let err = req(&s).expect_err(bad);
            assert_eq!(err.status(), 400, "{bad}: {err}");
        }
    }

    #[test]
    fn unsupported_versions() {
        for v in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.1"] {
            let s = format!("GET / {v}\r\n\r\n");
            let err = req(&s).unwrap_err();
            assert_eq!(err, HttpError::UnsupportedVersion);
            assert_eq!(
                (err.status(), err.reason()),
                (505, "HTTP Version Not Supported")
            );
        }
    }

    #[test]
    fn malformed_header_lines() {
        for bad in [
            "NoColon",
            "Host : a",
            "Host\t: a",
            ": empty-name",
            "Ho(st: a",
            " folded: x",
            "\tfolded: x",
            "X: a\x01b",
            "X: a\rb",
            "X: a\x7fb",
            "X: \u{0}",
        ] {
            let s = format!("GET / HTTP/1.1\r\nHost: a\r\n{bad}\r\n\r\n");
            let err = req(&s).expect_err(bad);
            assert!(matches!(err, HttpError::BadHeader(_)), "{bad:?}: {err:?}");
            assert_eq!(err.status(), 400);
        }
        // Non-UTF-8 obs-text is refused; UTF-8 is kept.
        let mut raw = b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n".to_vec();
        assert!(parse_request(&raw, &Limits::default()).is_err());
        raw = "GET / HTTP/1.1\r\nX: caf\u{e9}\r\n\r\n".as_bytes().to_vec();
        assert!(parse_request(&raw, &Limits::default()).is_ok());
    }

    #[test]
    fn head_too_large_as_soon_as_known() {
        let limits = Limits {
            max_head: 32,
            max_headers: 4,
        };
        let ok = "GET / HTTP/1.1\r\nA: 012345678\r\n\r\n"; // exactly 32 bytes
        assert_eq!(ok.len(), 32);
        assert!(matches!(
            parse_request(ok.as_bytes(), &limits),
            Ok(Parsed::Complete { consumed: 32, .. })
        ));
        let long = "GET / HTTP/1.1\r\nA: 0123456789\r\n\r\n";
        assert_eq!(
            parse_request(&long.as_bytes()[..32], &limits),
            Ok(Parsed::Incomplete)
        );
        let err = parse_request(&long.as_bytes()[..33], &limits).unwrap_err();
        assert_eq!(err, HttpError::HeadTooLarge { limit: 32 });
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn too_many_headers() {
        let limits = Limits {
            max_head: 8192,
            max_headers: 2,
        };
        let two = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(parse_request(two.as_bytes(), &limits).is_ok());
        let three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let err = parse_request(three.as_bytes(), &limits).unwrap_err();
        assert_eq!(err, HttpError::TooManyHeaders { limit: 2 });
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn response_roundtrip_and_bodiless_statuses() {
        let mut out = Vec::new();
        write_response(&mut out, 404, &[("Content-Type", "text/plain")], b"nope");
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope"
        );
        out.clear();
        write_response(&mut out, 101, &[("Upgrade", "websocket")], b"ignored");
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        );
        out.clear();
        write_response(&mut out, 299, &[("Content-Length", "9")], b"");
        assert_eq!(out, b"HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n");
        let Parsed::Complete { value, .. } = parse_response(&out, &Limits::default()).unwrap()
        else {
            panic!("incomplete");
        };
        assert_eq!((value.status, value.reason.as_str()), (299, ""));
    }

    #[test]
    fn write_field_defuses_injection() {
        let mut out = Vec::new();
        write_field(&mut out, "X-Reason", "a\r\nSet-Cookie: x\0");
        write_field(&mut out, "Bad Name", "dropped");
        assert_eq!(out, b"X-Reason: a  Set-Cookie: x \r\n");
    }

    #[test]
    fn status_lines() {
        let p = |s: &str| parse_response(s.as_bytes(), &Limits::default());
        let Ok(Parsed::Complete { value, .. }) = p("HTTP/1.0 200\r\nA: b\r\n\r\n") else {
            panic!("no parse");
        };
        assert_eq!((value.minor_version, value.status), (0, 200));
        assert_eq!(value.header("a"), Some("b"));
        for bad in [
            "HTTP/1.1 20 OK",
            "HTTP/1.1 099 X",
            "HTTP/1.1 2000 X",
            "HTTP/1.1",
            "ICY 200 OK",
        ] {
            let err = p(&format!("{bad}\r\n\r\n")).unwrap_err();
            assert_eq!(err.status(), 502, "{bad}");
        }
        assert_eq!(
            p("HTTP/2.0 200 OK\r\n\r\n"),
            Err(HttpError::UnsupportedVersion)
        );
    }

    #[test]
    fn push_decimal_values() {
        for n in [0u64, 7, 10, 404, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").as_bytes());
        }
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
    }

    fn field_value() -> impl Strategy<Value = String> {
        // No surrounding whitespace: the parser trims it, as RFC 9110 says.
        prop_oneof![
            Just(String::new()),
            "[!-~\u{e9}\u{4e16}]([ -~\t\u{e9}]{0,20}[!-~])?"
        ]
    }

    fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec((token(), field_value()), 0..8).prop_map(|v| {
            v.into_iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn response_write_then_parse(
            status in prop_oneof![100u16..=599, Just(101u16), Just(204u16)],
            headers in headers(),
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let pairs: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let mut out = Vec::new();
            write_response(&mut out, status, &pairs, &body);
            let Ok(Parsed::Complete { value, consumed }) = parse_response(&out, &Limits::default())
            else {
                panic!("no parse of {:?}", String::from_utf8_lossy(&out));
            };
            let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
            let mut expected = headers.clone();
            if !bodiless {
                expected.push(("Content-Length".to_owned(), body.len().to_string()));
            }
            prop_assert_eq!(value.status, status);
            prop_assert_eq!(value.reason.as_str(), reason_phrase(status));
            prop_assert_eq!(value.minor_version, 1);
            prop_assert_eq!(&value.headers, &expected);
            let body_len = if bodiless { 0 } else { body.len() };
            prop_assert_eq!(consumed + body_len, out.len());
        }

        #[test]
        fn request_prefixes_are_incomplete(
            method in token(),
            path in "/[!-~]{0,20}",
            headers in headers(),
            tail in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            let pairs: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let mut head = Vec::new();
            write_request(&mut head, &method, &path, &pairs);
            let limits = Limits::default();
            for cut in 0..head.len() {
                prop_assert_eq!(parse_request(&head[..cut], &limits), Ok(Parsed::Incomplete));
            }
            let mut buf = head.clone();
            buf.extend_from_slice(&tail);
            let want = RequestHead { method, target: path, minor_version: 1, headers };
            prop_assert_eq!(
                parse_request(&buf, &limits),
                Ok(Parsed::Complete { value: want, consumed: head.len() })
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            buf in prop::collection::vec(any::<u8>(), 0..300),
            max_head in 0usize..400,
            max_headers in 0usize..6,
        ) {
            let limits = Limits { max_head, max_headers };
            let r = parse_request(&buf, &limits);
            if let Ok(Parsed::Complete { consumed, .. }) = r {
                prop_assert!(consumed <= buf.len().min(max_head));
            }
            if buf.len() > max_head {
                prop_assert!(r != Ok(Parsed::Incomplete));
            }
            let _ = parse_response(&buf, &limits);
        }

        #[test]
        fn mutated_requests_never_panic(
            headers in headers(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let pairs: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let mut buf = Vec::new();
            write_request(&mut buf, "GET", "/", &pairs);
            for (at, byte) in flips {
                let i = at.index(buf.len());
                buf[i] = byte;
            }
            let _ = parse_request(&buf, &Limits::default());
        }
    }
}
