//! The WebSocket opening handshake, server and client side (RFC 6455 §4.1, §4.2, §4.4,
//! §11.3).
//!
//! Server: [`validate_upgrade`] checks a parsed request head against §4.2.1 and computes
//! the accept key; then either [`write_upgrade_response`] (101) or [`write_rejection`]
//! (the matching 4xx with a short text body). Client: [`ClientHandshake`] writes the
//! request and reads the response as it arrives, in any chunking — the same code for
//! the `ws` client (whose handshake blocks: it has nothing else to do yet) and the
//! load generator's non-blocking connections — with [`write_client_request`] and
//! [`validate_server_response`] (§4.1, last part) as its steps.
//!
//! Choices: a missing `Sec-WebSocket-Version` is a malformed handshake (400), while a
//! version other than 13 gets 426 with `Sec-WebSocket-Version: 13` (§4.4). The only
//! extension is permessage-deflate (`super::deflate::params` negotiates it); a server
//! that answers with an extension we did not offer is refused (§4.1 item 5).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use super::super::Parsed;
use super::super::http::{self, HttpError, RequestHead, ResponseHead};
use super::deflate::params::{self, Agreed};

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
    /// The `Sec-WebSocket-Extensions` answer, if the caller accepted an extension
    /// (permessage-deflate, from [`super::deflate::params::accept`]).
    pub extensions: Option<String>,
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
    /// The server's permessage-deflate answer breaks RFC 7692 §7.
    BadExtension(String),
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
            | HandshakeError::BadExtension(_)
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
            HandshakeError::BadExtension(why) => {
                write!(f, "server's permessage-deflate answer is invalid: {why}")
            }
            HandshakeError::UnexpectedProtocol(p) => {
                write!(
                    f,
                    "server chose subprotocol '{}', which we did not offer",
                    p.escape_debug()
                )
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
    let mut keys = http::header_values(&req.headers, "sec-websocket-key");
    let key = keys.next().ok_or(HandshakeError::MissingKey)?;
    if keys.next().is_some() {
        return Err(HandshakeError::DuplicateKey);
    }
    if STANDARD.decode(key).map(|k| k.len()) != Ok(16) {
        return Err(HandshakeError::InvalidKey);
    }
    let offered = http::header_values(&req.headers, "sec-websocket-protocol");
    let protocol = http::list_elements(offered)
        .find(|p| supported_protocols.contains(p))
        .map(str::to_owned);
    Ok(Upgrade {
        key: key.to_owned(),
        accept: accept_key(key),
        protocol,
        origin: req.header("origin").map(str::to_owned),
        extensions: None,
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
    if let Some(e) = &up.extensions {
        headers.push(("Sec-WebSocket-Extensions", e.as_str()));
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
/// chosen subprotocol on success, `None` if the server picked none. Extensions are
/// refused here (we offered none); [`ClientHandshake`] checks a deflate answer.
pub fn validate_server_response(
    resp: &ResponseHead,
    key: &str,
    offered_protocols: &[&str],
) -> Result<Option<String>, HandshakeError> {
    if http::header_values(&resp.headers, "sec-websocket-extensions").any(|v| !v.is_empty()) {
        return Err(HandshakeError::UnexpectedExtension);
    }
    validate_response_but_extensions(resp, key, offered_protocols)
}

fn validate_response_but_extensions(
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
    match resp.header("sec-websocket-protocol") {
        None | Some("") => Ok(None),
        Some(p) if offered_protocols.contains(&p) => Ok(Some(p.to_owned())),
        Some(p) => Err(HandshakeError::UnexpectedProtocol(p.to_owned())),
    }
}

/// What a client asks for in its opening handshake.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientRequest<'a> {
    /// The Host header: the URL's authority.
    pub host: &'a str,
    /// Path and query; empty means `/`.
    pub path: &'a str,
    /// Subprotocols offered, in order of preference.
    pub protocols: &'a [&'a str],
    pub origin: Option<&'a str>,
    pub headers: &'a [(&'a str, &'a str)],
    /// Offer permessage-deflate (RFC 7692).
    pub deflate: bool,
}

/// The client side of the opening handshake, without I/O: [`start`](Self::start)
/// writes the request; [`read_response`](Self::read_response) takes the bytes received
/// so far and says whether the response is complete and acceptable.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    /// Our `Sec-WebSocket-Key`, which the accept value must answer.
    key: String,
    offered: Vec<String>,
    offered_deflate: bool,
}

/// A server's `101 Switching Protocols` that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub head: ResponseHead,
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// permessage-deflate, if we offered it and the server accepted.
    pub deflate: Option<Agreed>,
}

