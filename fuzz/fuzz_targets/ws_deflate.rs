//! Fuzz target `ws_deflate`: compressed WebSocket messages (RFC 7692), the inflate path
//! of the session (src/proto/ws/session/inflate.rs) and the compressor
//! (src/proto/ws/deflate/).
//!
//! Input, front to back: a flags byte (bit 0: the session keeps the inflater between
//! messages, bit 1: trace, bit 2 with bit 0: the sender takes its context over from
//! message to message, as `serve --ws-deflate-context` does), the window bits byte (8..=15 after `% 8 + 8`),
//! `max_message` (u16, little-endian), the chunking header of `sockloop_fuzz`, a
//! fragment size byte, then the rest, used twice:
//!
//! 1. **Oracle.** The rest is cut into messages (a length byte, a kind bit, that many
//!    bytes; text made valid UTF-8 by lossy decoding). Each is compressed as sockloop
//!    sends it (`send::write_message`, with the window), its compressed payload cut
//!    into fragments of the drawn size (the first with RSV1, then continuations),
//!    masked as a client would, and the whole stream fed to a server session in the
//!    drawn chunks. Checks: exactly the same messages come back, in order, and no
//!    error; a message over `max_message` fails with 1009 and nothing after it is
//!    delivered.
//! 2. **Hostile stream.** The rest as raw frames to a session that negotiated
//!    compression, whole and in chunks. Checks: no panic; the same messages, output,
//!    first error and state whatever the chunking; errors are 1002, 1007 or 1009;
//!    messages within `max_message`, text UTF-8; the heap held stays within
//!    `max_message` plus control frame, header and one inflater, and is zero once
//!    the session is failed or closed.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sockloop::proto::Parsed;
use sockloop::proto::ws::deflate::Deflater;
use sockloop::proto::ws::deflate::codec::INFLATER_HEAP;
use sockloop::proto::ws::deflate::send::{self, Compression, RSV1};
use sockloop::proto::ws::frame::{
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, Opcode, parse_frame, write_frame_rsv,
};
use sockloop::proto::ws::session::{Event, Handler, Limits, MessageKind, Role, Session};
use sockloop_fuzz::{chunk_ends, draw_sizes};
use std::cell::RefCell;

thread_local! {
    /// One compressor for every run, as one serves a whole loop in the server.
    static DEFLATER: RefCell<Deflater> = RefCell::new(Deflater::default());
}

const KEY: [u8; 4] = [0x3c, 0x91, 0x07, 0xe2];

#[derive(Default)]
struct Recorder {
    max_message: usize,
    messages: Vec<(MessageKind, Vec<u8>)>,
}

