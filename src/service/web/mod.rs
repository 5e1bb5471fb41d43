//! The `web` service: HTTP/1.1 on one port, with WebSocket endpoints.
//!
//! | path      | answer                                                            |
//! |-----------|-------------------------------------------------------------------|
//! | `/`       | the browser test page (HTML, served from the binary)              |
//! | `/stats`  | the `STATS` numbers as plain text                                 |
//! | `/ws`     | WebSocket echo: every text or binary message back, same type      |
//! | `/cmd`    | the `cmd` line protocol, one request per text message             |
//! | `/random` | a count N (or `N MIN MAX`) → N random integers as N text messages |
//! | `/chat`   | chat rooms: one text message = one line (see `service/chat.rs`)   |
//! | `/pubsub` | SUB / UNSUB / PUB → MSG, one request per text message             |
//!
//! A connection starts by reading request heads (keep-alive, pipelining allowed); a
//! valid upgrade on a WebSocket path switches it to a WebSocket session for good.

mod apps;
mod pages;
mod ws;

pub use pages::busy_response;

use super::Shared;
use crate::clock::Millis;
use crate::proto::Parsed;
use crate::proto::command::After;
use crate::proto::http::{self, RequestHead};
use crate::proto::ws::deflate::params::ServerPolicy;
use crate::proto::ws::handshake;
use crate::trace::{self, Layer};
use apps::App;
use pages::Then;
use std::time::Duration;
use ws::{WsConn, traced};

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
    /// `--ws-deflate`: accept permessage-deflate offers (RFC 7692) on these terms.
    pub deflate: Option<ServerPolicy>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            protocols: Vec::new(),
            // nginx's default body limit; the memory budget bounds the sum.
            max_message: 1 << 20,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: None,
            close_timeout: Duration::from_secs(2),
            http: http::Limits::default(),
            deflate: None,
        }
    }
}

pub struct WebConn {
    phase: Phase,
}

enum Phase {
    /// Reading a request head that must be complete by `deadline`; `begun` once a
    /// byte of it has arrived.
    Head {
        deadline: Millis,
        begun: bool,
    },
    Ws(Box<WsConn>),
    /// A response that ends the connection has been written.
    Done,
}

impl WebConn {
    pub fn new(shared: &Shared) -> Self {
        Self {
            phase: head_phase(shared),
        }
    }

