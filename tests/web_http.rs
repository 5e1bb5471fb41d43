//! The HTTP side of the `web` service over real sockets: the pages, error statuses for
//! bad requests and refused handshakes, origin checks, --max-conns, keep-alive and
//! pipelining, and the request-head timeout (slowloris guard).

mod support {
    pub mod bounded_read;
    pub mod http_client;
    pub mod net;
    pub mod one_listener;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod ws_client;
}

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::bounded_read::ReadError;
use support::http_client::{Conn, Response};
use support::one_listener::serve_one;
use support::ws_client::{Handshake, KEY, WsClient, client_frame};

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

/// Sends `raw` on a fresh connection and reads one response.
fn http_exchange(addr: SocketAddr, raw: &[u8], head_only: bool) -> (Conn, Response) {
    let mut conn = Conn::connect(addr);
    conn.send(raw);
    let resp = conn.read_response(head_only);
    (conn, resp)
}

/// A WebSocket opening handshake written by hand, so any field can be wrong.
/// `key` and `version` are the header values; `extra` is inserted as is (each line
/// ending in CRLF).
fn upgrade_request(path: &str, key: &str, version: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    )
}

/// True if the connection is still open (no EOF, no reset) after `wait`; anything
/// read meanwhile is kept in the buffer.
fn still_open_after(conn: &mut Conn, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        match conn.fill(deadline) {
            Ok(_) => {}
            Err(ReadError::Timeout) => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn root_is_a_self_contained_test_page() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let (_conn, resp) = http_exchange(addr, get("/").as_bytes(), false);
    assert_eq!(resp.status(), 200, "{}", resp.dump());
    let ctype = resp.header("content-type").unwrap_or_default();
    assert!(ctype.starts_with("text/html"), "Content-Type {ctype:?}");
    let body = resp.body_str();
    assert!(body.contains("new WebSocket("), "page opens no WebSocket");
    assert!(body.contains("/ws"), "page does not mention /ws");
    // It shows whether the connection negotiated compression.
    assert!(
        body.contains("socket.extensions"),
        "page ignores the extensions"
    );
    // Every field a person fills in has a visible label, not only a tooltip.
    for field in ["path", "reason"] {
        assert!(
            body.contains(&format!("<label for=\"{field}\">")),
            "no visible label for #{field}"
        );
    }
    for external in ["src=\"http", "src='http", "src=\"//", "src='//"] {
        assert!(
            !body.contains(external),
            "page loads an external script: {external}"
        );
    }
}

#[test]
fn stats_page_has_the_counters() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let (_conn, resp) = http_exchange(addr, get("/stats").as_bytes(), false);
    assert_eq!(resp.status(), 200, "{}", resp.dump());
    assert!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{}",
        resp.dump()
    );
    let body = resp.body_str();
    assert!(body.starts_with("uptime="), "{body:?}");
    for field in [
        " conns_active=1 ",
        " conns_total=1 ",
        " bytes_in=",
        " bytes_out=",
        " requests=",
    ] {
        assert!(body.contains(field), "no {field:?} in {body:?}");
    }
}

#[test]
fn head_gives_length_but_no_body() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let (_conn, page) = http_exchange(addr, get("/").as_bytes(), false);
    let (mut conn, resp) = http_exchange(
        addr,
        b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        true,
    );
    assert_eq!(resp.status(), 200, "{}", resp.dump());
    assert_eq!(
        resp.header("content-length"),
        Some(page.body.len().to_string().as_str()),
        "HEAD must announce the GET body's length"
    );
    // Nothing after the head: the next thing is the close.
    conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn unknown_path_is_404_naming_the_path() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let (_conn, resp) = http_exchange(addr, get("/no/such-page?x=1").as_bytes(), false);
    assert_eq!(resp.status(), 404, "{}", resp.dump());
    assert!(resp.body_str().contains("/no/such-page"), "{}", resp.dump());
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let post = |path: &str| {
        format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    };
    let (_c, resp) = http_exchange(addr, post("/stats").as_bytes(), false);
    assert_eq!(resp.status(), 405, "{}", resp.dump());
    let allow = resp.header("allow").unwrap_or_default();
    assert!(allow.contains("GET"), "Allow: {allow:?}");
    assert!(!allow.contains("POST"), "Allow: {allow:?}");

    let (_c, resp) = http_exchange(addr, post("/ws").as_bytes(), false);
    assert_eq!(resp.status(), 405, "{}", resp.dump());
    assert_eq!(resp.header("allow"), Some("GET"), "{}", resp.dump());

    // The same with the upgrade headers: a handshake must use GET.
    let req = upgrade_request("/ws", KEY, "13", "").replacen("GET", "POST", 1);
    let (_c, resp) = http_exchange(addr, req.as_bytes(), false);
    assert_eq!(resp.status(), 405, "{}", resp.dump());
    assert_eq!(resp.header("allow"), Some("GET"), "{}", resp.dump());
}

