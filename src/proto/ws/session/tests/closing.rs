//! The closing handshake (§5.5.1, §7) from either side, and the close codes of §7.4.

use super::*;

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

/// After our Close, a message still arrives (§5.5.1) and its handler's reply is taken
/// back; the handler is told where the output was cut (a server that sends replies
/// from elsewhere — lent from the read buffer — drops them there too), by the fast
/// path and the frame loop alike.
#[test]
fn a_reply_after_our_close_is_taken_back_and_the_handler_told() {
    struct Cut {
        echo: Echo,
        discarded: Vec<usize>,
    }
    impl Handler for Cut {
        fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
            self.echo.on_event(event, out);
        }
        fn discarded(&mut self, len: usize) {
            self.discarded.push(len);
        }
    }
    let whole = cframe(true, Opcode::Binary, &[7u8; 3000]);
    for pieces in [1, 100] {
        let mut s = Session::new(Role::Server, Limits::default());
        let mut h = Cut {
            echo: Echo::default(),
            discarded: Vec::new(),
        };
        let mut out = Vec::new();
        s.send_close(1001, "going away", &mut out, &mut h);
        let closed_at = out.len();
        let mut input = whole.clone();
        for piece in input.chunks_mut(whole.len().div_ceil(pieces)) {
            s.feed(piece, &mut out, &mut h).unwrap();
        }
        assert_eq!(out.len(), closed_at, "nothing after our Close");
        assert_eq!(h.discarded, [closed_at]);
        assert_eq!(
            h.echo.events,
            [Rec::Message(MessageKind::Binary, vec![7; 3000])]
        );
    }
}
