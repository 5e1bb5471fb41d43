//! The receive side of one connection: the bytes the server sent, cut into replies.
//!
//! WebSocket: a client-role [`Session`] from `proto::ws` (it checks the frames,
//! answers pings and runs the closing handshake); each text message is one reply.
//! tcp: lines through `proto::line`'s splitter, straight out of the read buffer; only
//! a line cut by the end of a read is copied, into the connection's own `partial`.

use super::reply::{self, Reply};
use crate::proto::line::{LineSplitter, Step, find_newline};
use crate::proto::ws::session::{Event, Handler, Limits, MessageKind, Role, Session};
use rand::RngExt;

/// What a connection reads with.
pub enum Rx {
    Ws(Box<Session>),
    Line(LineIn),
}

/// A line stream's state between reads.
pub struct LineIn {
    splitter: LineSplitter,
    partial: Vec<u8>,
}

/// What one call to [`Rx::feed`] saw besides replies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// The server's WebSocket Close arrived, with its code if it had one.
    pub close: Option<Option<u16>>,
}

/// The longest reply line accepted, given the payload size: `MSG topic ` and a
/// margin for whatever the server may add to an `ERR`.
pub fn max_line(size: usize) -> usize {
    size + 256
}

impl Rx {
    pub fn new(ws: bool, max_line: usize) -> Rx {
        if ws {
            let limits = Limits {
                max_message: max_line,
            };
            Rx::Ws(Box::new(Session::new(Role::Client, limits)))
        } else {
            Rx::Line(LineIn {
                splitter: LineSplitter::new(max_line),
                partial: Vec::new(),
            })
        }
    }

