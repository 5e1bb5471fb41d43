//! Message assembly (RFC 6455 §5.4 fragmentation, §5.6 and §8.1 UTF-8 in text): data
//! frames are checked against the message in progress and the size limit from their
//! header alone, their payload is validated as it arrives, and a whole message is
//! delivered, borrowed from the input when it came as one frame in one read.
//!
//! `data_payload` is on the per-message path of an echo; it is `#[inline]` so that
//! having it apart from the frame loop costs nothing.

use super::event::{Event, Handler, MessageKind, SessionError, TRY_AGAIN_LATER, violation};
use super::{Piece, Session};
use crate::proto::ws::deflate::send::RSV1;
use crate::proto::ws::frame::{FrameHeader, Opcode};

/// Most a frame's announced length makes the session reserve ahead of its bytes.
pub(super) const RESERVE_CAP: usize = 256 * 1024;

impl Session {
    /// Fragmentation rules (§5.4) and the size limit, decided from the header alone.
    pub(super) fn start_data_frame(&mut self, h: &FrameHeader) -> Result<(), SessionError> {
        let starts = match h.opcode {
            Opcode::Text => Some(MessageKind::Text),
            Opcode::Binary => Some(MessageKind::Binary),
            _ => None,
        };
        let kind = match (starts, self.message) {
            (Some(kind), None) => {
                self.utf8.reset();
                self.compressed = h.rsv & RSV1 != 0;
                kind
            }
            (None, Some(kind)) => kind,
            (None, None) => return Err(violation(1002, "continuation frame with no message")),
            (Some(_), Some(_)) => {
                return Err(violation(1002, "new message inside a fragmented one"));
            }
        };
        // At a frame boundary `buf` holds exactly the message so far. A compressed
        // frame's length says nothing of what it inflates to: its limit is checked
        // as it inflates (inflate.rs).
        let so_far = self.buf.len() as u64;
        if !self.compressed && so_far.saturating_add(h.payload_len) > self.max_message() as u64 {
            return Err(violation(1009, "message too big"));
        }
        self.message = Some(kind);
        Ok(())
    }

    /// A piece of a data frame's payload, unmasked: check it, add it to the message, and
    /// deliver the message once its last frame is complete.
    #[inline]
    pub(super) fn data_payload(
        &mut self,
        h: FrameHeader,
        piece: Piece,
        chunk: &[u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        if self.compressed {
            return self.inflate_payload(h, piece, chunk, out, handler);
        }
        if self.message == Some(MessageKind::Text) {
            // Fail fast: this may be the first part of a frame whose rest never comes.
            self.utf8
                .feed(chunk)
                .map_err(|_| violation(1007, "invalid UTF-8 in text message"))?;
        }
        if !piece.done || !h.fin {
            let mut room = chunk.len();
            if piece.offset == 0 && !chunk.is_empty() {
                // The first piece of a frame that will be buffered: make room for the
                // whole frame now (it was checked against the size limit), so it is
                // not copied again each time the buffer doubles. Only up to a cap: a
                // peer must not get memory reserved by merely announcing a length.
                let frame_len = usize::try_from(h.payload_len).unwrap_or(usize::MAX);
                room = room.max(frame_len.min(RESERVE_CAP));
            }
            self.make_room(room, handler)?;
            self.buf.extend_from_slice(chunk);
            return Ok(());
        }
        if self.message == Some(MessageKind::Text) {
            self.utf8
                .finish()
                .map_err(|_| violation(1007, "text message ends inside a UTF-8 sequence"))?;
        }
        let kind = self.message.take().unwrap_or(MessageKind::Binary);
        if self.buf.is_empty() && piece.whole_frame() {
            // The whole message is this one frame: deliver it straight from the input.
            self.deliver(kind, chunk, out, handler);
        } else {
            self.make_room(chunk.len(), handler)?;
            self.buf.extend_from_slice(chunk);
            // Taking the buffer frees it once the message is delivered.
            let message = self.buf.take();
            self.deliver(kind, &message, out, handler);
        }
        Ok(())
    }

    /// Grows the message buffer to hold `more` bytes, if the handler agrees to the
    /// heap that takes (a server asks its memory budget).
    fn make_room(&mut self, more: usize, handler: &mut impl Handler) -> Result<(), SessionError> {
        self.make_room_within(more, usize::MAX, handler)
    }

    /// [`make_room`](Self::make_room), growing the buffer to at most `cap` bytes
    /// (unless `more` itself needs more).
    pub(super) fn make_room_within(
        &mut self,
        more: usize,
        cap: usize,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        let before = self.buf.capacity();
        let need = self.buf.len().saturating_add(more);
        let after = self.buf.capacity_for(more).min(cap.max(need));
        if after > before {
            if !handler.may_grow(after - before, after) {
                return Err(violation(
                    TRY_AGAIN_LATER,
                    "server is out of memory for messages; try again later",
                ));
            }
            self.buf.grow_to(after);
        }
        Ok(())
    }

    pub(super) fn deliver(
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
            handler.discarded(mark);
        }
    }
}
