use super::*;
use crate::proto::Parsed;
use crate::proto::ws::frame::parse_frame;

fn publish(topic: &str, payload: &[u8], binary: bool) -> Publish {
    Publish {
        hub: HubKind::PubSub,
        topic: topic.into(),
        body: Body::Pub {
            payload: payload.to_vec(),
            binary,
        },
        copied_to: None,
    }
}

/// The opcode and payload of the one WebSocket frame in `bytes`.
fn ws_message(bytes: &[u8]) -> (Opcode, Vec<u8>) {
    match parse_frame(bytes) {
        Ok(Parsed::Complete { value, consumed }) => {
            assert_eq!(consumed, bytes.len(), "one frame, nothing else");
            assert!(value.header.fin && value.header.mask.is_none());
            (value.header.opcode, value.payload.to_vec())
        }
        other => panic!("not one frame: {other:?}"),
    }
}

#[test]
fn each_body_in_each_format() {
    let chat = Publish {
        hub: HubKind::Chat,
        topic: "lobby".into(),
        body: Body::Chat("<alice> hi".into()),
        copied_to: None,
    };
    assert_eq!(chat.encode(Format::Line), b"<alice> hi\n");
    assert_eq!(
        ws_message(&chat.encode(Format::Ws)),
        (Opcode::Text, b"<alice> hi".to_vec())
    );

    let text = publish("news", b"hello world", false);
    assert_eq!(text.encode(Format::Line), b"MSG news hello world\n");
    assert_eq!(
        ws_message(&text.encode(Format::Ws)),
        (Opcode::Text, b"MSG news hello world".to_vec())
    );

    let binary = publish("raw", b"\x00\x01two\nlines", true);
    assert_eq!(
        binary.encode(Format::Line),
        b"BIN raw 11\n\x00\x01two\nlines\n"
    );
    assert_eq!(
        ws_message(&binary.encode(Format::Ws)),
        (Opcode::Binary, b"\x03raw\x00\x01two\nlines".to_vec())
    );

    let not_utf8 = publish("t", b"\xff", false);
    assert_eq!(not_utf8.encode(Format::Line), b"MSG t \xff\n");
    assert_eq!(
        ws_message(&not_utf8.encode(Format::Ws)),
        (Opcode::Binary, b"\x01t\xff".to_vec()),
        "a text message must be UTF-8: binary instead"
    );
}

#[test]
fn binary_publishes_split_or_say_why() {
    assert_eq!(split_binary(b"\x04newsdata"), Ok(("news", &b"data"[..])));
    assert_eq!(split_binary(b"\x04news"), Ok(("news", &b""[..])));
    assert!(split_binary(b"").is_err());
    assert!(split_binary(b"\x00data").is_err());
    assert!(split_binary(b"\x09short").is_err());
    assert!(split_binary(b"\x01\xff").is_err());
}

#[test]
fn frames_count_their_bytes_until_the_last_holder_goes() {
    let live = Rc::new(Cell::new(0));
    let a = Frame::new(b"MSG t x\n".to_vec(), &live);
    let counted = live.get();
    assert!(counted >= 8);
    let b = a.clone();
    assert_eq!(
        (a.holders(), live.get()),
        (2, counted),
        "a clone is not a copy"
    );
    drop(a);
    assert_eq!(live.get(), counted);
    assert_eq!(b.bytes(), b"MSG t x\n");
    drop(b);
    assert_eq!(live.get(), 0);
}
