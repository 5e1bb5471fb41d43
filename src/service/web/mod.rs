//! The `web` service: HTTP/1.1 on one port, with WebSocket endpoints.
//!
//! | path      | answer                                                            |
//! |-----------|-------------------------------------------------------------------|
//! | `/`       | the browser test page (HTML, served from the binary)              |
//! | `/stats`  | the `STATS` numbers as plain text                                 |
//! | `/ws`     | WebSocket echo: every text or binary message back, same type      |
//! | `/cmd`    | the `cmd` line protocol, one request per text message             |
//! | `/random` | a count N (or `N MIN MAX`) → N random integers as N text messages |
//!
//! A connection starts by reading request heads (keep-alive, pipelining allowed); a
//! valid upgrade on a WebSocket path switches it to a WebSocket session for good.

mod apps;

use super::Shared;
use crate::clock::Millis;
use crate::proto::Parsed;
use crate::proto::command::After;
use crate::proto::http::{self, HttpError, RequestHead};
use crate::proto::ws::handshake;
use crate::proto::ws::session::{self as ws, Role, Session};
use crate::trace::{self, Layer};
use apps::{App, AppHandler};
use std::time::Duration;

/// Settings of the web service, from the command line.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Origins allowed to open WebSockets; empty allows any (requests without an
    /// Origin header, i.e. not from a browser, are always allowed).
    pub allow_origins: Vec<String>,
    /// Subprotocols we accept, in no particular order (the client's order wins).
    pub protocols: Vec<String>,
    pub max_message: usize,
    /// A request head must arrive whole within this time (slowloris guard).
    pub handshake_timeout: Duration,
    /// Ping a WebSocket that has been quiet this long.
    pub ping_interval: Option<Duration>,
    /// How long to wait for the peer's Close after sending ours.
    pub close_timeout: Duration,
    pub http: http::Limits,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            protocols: Vec::new(),
            max_message: 64 << 20,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: None,
            close_timeout: Duration::from_secs(2),
            http: http::Limits::default(),
        }
    }
}

const PAGE: &str = include_str!("page.html");

/// Bytes of input fed to a WebSocket session at a time, so that the output budget is
/// checked often enough to stop answering before it is far exceeded.
const WS_FEED_CHUNK: usize = 4096;

pub struct WebConn {
    phase: Phase,
}

enum Phase {
    /// Reading a request head that must be complete by `deadline`.
    Head {
        deadline: Millis,
    },
    Ws(Box<WsConn>),
    /// A response that ends the connection has been written.
    Done,
}

/// A WebSocket connection's state. Boxed: most of a server's connections are either
/// all WebSocket or none, and the box keeps HTTP-only connections small.
struct WsConn {
    session: Session,
    app: App,
    /// We sent Close (shutdown, idle): drop the connection if no reply by then.
    close_deadline: Option<Millis>,
    /// A keepalive ping is out and no data has come since.
    ping_outstanding: bool,
    /// Frames of the message being received so far (for the trace).
    fragments: u16,
}

impl WebConn {
    pub fn new(now: Millis, config: &WebConfig) -> Self {
        Self {
            phase: Phase::Head {
                deadline: now.after(config.handshake_timeout),
            },
        }
    }

    /// True while the app still has output to produce (e.g. random numbers owed).
    pub fn has_pending_output(&self) -> bool {
        matches!(&self.phase, Phase::Ws(ws) if ws.app.has_pending_output())
    }

