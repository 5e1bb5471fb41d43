//! Response heads (RFC 9112 §4): the status line, the reason phrases of RFC 9110 §15,
//! and the writer the server answers with, which knows which statuses carry no body
//! (RFC 9110 §6.4.1, §8.6).

use super::super::Parsed;
use super::fields::{find_header, has_token, is_field_byte, write_field};
use super::{HttpError, Limits, parse_head, parse_version, split_once};
use crate::proto::push_decimal;

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

/// Parse a response head from the start of `buf` (the client side of the handshake).
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Parsed<ResponseHead>, HttpError> {
    let Parsed::Complete {
        value: ((minor_version, status, reason), headers),
        consumed,
    } = parse_head(buf, limits, parse_status_line)?
    else {
        return Ok(Parsed::Incomplete);
    };
    let value = ResponseHead {
        status,
        reason,
        minor_version,
        headers,
    };
    Ok(Parsed::Complete { value, consumed })
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
