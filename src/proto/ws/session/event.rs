//! What a session tells its handler, and how it fails: messages and control events
//! (RFC 6455 §5.4–§5.6), and the protocol violations that fail the connection with a
//! close code (§7.1.7, §7.4.1).

use std::fmt;

use super::super::frame::{self, FrameHeader, Opcode};

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
    /// A piece of a compressed message was inflated: `compressed` bytes in,
    /// `inflated` out; only with [`Session::set_trace`].
    Inflated {
        compressed: usize,
        inflated: usize,
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

    /// The session cut `out` back to `len` bytes, dropping what the handler wrote
    /// (a reply to a message that came after our Close): forget anything kept about
    /// output past that point.
    fn discarded(&mut self, len: usize) {
        let _ = len;
    }

    /// The session is about to take `more` bytes of heap for a message still arriving,
    /// `total` in all. Answering `false` refuses: the session then fails with 1013 (try
    /// again later), as a server at its memory budget does. Allowed by default.
    fn may_grow(&mut self, more: usize, total: usize) -> bool {
        let _ = (more, total);
        true
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
        if self.code == TRY_AGAIN_LATER {
            // Not the peer's fault: our side had no room for its message.
            return write!(f, "WebSocket closed with {}: {}", self.code, self.reason);
        }
        write!(
            f,
            "WebSocket peer broke the protocol ({}): {}",
            self.code, self.reason
        )
    }
}

/// The close code of a refusal for want of memory (IANA's registry: "Try Again Later").
pub const TRY_AGAIN_LATER: u16 = 1013;

impl std::error::Error for SessionError {}

pub(super) fn violation(code: u16, reason: &'static str) -> SessionError {
    SessionError { code, reason }
}

/// A malformed header is answered with the close its error calls for.
impl From<frame::FrameError> for SessionError {
    fn from(e: frame::FrameError) -> Self {
        violation(e.close_code(), e.reason())
    }
}
