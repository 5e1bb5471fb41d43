//! Stream (TCP and Unix) sessions: per-connection service state, and the line
//! handling shared by the line services (counter, random, cmd).
//!
//! The connection's partial-line buffer is owned by the loop and lent here, so this
//! file decides what to keep without holding any socket.

use super::fanout::{Format, HubKind};
use super::rooms::{self, Replies};
use super::web::WebConn;
use super::{Next, ServerEnv, Service, Shared};
use crate::clock::Millis;
use crate::proto::command::{self, After};
use crate::proto::line::{self, LineSplitter, StopDetector};
use crate::trace::{self, Layer, Quoted};
use std::io::Write;
use std::time::Duration;

/// One connection's service state. Line services need a few bytes; a WebSocket
/// keeps its session in a box.
pub struct StreamSession {
    service: Service,
    state: State,
}

enum State {
    Echo(StopDetector),
    Lines(LineSplitter),
    /// A chat or pub/sub connection (its publish rate is kept in `Shared::rates`,
    /// for those that publish).
    Chat(LineSplitter),
    PubSub(LineSplitter),
    Web(WebConn),
    Done,
}

impl StreamSession {
    /// A new connection's session; `shared.now` is when it was accepted.
    pub fn new(service: Service, shared: &Shared) -> Self {
        let state = match service {
            Service::Echo => State::Echo(StopDetector::default()),
            Service::Daytime => State::Done,
            Service::Counter | Service::Random | Service::Cmd => {
                State::Lines(LineSplitter::new(shared.max_line))
            }
            Service::Web => State::Web(WebConn::new(shared)),
            Service::Chat => State::Chat(LineSplitter::new(shared.max_line)),
            Service::PubSub => State::PubSub(LineSplitter::new(shared.max_line)),
        };
        Self { service, state }
    }