    /// Cuts `data` into replies and hands each to `on`; frames the session answers
    /// with (pongs, the Close reply) go to `out`. The first error ends the feed.
    #[inline]
    pub fn feed<F>(&mut self, data: &mut [u8], out: &mut Vec<u8>, on: &mut F) -> Result<Fed, String>
    where
        F: FnMut(Reply<'_>) -> Result<(), String>,
    {
        match self {
            Rx::Ws(session) => {
                let mut h = Replies {
                    on,
                    close: None,
                    error: None,
                };
                let fed = session.feed(data, out, &mut h);
                if let Some(e) = h.error {
                    return Err(e);
                }
                fed.map_err(|e| format!("the server's frames: {e}"))?;
                Ok(Fed { close: h.close })
            }
            Rx::Line(lines) => lines.feed(data, on).map(|()| Fed::default()),
        }
    }

    /// Starts our side of the closing: `true` if a WebSocket Close (1000) was queued
    /// in `out`, `false` for a line stream, which ends with a FIN instead.
    pub fn close(&mut self, out: &mut Vec<u8>) -> bool {
        match self {
            Rx::Ws(session) => {
                let mut ignore = |_: Reply<'_>| Ok(());
                let mut h = Replies {
                    on: &mut ignore,
                    close: None,
                    error: None,
                };
                session.send_close(1000, "", out, &mut h);
                true
            }
            Rx::Line(_) => false,
        }
    }
}

impl LineIn {
    fn feed<F>(&mut self, data: &[u8], on: &mut F) -> Result<(), String>
    where
        F: FnMut(Reply<'_>) -> Result<(), String>,
    {
        let mut rest = data;
        if !self.partial.is_empty() {
            let Some(end) = find_newline(rest) else {
                return self.keep(rest);
            };
            self.partial
                .extend_from_slice(rest.get(..=end).unwrap_or_default());
            rest = rest.get(end + 1..).unwrap_or_default();
            let mut whole = std::mem::take(&mut self.partial);
            let left = self.lines(&whole, on).map(|tail| tail.len());
            // The buffer is kept for the next cut line (a few hundred bytes at most).
            whole.clear();
            self.partial = whole;
            if left? != 0 {
                return Err("internal: a joined line left bytes behind".into());
            }
        }
        let tail = self.lines(rest, on)?;
        self.keep(tail)
    }

    /// The whole lines at the front of `data`, handed to `on`; what is left after
    /// the last of them.
    #[inline]
    fn lines<'d, F>(&mut self, mut data: &'d [u8], on: &mut F) -> Result<&'d [u8], String>
    where
        F: FnMut(Reply<'_>) -> Result<(), String>,
    {
        loop {
            match self.splitter.next(data) {
                Step::Line { len, consumed } => {
                    on(reply::parse(data.get(..len).unwrap_or_default()))?;
                    data = data.get(consumed..).unwrap_or_default();
                }
                Step::NeedMore => return Ok(data),
                Step::TooLong { .. } | Step::Skip { .. } => {
                    let max = self.splitter.max();
                    return Err(format!("a line of more than {max} bytes from the server"));
                }
            }
        }
    }

    /// Keeps the start of a line the next read will finish.
    fn keep(&mut self, tail: &[u8]) -> Result<(), String> {
        if self.partial.len() + tail.len() > self.splitter.max() + 1 {
            let max = self.splitter.max();
            return Err(format!("a line of more than {max} bytes from the server"));
        }
        self.partial.extend_from_slice(tail);
        Ok(())
    }
}

/// The session's handler: text messages become replies; the first error is kept.
struct Replies<'f, F> {
    on: &'f mut F,
    close: Option<Option<u16>>,
    error: Option<String>,
}

impl<F> Handler for Replies<'_, F>
where
    F: FnMut(Reply<'_>) -> Result<(), String>,
{
    #[inline]
    fn on_event(&mut self, event: Event<'_>, _out: &mut Vec<u8>) {
        if self.error.is_some() {
            return;
        }
        let result = match event {
            Event::Message {
                kind: MessageKind::Text,
                data,
            } => (self.on)(reply::parse(data)),
            Event::Message { .. } => Err("a binary message for a text publish".to_string()),
            Event::Close { code, .. } => {
                self.close = Some(code);
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// A fresh key for each frame the session sends (RFC 6455 §5.3).
    fn mask_key(&mut self) -> [u8; 4] {
        rand::rng().random()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::proto::ws::frame::{self, Opcode};

    /// Every reply in `stream`, fed in pieces of `chunk` bytes, as text.
    fn replies(ws: bool, stream: &[u8], chunk: usize) -> Result<Vec<String>, String> {
        let mut rx = Rx::new(ws, 100);
        let mut got = Vec::new();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            let mut piece = piece.to_vec();
            rx.feed(&mut piece, &mut out, &mut |r| {
                got.push(format!("{r:?}"));
                Ok(())
            })?;
        }
        Ok(got)
    }

    const LINES: &[&[u8]] = &[b"OK", b"MSG bench x y", b"DROPPED 3", b"ERR no"];

    #[test]
    fn lines_and_messages_in_any_chunking() {
        let mut text = Vec::new();
        let mut frames = Vec::new();
        for (i, l) in LINES.iter().enumerate() {
            text.extend_from_slice(l);
            text.extend_from_slice(if i % 2 == 0 { b"\n" } else { b"\r\n" });
            frame::write_frame(&mut frames, true, Opcode::Text, l, None);
        }
        let whole = replies(false, &text, text.len()).unwrap();
        assert_eq!(whole.len(), 4);
        assert_eq!(whole[1], format!("{:?}", reply::parse(LINES[1])));
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(
                replies(false, &text, chunk).unwrap(),
                whole,
                "chunk {chunk}"
            );
            assert_eq!(
                replies(true, &frames, chunk).unwrap(),
                whole,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn long_lines_binary_and_masked_frames_are_errors() {
        assert!(replies(false, &[b'x'; 300], 7).is_err());
        assert!(replies(false, &[b'x'; 300], 300).is_err());
        let mut bin = Vec::new();
        frame::write_frame(&mut bin, true, Opcode::Binary, b"OK", None);
        assert!(replies(true, &bin, 1).is_err());
        let mut masked = Vec::new();
        frame::write_frame(&mut masked, true, Opcode::Text, b"OK", Some([1, 2, 3, 4]));
        assert!(replies(true, &masked, 10).is_err());
        let mut failing = Vec::new();
        frame::write_frame(&mut failing, true, Opcode::Text, b"OK", None);
        let mut rx = Rx::new(true, 100);
        let e = rx.feed(&mut failing, &mut Vec::new(), &mut |_| Err("no".into()));
        assert_eq!(e, Err("no".into()));
    }

    #[test]
    fn closing() {
        let mut out = Vec::new();
        assert!(!Rx::new(false, 10).close(&mut out));
        assert!(out.is_empty());
        let mut rx = Rx::new(true, 10);
        assert!(rx.close(&mut out));
        assert!(!out.is_empty());
        let mut close = Vec::new();
        frame::write_frame(
            &mut close,
            true,
            Opcode::Close,
            &1000u16.to_be_bytes(),
            None,
        );
        let fed = rx
            .feed(&mut close, &mut Vec::new(), &mut |_| Ok(()))
            .unwrap();
        assert_eq!(fed.close, Some(Some(1000)));
    }
}
