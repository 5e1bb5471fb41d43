//! Failing the connection (RFC 6455 §7.1.7): each violation closes with its code
//! (1002, 1007, 1009), as soon as the bytes that show it have arrived.

use super::*;

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

/// A handler with a memory budget of `left` bytes.
struct Budgeted {
    left: usize,
    asked: Vec<(usize, usize)>,
    echo: Echo,
}

impl Handler for Budgeted {
    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        self.echo.on_event(event, out);
    }

    fn may_grow(&mut self, more: usize, total: usize) -> bool {
        self.asked.push((more, total));
        let ok = more <= self.left;
        if ok {
            self.left -= more;
        }
        ok
    }
}

#[test]
fn a_message_the_budget_cannot_hold_is_refused_with_1013() {
    let mut s = Session::new(Role::Server, Limits::default());
    let mut h = Budgeted {
        left: 500,
        asked: Vec::new(),
        echo: Echo::default(),
    };
    let mut out = Vec::new();
    // A message in fragments is buffered: each growth is asked for beforehand, and
    // the buffer grows by doubling, so the amounts asked are exactly what it takes.
    let mut input = cframe(false, Opcode::Binary, &[1; 100]);
    input.extend(cframe(false, Opcode::Continuation, &[2; 100]));
    s.feed(&mut input, &mut out, &mut h).unwrap();
    assert_eq!(h.asked, [(100, 100), (100, 200)]);
    assert_eq!(s.heap_capacity(), 200);
    // The next fragment needs 400 bytes of heap in all (200 more): granted; then 800
    // (400 more) is past the 100 left.
    s.feed(
        &mut cframe(false, Opcode::Continuation, &[3; 200]),
        &mut out,
        &mut h,
    )
    .unwrap();
    assert_eq!(s.heap_capacity(), 400);
    let err = s
        .feed(
            &mut cframe(false, Opcode::Continuation, &[4; 1]),
            &mut out,
            &mut h,
        )
        .unwrap_err();
    assert_eq!(err.code, TRY_AGAIN_LATER);
    assert!(err.to_string().contains("out of memory"), "{err}");
    assert!(!err.to_string().contains("broke the protocol"), "{err}");
    assert_eq!(s.heap_capacity(), 0, "the refused message is freed");
    let sent = frames(&out);
    let (op, payload) = sent.last().unwrap();
    assert_eq!(*op, Opcode::Close);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1013);
    assert!(h.echo.events.is_empty(), "nothing was delivered");
}

#[test]
fn a_whole_frame_in_one_read_needs_no_budget() {
    let mut s = Session::new(Role::Server, Limits::default());
    let mut h = Budgeted {
        left: 0,
        asked: Vec::new(),
        echo: Echo::default(),
    };
    let mut out = Vec::new();
    s.feed(&mut cframe(true, Opcode::Text, b"hello"), &mut out, &mut h)
        .unwrap();
    assert!(h.asked.is_empty());
    assert_eq!(frames(&out), [(Opcode::Text, b"hello".to_vec())]);
}
