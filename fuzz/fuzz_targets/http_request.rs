//! Fuzz target `http_request`: the HTTP/1.1 head parsers (src/proto/http.rs and
//! src/proto/http/: request.rs, response.rs, fields.rs) and the WebSocket upgrade
//! validation (src/proto/ws/handshake.rs).
//!
//! Input: `max_head` (u16, little-endian, taken modulo 4097), `max_headers` (one byte),
//! the chunking header of `sockloop_fuzz`, then the bytes as a client (or, for
//! `parse_response`, a server) sends them. The same bytes go to both parsers.
//! Checks, for `parse_request` and `parse_response` alike:
//! - chunking: shown the bytes as they accumulate chunk by chunk, the parser answers
//!   `Incomplete` for every prefix that does not contain the end of the head, and
//!   from the prefix that does on, exactly what it answers for the whole input;
//! - the head end is where a plain reference scan finds the first empty line after
//!   the start line (`consumed`), and with no end within `max_head` bytes the answer
//!   is `HeadTooLarge` once more than `max_head` bytes are here;
//! - roundtrip: a parsed request written again with `write_request` (a response with
//!   `write_response`) parses to the same method, target and fields (status, reason
//!   phrase and fields, with the `Content-Length` the writer adds);
//! - `validate_upgrade` never panics; when it accepts, `accept == accept_key(key)`, the
//!   key is the one header and 16 bytes of base64, and the 101 response it leads to
//!   passes the client's `validate_server_response` with the same subprotocol; when it
//!   refuses, the rejection response parses with the error's status.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sockloop::proto::Parsed;
use sockloop::proto::http::{
    HttpError, Limits, RequestHead, ResponseHead, is_token, parse_request, parse_response,
    reason_phrase, write_request, write_response,
};
use sockloop::proto::ws::handshake::{
    HandshakeError, accept_key, is_websocket_request, validate_server_response, validate_upgrade,
    write_rejection, write_upgrade_response,
};
use sockloop_fuzz::{chunk_ends, draw_sizes};

const PROTOCOLS: &[&str] = &["chat", "superchat", "v2.echo"];

/// Where the head ends (just past its empty line), by the rule written plainly: lines
/// end at LF, a CR before the LF is not content, empty lines before the start line
/// are skipped, and the first empty line after it ends the head.
fn reference_head_end(buf: &[u8]) -> Option<usize> {
    let mut seen_start = false;
    let mut pos = 0;
    for line in buf.split_inclusive(|&b| b == b'\n') {
        pos += line.len();
        let Some(content) = line.strip_suffix(b"\n") else {
            return None; // the last, unterminated line
        };
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if !content.is_empty() {
            seen_start = true;
        } else if seen_start {
            return Some(pos);
        }
    }
    None
}

/// The chunking contract, for either parser. Returns the answer for the whole input.
fn check_chunking<T: PartialEq + std::fmt::Debug>(
    parse: impl Fn(&[u8], &Limits) -> Result<Parsed<T>, HttpError>,
    buf: &[u8],
    limits: &Limits,
    ends: &[usize],
) -> Result<Parsed<T>, HttpError> {
    let whole = parse(buf, limits);
    // The first prefix length at which the answer is known.
    let known_at = match reference_head_end(buf) {
        Some(end) if end <= limits.max_head => {
            match &whole {
                Ok(Parsed::Complete { consumed, .. }) => assert_eq!(*consumed, end),
                Ok(Parsed::Incomplete) => panic!("head ends at {end} but Incomplete"),
                Err(HttpError::HeadTooLarge { .. }) => {
                    panic!("head ends at {end} <= max_head but HeadTooLarge")
                }
                Err(_) => {}
            }
            end
        }
        _ => {
            if buf.len() > limits.max_head {
                let limit = limits.max_head;
                assert_eq!(whole, Err(HttpError::HeadTooLarge { limit }));
            } else {
                assert_eq!(whole, Ok(Parsed::Incomplete));
            }
            limits.max_head + 1
        }
    };
    // The drawn chunk ends, and the prefixes right around the point where it is known.
    let around = [known_at.saturating_sub(1), known_at, known_at + 1];
    let extra = around.iter().copied().filter(|&e| e <= buf.len());
    for end in ends.iter().copied().chain(extra) {
        let got = parse(&buf[..end], limits);
        if end < known_at {
            assert_eq!(got, Ok(Parsed::Incomplete), "prefix of {end} bytes");
        } else {
            assert_eq!(got, whole, "prefix of {end} bytes");
        }
    }
    whole
}

fn big_limits(len: usize, headers: usize) -> Limits {
    Limits {
        max_head: len,
        max_headers: headers,
    }
}

