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
//!
//! This file is the frame loop: headers collected and checked against the connection
//! (§5.1 masking, §5.2 RSV bits), payload pieces unmasked and handed on. Data frames are
//! assembled into messages in `message.rs`, control frames answered in `control.rs`;
//! `event.rs` has what the handler sees and the errors.

use super::super::Parsed;
use super::deflate::Inflater;
use super::deflate::send::RSV1;
use super::frame::{self, FrameHeader, MAX_HEADER_LEN, Opcode};
use super::mask;
use super::utf8::Utf8Validator;
use event::violation;
pub use event::{Event, Handler, MessageKind, SessionError, TRY_AGAIN_LATER};
use message_buf::MessageBuf;

mod control;
mod event;
mod fast;
mod inflate;
mod message;
mod message_buf;

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

pub struct Session {
    /// The message assembled so far; while a control frame arrives in pieces, its
    /// payload follows the message part, and is cut off again when it is complete.
    buf: MessageBuf,
    /// [`Limits::max_message`], kept in 32 bits (at most 4 GiB: no memory budget
    /// allows more), so that the session stays within 72 bytes.
    max_message: u32,
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
    /// permessage-deflate was negotiated (RFC 7692): RSV1 marks compressed messages.
    deflate: bool,
    /// The peer may refer back to earlier messages: keep the inflater between them.
    inflate_context: bool,
    /// The message in progress is compressed.
    compressed: bool,
    /// Inflates the compressed message in progress (and, with context takeover, is
    /// kept for the next); absent otherwise, so an idle session holds none.
    #[allow(clippy::box_default)]
    inflater: Option<Box<Inflater>>,
    close_sent: bool,
    close_received: bool,
    failed: bool,
    trace: bool,
}

impl Session {
    pub fn new(role: Role, limits: Limits) -> Self {
        Session {
            buf: MessageBuf::default(),
            max_message: u32::try_from(limits.max_message).unwrap_or(u32::MAX),
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
            deflate: false,
            inflate_context: false,
            compressed: false,
            inflater: None,
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
        self.feed_within(input, out, usize::MAX, handler)
            .map(|_| ())
    }

    /// [`feed`](Self::feed), stopping once `out` holds `budget` bytes or more: gives how
    /// much of `input` was used (at least one step's worth, so a call always makes
    /// progress). The rest is for a later call, once the output has drained; where the
    /// input stops does not matter, since a session resumes anywhere.
    pub fn feed_within(
        &mut self,
        input: &mut [u8],
        out: &mut Vec<u8>,
        budget: usize,
        handler: &mut impl Handler,
    ) -> Result<usize, SessionError> {
        let total = input.len();
        let mut rest = input;
        while !rest.is_empty() && !self.failed && !self.close_received {
            let small = self.at_message_boundary().then(|| self.small_frame(rest));
            let step = if let Some(Some(frame)) = small {
                self.whole_frame(rest, frame, out, handler)
            } else if self.in_payload {
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
            if out.len() >= budget {
                break;
            }
        }
        if self.close_received {
            // An unfinished message can never be completed now.
            self.release();
        }
        Ok(total - rest.len())
    }

    /// permessage-deflate was negotiated: compressed messages (RSV1) are inflated.
    /// `context_takeover`: the peer may compress with references to its earlier
    /// messages, so the inflater is kept for the whole connection.
    pub fn enable_deflate(&mut self, context_takeover: bool) {
        self.deflate = true;
        self.inflate_context = context_takeover;
    }

    pub fn deflate(&self) -> bool {
        self.deflate
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

    /// The largest message accepted, from [`Limits`].
    #[inline]
    fn max_message(&self) -> usize {
        self.max_message as usize
    }

    /// Bytes held for a partial header or message.
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() + usize::from(self.head_len)
    }

    /// Heap bytes the session owns (0 when idle, unless an inflater is kept for
    /// context takeover).
    pub fn heap_capacity(&self) -> usize {
        let inflater = if self.inflater.is_some() {
            super::deflate::codec::INFLATER_HEAP
        } else {
            0
        };
        self.buf.capacity() + inflater
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
            self.check_rsv(&h)?;
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
            mask::apply_mask(chunk, key, (offset % 4) as usize);
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
        if done {
            self.in_payload = false;
        }
        let piece = Piece { offset, done };
        if h.opcode.is_control() {
            self.control_payload(h, piece, chunk, out, handler)?;
        } else {
            self.data_payload(h, piece, chunk, out, handler)?;
        }
        Ok(tail)
    }

    /// RSV1 is allowed on the first frame of a data message once permessage-deflate
    /// is negotiated (RFC 7692 §6); everything else is a protocol error.
    fn check_rsv(&self, h: &FrameHeader) -> Result<(), SessionError> {
        if !self.deflate {
            return Err(violation(
                1002,
                "RSV bits set, but no extension was negotiated",
            ));
        }
        match h.opcode {
            _ if h.rsv != RSV1 => Err(violation(1002, "RSV2 or RSV3 set")),
            Opcode::Text | Opcode::Binary => Ok(()),
            Opcode::Continuation => Err(violation(1002, "RSV1 set on a continuation frame")),
            _ => Err(violation(1002, "RSV1 set on a control frame")),
        }
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
        self.compressed = false;
        self.inflater = None;
        // A header that was arriving in pieces is dropped too: what a failed or closed
        // session holds must not depend on how its input was cut.
        self.head_len = 0;
    }
}

/// Where a piece of payload lies in its frame.
#[derive(Clone, Copy)]
struct Piece {
    /// Position of the piece's first byte in the frame's payload.
    offset: u64,
    /// The piece ends the frame.
    done: bool,
}

impl Piece {
    /// The frame arrived whole in this one piece, so it can be used where it lies.
    #[inline]
    fn whole_frame(self) -> bool {
        self.done && self.offset == 0
    }
}

fn advance(s: &mut [u8], n: usize) -> &mut [u8] {
    s.get_mut(n..).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests;
