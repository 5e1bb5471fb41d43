//! The plain HTTP side of the web service: which response each request head gets
//! (the test page, `/stats`, 404/405/426 and the errors), written in full. HTTP/1.1
//! semantics from RFC 9110 and 9112; the WebSocket paths answer plain requests with
//! 426 Upgrade Required (RFC 9110 §15.5.22).

use super::super::Shared;
use crate::proto::http::{self, HttpError, RequestHead};
use crate::trace::{self, Layer};

const PAGE: &str = include_str!("page.html");
const TEXT: &str = "text/plain; charset=utf-8";

/// Whether the connection stays open for another request after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    KeepAlive,
    Close,
}

/// A response as chosen, before it is written.
struct Page {
    status: u16,
    allow: Option<&'static str>,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Page {
    fn text(status: u16, body: String) -> Page {
        Page {
            status,
            allow: None,
            content_type: TEXT,
            body: body.into_bytes(),
        }
    }
}

/// Answers a request that is not a WebSocket handshake. `ws_path`: the path is a
/// WebSocket endpoint.
pub fn answer(req: &RequestHead, ws_path: bool, shared: &Shared, out: &mut Vec<u8>) -> Then {
    let path = req.path();
    let method = req.method.as_str();
    if method == "GET" && ws_path {
        upgrade_required(out, path);
        return Then::Close;
    }
    // We never read request bodies, so a request that has one ends the connection
    // (its body must not be mistaken for the next request head).
    let has_body = req.header("transfer-encoding").is_some()
        || req
            .header("content-length")
            .is_some_and(|v| v.trim() != "0");
    let then = if req.keep_alive() && !has_body {
        Then::KeepAlive
    } else {
        Then::Close
    };
    let page = choose(method, path, ws_path, shared);
    let mut headers = vec![
        ("Content-Type", page.content_type),
        ("Cache-Control", "no-cache"),
        (
            "Connection",
            if then == Then::KeepAlive {
                "keep-alive"
            } else {
                "close"
            },
        ),
    ];
    if let Some(allow) = page.allow {
        headers.push(("Allow", allow));
    }
    let start = out.len();
    http::write_response(out, page.status, &headers, &page.body);
    if method == "HEAD" {
        // A HEAD response is the GET response without its body (RFC 9110 §9.3.2).
        out.truncate(out.len().saturating_sub(page.body.len()).max(start));
    }
    then
}

/// The response for a method and path (WebSocket handshakes aside).
fn choose(method: &str, path: &str, ws_path: bool, shared: &Shared) -> Page {
    match (method, path) {
        _ if ws_path => Page {
            allow: Some("GET"),
            ..Page::text(
                405,
                format!("{method} is not allowed on {path}; WebSockets open with GET\n"),
            )
        },
        ("GET" | "HEAD", "/") => Page {
            status: 200,
            allow: None,
            content_type: "text/html; charset=utf-8",
            body: PAGE.as_bytes().to_vec(),
        },
        ("GET" | "HEAD", "/stats") => {
            let mut body = Vec::new();
            crate::proto::command::write_stats(&shared.stats(), &mut body);
            body.push(b'\n');
            Page {
                body,
                ..Page::text(200, String::new())
            }
        }
        ("GET" | "HEAD", "/metrics") => Page {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            ..Page::text(200, crate::service::metrics::write(shared))
        },
        ("GET" | "HEAD", "/health") => {
            let (status, body) = crate::service::metrics::health(shared);
            Page::text(status, body.to_string())
        }
        (_, "/" | "/stats" | "/metrics" | "/health") => Page {
            allow: Some("GET, HEAD"),
            ..Page::text(405, format!("{method} is not allowed on {path}; use GET\n"))
        },
        _ => Page::text(
            404,
            format!(
                "no such page: {path}\ntry / (test page), /stats, /metrics, /health, or the WebSockets /ws, /cmd, /random, /chat, /pubsub\n"
            ),
        ),
    }
}

/// A GET on a WebSocket path without the handshake.
fn upgrade_required(out: &mut Vec<u8>, path: &str) {
    let body = format!(
        "{path} is a WebSocket endpoint: connect with a WebSocket client \
         (e.g. websocat ws://HOST:PORT{path}), or open / in a browser\n"
    );
    http::write_response(
        out,
        426,
        &[
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Content-Type", TEXT),
            ("Connection", "close"),
        ],
        body.as_bytes(),
    );
}

/// A short plain-text response after which the connection closes.
pub fn error_page(out: &mut Vec<u8>, status: u16, body: &str) {
    http::write_response(
        out,
        status,
        &[("Content-Type", TEXT), ("Connection", "close")],
        body.as_bytes(),
    );
}

/// The response to a request head we could not parse; the connection closes after it.
pub fn write_http_error(out: &mut Vec<u8>, err: &HttpError) {
    error_page(out, err.status(), &format!("{err}\n"));
}

/// A request head that did not arrive whole in time (slowloris).
pub fn write_timeout(out: &mut Vec<u8>) {
    error_page(out, 408, "request head not received in time\n");
}

/// What a client over `--max-conns` gets.
pub fn busy_response(max_conns: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let body = format!("server busy: {max_conns} connections open (the limit); try again later\n");
    busy_page(&mut out, &body);
    out
}

/// What a request gets when the memory budget has no room for it.
pub fn memory_busy_response() -> Vec<u8> {
    let mut out = Vec::new();
    busy_page(
        &mut out,
        "server busy: out of memory for requests; try again later\n",
    );
    out
}

/// A 503 that asks the client to come back in a second.
fn busy_page(out: &mut Vec<u8>, body: &str) {
    http::write_response(
        out,
        503,
        &[
            ("Content-Type", TEXT),
            ("Retry-After", "1"),
            ("Connection", "close"),
        ],
        body.as_bytes(),
    );
}

/// The request head as parsed, with the headers that matter here.
pub fn trace_request(req: &RequestHead) {
    crate::trace!(
        Layer::Http,
        "http > {} {} HTTP/1.{}",
        req.method,
        req.target,
        req.minor_version
    );
    const SHOWN: [&str; 10] = [
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "origin",
        "content-length",
        "transfer-encoding",
    ];
    for (name, value) in &req.headers {
        if SHOWN.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            crate::trace!(Layer::Http, "http >   {name}: {value}");
        }
    }
}

/// The status line of the response written since `mark`.
pub fn trace_status(out: &[u8], mark: usize) {
    if trace::on(Layer::Http) {
        let response = out.get(mark..).unwrap_or_default();
        if let Some(line) = response
            .split(|&b| b == b'\r')
            .next()
            .filter(|l| !l.is_empty())
        {
            crate::trace!(Layer::Http, "http < {}", String::from_utf8_lossy(line));
        }
    }
}
