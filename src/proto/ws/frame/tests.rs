//! Tests of `proto::ws::frame`: the RFC 6455 §5.7 vectors, header errors and property tests.

use super::*;
use proptest::prelude::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn frame(buf: &[u8]) -> (Frame<'_>, usize) {
    match parse_frame(buf).unwrap() {
        Parsed::Complete { value, consumed } => (value, consumed),
        Parsed::Incomplete => panic!("incomplete"),
    }
}

fn unmasked(f: &Frame<'_>) -> Vec<u8> {
    let mut p = f.payload.to_vec();
    if let Some(key) = f.header.mask {
        apply_mask(&mut p, key, 0);
    }
    p
}

fn written(fin: bool, op: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, fin, op, payload, mask);
    out
}

#[test]
fn rfc_single_frame_unmasked_text() {
    let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let (f, n) = frame(&bytes);
    assert_eq!(n, 7);
    assert!(f.header.fin);
    assert_eq!((f.header.opcode, f.header.mask), (Opcode::Text, None));
    assert_eq!(f.payload, b"Hello");
    assert_eq!(written(true, Opcode::Text, b"Hello", None), bytes);
}

#[test]
fn rfc_single_frame_masked_text() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (f, n) = frame(&bytes);
    assert_eq!(n, 11);
    assert_eq!(f.header.mask, Some(KEY));
    assert_eq!(unmasked(&f), b"Hello");
    assert_eq!(written(true, Opcode::Text, b"Hello", Some(KEY)), bytes);
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let second = [0x80, 0x02, 0x6c, 0x6f];
    let (f, _) = frame(&first);
    assert_eq!(
        (f.header.fin, f.header.opcode, f.payload),
        (false, Opcode::Text, &b"Hel"[..])
    );
    let (f, _) = frame(&second);
    assert_eq!(
        (f.header.fin, f.header.opcode, f.payload),
        (true, Opcode::Continuation, &b"lo"[..])
    );
    assert_eq!(written(false, Opcode::Text, b"Hel", None), first);
    assert_eq!(written(true, Opcode::Continuation, b"lo", None), second);
}

#[test]
fn rfc_ping_and_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let (f, _) = frame(&ping);
    assert_eq!((f.header.opcode, f.payload), (Opcode::Ping, &b"Hello"[..]));
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (f, _) = frame(&pong);
    assert_eq!(f.header.opcode, Opcode::Pong);
    assert_eq!(unmasked(&f), b"Hello");
    assert_eq!(written(true, Opcode::Pong, b"Hello", Some(KEY)), pong);
}

#[test]
fn rfc_16_and_64_bit_lengths() {
    let payload = vec![0xab; 256];
    let bytes = written(true, Opcode::Binary, &payload, None);
    assert_eq!(bytes[..4], [0x82, 0x7e, 0x01, 0x00]);
    let (f, n) = frame(&bytes);
    assert_eq!(
        (f.header.payload_len, f.header.length_encoding(), n),
        (256, 16, 260)
    );

    let payload = vec![0xcd; 65536];
    let bytes = written(true, Opcode::Binary, &payload, None);
    assert_eq!(bytes[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    let (f, n) = frame(&bytes);
    assert_eq!(
        (f.header.payload_len, f.header.length_encoding(), n),
        (65536, 64, 65546)
    );
    assert_eq!(f.payload, &payload[..]);
}

#[test]
fn header_errors() {
    let err = |b: &[u8]| parse_header(b).unwrap_err();
    for op in [3u8, 7, 0xb, 0xf] {
        assert_eq!(err(&[0x80 | op, 0]), FrameError::ReservedOpcode(op));
    }
    assert_eq!(err(&[0x09]), FrameError::FragmentedControl);
    assert_eq!(err(&[0x88, 0x7e]), FrameError::ControlTooLong);
    assert_eq!(err(&[0x8a, 0xff]), FrameError::ControlTooLong);
    assert_eq!(err(&[0x82, 0x7e, 0x00, 0x7d]), FrameError::NonMinimalLength);
    assert_eq!(
        err(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
        FrameError::NonMinimalLength
    );
    assert_eq!(
        err(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        FrameError::LengthTopBit
    );
    assert_eq!(FrameError::LengthTopBit.close_code(), 1002);
    // Reported before the rest of the header arrives.
    assert_eq!(err(&[0x0b]).to_string(), "reserved opcode 0xb");
    // A control frame of exactly 125 bytes is fine.
    assert!(parse_header(&[0x89, 0x7d]).is_ok());
}

#[test]
fn rsv_bits_pass_through_to_the_session() {
    let Parsed::Complete { value, .. } = parse_header(&[0xf1, 0x00]).unwrap() else {
        panic!("incomplete");
    };
    assert_eq!(value.rsv, 0b111);
}

#[test]
fn huge_length_is_incomplete_not_a_panic() {
    let bytes = [
        0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2,
    ];
    assert_eq!(parse_frame(&bytes), Ok(Parsed::Incomplete));
}

fn any_header() -> impl Strategy<Value = FrameHeader> {
    let opcode = prop::sample::select(vec![
        Opcode::Continuation,
        Opcode::Text,
        Opcode::Binary,
        Opcode::Close,
        Opcode::Ping,
        Opcode::Pong,
    ]);
    let len = prop_oneof![0u64..=125, 126u64..=0xffff, 0x1_0000u64..=u64::MAX >> 1];
    (any::<bool>(), 0u8..8, opcode, any::<Option<[u8; 4]>>(), len).prop_map(
        |(fin, rsv, opcode, mask, len)| FrameHeader {
            fin: fin || opcode.is_control(),
            rsv,
            opcode,
            mask,
            payload_len: if opcode.is_control() { len % 126 } else { len },
        },
    )
}

proptest! {
    #[test]
    fn header_roundtrip_and_prefixes(h in any_header()) {
        let mut out = Vec::new();
        write_header(&h, &mut out);
        prop_assert_eq!(out.len(), h.encoded_len());
        prop_assert_eq!(
            parse_header(&out),
            Ok(Parsed::Complete { value: h, consumed: out.len() })
        );
        for cut in 0..out.len() {
            prop_assert_eq!(parse_header(&out[..cut]), Ok(Parsed::Incomplete));
        }
    }

    #[test]
    fn frame_roundtrip(
        fin in any::<bool>(),
        op in prop::sample::select(vec![Opcode::Continuation, Opcode::Text, Opcode::Binary]),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        mask in any::<Option<[u8; 4]>>(),
        trailing in prop::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut bytes = written(fin, op, &payload, mask);
        let len = bytes.len();
        bytes.extend_from_slice(&trailing);
        let (f, n) = frame(&bytes);
        prop_assert_eq!(n, len);
        prop_assert_eq!((f.header.fin, f.header.opcode, f.header.mask), (fin, op, mask));
        prop_assert_eq!(unmasked(&f), payload);
        prop_assert_eq!(parse_frame(&bytes[..len - 1]), Ok(Parsed::Incomplete));
    }

    #[test]
    fn accepted_headers_reencode_exactly(bytes in prop::collection::vec(any::<u8>(), 0..16)) {
        // Anything accepted is in canonical form, so it re-encodes to the same bytes.
        if let Ok(Parsed::Complete { value, consumed }) = parse_header(&bytes) {
            let mut out = Vec::new();
            write_header(&value, &mut out);
            prop_assert_eq!(&out[..], &bytes[..consumed]);
        }
        let _ = parse_frame(&bytes);
    }

}
