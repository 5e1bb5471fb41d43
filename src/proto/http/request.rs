//! Request heads (RFC 9112 §3): the request line with its three target forms (§3.2,
//! RFC 3986 for the absolute form), the keep-alive rule (§9.3), and the writer the
//! client side of the WebSocket handshake uses.

use super::super::Parsed;
use super::fields::{find_header, has_token, is_token, write_field};
use super::{HttpError, Limits, ascii_string, parse_head, parse_version};

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

/// Parse a request head from the start of `buf`.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Parsed<RequestHead>, HttpError> {
    let Parsed::Complete {
        value: ((method, target, minor_version), headers),
        consumed,
    } = parse_head(buf, limits, parse_request_line)?
    else {
        return Ok(Parsed::Incomplete);
    };
    let value = RequestHead {
        method,
        target,
        minor_version,
        headers,
    };
    Ok(Parsed::Complete { value, consumed })
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
