//! The WebSocket side of the web service: the upgrade (RFC 6455 §4.2.2, with the
//! `--allow-origin` check of §10.2), then one session per connection whose messages
//! go to the endpoint's app, with keepalive pings and the close handshake's deadline.

use super::apps::{self, App, AppHandler, Owed, Sender};
use super::pages;
use crate::clock::Millis;
use crate::proto::command::After;
use crate::proto::http;
use crate::proto::http::RequestHead;
use crate::proto::ws::deflate::codec::DEFLATER_HEAP;
use crate::proto::ws::deflate::{Deflater, params};
use crate::proto::ws::handshake;
use crate::proto::ws::session::{self as ws, Role, Session};
use crate::service::Shared;
use crate::trace::{self, Layer};

/// A WebSocket connection's state. Boxed by its owner: most of a server's
/// connections are either all WebSocket or none, and the box keeps HTTP-only
/// connections small.
pub struct WsConn {
    session: Session,
    pub app: App,
    /// What `/random` still owes its client.
    owed: Owed,
    /// We sent Close (shutdown, idle): drop the connection if no reply by then.
    close_deadline: Option<Millis>,
    /// A keepalive ping is out and no data has come since.
    ping_outstanding: bool,
    /// Frames of the message being received so far (for the trace).
    fragments: u16,
    /// permessage-deflate was negotiated: the window (bits) our messages may use.
    deflate: Option<u8>,
    /// Context takeover on our side (`--ws-deflate-context`): `own_deflater` keeps
    /// the history of what we sent, made at the first long message.
    send_context: bool,
    own_deflater: Option<Box<Deflater>>,
}

/// Validates the handshake and, if it is acceptable, writes the 101 and gives the
/// new WebSocket; otherwise writes the refusal (the connection then closes).
pub fn upgrade(
    req: &RequestHead,
    app: App,
    shared: &mut Shared,
    out: &mut Vec<u8>,
) -> Option<Box<WsConn>> {
    let protocols: Vec<&str> = shared.web.protocols.iter().map(String::as_str).collect();
    let mut up = match handshake::validate_upgrade(req, &protocols) {
        Ok(up) => up,
        Err(err) => {
            crate::debug!("WebSocket handshake refused: {err}");
            handshake::write_rejection(out, &err);
            return None;
        }
    };
    if let Some(origin) = &up.origin {
        let allowed = &shared.web.allow_origins;
        if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
            crate::debug!("WebSocket from origin {origin} refused (--allow-origin)");
            pages::error_page(out, 403, &format!("origin {origin} is not allowed here\n"));
            return None;
        }
    }
    let offers = http::header_values(&req.headers, "sec-websocket-extensions");
    let agreed = match shared.web.deflate {
        Some(policy) => params::accept(offers, policy).map(|(agreed, answer)| {
            up.extensions = Some(answer);
            agreed
        }),
        None => None,
    };
    handshake::write_upgrade_response(out, &up);
    // The handshake's strings go before the connection's state is made, so that
    // they leave no hole beside it (measured: 32 bytes per idle connection).
    drop(up);
    let compressed = if agreed.is_some() { ", compressed" } else { "" };
    crate::debug!(
        "WebSocket open on {} ({}{compressed})",
        req.path(),
        app.name()
    );
    let limits = ws::Limits {
        max_message: shared.web.max_message,
    };
    let mut session = Session::new(Role::Server, limits);
    session.set_trace(trace::on(Layer::Ws));
    if let Some(agreed) = &agreed {
        session.enable_deflate(agreed.receive_context_takeover);
    }
    Some(Box::new(WsConn {
        deflate: agreed.map(|a| a.send_window_bits),
        send_context: agreed.is_some_and(|a| a.send_context_takeover),
        own_deflater: None,
        fragments: 0,
        session,
        app,
        owed: None,
        close_deadline: None,
        ping_outstanding: false,
    }))
}

impl WsConn {
    /// Feeds frames until `input` is used up or `out` reaches `budget`: (bytes used,
    /// after), `Close` once the close handshake is complete or the peer broke the
    /// protocol (the session has queued the Close frame to send). The caller traces
    /// the frames sent, after what this says.
    pub fn feed(
        &mut self,
        input: &mut [u8],
        shared: &mut Shared,
        out: &mut Vec<u8>,
        budget: usize,
    ) -> (usize, After) {
        self.ping_outstanding = false;
        let mut handler = AppHandler::new(self.app, &mut self.owed, shared, &mut self.fragments)
            .after_our_close(self.session.close_sent())
            .sending(sender(
                self.deflate,
                self.send_context,
                &mut self.own_deflater,
            ));
        let fed = self.session.feed_within(input, out, budget, &mut handler);
        if handler.quit {
            let wait = shared.now.after(shared.web.close_timeout);
            self.close(1000, "bye", Some(wait), shared, out);
        }
        let used = match fed {
            Ok(used) => used,
            Err(err) => {
                crate::debug!("WebSocket closed: {err}");
                shared.metrics.close_sent(err.code);
                crate::trace!(
                    Layer::Ws,
                    "ws > protocol error: {} (answered with close {})",
                    err.reason,
                    err.code
                );
                return (input.len(), After::Close);
            }
        };
        if self.session.is_closed() {
            return (input.len(), After::Close);
        }
        (used, After::Continue)
    }

