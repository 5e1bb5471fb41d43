//! Tests of the opening handshake, server and client side, with the RFC's vectors.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

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
    let req = request("Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: x\r\n");
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
    let post = with_head("POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
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
        validate_server_response(&response(format!("{head}\r\n").as_bytes()), KEY, &[]).unwrap_err()
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

/// A server's answer to `hs`'s request, made the way our own server makes it.
fn answer_to(request: &[u8]) -> Vec<u8> {
    let head = with_head(std::str::from_utf8(request).unwrap());
    let up = validate_upgrade(&head, &["chat"]).unwrap();
    let mut out = Vec::new();
    write_upgrade_response(&mut out, &up);
    out
}

fn client(protocols: &[&str]) -> (ClientHandshake, Vec<u8>) {
    let mut request = Vec::new();
    let req = ClientRequest {
        host: "h:1",
        path: "/ws",
        protocols,
        ..ClientRequest::default()
    };
    let hs = ClientHandshake::start(*b"the sample nonce", &req, &mut request);
    (hs, request)
}

#[test]
fn client_handshake_uses_the_nonce_as_its_key() {
    let (hs, request) = client(&[]);
    // §1.3: "the sample nonce" is the RFC's example key.
    assert_eq!(hs.key(), KEY);
    let text = String::from_utf8(request).unwrap();
    assert!(text.starts_with("GET /ws HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
}

#[test]
fn client_handshake_completes_in_any_chunking_and_leaves_the_frames() {
    let (hs, request) = client(&["chat"]);
    let mut bytes = answer_to(&request);
    let head_len = bytes.len();
    bytes.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    for cut in 0..head_len {
        assert_eq!(
            hs.read_response(&bytes[..cut]),
            Ok(Parsed::Incomplete),
            "{cut}"
        );
    }
    let Ok(Parsed::Complete { value, consumed }) = hs.read_response(&bytes) else {
        panic!("not complete");
    };
    assert_eq!(consumed, head_len);
    assert_eq!(value.protocol.as_deref(), Some("chat"));
    assert_eq!(value.head.status, 101);
}

#[test]
fn client_handshake_reports_a_refusal_with_its_body() {
    let (hs, _) = client(&[]);
    let refusal = b"HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\n\r\nnothing here\n";
    let err = hs.read_response(refusal).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused the WebSocket handshake: 404 Not Found — nothing here"
    );
    let not_http = hs.read_response(b"SSH-2.0-OpenSSH\r\n\r\n").unwrap_err();
    assert!(
        matches!(not_http, ClientHandshakeError::NotHttp(_)),
        "{not_http:?}"
    );
}

#[test]
fn client_handshake_checks_the_accept_key() {
    let (hs, _) = client(&[]);
    let forged = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
    assert_eq!(
        hs.read_response(forged),
        Err(ClientHandshakeError::Invalid(HandshakeError::BadAccept))
    );
}