    /// An upgraded WebSocket (a hand-over closes these with 1001 and lets the rest
    /// finish).
    pub fn is_websocket(&self) -> bool {
        matches!(&self.state, State::Web(web) if web.is_websocket())
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// A connection was accepted: daytime talks first and hangs up.
    pub fn on_open(&mut self, shared: &mut Shared, out: &mut Vec<u8>) -> Next {
        if self.service == Service::Chat {
            let mut replies = Replies::new();
            rooms::chat_arrive(shared, &mut replies);
            write_lines(&replies, out);
        }
        if self.service == Service::Daytime {
            shared.requests += 1;
            let mut env = ServerEnv::new(shared);
            command::answer(&command::Request::Time, &mut env, out);
            out.push(b'\n');
            return Next::Close;
        }
        Next::Continue
    }

    /// Bytes arrived (`data` may be empty: then the backlog in `pending` is served).
    /// `pending` is the connection's unfinished input. Replies go to `out`, and once
    /// `out` holds `budget` bytes the rest of the input waits in `pending` and the
    /// answer is [`Next::Backlog`]: a small request must not be able to make the server
    /// queue unbounded output. `data` is mutable so a WebSocket can unmask payloads in
    /// place.
    pub fn on_data(
        &mut self,
        pending: &mut Vec<u8>,
        data: &mut [u8],
        shared: &mut Shared,
        out: &mut Vec<u8>,
        budget: usize,
    ) -> Next {
        let service = self.service;
        let (after, stopped) = match &mut self.state {
            State::Echo(stop) => {
                // Echo cannot amplify: its output is never larger than its input.
                let after = match stop.scan(data) {
                    Some(end) => {
                        out.extend_from_slice(data.get(..end).unwrap_or(data));
                        After::Close
                    }
                    None => {
                        out.extend_from_slice(data);
                        After::Continue
                    }
                };
                (after, false)
            }
            State::Lines(splitter) => {
                let step = |buf: &mut [u8], out: &mut Vec<u8>| {
                    split_lines(splitter, buf, out, budget, |line, out| {
                        answer_line(service, line, shared, out)
                    })
                };
                with_pending(pending, data, out, step)
            }
            State::Chat(splitter) => {
                let step = |buf: &mut [u8], out: &mut Vec<u8>| {
                    split_lines(splitter, buf, out, budget, |line, out| {
                        chat_line(line, shared, out)
                    })
                };
                with_pending(pending, data, out, step)
            }
            State::PubSub(splitter) => {
                let step = |buf: &mut [u8], out: &mut Vec<u8>| {
                    split_lines(splitter, buf, out, budget, |line, out| {
                        pubsub_line(line, shared, out)
                    })
                };
                with_pending(pending, data, out, step)
            }
            State::Web(web) => {
                let step = |buf: &mut [u8], out: &mut Vec<u8>| {
                    let (used, after) = web.process(buf, shared, out, budget);
                    let stopped = after == After::Continue
                        && (web.has_pending_output() || (used < buf.len() && out.len() >= budget));
                    (used, after, stopped)
                };
                with_pending(pending, data, out, step)
            }
            // Daytime has said all it will; further input is ignored.
            State::Done => (After::Continue, false),
        };
        if after == After::Close {
            return Next::Close;
        }
        if stopped {
            crate::trace!(
                Layer::Loop,
                "output budget reached ({} bytes queued); {} bytes of input wait until the client reads",
                out.len(),
                pending.len()
            );
            return Next::Backlog;
        }
        Next::Continue
    }

    /// Heap bytes the session holds for its peer besides the loop's input and output
    /// buffers (a WebSocket's unfinished message), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        match &self.state {
            State::Web(web) => web.heap_bytes(),
            _ => 0,
        }
    }

    /// The memory budget has no room for what this connection asked for: its
    /// protocol's busy answer, before the loop closes it.
    pub fn on_memory_shed(&mut self, shared: &mut Shared, out: &mut Vec<u8>) {
        match &mut self.state {
            State::Lines(_) | State::Chat(..) | State::PubSub(..) => {
                out.extend_from_slice(b"ERR server out of memory; try again later\n");
            }
            State::Web(web) => web.on_memory_shed(shared, out),
            // An echo stream has no place for a message of ours: it is just closed.
            State::Echo(_) | State::Done => {}
        }
        self.state = State::Done;
    }

    /// The peer finished sending: an unterminated last line is still a request.
    pub fn on_eof(&mut self, pending: &mut Vec<u8>, shared: &mut Shared, out: &mut Vec<u8>) {
        match &mut self.state {
            State::Lines(splitter) => {
                if let Some(len) = splitter.finish(pending) {
                    let line = pending.get(..len).unwrap_or(pending);
                    let _ = answer_line(self.service, Some(line), shared, out);
                }
            }
            State::Chat(splitter) => {
                if let Some(len) = splitter.finish(pending) {
                    let line = pending.get(..len).unwrap_or(pending);
                    let _ = chat_line(Some(line), shared, out);
                }
            }
            State::PubSub(splitter) => {
                if let Some(len) = splitter.finish(pending) {
                    let line = pending.get(..len).unwrap_or(pending);
                    let _ = pubsub_line(Some(line), shared, out);
                }
            }
            State::Web(web) => web.on_eof(),
            _ => {}
        }
        *pending = Vec::new();
    }

    /// When this session next needs the timer (besides the loop's idle timeout).
    pub fn deadline(&self, last_active: Millis, shared: &Shared) -> Option<Millis> {
        match &self.state {
            State::Web(web) => web.deadline(last_active, shared),
            _ => None,
        }
    }

    /// How this connection receives what rooms and topics fan out, and from which
    /// hub; `None` when it is not a chat or pub/sub connection (or no longer takes
    /// messages: a WebSocket that is closing).
    pub fn fanout(&self) -> Option<(Format, HubKind)> {
        match &self.state {
            State::Chat(..) => Some((Format::Line, HubKind::Chat)),
            State::PubSub(..) => Some((Format::Line, HubKind::PubSub)),
            State::Web(web) => web.fanout().map(|kind| (Format::Ws, kind)),
            _ => None,
        }
    }

    /// Tells a subscriber that caught up how many messages it missed.
    pub fn write_missed(&mut self, n: u64, shared: &mut Shared, out: &mut Vec<u8>) {
        let Some((_, kind)) = self.fanout() else {
            return;
        };
        let notice = rooms::missed_notice(kind, n);
        match &mut self.state {
            State::Web(web) => web.write_text(notice.as_bytes(), shared, out),
            _ => write_lines(&[notice], out),
        }
    }

    /// The session's deadline passed.
    pub fn on_timer(
        &mut self,
        last_active: Millis,
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) -> Next {
        match &mut self.state {
            State::Web(web) => Next::from(web.on_timer(last_active, shared, out)),
            _ => Next::Continue,
        }
    }

    /// The connection was quiet for too long: say why before hanging up.
    pub fn on_idle_timeout(&mut self, idle: Duration, shared: &mut Shared, out: &mut Vec<u8>) {
        match &mut self.state {
            State::Lines(_) | State::Chat(..) | State::PubSub(..) => {
                // Duration's f64 prints 120 as "120" and 0.5 as "0.5".
                let _ = writeln!(out, "ERR idle for {} s; closing", idle.as_secs_f64());
            }
            State::Web(web) => web.on_idle_timeout(shared, out),
            _ => {}
        }
    }

    /// The server is shutting down: `Close` to hang up once output is flushed, or
    /// `Continue` while a closing handshake (WebSocket 1001) is under way.
    pub fn on_shutdown(&mut self, shared: &mut Shared, out: &mut Vec<u8>) -> Next {
        match &mut self.state {
            State::Web(web) => Next::from(web.on_shutdown(shared, out)),
            _ => Next::Close,
        }
    }
}