fn check_request(req: &RequestHead) {
    assert!(is_token(req.method.as_bytes()));
    assert!(!req.target.is_empty() && req.target.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    assert!(req.minor_version <= 1);
    for (name, value) in &req.headers {
        assert!(is_token(name.as_bytes()), "field name {name:?}");
        assert!(!value.starts_with([' ', '\t']) && !value.ends_with([' ', '\t']));
        assert!(!value.contains(['\r', '\n', '\0']), "field value {value:?}");
    }
    let _ = (req.path(), req.keep_alive(), req.header("host"));

    // Written again and parsed again: the same request (as HTTP/1.1).
    let fields: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut out = Vec::new();
    write_request(&mut out, &req.method, &req.target, &fields);
    let again = parse_request(&out, &big_limits(out.len(), fields.len()));
    let Ok(Parsed::Complete { value, consumed }) = again else {
        panic!("re-written request does not parse: {again:?}");
    };
    assert_eq!(consumed, out.len());
    assert_eq!(
        value,
        RequestHead {
            minor_version: 1,
            ..req.clone()
        }
    );

    // The upgrade: server side, then the client's check of the server's answer.
    match validate_upgrade(req, PROTOCOLS) {
        Ok(up) => {
            assert!(is_websocket_request(req));
            assert_eq!(up.accept, accept_key(&up.key));
            let keys: Vec<&str> = req
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key"))
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(keys, [up.key.as_str()]);
            assert_eq!(up.key.len(), 24, "16 bytes of base64");
            if let Some(p) = &up.protocol {
                assert!(PROTOCOLS.contains(&p.as_str()));
            }
            let mut out = Vec::new();
            write_upgrade_response(&mut out, &up);
            let resp = complete_response(&out);
            assert_eq!(resp.status, 101);
            assert_eq!(
                validate_server_response(&resp, &up.key, PROTOCOLS),
                Ok(up.protocol.clone())
            );
        }
        Err(e) => {
            assert!([400, 405, 426].contains(&e.status()), "{e:?}");
            assert!(!e.to_string().is_empty());
            let mut out = Vec::new();
            write_rejection(&mut out, &e);
            let resp = complete_response(&out);
            assert_eq!(resp.status, e.status());
            assert_eq!(
                validate_server_response(&resp, "dGhlIHNhbXBsZSBub25jZQ==", PROTOCOLS),
                Err(HandshakeError::NotSwitching(e.status()))
            );
        }
    }
}

fn complete_response(bytes: &[u8]) -> ResponseHead {
    match parse_response(bytes, &big_limits(bytes.len(), 64)) {
        Ok(Parsed::Complete { value, .. }) => value,
        other => panic!("our own response does not parse: {other:?}"),
    }
}

fn check_response(resp: &ResponseHead) {
    assert!((100..=999).contains(&resp.status));
    assert!(resp.minor_version <= 1);
    let _ = validate_server_response(resp, "dGhlIHNhbXBsZSBub25jZQ==", PROTOCOLS);
    let _ = (
        resp.header("upgrade"),
        resp.header_has_token("connection", "upgrade"),
    );

    // Written again: same status, the standard reason, and the same fields but for
    // Content-Length, which the writer sets itself (and leaves out where no body may be).
    let fields: Vec<(&str, &str)> = resp
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut out = Vec::new();
    write_response(&mut out, resp.status, &fields, b"");
    let again = parse_response(&out, &big_limits(out.len(), fields.len() + 1));
    let Ok(Parsed::Complete { value, consumed }) = again else {
        panic!("re-written response does not parse: {again:?}");
    };
    assert_eq!(consumed, out.len());
    let bodiless = (100..200).contains(&resp.status) || resp.status == 204 || resp.status == 304;
    let mut want: Vec<(String, String)> = resp
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
        .cloned()
        .collect();
    if !bodiless {
        want.push(("Content-Length".into(), "0".into()));
    }
    assert_eq!(
        value,
        ResponseHead {
            status: resp.status,
            reason: reason_phrase(resp.status).into(),
            minor_version: 1,
            headers: want,
        }
    );
}

/// The limits at the front of the input (u16 little-endian, then one byte).
#[derive(Arbitrary, Debug)]
struct Config {
    max_head: u16,
    max_headers: u8,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(cfg) = Config::arbitrary(&mut u) else {
        return;
    };
    let max_head = usize::from(cfg.max_head) % 4097;
    let max_headers = usize::from(cfg.max_headers);
    let sizes = draw_sizes(&mut u);
    let buf = u.take_rest();
    let limits = Limits {
        max_head,
        max_headers,
    };
    // A server stops reading once it has the head (or an error), and reads no further
    // than max_head + one chunk: check the prefixes it would look at (the first 128 of
    // them, which keeps a byte-by-byte schedule on a long head affordable).
    let ends: Vec<usize> = chunk_ends(buf.len(), &sizes)
        .into_iter()
        .take_while(|&e| e <= max_head + 257)
        .take(128)
        .collect();

    if let Ok(Parsed::Complete { value, .. }) = check_chunking(parse_request, buf, &limits, &ends) {
        check_request(&value);
    }
    if let Ok(Parsed::Complete { value, .. }) = check_chunking(parse_response, buf, &limits, &ends)
    {
        check_response(&value);
    }
});
