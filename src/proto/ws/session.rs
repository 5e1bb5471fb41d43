//! A sans-I/O WebSocket session, for either end of a connection: it turns received bytes
//! into messages and control events, answers pings and closes, and enforces the rules
//! of RFC 6455 §5.1 (masking), §5.2 (RSV bits, opcodes), §5.4 (fragmentation), §5.5
//! (control frames), §5.6 and §8.1 (UTF-8 in text), §7 (closing handshake) and §7.4
//! (close codes).
//!
//! [`Session::feed`] always consumes everything it is given. A partial header waits in a
//! 14-byte inline array, a partial message in the session's own buffer, so the caller can
//! hand over a slice of one shared read buffer and keep nothing. Payloads are unmasked in
//! place; a message that arrives as one frame wholly inside the input is delivered
//! borrowed from the input, without a copy. The buffer is freed (not just cleared) when a
//! message has been delivered, so an idle session owns no heap at all.
//!
//! Errors follow §7.1.7, "Fail the WebSocket Connection": the session queues a Close
//! frame with the status code (1002 protocol error, 1007 bad UTF-8, 1009 too big),
//! ignores all further input and returns the error; the caller flushes its output and
//! closes the TCP connection. Text is checked while it arrives, byte by byte, so an
//! invalid byte fails the connection before the rest of its frame is even sent.
//!
//! After our Close has been sent, incoming frames are still parsed (their errors still
//! end the connection) but no messages, pings or pongs are delivered or answered, since
//! nothing but the closing handshake may follow our Close (§5.5.1).

use std::fmt;

use super::super::Parsed;
use super::codes::is_valid_close_code;
use super::frame::{self, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, Opcode};
use super::utf8::Utf8Validator;
use message_buf::MessageBuf;

mod message_buf;

/// Most a frame's announced length makes the session reserve ahead of its bytes.
const RESERVE_CAP: usize = 256 * 1024;

/// Which end we are: servers receive masked frames, clients send them (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, summed over its fragments; more is refused with 1009.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 << 20,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Binary,
}

impl MessageKind {
    /// The opcode that starts a message of this kind (to send a reply, for example).
    pub fn opcode(self) -> Opcode {
        match self {
            MessageKind::Text => Opcode::Text,
            MessageKind::Binary => Opcode::Binary,
        }
    }
}

/// What the session tells its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole message, reassembled and unmasked; text has been checked to be UTF-8.
    Message {
        kind: MessageKind,
        data: &'a [u8],
    },
    /// The peer's ping; the pong is already queued.
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// The peer's Close; our reply Close is already queued if we had not sent one. Do not
    /// write more frames after this.
    Close {
        code: Option<u16>,
        reason: &'a str,
    },
    /// Every frame header as it is parsed, before it is checked; only with
    /// [`Session::set_trace`].
    Frame(&'a FrameHeader),
    /// Payload bytes of the current frame as they arrive, unmasked, starting at
    /// `offset` within the frame; only with [`Session::set_trace`].
    Payload {
        offset: u64,
        data: &'a [u8],
    },
}

/// Receives a session's events; may append frames of its own to `out`.
pub trait Handler {
    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>);

    /// Client role: an unpredictable masking key for each frame the session sends (pong,
    /// close). A client must override this (§5.3); the server role never calls it.
    fn mask_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}

/// A protocol violation by the peer, with the close code that was sent for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionError {
    pub code: u16,
    pub reason: &'static str,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WebSocket peer broke the protocol ({}): {}",
            self.code, self.reason
        )
    }
}

impl std::error::Error for SessionError {}

fn violation(code: u16, reason: &'static str) -> SessionError {
    SessionError { code, reason }
}

/// A malformed header is answered with the close its error calls for.
impl From<frame::FrameError> for SessionError {
    fn from(e: frame::FrameError) -> Self {
        violation(e.close_code(), e.reason())
    }
}

