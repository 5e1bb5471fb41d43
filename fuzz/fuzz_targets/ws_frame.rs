//! Fuzz target `ws_frame`: the WebSocket frame header and frame parser
//! (src/proto/ws/frame.rs) and the payload masking (src/proto/ws/mask.rs) on arbitrary
//! bytes, read as a stream of frames.
//!
//! Input: raw bytes (a seed is just frames as they are sent on the wire). Checks:
//! - never panics; an error is a 1002 close with a reason, the same from
//!   `parse_header` and `parse_frame`, and is the answer for any longer input too;
//! - roundtrip: a parsed frame, emitted again with `write_header` + payload (or, with no
//!   RSV bits, `write_frame` on the unmasked payload and the same key), gives exactly
//!   the bytes it was parsed from, and parsing those gives the same frame again;
//! - every strict prefix of a complete frame is `Incomplete`; `consumed` is header +
//!   payload and the header's length form is the one on the wire;
//! - unmasking in pieces (with offsets) equals unmasking at once equals a plain XOR,
//!   and masking twice is the identity.
//!
//! After a complete frame, parsing continues with the bytes that follow it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockloop::proto::Parsed;
use sockloop::proto::ws::frame::{
    FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, apply_mask, parse_frame, parse_header,
    write_frame, write_header,
};

fn check_mask(payload: &[u8], key: [u8; 4], cut: usize) -> Vec<u8> {
    let naive: Vec<u8> = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    let mut whole = payload.to_vec();
    apply_mask(&mut whole, key, 0);
    assert_eq!(whole, naive, "apply_mask differs from a plain XOR");
    let mut pieces = payload.to_vec();
    let (a, b) = pieces.split_at_mut(cut.min(payload.len()));
    let offset = a.len();
    apply_mask(a, key, 0);
    apply_mask(b, key, offset);
    assert_eq!(pieces, naive, "unmasking in two pieces (cut at {offset})");
    let mut twice = whole.clone();
    apply_mask(&mut twice, key, 0);
    assert_eq!(twice, payload, "masking twice is not the identity");
    whole
}

fn check_header(h: &FrameHeader, wire: &[u8], header_len: usize) {
    assert_eq!(header_len, h.encoded_len());
    assert!((2..=MAX_HEADER_LEN).contains(&header_len));
    assert!(h.rsv <= 7);
    let len7 = wire[1] & 0x7f;
    let form = match len7 {
        126 => 16,
        127 => 64,
        _ => 7,
    };
    assert_eq!(h.length_encoding(), form);
    assert_eq!(h.mask.is_some(), wire[1] & 0x80 != 0);
    if h.opcode.is_control() {
        assert!(h.fin && h.payload_len <= MAX_CONTROL_PAYLOAD as u64);
    }
    let mut out = Vec::new();
    write_header(h, &mut out);
    assert_eq!(
        out,
        &wire[..header_len],
        "write_header(parse_header(b)) != b"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    loop {
        let parsed = parse_frame(rest);
        let header = parse_header(rest);
        match parsed {
            Err(e) => {
                assert_eq!(header, Err(e), "parse_header and parse_frame disagree");
                assert_eq!(e.close_code(), 1002);
                assert!(!e.reason().is_empty() && !e.to_string().is_empty());
                // Errors show in the header alone: more bytes cannot change them.
                let mut longer = rest.to_vec();
                longer.extend_from_slice(&[0; MAX_HEADER_LEN]);
                assert_eq!(parse_frame(&longer).err(), Some(e));
                return;
            }
            Ok(Parsed::Incomplete) => {
                // Either the header is not all here, or its payload is not.
                if let Ok(Parsed::Complete { value, consumed }) = header {
                    check_header(&value, rest, consumed);
                    let have = (rest.len() - consumed) as u64;
                    assert!(value.payload_len > have, "payload is here but Incomplete");
                } else {
                    assert_eq!(header, Ok(Parsed::Incomplete));
                }
                return;
            }
            Ok(Parsed::Complete { value, consumed }) => {
                let h = value.header;
                let Ok(Parsed::Complete {
                    value: h2,
                    consumed: header_len,
                }) = header
                else {
                    panic!("frame complete but header {header:?}");
                };
                assert_eq!(h, h2);
                check_header(&h, rest, header_len);
                assert_eq!(h.payload_len, value.payload.len() as u64);
                assert_eq!(consumed, header_len + value.payload.len());
                let wire = &rest[..consumed];
                assert_eq!(value.payload, &wire[header_len..]);

                // Emitted again, it is the same bytes; parsed again, the same frame.
                let mut out = Vec::new();
                write_header(&h, &mut out);
                out.extend_from_slice(value.payload);
                assert_eq!(out, wire);
                assert_eq!(parse_frame(&out), Ok(Parsed::Complete { value, consumed }));
                for cut in 0..consumed {
                    assert_eq!(
                        parse_frame(&wire[..cut]),
                        Ok(Parsed::Incomplete),
                        "prefix of {cut} bytes"
                    );
                }

                let plain = match h.mask {
                    Some(key) => check_mask(value.payload, key, usize::from(wire[0]) % 9),
                    None => value.payload.to_vec(),
                };
                if h.rsv == 0 {
                    let mut out = Vec::new();
                    write_frame(&mut out, h.fin, h.opcode, &plain, h.mask);
                    assert_eq!(out, wire, "write_frame of the unmasked payload");
                }
                rest = &rest[consumed..];
            }
        }
    }
});
