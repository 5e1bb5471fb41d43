//! Tests of `proto::ws::session`: shared helpers here, the tests by topic in `tests/`.

use super::message::RESERVE_CAP;
use super::*;
use crate::proto::ws::codes::is_valid_close_code;
use crate::proto::ws::frame::{MAX_CONTROL_PAYLOAD, parse_frame, write_frame, write_header};

mod closing;
#[cfg(feature = "deflate")]
mod deflate;
mod messages;
mod properties;
mod violations;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// An event with owned data, to compare runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rec {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Frame(FrameHeader),
}

/// Records events and echoes messages back, like the echo service.
#[derive(Default)]
struct Echo {
    events: Vec<Rec>,
    role: Option<Role>,
    keys: u8,
}

impl Handler for Echo {
    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        let rec = match event {
            Event::Message { kind, data } => {
                let mask = (self.role == Some(Role::Client)).then(|| self.mask_key());
                write_frame(out, true, kind.opcode(), data, mask);
                Rec::Message(kind, data.to_vec())
            }
            Event::Ping(p) => Rec::Ping(p.to_vec()),
            Event::Pong(p) => Rec::Pong(p.to_vec()),
            Event::Close { code, reason } => Rec::Close(code, reason.to_owned()),
            Event::Frame(h) => Rec::Frame(*h),
            // Payload pieces follow the chunking; the tests compare what must not.
            Event::Payload { .. } | Event::Inflated { .. } => return,
        };
        self.events.push(rec);
    }

    fn mask_key(&mut self) -> [u8; 4] {
        self.keys = self.keys.wrapping_add(1);
        [self.keys, 0xa5, self.keys ^ 0x5a, 7]
    }
}

fn server() -> (Session, Echo) {
    (
        Session::new(Role::Server, Limits::default()),
        Echo::default(),
    )
}

/// A frame as a client sends it (masked).
fn cframe(fin: bool, op: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, fin, op, payload, Some(KEY));
    out
}

/// Split `out` into (opcode, unmasked payload) pairs.
fn frames(mut out: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let mut v = Vec::new();
    while let Ok(Parsed::Complete { value, consumed }) = parse_frame(out) {
        let mut p = value.payload.to_vec();
        if let Some(key) = value.header.mask {
            frame::apply_mask(&mut p, key, 0);
        }
        v.push((value.header.opcode, p));
        out = &out[consumed..];
    }
    assert!(out.is_empty(), "trailing bytes {out:?}");
    v
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// Feed `input` to a fresh server; return the error code and everything sent.
fn violation_of(input: &[u8], limits: Limits) -> (u16, Vec<(Opcode, Vec<u8>)>) {
    let mut s = Session::new(Role::Server, limits);
    let mut h = Echo::default();
    let mut out = Vec::new();
    let err = s.feed(&mut input.to_vec(), &mut out, &mut h).unwrap_err();
    assert!(s.is_failed() && s.close_sent() && !s.close_received());
    assert_eq!(s.heap_capacity(), 0);
    // Everything after the failure is ignored.
    assert_eq!(
        s.feed(&mut cframe(true, Opcode::Ping, b"x"), &mut out, &mut h),
        Ok(())
    );
    let sent = frames(&out);
    let (op, payload) = sent.last().unwrap();
    assert_eq!(*op, Opcode::Close);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), err.code);
    assert_eq!(&payload[2..], err.reason.as_bytes());
    (err.code, sent)
}

fn code_of(input: &[u8]) -> u16 {
    violation_of(input, Limits::default()).0
}

#[test]
fn session_is_small() {
    let size = std::mem::size_of::<Session>();
    println!("size_of::<Session>() = {size}");
    assert!(size <= 72, "{size}");
}
