//! Fan-out (issue 14): a message said in a chat room or published on a topic, encoded
//! once per wire format and shared by every recipient's queue.
//!
//! A session that publishes puts a [`Publish`] in [`Shared::outbox`]; after the step
//! the loop asks the hub who is on the topic and queues the same [`Frame`] — one
//! allocation, reference-counted — for each of them: one encoding for the line
//! clients, one for the WebSocket clients, however many recipients. Queued frames are
//! written at the end of the loop's turn, so a recipient gets everything published to
//! it in a turn in one system call.
//!
//! The bytes of a frame count against the memory budget once, for as long as any
//! queue holds the frame ([`Frame::new`] adds them, the last holder's drop takes them
//! back).
//!
//! [`Shared::outbox`]: super::Shared::outbox

mod rate;
#[cfg(test)]
mod tests;

pub use rate::Bucket;

use crate::proto::pubsub;
use crate::proto::ws::frame::{self, Opcode};
use std::cell::Cell;
use std::rc::Rc;

/// Which hub a publish goes through: chat rooms and pub/sub topics are separate name
/// spaces (a room `news` and a topic `news` do not meet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubKind {
    Chat,
    PubSub,
}

/// How a recipient reads its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A line service on a stream: one line per message.
    Line = 0,
    /// A WebSocket: one message per message, unmasked, uncompressed (RFC 7692 lets a
    /// sender leave any message uncompressed; a shared frame cannot carry one
    /// connection's compression context).
    Ws = 1,
}

/// What was said: a chat line, or a pub/sub payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// The line as the room sees it (`<alice> hi`, `* bob joined lobby`), no line end.
    Chat(String),
    /// A payload published on the topic; `binary` when a WebSocket client sent it as
    /// a binary message.
    Pub { payload: Vec<u8>, binary: bool },
}

#[derive(Debug)]
pub struct Publish {
    pub hub: HubKind,
    pub topic: Box<str>,
    pub body: Body,
    /// The publisher, when it is a recipient too and its session already wrote its
    /// copy among its replies (so the speaker sees its own line in the order of its
    /// replies): the fan-out passes it by.
    pub copied_to: Option<super::hub::Member>,
}

impl Publish {
    /// The bytes a recipient reading `format` receives.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        let mut out = Vec::new();
        match (&self.body, format) {
            (Body::Chat(text), Format::Line) => {
                out.reserve_exact(text.len() + 1);
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
            }
            (Body::Chat(text), Format::Ws) => {
                frame::write_frame(&mut out, true, Opcode::Text, text.as_bytes(), None);
            }
            (Body::Pub { payload, .. }, Format::Line) => {
                line_delivery(&self.topic, payload, &mut out)
            }
            (Body::Pub { payload, binary }, Format::Ws) => {
                ws_delivery(&self.topic, payload, *binary, &mut out)
            }
        }
        out
    }
}

/// `MSG topic payload`, or for a payload holding a line end (only a WebSocket client
/// can publish one) `BIN topic N`, the N bytes and a line end.
fn line_delivery(topic: &str, payload: &[u8], out: &mut Vec<u8>) {
    if !payload.contains(&b'\n') {
        return pubsub::write_msg(topic, payload, out);
    }
    out.reserve(topic.len() + payload.len() + 32);
    out.extend_from_slice(b"BIN ");
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(format!(" {}\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.push(b'\n');
}

/// A text message `MSG topic payload` for a text payload; a binary message
/// `[topic length][topic][payload]` for a binary one, or one that is not UTF-8 (a
/// text message must be).
fn ws_delivery(topic: &str, payload: &[u8], binary: bool, out: &mut Vec<u8>) {
    let mut message = Vec::with_capacity(topic.len() + payload.len() + 5);
    if !binary && std::str::from_utf8(payload).is_ok() {
        message.extend_from_slice(b"MSG ");
        message.extend_from_slice(topic.as_bytes());
        message.push(b' ');
        message.extend_from_slice(payload);
        frame::write_frame(out, true, Opcode::Text, &message, None);
    } else {
        // Topic names are at most 64 bytes (hub::Limits), so the length fits a byte.
        message.push(topic.len().min(255) as u8);
        message.extend_from_slice(topic.as_bytes());
        message.extend_from_slice(payload);
        frame::write_frame(out, true, Opcode::Binary, &message, None);
    }
}

/// A binary WebSocket publish, `[topic length][topic][payload]`: the topic and the
/// payload, or why it is not one.
pub fn split_binary(message: &[u8]) -> Result<(&str, &[u8]), &'static str> {
    let (&len, rest) = message
        .split_first()
        .ok_or("an empty binary message (want [topic length][topic][payload])")?;
    let len = usize::from(len);
    if len == 0 || rest.len() < len {
        return Err("the topic length byte does not fit the message");
    }
    let (topic, payload) = rest.split_at(len);
    let topic = std::str::from_utf8(topic).map_err(|_| "the topic is not UTF-8")?;
    Ok((topic, payload))
}

/// Encoded bytes shared by every queue they were delivered to.
#[derive(Clone)]
pub struct Frame(Rc<FrameBytes>);

struct FrameBytes {
    bytes: Vec<u8>,
    /// The budget's count of live frame bytes.
    live: Rc<Cell<usize>>,
}

impl Frame {
    /// Takes `bytes` (no copy) and counts them in `live` until the last clone is gone.
    pub fn new(bytes: Vec<u8>, live: &Rc<Cell<usize>>) -> Frame {
        live.set(live.get() + bytes.capacity());
        Frame(Rc::new(FrameBytes {
            bytes,
            live: Rc::clone(live),
        }))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    pub fn len(&self) -> usize {
        self.0.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.bytes.is_empty()
    }

    /// Queues holding this frame.
    pub fn holders(&self) -> usize {
        Rc::strong_count(&self.0)
    }
}

impl Drop for FrameBytes {
    fn drop(&mut self) {
        self.live.set(self.live.get() - self.bytes.capacity());
    }
}
