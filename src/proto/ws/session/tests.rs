//! Tests of `proto::ws::session`: unit tests with known vectors and property tests.

use super::*;
use crate::proto::ws::frame::{parse_frame, write_frame, write_header};
use proptest::prelude::*;

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
            Event::Payload { .. } => return,
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
    assert!(size <= 96, "{size}");
}

#[test]
fn echoes_rfc_masked_hello_zero_copy() {
    struct Where(usize, usize, bool);
    impl Handler for Where {
        fn on_event(&mut self, event: Event<'_>, _: &mut Vec<u8>) {
            if let Event::Message { data, .. } = event {
                let p = data.as_ptr() as usize;
                self.2 = data == b"Hello" && p >= self.0 && p + data.len() <= self.1;
            }
        }
    }
    let mut input = vec![
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let range = input.as_ptr_range();
    let mut h = Where(range.start as usize, range.end as usize, false);
    let (mut s, _) = server();
    s.feed(&mut input, &mut Vec::new(), &mut h).unwrap();
    assert!(h.2, "message not delivered from the input buffer");
    assert_eq!(s.heap_capacity(), 0);
}

#[test]
fn echoes_text_and_binary() {
    let (mut s, mut h) = server();
    let mut input = cframe(true, Opcode::Text, "héllo".as_bytes());
    input.extend(cframe(true, Opcode::Binary, &[0, 255, 1]));
    input.extend(cframe(true, Opcode::Text, b""));
    let mut out = Vec::new();
    s.feed(&mut input, &mut out, &mut h).unwrap();
    assert_eq!(
        h.events,
        [
            Rec::Message(MessageKind::Text, "héllo".into()),
            Rec::Message(MessageKind::Binary, vec![0, 255, 1]),
            Rec::Message(MessageKind::Text, vec![]),
        ]
    );
    let mut want = Vec::new();
    write_frame(&mut want, true, Opcode::Text, "héllo".as_bytes(), None);
    write_frame(&mut want, true, Opcode::Binary, &[0, 255, 1], None);
    write_frame(&mut want, true, Opcode::Text, b"", None);
    assert_eq!(out, want);
    assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));
}

#[test]
fn a_frame_split_across_reads_is_buffered_once_in_its_own_size() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    let payload: Vec<u8> = (0..16_384u32).map(|i| i as u8).collect();
    let mut input = cframe(true, Opcode::Binary, &payload);
    let (a, b) = input.split_at_mut(5_000);
    s.feed(a, &mut out, &mut h).unwrap();
    // Room for the whole frame at the first piece: no doubling, no copy on growth.
    assert_eq!(s.heap_capacity(), payload.len());
    s.feed(b, &mut out, &mut h).unwrap();
    assert_eq!(h.events, [Rec::Message(MessageKind::Binary, payload)]);
    assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));
}

#[test]
fn a_header_alone_reserves_nothing() {
    // Found by the ws_session fuzzer: the frame's room was reserved when its header
    // arrived without payload bytes, so the session owned heap for no data.
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    let mut input = cframe(true, Opcode::Binary, &[7; 300]);
    s.feed(&mut input[..8], &mut out, &mut h).unwrap();
    assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));
    s.feed(&mut input[8..], &mut out, &mut h).unwrap();
    assert_eq!(h.events, [Rec::Message(MessageKind::Binary, vec![7; 300])]);
}

#[test]
fn an_announced_length_reserves_at_most_the_cap() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    // A 32 MiB binary frame (within the 64 MiB limit) of which 10 bytes come.
    let mut input = vec![0x82, 0xff];
    input.extend_from_slice(&(32u64 << 20).to_be_bytes());
    input.extend_from_slice(&KEY);
    input.extend_from_slice(&[0; 10]);
    s.feed(&mut input, &mut out, &mut h).unwrap();
    assert_eq!(s.buffered_bytes(), 10);
    assert!(s.heap_capacity() <= RESERVE_CAP, "{}", s.heap_capacity());
}

#[test]
fn fragmented_with_interleaved_ping() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    let mut input = cframe(false, Opcode::Text, b"Hel");
    input.extend(cframe(true, Opcode::Ping, b"are you there"));
    input.extend(cframe(false, Opcode::Continuation, b""));
    input.extend(cframe(true, Opcode::Continuation, b"lo"));
    // Cut inside the ping's payload, so it is assembled behind the partial message.
    let (a, b) = input.split_at_mut(12);
    s.feed(a, &mut out, &mut h).unwrap();
    assert!(s.buffered_bytes() > 0);
    s.feed(b, &mut out, &mut h).unwrap();
    assert_eq!(
        h.events,
        [
            Rec::Ping(b"are you there".to_vec()),
            Rec::Message(MessageKind::Text, b"Hello".to_vec()),
        ]
    );
    assert_eq!(
        frames(&out),
        [
            (Opcode::Pong, b"are you there".to_vec()),
            (Opcode::Text, b"Hello".to_vec())
        ]
    );
    assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));
}

