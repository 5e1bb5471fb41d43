//! Compressed messages (RFC 7692 §6.2): the payload of every frame of a message whose
//! first frame had RSV1 is inflated as it arrives, into the message buffer; the
//! `00 00 ff ff` tail the sender removed is put back after the last frame.
//!
//! The limits are those of the inflated message: `max_message` is checked as bytes
//! come out of the inflater, and the buffer never grows past it — a small frame that
//! would inflate past the limit fails with 1009 without the memory being taken (a
//! one-byte probe tells "exactly at the limit" from "over it"). Each growth asks the
//! handler (the memory budget), and so does the inflater itself. Text is checked for
//! UTF-8 as it is inflated. Data that is not valid deflate fails with 1007.

use super::event::{Event, Handler, MessageKind, SessionError, TRY_AGAIN_LATER, violation};
use super::{Piece, Session};
use crate::proto::ws::deflate::codec::INFLATER_HEAP;
use crate::proto::ws::deflate::{Inflater, TAIL};
use crate::proto::ws::frame::FrameHeader;

/// Least room made for inflated bytes at a time.
const MIN_GROWTH: usize = 1024;

impl Session {
    /// A piece of a compressed message's frame, unmasked.
    pub(super) fn inflate_payload(
        &mut self,
        h: FrameHeader,
        piece: Piece,
        chunk: &[u8],
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        let mut inflater = match self.inflater.take() {
            Some(i) => i,
            None => {
                let total = self.buf.capacity() + INFLATER_HEAP;
                if !handler.may_grow(INFLATER_HEAP, total) {
                    return Err(violation(
                        TRY_AGAIN_LATER,
                        "server is out of memory for messages; try again later",
                    ));
                }
                Box::default()
            }
        };
        let last = piece.done && h.fin;
        let result = self
            .inflate_piece(&mut inflater, chunk, handler)
            .and_then(|n| {
                // The tail the sender removed goes back after the last frame (§7.2.2).
                let tail = if last {
                    self.inflate_piece(&mut inflater, &TAIL, handler)?
                } else {
                    0
                };
                Ok(n + tail)
            });
        if let (true, Ok(inflated)) = (self.trace && !chunk.is_empty(), &result) {
            let event = Event::Inflated {
                compressed: chunk.len(),
                inflated: *inflated,
            };
            handler.on_event(event, out);
        }
        let result = result.map(|_| ());
        if result.is_ok() && (!last || self.inflate_context) {
            // Kept while the message arrives, or for the next one (context takeover).
            self.inflater = Some(inflater);
        }
        result?;
        if last {
            self.finish_inflated(out, handler)?;
        }
        Ok(())
    }

    /// The last frame is inflated: check the text's end and deliver.
    fn finish_inflated(
        &mut self,
        out: &mut Vec<u8>,
        handler: &mut impl Handler,
    ) -> Result<(), SessionError> {
        if self.message == Some(MessageKind::Text) {
            self.utf8
                .finish()
                .map_err(|_| violation(1007, "text message ends inside a UTF-8 sequence"))?;
        }
        let kind = self.message.take().unwrap_or(MessageKind::Binary);
        self.compressed = false;
        let message = self.buf.take();
        self.deliver(kind, &message, out, handler);
        Ok(())
    }

    /// Inflates all of `input` into the message buffer; says how many bytes came out.
    fn inflate_piece(
        &mut self,
        inflater: &mut Inflater,
        mut input: &[u8],
        handler: &mut impl Handler,
    ) -> Result<usize, SessionError> {
        let limit = self.max_message();
        let mut inflated = 0;
        loop {
            let len = self.buf.len();
            if self.buf.capacity() == len {
                if len >= limit {
                    // Full at the limit: one byte more is one too many.
                    if probe_at_limit(inflater, &mut input)? {
                        continue;
                    }
                    break;
                }
                let more = input.len().saturating_mul(4).max(MIN_GROWTH);
                self.make_room_within(more.min(limit - len), limit, handler)?;
            }
            let step = inflater.step(input, self.buf.vec_mut());
            if self.message == Some(MessageKind::Text) {
                // What came out before any corrupt data is checked first: the
                // earliest fault wins, however the input was cut.
                let new = self.buf.vec_mut().get(len..).unwrap_or_default();
                self.utf8
                    .feed(new)
                    .map_err(|_| violation(1007, "invalid UTF-8 in text message"))?;
            }
            if step.corrupt {
                return Err(corrupt());
            }
            input = input.get(step.consumed..).unwrap_or_default();
            inflated += step.produced;
            if step.ended {
                // The peer ended the deflate stream (BFINAL): what follows, if
                // anything, starts a new one.
                inflater.reset();
                if input.is_empty() {
                    break;
                }
                continue;
            }
            let room_left = self.buf.capacity() > self.buf.len();
            if (input.is_empty() && room_left) || (step.consumed == 0 && step.produced == 0) {
                break;
            }
        }
        Ok(inflated)
    }
}

/// The buffer is full at the size limit: `input` goes through a one-byte probe, and
/// anything that comes out is one byte too many (1009). Advances `input`; says whether
/// there is more of it to take now.
fn probe_at_limit(inflater: &mut Inflater, input: &mut &[u8]) -> Result<bool, SessionError> {
    let step = inflater.probe(input);
    if step.produced > 0 {
        return Err(violation(1009, "message too big once inflated"));
    }
    if step.corrupt {
        return Err(corrupt());
    }
    *input = input.get(step.consumed..).unwrap_or_default();
    if step.ended {
        // As in `inflate_piece`: what follows starts a new stream.
        inflater.reset();
    } else if step.consumed == 0 {
        return Ok(false);
    }
    Ok(!input.is_empty())
}

fn corrupt() -> SessionError {
    violation(1007, "compressed data is not valid deflate")
}
