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
