//! Fuzz target `pubsub`: the SUB / UNSUB / PUB line parser (src/proto/pubsub.rs).
//!
//! Input: one request line (line ends inside it are cut off first, as the splitter
//! would). Checks: never panics; a parsed topic is a non-empty word (no blank, no line
//! end) taken from the line; a `PUB`'s payload is a suffix of the line, and
//! `MSG topic payload` written from it, less `MSG `, reparses as `PUB` of the same
//! topic and payload — unless the payload ends in CR, which a reader of the line takes
//! for a CRLF line end (found by this target: such a payload loses that CR).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockloop::proto::pubsub::{Request, parse, write_msg};

fuzz_target!(|data: &[u8]| {
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(request) = parse(line) else {
        return;
    };
    let topic = match request {
        Request::Sub(t) | Request::Unsub(t) => t,
        Request::Pub { topic, payload } => {
            assert!(line.ends_with(payload) || line.ends_with(&[payload, b"\r"].concat()));
            let mut out = Vec::new();
            write_msg(topic, payload, &mut out);
            assert_eq!(out.pop(), Some(b'\n'));
            if !payload.ends_with(b"\r") {
                let again = [b"PUB ", &out[4..]].concat();
                let reparsed = parse(&again).expect("MSG reparses as PUB");
                assert_eq!(reparsed, Request::Pub { topic, payload });
            }
            topic
        }
    };
    assert!(!topic.is_empty());
    assert!(!topic.bytes().any(|b| b == b' ' || b == b'\t' || b == b'\n'));
});