    /// Processes `buf` until it is used up, the connection ends, or `out` reaches
    /// `budget`. Returns how much of `buf` was used.
    pub fn process(
        &mut self,
        buf: &mut [u8],
        shared: &mut Shared,
        out: &mut Vec<u8>,
        budget: usize,
    ) -> (usize, After) {
        let mut pos = 0;
        loop {
            match &mut self.phase {
                Phase::Head { .. } => {
                    let rest = buf.get(pos..).unwrap_or(&[]);
                    match http::parse_request(rest, &shared.web.http) {
                        Ok(Parsed::Incomplete) => return (pos, After::Continue),
                        Ok(Parsed::Complete { value, consumed }) => {
                            pos += consumed;
                            shared.requests += 1;
                            let mark = out.len();
                            if trace::on(Layer::Http) {
                                trace_request(&value);
                            }
                            let after = self.respond(&value, shared, out);
                            trace_status(out, mark);
                            if after == After::Close {
                                return (pos, After::Close);
                            }
                        }
                        Err(err) => {
                            crate::debug!("bad HTTP request: {err}");
                            crate::trace!(Layer::Http, "http > unparsable request head: {err}");
                            let mark = out.len();
                            write_http_error(out, &err);
                            trace_status(out, mark);
                            self.phase = Phase::Done;
                            return (buf.len(), After::Close);
                        }
                    }
                }
                Phase::Ws(ws) => {
                    if ws.app.has_pending_output() {
                        traced(out, |out| ws.app.produce(shared, out, budget));
                        if ws.app.has_pending_output() {
                            return (pos, After::Continue); // input waits its turn
                        }
                    }
                    let end = buf.len().min(pos + WS_FEED_CHUNK);
                    let chunk = buf.get_mut(pos..end).unwrap_or(&mut []);
                    pos = end;
                    if traced(out, |out| ws.feed(chunk, shared, out)) == After::Close {
                        return (buf.len(), After::Close);
                    }
                    if pos >= buf.len() {
                        return (pos, After::Continue);
                    }
                }
                Phase::Done => return (buf.len(), After::Close),
            }
            if out.len() >= budget {
                return (pos, After::Continue);
            }
        }
    }

    /// The peer finished sending. A WebSocket peer should have sent Close first.
    pub fn on_eof(&mut self) {
        if let Phase::Ws(ws) = &self.phase {
            if !ws.session.close_received() {
                crate::debug!("WebSocket peer closed TCP without a Close frame (1006)");
            }
        }
    }