#[test]
fn protocol_violations_close_with_1002() {
    let mut unmasked = Vec::new();
    write_frame(&mut unmasked, true, Opcode::Text, b"hi", None);
    let mut rsv = cframe(true, Opcode::Text, b"hi");
    rsv[0] |= 0x40;
    let mut top_bit = vec![0x82, 0xff];
    top_bit.extend([0x80, 0, 0, 0, 0, 0, 0, 0]);
    let mut new_inside = cframe(false, Opcode::Text, b"a");
    new_inside.extend(cframe(true, Opcode::Binary, b"b"));
    let mut continuation_after_end = cframe(true, Opcode::Text, b"a");
    continuation_after_end.extend(cframe(true, Opcode::Continuation, b"b"));
    let cases: [(&str, Vec<u8>); 11] = [
        ("unmasked client frame", unmasked),
        ("rsv bit", rsv),
        ("reserved opcode 3", vec![0x83, 0x80, 1, 2, 3, 4]),
        ("reserved opcode 0xb", vec![0x8b, 0x80, 1, 2, 3, 4]),
        ("ping of 126 bytes", cframe(true, Opcode::Ping, &[0; 126])),
        ("fragmented ping", cframe(false, Opcode::Ping, b"")),
        (
            "lone continuation",
            cframe(true, Opcode::Continuation, b"x"),
        ),
        ("new message inside fragmented", new_inside),
        ("continuation after message end", continuation_after_end),
        ("64-bit length top bit", top_bit),
        (
            "close with 1-byte payload",
            cframe(true, Opcode::Close, &[3]),
        ),
    ];
    for (what, input) in cases {
        assert_eq!(code_of(&input), 1002, "{what}");
    }
}

#[test]
fn messages_before_a_violation_are_still_echoed() {
    let mut input = cframe(true, Opcode::Text, b"ok");
    input.extend(cframe(true, Opcode::Continuation, b"x"));
    let (code, sent) = violation_of(&input, Limits::default());
    assert_eq!(code, 1002);
    assert_eq!(sent[0], (Opcode::Text, b"ok".to_vec()));
}

#[test]
fn invalid_utf8_closes_with_1007() {
    assert_eq!(code_of(&cframe(true, Opcode::Text, b"a\xc0b")), 1007);
    // Cut inside a code point at the end of the message.
    let mut input = cframe(false, Opcode::Text, "€".as_bytes());
    input.extend(cframe(true, Opcode::Continuation, &"€".as_bytes()[..2]));
    assert_eq!(code_of(&input), 1007);
    // Invalid only across the fragment boundary.
    let mut input = cframe(false, Opcode::Text, b"\xed");
    input.extend(cframe(true, Opcode::Continuation, b"\xa0\x80"));
    assert_eq!(code_of(&input), 1007);
    // Binary is not checked.
    let (mut s, mut h) = server();
    s.feed(
        &mut cframe(true, Opcode::Binary, b"\xc0"),
        &mut Vec::new(),
        &mut h,
    )
    .unwrap();
}

#[test]
fn invalid_utf8_fails_mid_frame() {
    let mut payload = vec![b'a'; 100];
    payload[5] = 0xff;
    let input = cframe(true, Opcode::Text, &payload);
    // Header (2 + 4 key) and the first 10 payload bytes only.
    let (code, _) = violation_of(&input[..16], Limits::default());
    assert_eq!(code, 1007);
}

#[test]
fn too_big_is_refused_from_the_header_alone() {
    let limits = Limits { max_message: 10 };
    let input = cframe(true, Opcode::Binary, &[0; 11]);
    assert_eq!(violation_of(&input[..6], limits).0, 1009);
    // Over the limit only in total, at the second fragment's header.
    let mut input = cframe(false, Opcode::Text, b"123456");
    input.extend(&cframe(true, Opcode::Continuation, b"78901")[..6]);
    assert_eq!(violation_of(&input, limits).0, 1009);
    // Exactly at the limit is fine, and control frames do not count.
    let (mut s, mut h) = (Session::new(Role::Server, limits), Echo::default());
    let mut input = cframe(false, Opcode::Text, b"12345");
    input.extend(cframe(true, Opcode::Ping, &[0; 100]));
    input.extend(cframe(true, Opcode::Continuation, b"67890"));
    s.feed(&mut input, &mut Vec::new(), &mut h).unwrap();
    assert_eq!(
        h.events[1],
        Rec::Message(MessageKind::Text, b"1234567890".to_vec())
    );
}