#[test]
fn malformed_request_line_is_400_and_closes() {
    let (_server, addr) = serve_one("http", "web", &[]);
    for bad in [
        "GET  / HTTP/1.1\r\n\r\n",
        "GET /\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
    ] {
        let (mut conn, resp) = http_exchange(addr, bad.as_bytes(), false);
        assert_eq!(resp.status(), 400, "{bad:?}: {}", resp.dump());
        conn.expect_eof(Duration::from_secs(2));
    }
}

#[test]
fn bad_websocket_key_is_400() {
    let (_server, addr) = serve_one("http", "web", &[]);
    // "short" in base64 (5 bytes), 17 bytes, and not base64 at all.
    for key in ["c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZXg=", "not base64!"] {
        let req = upgrade_request("/ws", key, "13", "");
        let (mut conn, resp) = http_exchange(addr, req.as_bytes(), false);
        assert_eq!(resp.status(), 400, "key {key:?}: {}", resp.dump());
        conn.expect_eof(Duration::from_secs(2));
    }
}

#[test]
fn websocket_version_8_is_426_naming_13() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let req = upgrade_request("/ws", KEY, "8", "");
    let (mut conn, resp) = http_exchange(addr, req.as_bytes(), false);
    assert_eq!(resp.status(), 426, "{}", resp.dump());
    assert_eq!(
        resp.header("sec-websocket-version"),
        Some("13"),
        "{}",
        resp.dump()
    );
    conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn plain_get_of_a_websocket_path_is_426() {
    let (_server, addr) = serve_one("http", "web", &[]);
    for path in ["/ws", "/cmd", "/random"] {
        let (mut conn, resp) = http_exchange(addr, get(path).as_bytes(), false);
        assert_eq!(resp.status(), 426, "{path}: {}", resp.dump());
        assert!(
            resp.head.header_has_token("upgrade", "websocket"),
            "{path}: {}",
            resp.dump()
        );
        conn.expect_eof(Duration::from_secs(2));
    }
}