    /// Heap bytes held for the peer: an unfinished message, the app's queue, and with
    /// context takeover the kept inflater and deflater.
    pub fn heap_bytes(&self) -> usize {
        let deflater = self
            .own_deflater
            .as_ref()
            .map_or(0, |d| DEFLATER_HEAP + d.heap_bytes());
        self.session.heap_capacity() + apps::owed_heap_bytes(&self.owed) + deflater
    }

    /// The WebSocket is open (the 101 is in `out`): the app's greeting, if any.
    pub fn on_open(&mut self, shared: &mut Shared, out: &mut Vec<u8>) {
        let mut sender = sender(self.deflate, self.send_context, &mut self.own_deflater);
        traced(out, |out| self.app.on_open(shared, &mut sender, out));
    }

    /// The hub this connection takes fan-out from, while it takes messages (not once
    /// a Close has gone either way).
    pub fn fanout(&self) -> Option<crate::service::fanout::HubKind> {
        let open = !self.session.close_sent() && !self.session.close_received();
        self.app.hub().filter(|_| open)
    }

    /// One text message from the server (a notice).
    pub fn write_text(&mut self, text: &[u8], shared: &mut Shared, out: &mut Vec<u8>) {
        let mut sender = sender(self.deflate, self.send_context, &mut self.own_deflater);
        traced(out, |out| {
            super::apps::write_message(
                shared,
                &mut sender,
                out,
                crate::proto::ws::frame::Opcode::Text,
                text,
            )
        });
    }

    /// True while the app still has output to produce (random numbers owed).
    pub fn has_pending_output(&self) -> bool {
        self.owed.is_some()
    }

    /// Writes what the app owes (random numbers) until `out` reaches `budget`.
    pub fn produce(&mut self, shared: &mut Shared, out: &mut Vec<u8>, budget: usize) {
        let mut sender = sender(self.deflate, self.send_context, &mut self.own_deflater);
        traced(out, |out| {
            apps::produce(&mut self.owed, shared, &mut sender, out, budget)
        });
    }

    /// The peer finished sending. A WebSocket peer should have sent Close first.
    pub fn on_eof(&self) {
        if !self.session.close_received() {
            crate::debug!("WebSocket peer closed TCP without a Close frame (1006)");
        }
    }

    /// The next keepalive or close deadline, given when the connection was last active.
    pub fn deadline(&self, last_active: Millis, shared: &Shared) -> Option<Millis> {
        let ping = match (shared.web.ping_interval, self.ping_outstanding) {
            (Some(every), false) => Some(last_active.after(every)),
            _ => None,
        };
        match (self.close_deadline, ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A deadline passed: give up on a peer that did not answer our Close, or ping a
    /// quiet one.
    pub fn on_timer(
        &mut self,
        last_active: Millis,
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) -> After {
        let now = shared.now;
        if self.close_deadline.is_some_and(|d| d <= now) {
            crate::debug!("WebSocket peer did not answer our Close: dropping");
            return After::Close;
        }
        let ping_due = shared
            .web
            .ping_interval
            .is_some_and(|every| last_active.after(every) <= now);
        if ping_due && !self.ping_outstanding {
            self.ping_outstanding = true;
            let mut handler =
                AppHandler::new(self.app, &mut self.owed, shared, &mut self.fragments);
            traced(out, |out| {
                self.session.send_ping(b"sockloop", out, &mut handler)
            });
        }
        After::Continue
    }

    /// Sends Close with `code` and `reason` (once); with `wait`, the peer has until
    /// then to answer before the connection is dropped.
    pub fn close(
        &mut self,
        code: u16,
        reason: &str,
        wait: Option<Millis>,
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) {
        if self.session.close_sent() {
            return;
        }
        shared.metrics.close_sent(code);
        let mut handler = AppHandler::new(self.app, &mut self.owed, shared, &mut self.fragments);
        traced(out, |out| {
            self.session.send_close(code, reason, out, &mut handler)
        });
        if wait.is_some() {
            self.close_deadline = wait;
        }
    }
}

/// How a connection's messages go out, from what its handshake agreed.
fn sender(deflate: Option<u8>, context: bool, own: &mut Option<Box<Deflater>>) -> Sender<'_> {
    match deflate {
        None => Sender::Plain,
        Some(_) if context => Sender::Own(own),
        Some(window_bits) => Sender::Shared { window_bits },
    }
}

/// Runs `write`, then traces every WebSocket frame it appended to `out`.
pub(super) fn traced<R>(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mark = out.len();
    let result = write(out);
    if trace::on(Layer::Ws) {
        trace::sent_frames(out.get(mark..).unwrap_or_default());
    }
    result
}

#[cfg(test)]
mod tests {
    /// Every open WebSocket holds one of these on the heap: at 104 bytes or less it
    /// takes malloc's 112-byte chunk, 16 bytes less than the next (measured with
    /// `sockloop bench idle`: 257 bytes per idle WebSocket at 120 bytes, 242 at 104).
    #[test]
    fn an_open_websocket_fits_a_small_chunk() {
        let size = std::mem::size_of::<super::WsConn>();
        assert!(size <= 104, "{size}");
    }
}