/// Found by the `ws_session` fuzzer: a refused header that arrived in two reads
/// stayed counted in `buffered_bytes` after the failure.
#[test]
fn failing_on_a_split_header_drops_it() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    s.feed(&mut [0x82, 0x7f, 0x80], &mut out, &mut h).unwrap();
    let err = s
        .feed(
            &mut [0, 0, 0, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d],
            &mut out,
            &mut h,
        )
        .unwrap_err();
    assert_eq!(err.code, 1002);
    assert_eq!(s.buffered_bytes(), 0);
}

#[test]
fn close_code_table() {
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ] {
        assert!(is_valid_close_code(code), "{code}");
        let (mut s, mut h) = server();
        let mut out = Vec::new();
        let mut input = cframe(true, Opcode::Close, &close_payload(code, b"bye"));
        s.feed(&mut input, &mut out, &mut h).unwrap();
        assert!(s.is_closed());
        assert_eq!(h.events, [Rec::Close(Some(code), "bye".into())]);
        // The reply echoes the code and the reason.
        assert_eq!(frames(&out), [(Opcode::Close, close_payload(code, b"bye"))]);
    }
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        assert!(!is_valid_close_code(code), "{code}");
        assert_eq!(
            code_of(&cframe(true, Opcode::Close, &close_payload(code, b""))),
            1002
        );
    }
    let bad_reason = close_payload(1000, b"\xce\xba\xed\xa0\x80");
    assert_eq!(code_of(&cframe(true, Opcode::Close, &bad_reason)), 1007);
}

#[test]
fn empty_close_is_echoed_empty_and_later_input_dropped() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    let mut input = cframe(false, Opcode::Text, b"partial");
    input.extend(cframe(true, Opcode::Close, b""));
    input.extend(cframe(true, Opcode::Ping, b"late"));
    s.feed(&mut input, &mut out, &mut h).unwrap();
    s.feed(&mut cframe(true, Opcode::Text, b"later"), &mut out, &mut h)
        .unwrap();
    assert_eq!(h.events, [Rec::Close(None, String::new())]);
    assert_eq!(frames(&out), [(Opcode::Close, vec![])]);
    assert!(s.is_closed());
    assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));
}

#[test]
fn our_close_first() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    s.send_close(1001, "going away", &mut out, &mut h);
    s.send_close(1000, "twice", &mut out, &mut h);
    s.send_ping(b"no", &mut out, &mut h);
    assert!(s.close_sent() && !s.is_closed());
    // Data after our close is still delivered (a client prints it) but whatever the
    // handler writes is dropped; pings are not answered.
    let mut input = cframe(true, Opcode::Text, b"late");
    input.extend(cframe(true, Opcode::Ping, b"p"));
    input.extend(cframe(true, Opcode::Close, &close_payload(1001, b"")));
    s.feed(&mut input, &mut out, &mut h).unwrap();
    assert!(s.is_closed());
    assert_eq!(
        h.events,
        [
            Rec::Message(MessageKind::Text, b"late".to_vec()),
            Rec::Close(Some(1001), String::new())
        ]
    );
    assert_eq!(
        frames(&out),
        [(Opcode::Close, close_payload(1001, b"going away"))]
    );
}

#[test]
fn send_close_sanitises_code_and_reason() {
    let (mut s, mut h) = server();
    let mut out = Vec::new();
    s.send_close(1005, "must not be sent", &mut out, &mut h);
    assert_eq!(frames(&out), [(Opcode::Close, vec![])]);
    let (mut s, mut h) = server();
    out.clear();
    let long = "é".repeat(100);
    s.send_close(1000, &long, &mut out, &mut h);
    let sent = frames(&out);
    assert_eq!(sent[0].1.len(), 2 + 122);
    assert!(std::str::from_utf8(&sent[0].1[2..]).is_ok());
}

