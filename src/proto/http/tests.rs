//! Tests of `proto::http`: unit tests with known vectors and property tests.

use super::*;
use crate::proto::push_decimal;
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
    let Parsed::Complete { value, .. } = parse_response(&out, &Limits::default()).unwrap() else {
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