#[test]
fn oversized_heads_are_431() {
    let (_server, addr) = serve_one("http", "web", &[]);
    // One field that pushes the head past 8 KiB.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let (mut conn, resp) = http_exchange(addr, big.as_bytes(), false);
    assert_eq!(resp.status(), 431, "{}", resp.dump());
    conn.expect_eof(Duration::from_secs(2));

    // 65 short fields: under 8 KiB, over the 64-field limit.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..64 {
        many.push_str(&format!("X-F{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    assert!(many.len() < 8192);
    let (mut conn, resp) = http_exchange(addr, many.as_bytes(), false);
    assert_eq!(resp.status(), 431, "{}", resp.dump());
    conn.expect_eof(Duration::from_secs(2));

    // Exactly 64 fields is fine.
    let mut ok = String::from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..63 {
        ok.push_str(&format!("X-F{i}: {i}\r\n"));
    }
    ok.push_str("\r\n");
    let (_conn, resp) = http_exchange(addr, ok.as_bytes(), false);
    assert_eq!(resp.status(), 200, "64 fields: {}", resp.dump());
}

#[test]
fn allow_origin_is_enforced() {
    let (_server, addr) = serve_one(
        "http",
        "web",
        &[
            "--allow-origin",
            "http://good.example",
            "--allow-origin",
            "https://also.example:8443",
        ],
    );
    let with_origin = |origin: Option<&str>| {
        WsClient::connect_with(
            addr,
            "/ws",
            Handshake {
                origin,
                ..Handshake::default()
            },
        )
    };
    // Foreign origins, including look-alikes that merely start or end like an
    // allowed one, are refused before the upgrade.
    for origin in [
        "http://evil.example",
        "http://good.example.evil.example",
        "http://good.example:8080",
        "https://good.example",
        "http://evil.example/http://good.example",
        "null",
    ] {
        match with_origin(Some(origin)) {
            Ok(_) => panic!("a WebSocket from origin {origin:?} was accepted"),
            Err(resp) => {
                assert_eq!(resp.status(), 403, "origin {origin:?}: {}", resp.dump());
                assert!(resp.body_str().contains(origin), "{}", resp.dump());
            }
        }
    }
    for origin in [
        Some("http://good.example"),
        Some("https://also.example:8443"),
        None,
    ] {
        let (mut ws, _) = with_origin(origin)
            .unwrap_or_else(|r| panic!("origin {origin:?} refused:\n{}", r.dump()));
        assert_eq!(ws.request("still here"), "still here");
    }
}

#[test]
fn over_max_conns_gets_503() {
    let (_server, addr) = serve_one("http", "web", &["--max-conns", "1"]);
    // The first connection is accepted and stays open (keep-alive).
    let mut first = Conn::connect(addr);
    first.send(get("/stats").as_bytes());
    assert_eq!(first.read_response(false).status(), 200);

    // The refusal comes unasked, right after accept; sending nothing keeps the close
    // clean (a request the server never reads could turn its close into a reset).
    let mut second = Conn::connect(addr);
    let resp = second.read_response(false);
    assert_eq!(resp.status(), 503, "{}", resp.dump());
    assert!(resp.header("retry-after").is_some(), "{}", resp.dump());
    assert!(
        resp.head.header_has_token("connection", "close"),
        "{}",
        resp.dump()
    );
    second.expect_eof(Duration::from_secs(2));

    // The first is unaffected, and once it is gone there is room again.
    first.send(get("/stats").as_bytes());
    assert_eq!(first.read_response(false).status(), 200);
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut c = Conn::connect(addr);
        if still_open_after(&mut c, Duration::from_millis(150)) {
            assert!(c.buf.is_empty(), "{:?}", String::from_utf8_lossy(&c.buf));
            c.send(get("/").as_bytes());
            let resp = c.read_response(false);
            assert_eq!(resp.status(), 200, "{}", resp.dump());
            break;
        }
        assert!(
            c.buf.starts_with(b"HTTP/1.1 503 "),
            "{:?}",
            String::from_utf8_lossy(&c.buf)
        );
        assert!(
            Instant::now() < deadline,
            "slot not freed after the first closed"
        );
    }
}

#[test]
fn keep_alive_and_pipelining() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut conn = Conn::connect(addr);
    // Two requests one after the other on one connection.
    conn.send(get("/stats").as_bytes());
    let r1 = conn.read_response(false);
    assert_eq!(r1.status(), 200, "{}", r1.dump());
    assert!(
        r1.head.header_has_token("connection", "keep-alive"),
        "{}",
        r1.dump()
    );
    conn.send(get("/nope").as_bytes());
    let r2 = conn.read_response(false);
    assert_eq!(r2.status(), 404, "{}", r2.dump());

    // Three in one write: answered in order.
    let pipelined = format!(
        "{}{}HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        get("/missing-1"),
        get("/stats")
    );
    conn.send(pipelined.as_bytes());
    let a = conn.read_response(false);
    let b = conn.read_response(false);
    let c = conn.read_response(true);
    assert_eq!(a.status(), 404, "{}", a.dump());
    assert!(a.body_str().contains("/missing-1"), "{}", a.dump());
    assert_eq!(b.status(), 200, "{}", b.dump());
    assert!(b.body_str().starts_with("uptime="), "{}", b.dump());
    assert_eq!(c.status(), 200, "{}", c.dump());
    assert!(
        still_open_after(&mut conn, Duration::from_millis(200)),
        "keep-alive connection closed"
    );
    assert!(
        conn.buf.is_empty(),
        "unexpected extra bytes: {:?}",
        conn.buf
    );
}