/// Why a client handshake failed, worded to follow the server's name
/// ("ws://h/ws refused the WebSocket handshake: 404 Not Found").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientHandshakeError {
    /// What came back is not an HTTP response.
    NotHttp(HttpError),
    /// A well-formed answer other than 101: the status, its reason and the first line
    /// of the body received with it (servers explain themselves there).
    Refused { head: ResponseHead, body: String },
    /// A 101 that breaks §4.1 (wrong accept key, missing Upgrade, ...).
    Invalid(HandshakeError),
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientHandshakeError::NotHttp(e) => write!(f, "did not answer with HTTP: {e}"),
            ClientHandshakeError::Refused { head, body } => {
                let (status, reason) = (head.status, &head.reason);
                write!(f, "refused the WebSocket handshake: {status} {reason}")?;
                if !body.is_empty() {
                    write!(f, " — {body}")?;
                }
                Ok(())
            }
            ClientHandshakeError::Invalid(e) => write!(f, "answered with a bad handshake: {e}"),
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

impl ClientHandshake {
    /// Appends the request to `out`. `nonce` is 16 random bytes the caller draws (this
    /// module has no randomness); its base64 is the key (§4.1 item 7).
    pub fn start(nonce: [u8; 16], request: &ClientRequest<'_>, out: &mut Vec<u8>) -> Self {
        let key = STANDARD.encode(nonce);
        let offer = params::client_offer();
        let mut headers = request.headers.to_vec();
        if request.deflate {
            headers.push(("Sec-WebSocket-Extensions", offer.as_str()));
        }
        write_client_request(
            out,
            request.host,
            request.path,
            &key,
            request.protocols,
            request.origin,
            &headers,
        );
        ClientHandshake {
            key,
            offered: request.protocols.iter().map(|p| p.to_string()).collect(),
            offered_deflate: request.deflate,
        }
    }

    /// The key sent, for the trace.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Reads the response from the bytes received so far (all of them, from the first).
    /// `Complete { consumed }`: the handshake is done and what follows `consumed` is the
    /// first frames.
    pub fn read_response(&self, buf: &[u8]) -> Result<Parsed<Accepted>, ClientHandshakeError> {
        let (head, consumed) = match http::parse_response(buf, &http::Limits::default()) {
            Ok(Parsed::Incomplete) => return Ok(Parsed::Incomplete),
            Ok(Parsed::Complete { value, consumed }) => (value, consumed),
            Err(e) => return Err(ClientHandshakeError::NotHttp(e)),
        };
        if head.status != 101 {
            let body = String::from_utf8_lossy(buf.get(consumed..).unwrap_or_default());
            return Err(ClientHandshakeError::Refused {
                body: body.lines().next().unwrap_or("").trim().to_string(),
                head,
            });
        }
        let offered: Vec<&str> = self.offered.iter().map(String::as_str).collect();
        let invalid = ClientHandshakeError::Invalid;
        let (protocol, deflate) = if self.offered_deflate {
            let protocol = validate_response_but_extensions(&head, &self.key, &offered);
            let answer = http::header_values(&head.headers, "sec-websocket-extensions");
            let deflate = params::client_accepts(answer)
                .map_err(|params::BadAnswer(why)| HandshakeError::BadExtension(why));
            (protocol.map_err(invalid)?, deflate.map_err(invalid)?)
        } else {
            let protocol = validate_server_response(&head, &self.key, &offered);
            (protocol.map_err(invalid)?, None)
        };
        Ok(Parsed::Complete {
            value: Accepted {
                head,
                protocol,
                deflate,
            },
            consumed,
        })
    }
}

#[cfg(test)]
mod tests;