#[test]
fn client_role_masking() {
    let mut s = Session::new(Role::Client, Limits::default());
    let mut h = Echo {
        role: Some(Role::Client),
        ..Echo::default()
    };
    let mut out = Vec::new();
    let mut input = vec![0x89, 0x05, b'H', b'e', b'l', b'l', b'o'];
    input.extend([0x81, 0x02, b'h', b'i']);
    s.feed(&mut input, &mut out, &mut h).unwrap();
    s.send_ping(b"p", &mut out, &mut h);
    let mut rest = &out[..];
    let mut keys = Vec::new();
    while let Ok(Parsed::Complete { value, consumed }) = parse_frame(rest) {
        keys.push(value.header.mask.expect("client frames must be masked"));
        rest = &rest[consumed..];
    }
    assert_eq!(
        keys,
        [
            [1, 0xa5, 1 ^ 0x5a, 7],
            [2, 0xa5, 2 ^ 0x5a, 7],
            [3, 0xa5, 3 ^ 0x5a, 7]
        ]
    );
    assert_eq!(
        frames(&out),
        [
            (Opcode::Pong, b"Hello".to_vec()),
            (Opcode::Text, b"hi".to_vec()),
            (Opcode::Ping, b"p".to_vec())
        ]
    );
    // A masked frame from the server is a violation, and our close is masked too.
    let err = s
        .feed(&mut cframe(true, Opcode::Text, b"x"), &mut out, &mut h)
        .unwrap_err();
    assert_eq!(err.code, 1002);
    let (op, payload) = frames(&out).pop().unwrap();
    assert_eq!(
        (op, &payload[..2]),
        (Opcode::Close, &1002u16.to_be_bytes()[..])
    );
}

#[test]
fn trace_reports_every_header() {
    let (mut s, mut h) = server();
    let mut input = cframe(false, Opcode::Binary, b"ab");
    input.extend(cframe(true, Opcode::Continuation, b"c"));
    s.feed(&mut input.clone(), &mut Vec::new(), &mut h).unwrap();
    assert_eq!(h.events.len(), 1);
    s.set_trace(true);
    h.events.clear();
    s.feed(&mut input, &mut Vec::new(), &mut h).unwrap();
    let headers: Vec<_> = h
        .events
        .iter()
        .filter(|e| matches!(e, Rec::Frame(_)))
        .collect();
    assert_eq!(headers.len(), 2);
    let Rec::Frame(first) = headers[0] else {
        unreachable!()
    };
    assert_eq!(
        (first.opcode, first.fin, first.payload_len, first.mask),
        (Opcode::Binary, false, 2, Some(KEY))
    );
}

#[test]
fn partial_header_then_large_payload_in_pieces() {
    let (mut s, mut h) = server();
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let mut input = cframe(true, Opcode::Binary, &payload);
    let mut out = Vec::new();
    for piece in input.chunks_mut(4093) {
        s.feed(piece, &mut out, &mut h).unwrap();
    }
    assert_eq!(h.events, [Rec::Message(MessageKind::Binary, payload)]);
    assert_eq!(s.heap_capacity(), 0);
}

// ---- Properties ----

/// One message's fragments, and control frames to slip in after some of them.
#[derive(Clone, Debug)]
struct Msg {
    kind: MessageKind,
    data: Vec<u8>,
    cuts: Vec<usize>,
    controls: Vec<(bool, Vec<u8>)>,
}

fn msg() -> impl Strategy<Value = Msg> {
    let data = prop_oneof![
        "\\PC{0,40}".prop_map(|s| (MessageKind::Text, s.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|d| (MessageKind::Binary, d)),
    ];
    let controls = prop::collection::vec(
        (any::<bool>(), prop::collection::vec(any::<u8>(), 0..20)),
        0..3,
    );
    (
        data,
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        controls,
    )
        .prop_map(|((kind, data), cuts, controls)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            Msg {
                kind,
                data,
                cuts,
                controls,
            }
        })
}

/// Encode as the peer of `role` would send it; also return the messages, pings and
/// pongs a correct session must report, in order.
fn encode(msgs: &[Msg], close: Option<u16>, role: Role, key: [u8; 4]) -> (Vec<u8>, Vec<Rec>) {
    let mask = (role == Role::Server).then_some(key);
    let mut bytes = Vec::new();
    let mut want = Vec::new();
    for m in msgs {
        let mut bounds = vec![0];
        bounds.extend(&m.cuts);
        bounds.push(m.data.len());
        let pieces = bounds.len() - 1;
        for i in 0..pieces {
            let last = i + 1 == pieces;
            let op = if i == 0 {
                m.kind.opcode()
            } else {
                Opcode::Continuation
            };
            write_frame(
                &mut bytes,
                last,
                op,
                &m.data[bounds[i]..bounds[i + 1]],
                mask,
            );
            if last {
                want.push(Rec::Message(m.kind, m.data.clone()));
            }
            // A control frame after fragment i: inside the message unless i is the last.
            if let Some((ping, payload)) = m.controls.get(i) {
                let op = if *ping { Opcode::Ping } else { Opcode::Pong };
                write_frame(&mut bytes, true, op, payload, mask);
                want.push(if *ping {
                    Rec::Ping(payload.clone())
                } else {
                    Rec::Pong(payload.clone())
                });
            }
        }
    }
    if let Some(code) = close {
        write_frame(
            &mut bytes,
            true,
            Opcode::Close,
            &close_payload(code, b"done"),
            mask,
        );
        want.push(Rec::Close(Some(code), "done".into()));
    }
    (bytes, want)
}