/// Runs `step` over the input: straight over `data` when nothing is pending (the
/// common case: no copy), otherwise over `pending` + `data`. What `step` did not use
/// is kept in `pending`, whose memory is released once it is empty.
/// `step` is one pass of a session over its input, returning (bytes used, what next,
/// stopped early because the output budget ran out).
fn with_pending(
    pending: &mut Vec<u8>,
    data: &mut [u8],
    out: &mut Vec<u8>,
    mut step: impl FnMut(&mut [u8], &mut Vec<u8>) -> (usize, After, bool),
) -> (After, bool) {
    if pending.is_empty() {
        let (used, after, stopped) = step(data, out);
        if after == After::Continue {
            pending.extend_from_slice(data.get(used..).unwrap_or(&[]));
        }
        (after, stopped)
    } else {
        pending.extend_from_slice(data);
        let (used, after, stopped) = step(pending, out);
        if after == After::Close || used >= pending.len() {
            *pending = Vec::new();
        } else {
            pending.drain(..used);
        }
        (after, stopped)
    }
}

/// Answers the lines at the front of `buf` with `on_line` (`None` stands for an
/// over-long line) until `buf` has no complete line left, a request closes the
/// connection, or `out` reaches `budget`. Returns (bytes used, after, stopped early).
fn split_lines(
    splitter: &mut LineSplitter,
    buf: &[u8],
    out: &mut Vec<u8>,
    budget: usize,
    mut on_line: impl FnMut(Option<&[u8]>, &mut Vec<u8>) -> After,
) -> (usize, After, bool) {
    let mut pos = 0;
    loop {
        if out.len() >= budget && pos < buf.len() {
            return (pos, After::Continue, true);
        }
        let rest = buf.get(pos..).unwrap_or(&[]);
        match splitter.next(rest) {
            line::Step::Line { len, consumed } => {
                pos += consumed;
                if on_line(rest.get(..len), out) == After::Close {
                    return (pos, After::Close, false);
                }
            }
            line::Step::TooLong { consumed } => {
                pos += consumed;
                let _ = on_line(None, out);
            }
            line::Step::Skip { consumed } => pos += consumed,
            line::Step::NeedMore => return (pos, After::Continue, false),
        }
    }
}