#[test]
fn connection_close_closes_after_the_response() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let (mut conn, resp) = http_exchange(
        addr,
        b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        false,
    );
    assert_eq!(resp.status(), 200, "{}", resp.dump());
    assert!(
        resp.head.header_has_token("connection", "close"),
        "{}",
        resp.dump()
    );
    conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn slow_request_head_gets_408_and_close() {
    let (_server, addr) = serve_one("http", "web", &["--handshake-timeout", "0.5"]);
    // Half a head, then nothing.
    let start = Instant::now();
    let mut conn = Conn::connect(addr);
    conn.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    let resp = conn.read_response(false);
    assert_eq!(resp.status(), 408, "{}", resp.dump());
    conn.expect_eof(Duration::from_secs(2));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "408 after {took:?}, expected about 0.5 s"
    );

    // A connection that never sends a byte is closed too, without a word: a 408
    // could cross a request sent just then (a keep-alive connection between
    // requests is the same case).
    let start = Instant::now();
    let mut silent = Conn::connect(addr);
    let rest = silent.read_to_eof(Duration::from_secs(2));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "silent connection closed after only {took:?}"
    );
    assert!(
        rest.is_empty(),
        "unexpected answer to silence: {:?}",
        String::from_utf8_lossy(&rest)
    );

    // Trickling a byte at a time does not extend the deadline.
    let start = Instant::now();
    let mut trickle = Conn::connect(addr);
    let head =
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut refused = false;
    for b in head {
        if trickle.stream.write_all(std::slice::from_ref(b)).is_err() {
            refused = true;
            break;
        }
        if start.elapsed() > Duration::from_millis(1500) {
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    let rest = trickle.read_to_eof(Duration::from_secs(2));
    assert!(
        refused || rest.starts_with(b"HTTP/1.1 408 "),
        "trickled head: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "trickling client kept its connection for {:?}",
        start.elapsed()
    );
}

#[test]
fn head_responses_have_no_body_on_keep_alive() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut conn = Conn::connect(addr);
    // HEAD of a page and of a missing page, pipelined, then a GET: if any HEAD
    // answer carried a body, the GET's answer would be read from the middle of it.
    conn.send(
        b"HEAD /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
          HEAD /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
          GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    let stats_head = conn.read_response(true);
    assert_eq!(stats_head.status(), 200, "{}", stats_head.dump());
    assert!(stats_head.header("content-length").is_some());
    let missing_head = conn.read_response(true);
    assert_eq!(missing_head.status(), 404, "{}", missing_head.dump());
    let stats = conn.read_response(false);
    assert_eq!(stats.status(), 200, "{}", stats.dump());
    assert!(stats.body_str().starts_with("uptime="), "{}", stats.dump());
}

#[test]
fn head_of_a_websocket_path_has_no_body() {
    let (_server, addr) = serve_one("http", "web", &[]);
    let mut conn = Conn::connect(addr);
    conn.send(
        b"HEAD /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
          GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    let head = conn.read_response(true);
    assert!(
        (400..500).contains(&head.status()),
        "HEAD /ws: {}",
        head.dump()
    );
    if head.head.header_has_token("connection", "close") {
        // Closing is also a correct way out; then nothing may follow the head.
        conn.expect_eof(Duration::from_secs(2));
        return;
    }
    let stats = conn.read_response(false);
    assert_eq!(stats.status(), 200, "{}", stats.dump());
    assert!(stats.body_str().starts_with("uptime="), "{}", stats.dump());
}

#[test]
fn http_versions_and_target_forms() {
    let (_server, addr) = serve_one("http", "web", &[]);
    // HTTP/1.0 without keep-alive: the server closes after the response.
    let (mut conn, resp) = http_exchange(addr, b"GET /stats HTTP/1.0\r\n\r\n", false);
    assert_eq!(resp.status(), 200, "{}", resp.dump());
    conn.expect_eof(Duration::from_secs(2));
    // Absolute-form target with a query.
    let (_c, resp) = http_exchange(
        addr,
        b"GET http://127.0.0.1/stats?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        false,
    );
    assert_eq!(resp.status(), 200, "{}", resp.dump());
    assert!(resp.body_str().starts_with("uptime="), "{}", resp.dump());
    // A version we do not speak.
    let (mut conn, resp) = http_exchange(addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", false);
    assert_eq!(resp.status(), 505, "{}", resp.dump());
    conn.expect_eof(Duration::from_secs(2));
    // A handshake over HTTP/1.0 is refused.
    let req = upgrade_request("/ws", KEY, "13", "").replacen("HTTP/1.1", "HTTP/1.0", 1);
    let (mut conn, resp) = http_exchange(addr, req.as_bytes(), false);
    assert_eq!(resp.status(), 400, "{}", resp.dump());
    conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn browser_style_handshake_with_first_frame_in_the_same_write() {
    let (_server, addr) = serve_one("http", "web", &[]);
    // Firefox sends `Connection: keep-alive, Upgrade`; header names and the upgrade
    // token in any case. The first frame follows the head in the same segment.
    let mut bytes = format!(
        "GET /ws?room=1 HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: WebSocket\r\n\
         connection: keep-alive, Upgrade\r\nsec-websocket-key: {KEY}\r\n\
         sec-websocket-version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n"
    )
    .into_bytes();
    bytes.extend(client_frame(
        true,
        sockloop::proto::ws::frame::Opcode::Text,
        b"first",
        [1, 2, 3, 4],
    ));
    let mut conn = Conn::connect(addr);
    conn.send(&bytes);
    let resp = conn.read_response(false);
    assert_eq!(resp.status(), 101, "{}", resp.dump());
    assert_eq!(
        resp.header("sec-websocket-accept"),
        Some(sockloop::proto::ws::handshake::accept_key(KEY).as_str())
    );
    // The echo of the frame that came with the head: unmasked text "first".
    let deadline = Instant::now() + Duration::from_secs(5);
    while conn.buf.len() < 7 {
        conn.fill(deadline).expect("echo of the first frame");
    }
    assert_eq!(&conn.buf[..7], b"\x81\x05first");
}