/// Feed `bytes` in pieces of the given sizes (cycled); stop at the first error.
fn run(
    role: Role,
    bytes: &[u8],
    sizes: &[usize],
    trace: bool,
) -> (Vec<Rec>, Vec<u8>, Result<(), SessionError>, Session) {
    let mut s = Session::new(role, Limits { max_message: 1000 });
    s.set_trace(trace);
    let mut h = Echo {
        role: Some(role),
        ..Echo::default()
    };
    let mut out = Vec::new();
    let mut bytes = bytes.to_vec();
    let mut rest = &mut bytes[..];
    let mut result = Ok(());
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at_mut(size.clamp(1, rest.len()));
        result = s.feed(piece, &mut out, &mut h);
        if result.is_err() {
            break;
        }
        rest = tail;
    }
    (h.events, out, result, s)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

proptest! {
    #[test]
    fn chunking_does_not_change_anything(
        role in role(),
        msgs in prop::collection::vec(msg(), 0..5),
        close in prop::option::of(prop::sample::select(vec![1000u16, 1001, 3000, 4999])),
        key in any::<[u8; 4]>(),
        sizes in prop::collection::vec(1usize..40, 1..8),
        trace in any::<bool>(),
    ) {
        let (bytes, want) = encode(&msgs, close, role, key);
        let (events, out, result, s) = run(role, &bytes, &[bytes.len().max(1)], trace);
        prop_assert_eq!(result, Ok(()));
        let untraced: Vec<Rec> =
            events.iter().filter(|e| !matches!(e, Rec::Frame(_))).cloned().collect();
        prop_assert_eq!(&untraced, &want);
        prop_assert_eq!(s.is_closed(), close.is_some());
        prop_assert_eq!((s.buffered_bytes(), s.heap_capacity()), (0, 0));

        let (events2, out2, result2, _) = run(role, &bytes, &sizes, trace);
        prop_assert_eq!(events2, events);
        prop_assert_eq!(out2, out);
        prop_assert_eq!(result2, result);
    }

    #[test]
    fn chunking_does_not_change_errors(
        role in role(),
        msgs in prop::collection::vec(msg(), 1..4),
        key in any::<[u8; 4]>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..3),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let (mut bytes, _) = encode(&msgs, None, role, key);
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let whole = run(role, &bytes, &[bytes.len()], true);
        let pieces = run(role, &bytes, &sizes, true);
        prop_assert_eq!(&pieces.0, &whole.0);
        prop_assert_eq!(&pieces.1, &whole.1);
        prop_assert_eq!(pieces.2, whole.2);
        prop_assert!(whole.3.buffered_bytes() <= 1000 + MAX_CONTROL_PAYLOAD + MAX_HEADER_LEN);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        role in role(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        sizes in prop::collection::vec(1usize..20, 1..4),
    ) {
        let whole = run(role, &bytes, &[bytes.len().max(1)], false);
        let pieces = run(role, &bytes, &sizes, false);
        prop_assert_eq!(pieces.0, whole.0);
        prop_assert_eq!(pieces.2, whole.2);
    }

    #[test]
    fn any_header_split_is_absorbed(
        len in prop_oneof![0u64..126, 126u64..70_000],
        cut in 1usize..14,
    ) {
        // Only the header arrives, cut anywhere: the session keeps it and asks for more.
        let h = FrameHeader { fin: true, rsv: 0, opcode: Opcode::Binary, mask: Some(KEY), payload_len: len };
        let mut head = Vec::new();
        write_header(&h, &mut head);
        let cut = cut.min(head.len());
        let (mut s, mut e) = server();
        s.feed(&mut head[..cut], &mut Vec::new(), &mut e).unwrap();
        prop_assert_eq!(s.buffered_bytes(), cut % head.len());
    }
}