impl Handler for Recorder {
    fn on_event(&mut self, event: Event<'_>, _out: &mut Vec<u8>) {
        if let Event::Message { kind, data } = event {
            assert!(data.len() <= self.max_message, "message over max_message");
            if kind == MessageKind::Text {
                assert!(std::str::from_utf8(data).is_ok(), "text message not UTF-8");
            }
            self.messages.push((kind, data.to_vec()));
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Header {
    flags: u8,
    window: u8,
    max_message: u16,
}

struct Config {
    keep_inflater: bool,
    /// The sender keeps its context (only with `keep_inflater`).
    send_context: bool,
    trace: bool,
    max_message: usize,
}

fn session(cfg: &Config) -> (Session, Recorder) {
    let mut s = Session::new(
        Role::Server,
        Limits {
            max_message: cfg.max_message,
        },
    );
    s.enable_deflate(cfg.keep_inflater);
    s.set_trace(cfg.trace);
    let h = Recorder {
        max_message: cfg.max_message,
        ..Recorder::default()
    };
    (s, h)
}

/// The messages the oracle sends, drawn from `data`.
fn draw_messages(data: &[u8]) -> Vec<(MessageKind, Vec<u8>)> {
    let mut u = Unstructured::new(data);
    let mut messages = Vec::new();
    // (Unstructured hands out zeros once it is empty: stop there.)
    while !u.is_empty() {
        let (len, kind) = (
            u8::arbitrary(&mut u).unwrap_or(0),
            bool::arbitrary(&mut u).unwrap_or(false),
        );
        // Lengths up to 255 × 4: longer than MIN_COMPRESSED, so most are compressed.
        let bytes = u.bytes(usize::from(len) * 4).unwrap_or_default();
        // Repeat the bytes a little so that deflate finds matches.
        let mut m = bytes.to_vec();
        m.extend_from_slice(bytes);
        if kind {
            messages.push((
                MessageKind::Text,
                String::from_utf8_lossy(&m).into_owned().into(),
            ));
        } else {
            messages.push((MessageKind::Binary, m));
        }
    }
    messages
}

/// Frames as a client sends `messages`: compressed where it pays, fragmented. With
/// `context`, by a fresh deflater of its own that carries its history.
fn encode(
    messages: &[(MessageKind, Vec<u8>)],
    window: u8,
    fragment: usize,
    context: bool,
) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut own = context.then(Deflater::default);
    DEFLATER.with_borrow_mut(|shared| {
        for (kind, data) in messages {
            let mut one = Vec::new();
            let c = Compression {
                deflater: own.as_mut().unwrap_or(shared),
                window_bits: window,
                context,
            };
            let compressed = send::write_message(&mut one, kind.opcode(), data, None, Some(c));
            let Ok(Parsed::Complete { value, .. }) = parse_frame(&one) else {
                panic!("write_message wrote a bad frame");
            };
            assert_eq!(value.header.rsv == RSV1, compressed);
            if compressed && !context {
                assert!(
                    value.payload.len() < data.len(),
                    "compressed only when it pays"
                );
            }
            let pieces: Vec<&[u8]> = if value.payload.is_empty() {
                vec![&[]]
            } else {
                value.payload.chunks(fragment).collect()
            };
            for (i, piece) in pieces.iter().enumerate() {
                let (op, rsv) = match i {
                    0 => (kind.opcode(), value.header.rsv),
                    _ => (Opcode::Continuation, 0),
                };
                let fin = i + 1 == pieces.len();
                write_frame_rsv(&mut stream, fin, rsv, op, piece, Some(KEY));
            }
        }
    });
    stream
}

fn oracle(cfg: &Config, rest: &[u8], window: u8, fragment: usize, sizes: &[usize]) {
    let messages = draw_messages(rest);
    let mut stream = encode(&messages, window, fragment, cfg.send_context);
    let (mut s, mut h) = session(cfg);
    let mut out = Vec::new();
    let mut start = 0;
    let mut error = None;
    for end in chunk_ends(stream.len(), sizes) {
        if let Err(e) = s.feed(&mut stream[start..end], &mut out, &mut h) {
            error.get_or_insert(e);
        }
        start = end;
    }
    // The messages up to the first one over the limit come back, that one fails.
    let fit = messages
        .iter()
        .position(|(_, m)| m.len() > cfg.max_message)
        .unwrap_or(messages.len());
    assert_eq!(h.messages, messages[..fit], "round trip");
    match error {
        None => assert_eq!(fit, messages.len(), "a message over the limit was accepted"),
        Some(e) => assert_eq!((e.code, fit < messages.len()), (1009, true), "{e}"),
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    messages: Vec<(MessageKind, Vec<u8>)>,
    out: Vec<u8>,
    error: Option<u16>,
    state: (bool, bool, bool, usize),
}

fn hostile(cfg: &Config, stream: &[u8], ends: &[usize]) -> Outcome {
    let mut bytes = stream.to_vec();
    let (mut s, mut h) = session(cfg);
    let mut out = Vec::new();
    let mut error = None;
    let bound = cfg.max_message + MAX_CONTROL_PAYLOAD + MAX_HEADER_LEN;
    let mut start = 0;
    for &end in ends {
        if let Err(e) = s.feed(&mut bytes[start..end], &mut out, &mut h) {
            assert!(
                [1002, 1007, 1009].contains(&e.code),
                "close code {}",
                e.code
            );
            error.get_or_insert(e.code);
        }
        let heap = s.heap_capacity();
        assert!(
            heap <= 2 * bound + 64 + INFLATER_HEAP,
            "owns {heap} bytes of heap"
        );
        if s.is_failed() || s.close_received() {
            assert_eq!(heap, 0, "a finished session still owns heap");
        }
        start = end;
    }
    Outcome {
        messages: h.messages,
        out,
        error,
        state: (
            s.close_sent(),
            s.close_received(),
            s.is_failed(),
            s.buffered_bytes(),
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(header) = Header::arbitrary(&mut u) else {
        return;
    };
    let sizes = draw_sizes(&mut u);
    let fragment = usize::from(u8::arbitrary(&mut u).unwrap_or(0)).max(1) * 8;
    let rest = u.take_rest();
    let cfg = Config {
        keep_inflater: header.flags & 1 != 0,
        send_context: header.flags & 5 == 5,
        trace: header.flags & 2 != 0,
        max_message: usize::from(header.max_message),
    };
    let window = header.window % 8 + 8;
    oracle(&cfg, rest, window, fragment, &sizes);
    let whole = hostile(&cfg, rest, &[rest.len()]);
    let chunked = hostile(&cfg, rest, &chunk_ends(rest.len(), &sizes));
    assert_eq!(chunked, whole);
});