pub struct Session {
    /// The message assembled so far; while a control frame arrives in pieces, its
    /// payload follows the message part, and is cut off again when it is complete.
    buf: MessageBuf,
    limits: Limits,
    /// The frame whose payload is arriving (valid while `in_payload`).
    frame: FrameHeader,
    /// Payload bytes of `frame` still to come.
    remaining: u64,
    /// Checks the text message in progress across frames and reads.
    utf8: Utf8Validator,
    /// A header that has partly arrived.
    head: [u8; MAX_HEADER_LEN],
    head_len: u8,
    role: Role,
    /// The kind of the message in progress, from its first frame until its last.
    message: Option<MessageKind>,
    in_payload: bool,
    close_sent: bool,
    close_received: bool,
    failed: bool,
    trace: bool,
}

impl Session {
    pub fn new(role: Role, limits: Limits) -> Self {
        Session {
            buf: MessageBuf::default(),
            limits,
            frame: FrameHeader {
                fin: true,
                rsv: 0,
                opcode: Opcode::Binary,
                mask: None,
                payload_len: 0,
            },
            remaining: 0,
            utf8: Utf8Validator::default(),
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            role,
            message: None,
            in_payload: false,
            close_sent: false,
            close_received: false,
            failed: false,
            trace: false,
        }
    }

    /// Process bytes just read; all of `input` is consumed. Payloads are unmasked in
    /// place. On a protocol violation, a Close with the matching code is queued in `out`
    /// and the error returned; input after that (or after the peer's Close) is ignored.
    pub fn feed(
        &mut self,
        input: &mut [u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        let mut rest = input;
        while !rest.is_empty() && !self.failed && !self.close_received {
            let step = if self.in_payload {
                self.read_payload(rest, out, handler)
            } else {
                self.read_header(rest, out, handler)
            };
            match step {
                Ok(tail) => rest = tail,
                Err(e) => {
                    self.fail(e, out, handler);
                    return Err(e);
                }
            }
        }
        if self.close_received {
            // An unfinished message can never be completed now.
            self.release();
        }
        Ok(())
    }

    /// Start the closing handshake (e.g. 1001 on shutdown). A code that may not be sent
    /// (§7.4) gives a Close without a status; the reason is cut to fit 123 bytes. Does
    /// nothing if our Close was already sent.
    pub fn send_close(
        &mut self,
        code: u16,
        reason: &str,
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) {
        if !self.close_sent {
            let code = is_valid_close_code(code).then_some(code);
            self.write_close(code, reason, out, handler);
        }
    }

    /// Queue a ping (payload cut to 125 bytes). Does nothing once our Close is sent.
    pub fn send_ping(&mut self, payload: &[u8], out: &mut Vec<u8>, handler: &mut impl Handler) {
        if !self.close_sent {
            let payload = payload.get(..MAX_CONTROL_PAYLOAD).unwrap_or(payload);
            let mask = self.out_mask(handler);
            frame::write_frame(out, true, Opcode::Ping, payload, mask);
        }
    }

    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    pub fn close_received(&self) -> bool {
        self.close_received
    }

    /// Both Close frames have been exchanged: the TCP connection can be closed.
    pub fn is_closed(&self) -> bool {
        self.close_sent && self.close_received
    }

    /// The peer broke the protocol; our Close is queued and input is ignored.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Bytes held for a partial header or message.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() + usize::from(self.head_len)
    }

    /// Heap bytes the session owns (0 when idle).
    pub fn heap_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Emit [`Event::Frame`] for every header parsed from now on.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    /// Collect header bytes; once the header is whole, start its frame.
    fn read_header<'i>(
        &mut self,
        rest: &'i mut [u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<&'i mut [u8], SessionError> {
        if self.head_len == 0 {
            // The usual case: the whole header is at the front of the input. Parse it
            // where it is; only a header cut by the end of a read is copied aside.
            if let Parsed::Complete { value, consumed } = frame::parse_header(rest)? {
                let rest = advance(rest, consumed);
                return self.start_frame(value, rest, out, handler);
            }
        }
        // Copy as much as a header can need; what turns out to be payload stays in
        // `rest` too, so only the header's share is consumed below.
        let have = usize::from(self.head_len);
        let take = rest.len().min(MAX_HEADER_LEN.saturating_sub(have));
        let filled = have + take;
        if let (Some(dst), Some(src)) = (self.head.get_mut(have..filled), rest.get(..take)) {
            dst.copy_from_slice(src);
        }
        match frame::parse_header(self.head.get(..filled).unwrap_or_default())? {
            Parsed::Incomplete => {
                self.head_len = filled as u8;
                Ok(advance(rest, take))
            }
            Parsed::Complete { value, consumed } => {
                self.head_len = 0;
                let rest = advance(rest, consumed.saturating_sub(have));
                self.start_frame(value, rest, out, handler)
            }
        }
    }

