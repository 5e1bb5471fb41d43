//! The fast path: a whole, unfragmented, uncompressed data frame at the front of the
//! input, on a session between messages — nearly every frame an echo server sees.
//!
//! The general frame loop (`session.rs`) is built for frames cut anywhere: it keeps the
//! frame's header, the bytes still due, the message in progress and the UTF-8 state
//! across calls, and goes through all of them for every frame. When the frame is all
//! here, none of that state is needed: its header is read in place, its payload
//! unmasked, text checked in one pass, and the message delivered from where it lies.
//! Nothing about the session changes, which is what makes the shortcut safe: a frame
//! the fast path does not take goes to the general loop untouched, and the two give
//! the same events, output and errors (the property tests and the `ws_session` fuzz
//! target compare a stream fed whole, which takes this path, with the same stream fed
//! in small pieces, which cannot).
//!
//! Taken only for: FIN set, RSV bits clear, a text or binary opcode (`0x81`, `0x82`),
//! masked as the role requires (§5.1), a length in the 7- or 16-bit form within
//! `max_message`, and the whole payload present. Everything else — control frames,
//! fragments, compressed messages, 64-bit lengths, errors, tracing — takes the loop.

use super::event::{MessageKind, SessionError, violation};
use super::{Handler, Role, Session};
use crate::proto::ws::mask;
use crate::proto::ws::utf8::{self, Utf8Error};

/// First header byte of an unfragmented text / binary frame with no RSV bits.
const FIN_TEXT: u8 = 0x81;
const FIN_BINARY: u8 = 0x82;

/// A frame for the fast path: its kind, where its payload starts, how long it is.
pub(super) type SmallFrame = (MessageKind, usize, usize);

impl Session {
    /// Whether the fast path may look at the next frame: between frames and messages,
    /// no header half-collected, not tracing (a trace reports every step).
    #[inline]
    pub(super) fn at_message_boundary(&self) -> bool {
        !self.in_payload && self.head_len == 0 && self.message.is_none() && !self.trace
    }

    /// Delivers the whole frame at the front of `rest`, as read by [`Self::small_frame`],
    /// and gives what follows it.
    #[inline]
    pub(super) fn whole_frame<'i>(
        &mut self,
        rest: &'i mut [u8],
        (kind, start, len): SmallFrame,
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<&'i mut [u8], SessionError> {
        let (frame, tail) = rest.split_at_mut((start + len).min(rest.len()));
        let (head, payload) = frame.split_at_mut(start);
        let key = match head.last_chunk::<4>() {
            Some(key) if self.role == Role::Server => Some(*key),
            _ => None,
        };
        // Text is unmasked and checked for ASCII in one pass; only text with other
        // characters goes through the UTF-8 validator.
        let ascii = match (key, kind) {
            (Some(key), MessageKind::Text) => mask::unmask_is_ascii(payload, key),
            (Some(key), MessageKind::Binary) => {
                mask::apply_mask(payload, key, 0);
                true
            }
            (None, _) => kind == MessageKind::Binary,
        };
        if !ascii {
            // The same two errors the frame loop gives (§8.1): a byte that cannot be
            // UTF-8, or a message that ends inside a sequence.
            match utf8::validate(payload) {
                Ok(()) => {}
                Err(Utf8Error::Invalid { .. }) => {
                    return Err(violation(1007, "invalid UTF-8 in text message"));
                }
                Err(Utf8Error::Incomplete) => {
                    return Err(violation(1007, "text message ends inside a UTF-8 sequence"));
                }
            }
        }
        self.deliver(kind, payload, out, handler);
        Ok(tail)
    }

    /// The frame at the front of `rest`, if the fast path takes it: its header is one
    /// it handles and its payload is all here. `None` leaves it to the frame loop.
    #[inline]
    pub(super) fn small_frame(&self, rest: &[u8]) -> Option<SmallFrame> {
        let (&b0, &b1) = (rest.first()?, rest.get(1)?);
        let kind = match b0 {
            FIN_TEXT => MessageKind::Text,
            FIN_BINARY => MessageKind::Binary,
            _ => return None,
        };
        let masked = b1 & 0x80 != 0;
        if masked != (self.role == Role::Server) {
            return None;
        }
        let key_len = if masked { 4 } else { 0 };
        let (len, start) = match b1 & 0x7f {
            126 => {
                let n = u16::from_be_bytes(*rest.get(2..)?.first_chunk::<2>()?);
                if n < 126 {
                    return None; // not the shortest form: the frame loop refuses it
                }
                (usize::from(n), 4 + key_len)
            }
            127 => return None,
            n => (usize::from(n), 2 + key_len),
        };
        if len > self.max_message() {
            return None; // refused with 1009 by the frame loop
        }
        if rest.len() < start + len {
            return None; // the payload is not all here yet
        }
        Some((kind, start, len))
    }
}