    /// The next moment this connection needs attention from the timer, given when it
    /// was last active.
    pub fn deadline(&self, last_active: Millis, config: &WebConfig) -> Option<Millis> {
        match &self.phase {
            Phase::Head { deadline } => Some(*deadline),
            Phase::Ws(ws) => {
                let ping = match (config.ping_interval, ws.ping_outstanding) {
                    (Some(every), false) => Some(last_active.after(every)),
                    _ => None,
                };
                match (ws.close_deadline, ping) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Phase::Done => None,
        }
    }

    pub fn on_timer(
        &mut self,
        now: Millis,
        last_active: Millis,
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) -> After {
        match &mut self.phase {
            Phase::Head { deadline } if *deadline <= now => {
                crate::debug!("request head not complete in time: closing");
                http::write_response(
                    out,
                    408,
                    &[
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Connection", "close"),
                    ],
                    b"request head not received in time\n",
                );
                self.phase = Phase::Done;
                After::Close
            }
            Phase::Ws(ws) => {
                if ws.close_deadline.is_some_and(|d| d <= now) {
                    crate::debug!("WebSocket peer did not answer our Close: dropping");
                    return After::Close;
                }
                let ping_due = shared
                    .web
                    .ping_interval
                    .is_some_and(|every| last_active.after(every) <= now);
                if ping_due && !ws.ping_outstanding {
                    ws.ping_outstanding = true;
                    let mut handler = AppHandler::new(&mut ws.app, shared, &mut ws.fragments);
                    traced(out, |out| {
                        ws.session.send_ping(b"sockloop", out, &mut handler)
                    });
                }
                After::Continue
            }
            _ => After::Continue,
        }
    }

    /// Idle timeout: a WebSocket is told why (1001) before the connection closes.
    pub fn on_idle_timeout(&mut self, shared: &mut Shared, out: &mut Vec<u8>) {
        if let Phase::Ws(ws) = &mut self.phase {
            let mut handler = AppHandler::new(&mut ws.app, shared, &mut ws.fragments);
            traced(out, |out| {
                ws.session
                    .send_close(1001, "idle timeout", out, &mut handler)
            });
        }
    }

    /// Graceful shutdown: WebSockets get Close 1001 and a moment to answer; plain HTTP
    /// connections between requests just close.
    pub fn on_shutdown(&mut self, now: Millis, shared: &mut Shared, out: &mut Vec<u8>) -> After {
        match &mut self.phase {
            Phase::Ws(ws) if !ws.session.close_sent() => {
                let mut handler = AppHandler::new(&mut ws.app, shared, &mut ws.fragments);
                traced(out, |out| {
                    ws.session
                        .send_close(1001, "server shutting down", out, &mut handler)
                });
                ws.close_deadline = Some(now.after(shared.web.close_timeout));
                After::Continue
            }
            Phase::Ws(_) => After::Continue,
            _ => After::Close,
        }
    }

    /// Answers one complete request head.
    fn respond(&mut self, req: &RequestHead, shared: &mut Shared, out: &mut Vec<u8>) -> After {
        let path = req.path();
        let app = App::for_path(path);
        if handshake::is_websocket_request(req) {
            return match app {
                Some(app) => self.upgrade(req, app, shared, out),
                None => {
                    let body =
                        format!("no WebSocket endpoint at {path}; try /ws, /cmd or /random\n");
                    self.error_page(out, 404, &body)
                }
            };
        }
        let head_only = req.method == "HEAD";
        // We never read request bodies, so a request that has one ends the connection
        // (its body must not be mistaken for the next request head).
        let has_body = req.header("transfer-encoding").is_some()
            || req
                .header("content-length")
                .is_some_and(|v| v.trim() != "0");
        let keep_alive = req.keep_alive() && !has_body;
        let method = req.method.as_str();
        let text = "text/plain; charset=utf-8";
        // (status, Allow header, content type, body)
        let (status, allow, content_type, body): (u16, Option<&str>, &str, Vec<u8>) = match (
            method,
            path,
            app.is_some(),
        ) {
            ("GET", _, true) => return self.upgrade_required(out, path),
            (_, _, true) => {
                let body = format!("{method} is not allowed on {path}; WebSockets open with GET\n");
                (405, Some("GET"), text, body.into_bytes())
            }
            ("GET" | "HEAD", "/", _) => (
                200,
                None,
                "text/html; charset=utf-8",
                PAGE.as_bytes().to_vec(),
            ),
            ("GET" | "HEAD", "/stats", _) => {
                let mut body = Vec::new();
                crate::proto::command::write_stats(&shared.stats(), &mut body);
                body.push(b'\n');
                (200, None, text, body)
            }
            (_, "/" | "/stats", _) => {
                let body = format!("{method} is not allowed on {path}; use GET\n");
                (405, Some("GET, HEAD"), text, body.into_bytes())
            }
            _ => {
                let body = format!(
                    "no such page: {path}\ntry / (test page), /stats, or the WebSockets /ws, /cmd, /random\n"
                );
                (404, None, text, body.into_bytes())
            }
        };
        let mut headers = vec![
            ("Content-Type", content_type),
            ("Cache-Control", "no-cache"),
            (
                "Connection",
                if keep_alive { "keep-alive" } else { "close" },
            ),
        ];
        if let Some(allow) = allow {
            headers.push(("Allow", allow));
        }
        let start = out.len();
        http::write_response(out, status, &headers, &body);
        if head_only {
            // A HEAD response is the GET response without its body (RFC 9110 §9.3.2).
            out.truncate(out.len().saturating_sub(body.len()).max(start));
        }
        self.after_response(keep_alive, shared)
    }

    fn upgrade(
        &mut self,
        req: &RequestHead,
        app: App,
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) -> After {
        let protocols: Vec<&str> = shared.web.protocols.iter().map(String::as_str).collect();
        let up = match handshake::validate_upgrade(req, &protocols) {
            Ok(up) => up,
            Err(err) => {
                crate::debug!("WebSocket handshake refused: {err}");
                handshake::write_rejection(out, &err);
                self.phase = Phase::Done;
                return After::Close;
            }
        };
        if let Some(origin) = &up.origin {
            let allowed = &shared.web.allow_origins;
            if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
                crate::debug!("WebSocket from origin {origin} refused (--allow-origin)");
                let body = format!("origin {origin} is not allowed here\n");
                return self.error_page(out, 403, &body);
            }
        }
        handshake::write_upgrade_response(out, &up);
        crate::debug!("WebSocket open on {} ({})", req.path(), app.name());
        let limits = ws::Limits {
            max_message: shared.web.max_message,
        };
        let mut session = Session::new(Role::Server, limits);
        session.set_trace(trace::on(Layer::Ws));
        self.phase = Phase::Ws(Box::new(WsConn {
            fragments: 0,
            session,
            app,
            close_deadline: None,
            ping_outstanding: false,
        }));
        After::Continue
    }