    /// Check a header against the connection's state, then read what is here of its
    /// payload (possibly nothing: a zero-length frame completes right away).
    fn start_frame<'i>(
        &mut self,
        h: FrameHeader,
        rest: &'i mut [u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<&'i mut [u8], SessionError> {
        if self.trace {
            handler.on_event(Event::Frame(&h), out);
        }
        if h.rsv != 0 {
            return Err(violation(
                1002,
                "RSV bits set, but no extension was negotiated",
            ));
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(violation(1002, "client frame not masked")),
            (Role::Client, true) => return Err(violation(1002, "server frame masked")),
            _ => {}
        }
        if !h.opcode.is_control() {
            self.start_data_frame(&h)?;
        }
        self.frame = h;
        self.remaining = h.payload_len;
        self.in_payload = true;
        self.read_payload(rest, out, handler)
    }

    /// Fragmentation rules (§5.4) and the size limit, decided from the header alone.
    fn start_data_frame(&mut self, h: &FrameHeader) -> Result<(), SessionError> {
        let starts = match h.opcode {
            Opcode::Text => Some(MessageKind::Text),
            Opcode::Binary => Some(MessageKind::Binary),
            _ => None,
        };
        let kind = match (starts, self.message) {
            (Some(kind), None) => {
                self.utf8.reset();
                kind
            }
            (None, Some(kind)) => kind,
            (None, None) => return Err(violation(1002, "continuation frame with no message")),
            (Some(_), Some(_)) => {
                return Err(violation(1002, "new message inside a fragmented one"));
            }
        };
        // At a frame boundary `buf` holds exactly the message so far.
        let so_far = self.buf.len() as u64;
        if so_far.saturating_add(h.payload_len) > self.limits.max_message as u64 {
            return Err(violation(1009, "message too big"));
        }
        self.message = Some(kind);
        Ok(())
    }

    /// Take the current frame's payload bytes from the front of `rest`.
    fn read_payload<'i>(
        &mut self,
        rest: &'i mut [u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<&'i mut [u8], SessionError> {
        let h = self.frame;
        let n = usize::try_from(self.remaining).map_or(rest.len(), |r| r.min(rest.len()));
        let (chunk, tail) = rest.split_at_mut(n);
        let offset = h.payload_len - self.remaining;
        if let Some(key) = h.mask {
            frame::apply_mask(chunk, key, (offset % 4) as usize);
        }
        if self.trace && !chunk.is_empty() {
            handler.on_event(
                Event::Payload {
                    offset,
                    data: chunk,
                },
                out,
            );
        }
        self.remaining -= n as u64;
        let done = self.remaining == 0;
        let whole_frame_here = done && offset == 0;
        if done {
            self.in_payload = false;
        }

        if h.opcode.is_control() {
            if whole_frame_here {
                self.on_control(h.opcode, chunk, out, handler)?;
            } else {
                self.buf.extend_from_slice(chunk);
                if done {
                    self.on_buffered_control(h, out, handler)?;
                }
            }
            return Ok(tail);
        }

        if self.message == Some(MessageKind::Text) {
            // Fail fast: this may be the first part of a frame whose rest never comes.
            self.utf8
                .feed(chunk)
                .map_err(|_| violation(1007, "invalid UTF-8 in text message"))?;
        }
        if !done || !h.fin {
            if offset == 0 && !chunk.is_empty() {
                // The first piece of a frame that will be buffered: make room for the
                // whole frame now (it was checked against the size limit), so it is
                // not copied again each time the buffer doubles. Only up to a cap: a
                // peer must not get memory reserved by merely announcing a length.
                let frame_len = usize::try_from(h.payload_len).unwrap_or(usize::MAX);
                self.buf.reserve(frame_len.min(RESERVE_CAP));
            }
            self.buf.extend_from_slice(chunk);
            return Ok(tail);
        }
        if self.message == Some(MessageKind::Text) {
            self.utf8
                .finish()
                .map_err(|_| violation(1007, "text message ends inside a UTF-8 sequence"))?;
        }
        let kind = self.message.take().unwrap_or(MessageKind::Binary);
        if self.buf.is_empty() && whole_frame_here {
            // The whole message is this one frame: deliver it straight from the input.
            self.deliver(kind, chunk, out, handler);
        } else {
            self.buf.extend_from_slice(chunk);
            // Taking the buffer frees it once the message is delivered.
            let message = self.buf.take();
            self.deliver(kind, &message, out, handler);
        }
        Ok(tail)
    }

