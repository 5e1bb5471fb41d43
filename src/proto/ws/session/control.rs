//! Control frames (RFC 6455 §5.5): pings are answered with pongs, pongs reported, and
//! the closing handshake (§5.5.1, §7) is run from either side, with the close codes of
//! §7.4 checked on the way in and sanitised on the way out.
//!
//! A control frame may arrive between the fragments of a message and in pieces of its
//! own; those pieces wait behind the message part of the session's buffer.

use super::event::{Event, Handler, SessionError, violation};
use super::{Piece, Role, Session};
use crate::proto::ws::codes::is_valid_close_code;
use crate::proto::ws::frame::{self, FrameHeader, MAX_CONTROL_PAYLOAD, Opcode};

impl Session {
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

    /// A piece of a control frame's payload: answered at once when the whole frame is
    /// here, else gathered in the buffer until it is.
    pub(super) fn control_payload(
        &mut self,
        h: FrameHeader,
        piece: Piece,
        chunk: &[u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        if piece.whole_frame() {
            self.on_control(h.opcode, chunk, out, handler)?;
        } else {
            self.buf.extend_from_slice(chunk);
            if piece.done {
                self.on_buffered_control(h, out, handler)?;
            }
        }
        Ok(())
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

    pub(super) fn write_close(
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

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}