    fn upgrade_required(&mut self, out: &mut Vec<u8>, path: &str) -> After {
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
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Connection", "close"),
            ],
            body.as_bytes(),
        );
        self.phase = Phase::Done;
        After::Close
    }

    fn error_page(&mut self, out: &mut Vec<u8>, status: u16, body: &str) -> After {
        http::write_response(
            out,
            status,
            &[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Connection", "close"),
            ],
            body.as_bytes(),
        );
        self.phase = Phase::Done;
        After::Close
    }

    fn after_response(&mut self, keep_alive: bool, shared: &Shared) -> After {
        if keep_alive {
            self.phase = Phase::Head {
                deadline: shared.now.after(shared.web.handshake_timeout),
            };
            After::Continue
        } else {
            self.phase = Phase::Done;
            After::Close
        }
    }
}

impl WsConn {
    /// Feeds one chunk of frames; `Close` once the close handshake is complete or the
    /// peer broke the protocol (the session has queued the Close frame to send).
    fn feed(&mut self, chunk: &mut [u8], shared: &mut Shared, out: &mut Vec<u8>) -> After {
        self.ping_outstanding = false;
        let mut handler = AppHandler::new(&mut self.app, shared, &mut self.fragments);
        let fed = self.session.feed(chunk, out, &mut handler);
        if let Err(err) = fed {
            crate::debug!("WebSocket closed: {err}");
            crate::trace!(
                Layer::Ws,
                "ws > protocol error: {} (answered with close {})",
                err.reason,
                err.code
            );
            return After::Close;
        }
        if self.session.is_closed() {
            return After::Close;
        }
        After::Continue
    }
}

/// Runs `write`, then traces every WebSocket frame it appended to `out`.
fn traced<R>(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mark = out.len();
    let result = write(out);
    if trace::on(Layer::Ws) {
        trace::sent_frames(out.get(mark..).unwrap_or_default());
    }
    result
}

/// The request head as parsed, with the headers that matter here.
fn trace_request(req: &RequestHead) {
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
fn trace_status(out: &[u8], mark: usize) {
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

/// The response to a request head we could not parse; the connection closes after it.
fn write_http_error(out: &mut Vec<u8>, err: &HttpError) {
    let body = format!("{err}\n");
    http::write_response(
        out,
        err.status(),
        &[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Connection", "close"),
        ],
        body.as_bytes(),
    );
}

/// What a client over `--max-conns` gets.
pub fn busy_response(max_conns: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let body = format!("server busy: {max_conns} connections open (the limit); try again later\n");
    http::write_response(
        &mut out,
        503,
        &[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Retry-After", "1"),
            ("Connection", "close"),
        ],
        body.as_bytes(),
    );
    out
}