    fn deliver(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) {
        // After our Close, data may still arrive (§5.5.1) and the handler sees it (a
        // client prints it), but nothing more may be sent: what it writes is dropped.
        let mark = out.len();
        handler.on_event(Event::Message { kind, data }, out);
        if self.close_sent {
            out.truncate(mark);
        }
    }

    /// A control frame that arrived in pieces is now whole at the end of `buf`.
    fn on_buffered_control(
        &mut self,
        h: FrameHeader,
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        let mut buf = self.buf.take();
        // Control payloads are at most 125 bytes, so this cannot truncate.
        let start = buf.len().saturating_sub(h.payload_len as usize);
        let result = self.on_control(h.opcode, buf.get(start..).unwrap_or_default(), out, handler);
        buf.truncate(start);
        self.buf.put(buf);
        result
    }

    fn on_control(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        match opcode {
            Opcode::Close => return self.on_close(payload, out, handler),
            _ if self.close_sent => {}
            Opcode::Ping => {
                let mask = self.out_mask(handler);
                frame::write_frame(out, true, Opcode::Pong, payload, mask);
                handler.on_event(Event::Ping(payload), out);
            }
            Opcode::Pong => handler.on_event(Event::Pong(payload), out),
            Opcode::Continuation | Opcode::Text | Opcode::Binary => {}
        }
        Ok(())
    }

    /// The peer's Close (§5.5.1, §7.1.5): check it, answer it, report it.
    fn on_close(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        let (code, reason) = match payload {
            [] => (None, ""),
            [_] => return Err(violation(1002, "close frame with a 1-byte payload")),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !is_valid_close_code(code) {
                    return Err(violation(1002, "invalid close code"));
                }
                let reason = std::str::from_utf8(reason)
                    .map_err(|_| violation(1007, "close reason is not UTF-8"))?;
                (Some(code), reason)
            }
        };
        self.close_received = true;
        if !self.close_sent {
            // Echo the status code, as §5.5.1 says endpoints typically do, and the
            // reason with it, so the peer sees its own words come back (a browser shows
            // them in its close event).
            self.write_close(code, reason, out, handler);
        }
        handler.on_event(Event::Close { code, reason }, out);
        Ok(())
    }

    fn fail(&mut self, e: SessionError, out: &mut Vec<u8>, handler: &mut impl Handler) {
        self.failed = true;
        self.in_payload = false;
        self.release();
        if !self.close_sent {
            self.write_close(Some(e.code), e.reason, out, handler);
        }
    }

    fn release(&mut self) {
        self.buf.clear();
        self.message = None;
        // A header that was arriving in pieces is dropped too: what a failed or closed
        // session holds must not depend on how its input was cut.
        self.head_len = 0;
    }

    fn write_close(
        &mut self,
        code: Option<u16>,
        reason: &str,
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let mut len = 0;
        if let (Some(code), Some((code_bytes, rest))) = (code, payload.split_first_chunk_mut()) {
            *code_bytes = code.to_be_bytes();
            let reason = truncate_utf8(reason, rest.len());
            if let Some(dst) = rest.get_mut(..reason.len()) {
                dst.copy_from_slice(reason.as_bytes());
            }
            len = 2 + reason.len();
        }
        let mask = self.out_mask(handler);
        let payload = payload.get(..len).unwrap_or_default();
        frame::write_frame(out, true, Opcode::Close, payload, mask);
        self.close_sent = true;
    }

    fn out_mask(&self, handler: &mut impl Handler) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(handler.mask_key()),
            Role::Server => None,
        }
    }
}

fn advance(s: &mut [u8], n: usize) -> &mut [u8] {
    s.get_mut(n..).unwrap_or_default()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests;
