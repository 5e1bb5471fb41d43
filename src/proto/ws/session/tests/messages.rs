//! Messages: delivery without a copy, buffering of frames cut by reads (room reserved
//! once, never for a bare header), fragments with control frames between them, both
//! roles, and tracing.

use super::*;

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