    /// True while the app still has output to produce (e.g. random numbers owed).
    pub fn has_pending_output(&self) -> bool {
        matches!(&self.phase, Phase::Ws(ws) if ws.has_pending_output())
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
            let rest = buf.get_mut(pos..).unwrap_or_default();
            let (used, after) = match &mut self.phase {
                Phase::Head { .. } => self.read_head(rest, shared, out),
                Phase::Ws(ws) => {
                    if ws.has_pending_output() {
                        ws.produce(shared, out, budget);
                        if ws.has_pending_output() {
                            return (pos, After::Continue); // input waits its turn
                        }
                    }
                    traced(out, |out| ws.feed(rest, shared, out, budget))
                }
                Phase::Done => return (buf.len(), After::Close),
            };
            if after == After::Close {
                return (buf.len(), After::Close);
            }
            pos += used;
            // A head that is not complete yet, or every byte used.
            if used == 0 || pos >= buf.len() || out.len() >= budget {
                return (pos, After::Continue);
            }
        }
    }

    /// Parses and answers one request head at the front of `buf`: (bytes used, after).
    /// Nothing is used while the head is incomplete.
    fn read_head(&mut self, buf: &[u8], shared: &mut Shared, out: &mut Vec<u8>) -> (usize, After) {
        match http::parse_request(buf, &shared.web.http) {
            Ok(Parsed::Incomplete) => {
                if let Phase::Head { begun, .. } = &mut self.phase {
                    *begun |= !buf.is_empty();
                }
                (0, After::Continue)
            }
            Ok(Parsed::Complete { value, consumed }) => {
                shared.requests += 1;
                let mark = out.len();
                if trace::on(Layer::Http) {
                    pages::trace_request(&value);
                }
                let after = self.respond(&value, shared, out);
                pages::trace_status(out, mark);
                (consumed, after)
            }
            Err(err) => {
                crate::debug!("bad HTTP request: {err}");
                crate::trace!(Layer::Http, "http > unparsable request head: {err}");
                let mark = out.len();
                pages::write_http_error(out, &err);
                pages::trace_status(out, mark);
                self.phase = Phase::Done;
                (buf.len(), After::Close)
            }
        }
    }

    /// Answers one complete request head.
    fn respond(&mut self, req: &RequestHead, shared: &mut Shared, out: &mut Vec<u8>) -> After {
        let path = req.path();
        let app = App::for_path(path);
        if !handshake::is_websocket_request(req) {
            return match pages::answer(req, app.is_some(), shared, out) {
                Then::KeepAlive => {
                    self.phase = head_phase(shared);
                    After::Continue
                }
                Then::Close => self.done(),
            };
        }
        let Some(app) = app else {
            let body = format!(
                "no WebSocket endpoint at {path}; try /ws, /cmd, /random, /chat or /pubsub\n"
            );
            pages::error_page(out, 404, &body);
            return self.done();
        };
        match ws::upgrade(req, app, shared, out) {
            Some(mut ws) => {
                ws.on_open(shared, out);
                self.phase = Phase::Ws(ws);
                After::Continue
            }
            None => self.done(),
        }
    }

    /// A response that ends the connection was written.
    fn done(&mut self) -> After {
        self.phase = Phase::Done;
        After::Close
    }

    /// The hub this connection takes fan-out from (a `/chat` or `/pubsub` WebSocket
    /// that is open).
    pub fn fanout(&self) -> Option<crate::service::fanout::HubKind> {
        match &self.phase {
            Phase::Ws(ws) => ws.fanout(),
            _ => None,
        }
    }

    /// A notice as one text message (only on a WebSocket).
    pub fn write_text(&mut self, text: &[u8], shared: &mut Shared, out: &mut Vec<u8>) {
        if let Phase::Ws(ws) = &mut self.phase {
            ws.write_text(text, shared, out);
        }
    }

    /// Heap bytes held for the peer besides the loop's input and output buffers.
    pub fn heap_bytes(&self) -> usize {
        match &self.phase {
            Phase::Ws(ws) => ws.heap_bytes(),
            _ => 0,
        }
    }

    /// The memory budget has no room for this connection: say so in its protocol
    /// (close 1013 on a WebSocket, 503 otherwise) before it is closed.
    pub fn on_memory_shed(&mut self, shared: &mut Shared, out: &mut Vec<u8>) {
        match &mut self.phase {
            Phase::Ws(ws) => ws.close(
                1013,
                "server out of memory; try again later",
                None,
                shared,
                out,
            ),
            Phase::Head { .. } => out.extend_from_slice(&pages::memory_busy_response()),
            Phase::Done => {}
        }
        self.phase = Phase::Done;
    }

    /// The peer finished sending.
    pub fn on_eof(&mut self) {
        if let Phase::Ws(ws) = &self.phase {
            ws.on_eof();
        }
    }

    /// The next moment this connection needs attention from the timer, given when it
    /// was last active.
    pub fn deadline(&self, last_active: Millis, shared: &Shared) -> Option<Millis> {
        match &self.phase {
            Phase::Head { deadline, .. } => Some(*deadline),
            Phase::Ws(ws) => ws.deadline(last_active, shared),
            Phase::Done => None,
        }
    }

    pub fn on_timer(
        &mut self,
        last_active: Millis,
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) -> After {
        match &mut self.phase {
            // A keep-alive connection between requests (or one never used, as a
            // browser's preconnect) is closed without a word: a 408 could cross a
            // request the client is sending just then, which would take it for the
            // answer (nginx closes silently too).
            Phase::Head {
                deadline,
                begun: false,
            } if *deadline <= shared.now => {
                crate::debug!("no request within --handshake-timeout: closing");
                self.done()
            }
            Phase::Head { deadline, .. } if *deadline <= shared.now => {
                crate::debug!("request head not complete in time: closing");
                pages::write_timeout(out);
                self.done()
            }
            Phase::Ws(ws) => ws.on_timer(last_active, shared, out),
            _ => After::Continue,
        }
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self.phase, Phase::Ws(_))
    }

    /// Idle timeout: a WebSocket is told why (1001) before the connection closes.
    pub fn on_idle_timeout(&mut self, shared: &mut Shared, out: &mut Vec<u8>) {
        if let Phase::Ws(ws) = &mut self.phase {
            ws.close(1001, "idle timeout", None, shared, out);
        }
    }

    /// Graceful shutdown: WebSockets get Close 1001 and a moment to answer; plain HTTP
    /// connections between requests just close.
    pub fn on_shutdown(&mut self, shared: &mut Shared, out: &mut Vec<u8>) -> After {
        match &mut self.phase {
            Phase::Ws(ws) => {
                let wait = shared.now.after(shared.web.close_timeout);
                ws.close(1001, "server shutting down", Some(wait), shared, out);
                After::Continue
            }
            _ => After::Close,
        }
    }
}

/// Waiting for a request head, which must be whole within the handshake timeout
/// (slowloris guard).
fn head_phase(shared: &Shared) -> Phase {
    Phase::Head {
        deadline: shared.now.after(shared.web.handshake_timeout),
        begun: false,
    }
}
