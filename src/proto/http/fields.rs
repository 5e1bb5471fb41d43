//! Header field lines (RFC 9110 §5.1–§5.6, RFC 9112 §5): parsed strictly, written so
//! that user-given values cannot break out of their line, and looked up by name.

use super::{Fields, HttpError, ascii_string, split_once};

pub(super) fn parse_fields<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    max_headers: usize,
) -> Result<Fields, HttpError> {
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
pub(super) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// The values of every `name` field (case-insensitive), in arrival order.
pub(crate) fn header_values<'h>(
    headers: &'h [(String, String)],
    name: &str,
) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The elements of the comma-separated lists in `values` (RFC 9110 §5.6.1), without
/// their surrounding whitespace; empty elements are kept.
pub(crate) fn list_elements<'a>(
    values: impl Iterator<Item = &'a str>,
) -> impl Iterator<Item = &'a str> {
    values
        .flat_map(|v| v.split(','))
        .map(|t| t.trim_matches([' ', '\t']))
}

pub(super) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    header_values(headers, name).next()
}

pub(super) fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    list_elements(header_values(headers, name)).any(|t| t.eq_ignore_ascii_case(token))
}