/// One line of a line service. `None` is a line over `--max-line`.
fn answer_line(
    service: Service,
    line: Option<&[u8]>,
    shared: &mut Shared,
    out: &mut Vec<u8>,
) -> After {
    shared.requests += 1;
    let mark = out.len();
    let after = answer_line_inner(service, line, shared, out);
    trace_lines(line, out, mark);
    after
}

/// `--trace=line`: the request line, and each reply line written after `mark`.
fn trace_lines(line: Option<&[u8]>, out: &[u8], mark: usize) {
    if !trace::on(Layer::Line) {
        return;
    }
    match line {
        Some(line) => crate::trace!(Layer::Line, "line > {}", Quoted(line)),
        None => crate::trace!(Layer::Line, "line > (over --max-line, skipped)"),
    }
    for reply in out
        .get(mark..)
        .unwrap_or_default()
        .split_inclusive(|&b| b == b'\n')
    {
        crate::trace!(
            Layer::Line,
            "line < {}",
            Quoted(reply.strip_suffix(b"\n").unwrap_or(reply))
        );
    }
}

fn answer_line_inner(
    service: Service,
    line: Option<&[u8]>,
    shared: &mut Shared,
    out: &mut Vec<u8>,
) -> After {
    let Some(line) = line else {
        write_too_long(shared.max_line, out);
        out.push(b'\n');
        return After::Continue;
    };
    // The classic counter and random servers hang up on STOP without a reply.
    let is_stop = line.trim_ascii() == b"STOP";
    match service {
        Service::Cmd => command::respond(line, &mut ServerEnv::new(shared), out),
        Service::Counter | Service::Random if is_stop => After::Close,
        Service::Counter => {
            let _ = writeln!(out, "Client number: {}", shared.conns_total);
            After::Continue
        }
        Service::Random => {
            random_reply(line, &mut ServerEnv::new(shared), out);
            out.push(b'\n');
            After::Continue
        }
        Service::Echo | Service::Daytime | Service::Web | Service::Chat | Service::PubSub => {
            After::Continue
        }
    }
}

/// One chat line (`None`: over `--max-line`); replies, one line each, to `out`.
fn chat_line(line: Option<&[u8]>, shared: &mut Shared, out: &mut Vec<u8>) -> After {
    let mark = out.len();
    let mut replies = Replies::new();
    let after = match line {
        Some(line) => rooms::chat_line(shared, line, &mut replies),
        None => {
            replies.push(format!(
                "* error: line too long (max {} bytes)",
                shared.max_line
            ));
            After::Continue
        }
    };
    write_lines(&replies, out);
    trace_lines(line, out, mark);
    after
}

/// One pub/sub request line (`None`: over `--max-line`); its reply line to `out`.
fn pubsub_line(line: Option<&[u8]>, shared: &mut Shared, out: &mut Vec<u8>) -> After {
    let mark = out.len();
    let published = shared.outbox.len();
    match line {
        Some(line) => rooms::pubsub_line(shared, line, out),
        None => write_too_long(shared.max_line, out),
    }
    out.push(b'\n');
    rooms::copy_own(shared, published, Format::Line, out);
    trace_lines(line, out, mark);
    After::Continue
}

fn write_lines(lines: &[String], out: &mut Vec<u8>) {
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}

/// The random service's answer (no newline): a number, or `ERR` for `MIN > MAX`.
pub(super) fn random_reply(request: &[u8], env: &mut ServerEnv<'_>, out: &mut Vec<u8>) {
    use crate::proto::command::Env;
    match command::parse_range_request(request) {
        Ok((min, max)) => {
            let _ = write!(out, "{}", env.random(min, max));
        }
        Err(err) => command::write_error(&err, out),
    }
}

pub(super) fn write_too_long(max_line: usize, out: &mut Vec<u8>) {
    let _ = write!(out, "ERR line too long (max {max_line} bytes)");
}
