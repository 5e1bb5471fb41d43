//! Stream (TCP and Unix) sessions: per-connection service state, and the line
//! handling shared by the line services (counter, random, cmd).
//!
//! The connection's partial-line buffer is owned by the loop and lent here, so this
//! file decides what to keep without holding any socket.

use super::{ServerEnv, Service, Shared};
use crate::proto::command::{self, After};
use crate::proto::line::{LineSplitter, Step, StopDetector};
use std::io::Write;

/// One connection's service state: a few bytes, no heap.
#[derive(Clone, Copy, Debug)]
pub struct StreamSession {
    service: Service,
    state: State,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Echo(StopDetector),
    Lines(LineSplitter),
    Done,
}

impl StreamSession {
    pub fn new(service: Service, max_line: usize) -> Self {
        let state = match service {
            Service::Echo => State::Echo(StopDetector::default()),
            Service::Daytime => State::Done,
            Service::Counter | Service::Random | Service::Cmd => {
                State::Lines(LineSplitter::new(max_line))
            }
        };
        Self { service, state }
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// A connection was accepted: daytime talks first and hangs up.
    pub fn on_open(&mut self, shared: &mut Shared, out: &mut Vec<u8>) -> After {
        if self.service == Service::Daytime {
            shared.requests += 1;
            let mut env = ServerEnv::new(shared);
            command::answer(&command::Request::Time, &mut env, out);
            out.push(b'\n');
            return After::Close;
        }
        After::Continue
    }

    /// Bytes arrived. `pending` is the connection's unfinished line (empty for echo).
    /// Replies go to `out`; `Close` means: send what is in `out`, then hang up (any
    /// input after the closing request is not served).
    pub fn on_data(
        &mut self,
        pending: &mut Vec<u8>,
        data: &[u8],
        shared: &mut Shared,
        out: &mut Vec<u8>,
    ) -> After {
        match &mut self.state {
            State::Echo(stop) => match stop.scan(data) {
                Some(end) => {
                    out.extend_from_slice(data.get(..end).unwrap_or(data));
                    After::Close
                }
                None => {
                    out.extend_from_slice(data);
                    After::Continue
                }
            },
            State::Lines(splitter) => {
                let service = self.service;
                feed_lines(splitter, pending, data, out, |line, out| {
                    answer_line(service, line, shared, out)
                })
            }
            // Daytime has said all it will; further input is ignored.
            State::Done => After::Continue,
        }
    }

    /// The peer finished sending: an unterminated last line is still a request.
    pub fn on_eof(&mut self, pending: &mut Vec<u8>, shared: &mut Shared, out: &mut Vec<u8>) {
        if let State::Lines(splitter) = &mut self.state {
            if let Some(len) = splitter.finish(pending) {
                let line = pending.get(..len).unwrap_or(pending);
                let _ = answer_line(self.service, Some(line), shared, out);
            }
            *pending = Vec::new();
        }
    }

    /// The connection was quiet for too long: line services say why they hang up.
    pub fn on_idle_timeout(&self, idle_secs: u64, out: &mut Vec<u8>) {
        if matches!(self.state, State::Lines(_)) {
            let _ = writeln!(out, "ERR idle for {idle_secs} s; closing");
        }
    }
}

/// Splits `data` (after what `pending` holds) into lines and answers each with
/// `on_line` (`None` stands for an over-long line). Only an unfinished tail is kept in
/// `pending`, and the buffer is released once it is empty, so an idle connection
/// holds no heap.
fn feed_lines(
    splitter: &mut LineSplitter,
    pending: &mut Vec<u8>,
    data: &[u8],
    out: &mut Vec<u8>,
    mut on_line: impl FnMut(Option<&[u8]>, &mut Vec<u8>) -> After,
) -> After {
    let mut run = |buf: &[u8], out: &mut Vec<u8>| -> (usize, After) {
        let mut pos = 0;
        loop {
            let rest = buf.get(pos..).unwrap_or(&[]);
            match splitter.next(rest) {
                Step::Line { len, consumed } => {
                    pos += consumed;
                    if on_line(rest.get(..len), out) == After::Close {
                        return (pos, After::Close);
                    }
                }
                Step::TooLong { consumed } => {
                    pos += consumed;
                    let _ = on_line(None, out);
                }
                Step::Skip { consumed } => pos += consumed,
                Step::NeedMore => return (pos, After::Continue),
            }
        }
    };
    if pending.is_empty() {
        let (used, after) = run(data, out);
        if after == After::Continue {
            pending.extend_from_slice(data.get(used..).unwrap_or(&[]));
        }
        after
    } else {
        pending.extend_from_slice(data);
        let (used, after) = run(pending, out);
        if after == After::Close || used >= pending.len() {
            *pending = Vec::new();
        } else {
            pending.drain(..used);
        }
        after
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
        Service::Echo | Service::Daytime => After::Continue,
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
