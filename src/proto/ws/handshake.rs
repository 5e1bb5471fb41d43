//! The WebSocket opening handshake, server and client side (RFC 6455 §4.1, §4.2, §4.4,
//! §11.3).
//!
//! Server: [`validate_upgrade`] checks a parsed request head against §4.2.1 and computes
//! the accept key; then either [`write_upgrade_response`] (101) or [`write_rejection`]
//! (the matching 4xx with a short text body). Client: [`write_client_request`] and
//! [`validate_server_response`] (§4.1, last part).
//!
//! Choices: a missing `Sec-WebSocket-Version` is a malformed handshake (400), while a
//! version other than 13 gets 426 with `Sec-WebSocket-Version: 13` (§4.4). No extensions
//! are ever negotiated, so a server that answers with one is refused (§4.1 item 5).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use super::super::http::{self, RequestHead, ResponseHead};

/// Appended to the client's key before hashing (§1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(SHA-1(key + GUID))`, the `Sec-WebSocket-Accept` value for `client_key` (§4.2.2).
pub fn accept_key(client_key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(client_key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// Whether the request asks for WebSocket at all, so that errors are answered as failed
/// handshakes rather than as plain HTTP.
pub fn is_websocket_request(req: &RequestHead) -> bool {
    req.header_has_token("upgrade", "websocket")
}

/// What a valid upgrade request agreed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    pub key: String,
    pub accept: String,
    /// The subprotocol chosen, if the client offered one we support.
    pub protocol: Option<String>,
    pub origin: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    // Server side: the client's request is not a handshake we accept.
    MethodNotAllowed,
    HttpVersionTooOld,
    MissingUpgrade,
    MissingConnectionUpgrade,
    MissingVersion,
    UnsupportedVersion,
    MissingKey,
    DuplicateKey,
    InvalidKey,
    // Client side: the server's response does not complete the handshake.
    NotSwitching(u16),
    ResponseMissingUpgrade,
    ResponseMissingConnectionUpgrade,
    BadAccept,
    UnexpectedExtension,
    UnexpectedProtocol(String),
}

impl HandshakeError {
    /// The HTTP status to answer a failed server-side handshake with. Client-side
    /// errors map to 502 (what a gateway reports for a bad upstream); nothing is sent
    /// for them.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::HttpVersionTooOld
            | HandshakeError::MissingUpgrade
            | HandshakeError::MissingConnectionUpgrade
            | HandshakeError::MissingVersion
            | HandshakeError::MissingKey
            | HandshakeError::DuplicateKey
            | HandshakeError::InvalidKey => 400,
            HandshakeError::NotSwitching(_)
            | HandshakeError::ResponseMissingUpgrade
            | HandshakeError::ResponseMissingConnectionUpgrade
            | HandshakeError::BadAccept
            | HandshakeError::UnexpectedExtension
            | HandshakeError::UnexpectedProtocol(_) => 502,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::MethodNotAllowed => f.write_str("a WebSocket handshake must use GET"),
            HandshakeError::HttpVersionTooOld => {
                f.write_str("a WebSocket handshake needs HTTP/1.1 or later")
            }
            HandshakeError::MissingUpgrade => f.write_str("missing `Upgrade: websocket` header"),
            HandshakeError::MissingConnectionUpgrade => {
                f.write_str("missing `Connection: Upgrade` header")
            }
            HandshakeError::MissingVersion => {
                f.write_str("missing `Sec-WebSocket-Version` header; this server speaks 13")
            }
            HandshakeError::UnsupportedVersion => {
                f.write_str("unsupported WebSocket version; this server speaks 13 only")
            }
            HandshakeError::MissingKey => f.write_str("missing `Sec-WebSocket-Key` header"),
            HandshakeError::DuplicateKey => f.write_str("more than one `Sec-WebSocket-Key` header"),
            HandshakeError::InvalidKey => {
                f.write_str("`Sec-WebSocket-Key` must be 16 bytes in base64 (24 characters)")
            }
            HandshakeError::NotSwitching(status) => write!(
                f,
                "server answered {status} instead of 101 Switching Protocols; is this a WebSocket endpoint?"
            ),
            HandshakeError::ResponseMissingUpgrade => {
                f.write_str("server response lacks `Upgrade: websocket`")
            }
            HandshakeError::ResponseMissingConnectionUpgrade => {
                f.write_str("server response lacks `Connection: Upgrade`")
            }
            HandshakeError::BadAccept => {
                f.write_str("server's `Sec-WebSocket-Accept` is missing or does not match our key")
            }
            HandshakeError::UnexpectedExtension => {
                f.write_str("server enabled a WebSocket extension we did not offer")
            }
            HandshakeError::UnexpectedProtocol(p) => {
                write!(f, "server chose subprotocol {p:?}, which we did not offer")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Check a client's opening handshake (§4.2.1) and pick a subprotocol: the first one in
/// the client's order of preference that is in `supported_protocols`.
pub fn validate_upgrade(
    req: &RequestHead,
    supported_protocols: &[&str],
) -> Result<Upgrade, HandshakeError> {
    if req.method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if req.minor_version < 1 {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    if !req.header_has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !req.header_has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    match req.header("sec-websocket-version") {
        None => return Err(HandshakeError::MissingVersion),
        Some("13") => {}
        Some(_) => return Err(HandshakeError::UnsupportedVersion),
    }
    let mut keys = values(&req.headers, "sec-websocket-key");
    let key = keys.next().ok_or(HandshakeError::MissingKey)?;
    if keys.next().is_some() {
        return Err(HandshakeError::DuplicateKey);
    }
    if STANDARD.decode(key).map(|k| k.len()) != Ok(16) {
        return Err(HandshakeError::InvalidKey);
    }
    let protocol = values(&req.headers, "sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim_matches([' ', '\t']))
        .find(|p| supported_protocols.contains(p))
        .map(str::to_owned);
    Ok(Upgrade {
        key: key.to_owned(),
        accept: accept_key(key),
        protocol,
        origin: req.header("origin").map(str::to_owned),
    })
}

/// Append the 101 response that completes a valid handshake (§4.2.2 item 5).
pub fn write_upgrade_response(out: &mut Vec<u8>, up: &Upgrade) {
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", up.accept.as_str()),
    ];
    if let Some(p) = &up.protocol {
        headers.push(("Sec-WebSocket-Protocol", p.as_str()));
    }
    http::write_response(out, 101, &headers, b"");
}

/// Append the error response for a failed handshake, with the reason as a text body.
/// The connection is to be closed after it, and the response says so.
pub fn write_rejection(out: &mut Vec<u8>, err: &HandshakeError) {
    let body = format!("{err}\n");
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    match err.status() {
        // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to, and §4.4 of 6455
        // the versions we speak.
        426 => headers.extend([
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade, close"),
            ("Sec-WebSocket-Version", "13"),
        ]),
        405 => headers.extend([("Allow", "GET"), ("Connection", "close")]),
        _ => headers.push(("Connection", "close")),
    }
    http::write_response(out, err.status(), &headers, body.as_bytes());
}

/// Append a client opening handshake (§4.1). `key` is base64 of 16 random bytes, which
/// the caller draws (this module has no randomness). An empty `path` means `/`.
pub fn write_client_request(
    out: &mut Vec<u8>,
    host: &str,
    path: &str,
    key: &str,
    protocols: &[&str],
    origin: Option<&str>,
    extra_headers: &[(&str, &str)],
) {
    let offered = protocols.join(", ");
    let mut headers = vec![
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ];
    if !protocols.is_empty() {
        headers.push(("Sec-WebSocket-Protocol", offered.as_str()));
    }
    if let Some(origin) = origin {
        headers.push(("Origin", origin));
    }
    headers.extend_from_slice(extra_headers);
    let target = if path.is_empty() { "/" } else { path };
    http::write_request(out, "GET", target, &headers);
}

/// Check the server's answer to our handshake (§4.1, "the client MUST validate"): the
/// chosen subprotocol on success, `None` if the server picked none.
pub fn validate_server_response(
    resp: &ResponseHead,
    key: &str,
    offered_protocols: &[&str],
) -> Result<Option<String>, HandshakeError> {
    if resp.status != 101 {
        return Err(HandshakeError::NotSwitching(resp.status));
    }
    if !resp.header_has_token("upgrade", "websocket") {
        return Err(HandshakeError::ResponseMissingUpgrade);
    }
    if !resp.header_has_token("connection", "upgrade") {
        return Err(HandshakeError::ResponseMissingConnectionUpgrade);
    }
    if resp.header("sec-websocket-accept") != Some(accept_key(key).as_str()) {
        return Err(HandshakeError::BadAccept);
    }
    if values(&resp.headers, "sec-websocket-extensions").any(|v| !v.is_empty()) {
        return Err(HandshakeError::UnexpectedExtension);
    }
    match resp.header("sec-websocket-protocol") {
        None | Some("") => Ok(None),
        Some(p) if offered_protocols.contains(&p) => Ok(Some(p.to_owned())),
        Some(p) => Err(HandshakeError::UnexpectedProtocol(p.to_owned())),
    }
}

/// Every value of the header `name`, in order.
fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::proto::Parsed;
    use crate::proto::http::{Limits, parse_request, parse_response};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn request(extra: &str) -> RequestHead {
        let s = format!(
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        with_head(&s)
    }

    fn with_head(s: &str) -> RequestHead {
        match parse_request(s.as_bytes(), &Limits::default()).unwrap() {
            Parsed::Complete { value, .. } => value,
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    /// The RFC request with one header line replaced (or dropped if `new` is empty).
    fn edited(old: &str, new: &str) -> RequestHead {
        let base = format!(
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let replaced = if new.is_empty() {
            base.replace(&format!("{old}\r\n"), "")
        } else {
            base.replace(old, new)
        };
        assert_ne!(replaced, base, "{old} not found");
        with_head(&replaced)
    }

    fn response(bytes: &[u8]) -> ResponseHead {
        match parse_response(bytes, &Limits::default()).unwrap() {
            Parsed::Complete { value, .. } => value,
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn rfc_accept_key() {
        assert_eq!(accept_key(KEY), ACCEPT);
    }

    #[test]
    fn valid_upgrade_and_response() {
        let req = request("Origin: http://example.com\r\n");
        assert!(is_websocket_request(&req));
        let up = validate_upgrade(&req, &[]).unwrap();
        assert_eq!(up.key, KEY);
        assert_eq!(up.accept, ACCEPT);
        assert_eq!(up.protocol, None);
        assert_eq!(up.origin.as_deref(), Some("http://example.com"));
        let mut out = Vec::new();
        write_upgrade_response(&mut out, &up);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
            )
        );
    }

    #[test]
    fn subprotocol_follows_client_preference() {
        let req =
            request("Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: x\r\n");
        let pick = |supported: &[&str]| validate_upgrade(&req, supported).unwrap().protocol;
        assert_eq!(pick(&["superchat", "chat"]).as_deref(), Some("chat"));
        assert_eq!(pick(&["x", "superchat"]).as_deref(), Some("superchat"));
        assert_eq!(pick(&["x"]).as_deref(), Some("x"));
        assert_eq!(pick(&["Chat"]), None);
        let up = validate_upgrade(&req, &["superchat"]).unwrap();
        let mut out = Vec::new();
        write_upgrade_response(&mut out, &up);
        assert_eq!(
            response(&out).header("sec-websocket-protocol"),
            Some("superchat")
        );
    }

    #[test]
    fn rejections() {
        use HandshakeError as E;
        let post =
            with_head("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        let cases = [
            (post, E::MethodNotAllowed, 405),
            (edited("HTTP/1.1", "HTTP/1.0"), E::HttpVersionTooOld, 400),
            (edited("Upgrade: websocket", ""), E::MissingUpgrade, 400),
            (
                edited("Upgrade: websocket", "Upgrade: h2c"),
                E::MissingUpgrade,
                400,
            ),
            (
                edited("Connection: Upgrade", "Connection: keep-alive"),
                E::MissingConnectionUpgrade,
                400,
            ),
            (
                edited("Sec-WebSocket-Version: 13", ""),
                E::MissingVersion,
                400,
            ),
            (
                edited("Version: 13", "Version: 8"),
                E::UnsupportedVersion,
                426,
            ),
            (
                edited("Version: 13", "Version: 13, 8"),
                E::UnsupportedVersion,
                426,
            ),
            (
                edited(&format!("Sec-WebSocket-Key: {KEY}"), ""),
                E::MissingKey,
                400,
            ),
            (
                edited(KEY, &format!("{KEY}\r\nSec-WebSocket-Key: {KEY}")),
                E::DuplicateKey,
                400,
            ),
            (edited(KEY, "dGhlIHNhbXBsZSBub25jZQ"), E::InvalidKey, 400),
            (edited(KEY, "dGhlIHNhbXBsZSBub25jZXg="), E::InvalidKey, 400),
            (edited(KEY, "not base64!"), E::InvalidKey, 400),
        ];
        for (req, want, status) in cases {
            let err = validate_upgrade(&req, &[]).unwrap_err();
            assert_eq!((&err, err.status()), (&want, status));
        }
    }

    #[test]
    fn rejection_responses() {
        let mut out = Vec::new();
        write_rejection(&mut out, &HandshakeError::UnsupportedVersion);
        let resp = response(&out);
        assert_eq!(
            (resp.status, resp.reason.as_str()),
            (426, "Upgrade Required")
        );
        assert_eq!(resp.header("sec-websocket-version"), Some("13"));
        assert!(resp.header_has_token("upgrade", "websocket"));
        let body = &out[out.len()
            - resp
                .header("content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap()..];
        assert_eq!(
            body,
            b"unsupported WebSocket version; this server speaks 13 only\n"
        );

        out.clear();
        write_rejection(&mut out, &HandshakeError::MethodNotAllowed);
        let resp = response(&out);
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("allow"), Some("GET"));
        assert!(resp.header_has_token("connection", "close"));

        out.clear();
        write_rejection(&mut out, &HandshakeError::InvalidKey);
        assert_eq!(response(&out).status, 400);
    }

    #[test]
    fn client_request_is_accepted_by_our_server() {
        let mut out = Vec::new();
        write_client_request(
            &mut out,
            "localhost:8080",
            "",
            KEY,
            &["chat", "v2"],
            Some("http://o"),
            &[("X-Extra", "1")],
        );
        let req = with_head(std::str::from_utf8(&out).unwrap());
        assert_eq!(
            (req.target.as_str(), req.header("host")),
            ("/", Some("localhost:8080"))
        );
        assert_eq!(req.header("x-extra"), Some("1"));
        let up = validate_upgrade(&req, &["v2"]).unwrap();
        assert_eq!(up.protocol.as_deref(), Some("v2"));
        assert_eq!(up.origin.as_deref(), Some("http://o"));

        let mut reply = Vec::new();
        write_upgrade_response(&mut reply, &up);
        let resp = response(&reply);
        assert_eq!(
            validate_server_response(&resp, KEY, &["chat", "v2"]),
            Ok(Some("v2".into()))
        );
    }

    #[test]
    fn server_response_checks() {
        use HandshakeError as E;
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n"
        );
        let check = |extra: &str, offered: &[&str]| {
            let head = format!("{good}{extra}\r\n");
            validate_server_response(&response(head.as_bytes()), KEY, offered)
        };
        assert_eq!(check("", &[]), Ok(None));
        assert_eq!(check("", &["chat"]), Ok(None));
        assert_eq!(
            check("Sec-WebSocket-Protocol: chat\r\n", &["chat"]),
            Ok(Some("chat".into()))
        );
        assert_eq!(
            check("Sec-WebSocket-Protocol: other\r\n", &["chat"]),
            Err(E::UnexpectedProtocol("other".into()))
        );
        assert_eq!(
            check("Sec-WebSocket-Extensions: permessage-deflate\r\n", &[]),
            Err(E::UnexpectedExtension)
        );
        let bad = |head: &str| {
            validate_server_response(&response(format!("{head}\r\n").as_bytes()), KEY, &[])
                .unwrap_err()
        };
        assert_eq!(bad("HTTP/1.1 200 OK\r\n"), E::NotSwitching(200));
        assert_eq!(
            bad(&good.replace("Upgrade: websocket\r\n", "")),
            E::ResponseMissingUpgrade
        );
        assert_eq!(
            bad(&good.replace("Connection: Upgrade", "Connection: close")),
            E::ResponseMissingConnectionUpgrade
        );
        assert_eq!(bad(&good.replace(ACCEPT, "x")), E::BadAccept);
        assert_eq!(E::BadAccept.status(), 502);
    }
}
