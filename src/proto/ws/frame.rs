//! WebSocket frames: header parse and emit, and payload masking (RFC 6455 §5.2, §5.3,
//! §5.5; test vectors from §5.7).
//!
//! ```text
//!  byte 0: FIN RSV1 RSV2 RSV3 opcode(4)   byte 1: MASK len7(7)
//!  then 2 (len7 = 126) or 8 (len7 = 127) bytes of big-endian length, then 4 bytes of
//!  masking key if MASK is set, then the payload.
//! ```
//!
//! This layer checks only what one header can show on its own: the opcode is defined,
//! control frames are short and unfragmented (§5.5), and the length is well formed.
//! Whether a frame must be masked, whether RSV bits are allowed and whether a
//! continuation is expected depend on the connection, so the session checks those.
//!
//! Non-minimal length encodings (e.g. 5 carried in the 16-bit form) are refused with
//! 1002. §5.2 says the minimal form MUST be used; refusing it keeps every header with one
//! encoding, so `write_header(parse_header(b)) == b` holds for anything accepted.
//! (Autobahn does not test this; tungstenite accepts such frames.)

use std::fmt;

use super::super::Parsed;
pub use super::codes::Opcode;

/// Longest possible header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;

/// Largest payload a control frame may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
}

impl FrameHeader {
    /// Bytes this header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let ext = match self.length_encoding() {
            7 => 0,
            16 => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Which length form carries `payload_len`: 7, 16 or 64 bits. Since non-minimal
    /// forms are refused, this is also the form the header arrived in.
    pub fn length_encoding(&self) -> u8 {
        match self.payload_len {
            0..=125 => 7,
            126..=0xffff => 16,
            _ => 64,
        }
    }
}

/// A whole frame seen in a buffer: its header and its payload, still masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: FrameHeader,
    pub payload: &'a [u8],
}

/// A header that no connection could accept. All of them are protocol errors (1002).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    ReservedOpcode(u8),
    /// 64-bit length with the most significant bit set (§5.2).
    LengthTopBit,
    NonMinimalLength,
    /// A control frame whose 7-bit length is over 125 (126 and 127 announce longer forms).
    ControlTooLong,
    FragmentedControl,
}

impl FrameError {
    /// Close status to send (§7.4.1).
    pub fn close_code(&self) -> u16 {
        1002
    }

    /// Short text for the close frame and for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            FrameError::ReservedOpcode(_) => "reserved opcode",
            FrameError::LengthTopBit => "64-bit payload length has its top bit set",
            FrameError::NonMinimalLength => "payload length not in its shortest form",
            FrameError::ControlTooLong => "control frame payload over 125 bytes",
            FrameError::FragmentedControl => "control frame without FIN",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parse a frame header at the start of `buf`; `consumed` is the header length.
///
/// Errors are reported as soon as the bytes that show them are here: a bad opcode or a
/// fragmented control frame from the first byte, a bad length once it has arrived.
pub fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, FrameError> {
    let Some(&b0) = buf.first() else {
        return Ok(Parsed::Incomplete);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    let opcode = Opcode::from_u8(b0 & 0xf).ok_or(FrameError::ReservedOpcode(b0 & 0xf))?;
    if opcode.is_control() && !fin {
        return Err(FrameError::FragmentedControl);
    }
    let Some(&b1) = buf.get(1) else {
        return Ok(Parsed::Incomplete);
    };
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7f;
    if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
        return Err(FrameError::ControlTooLong);
    }
    let rest = buf.get(2..).unwrap_or_default();
    let (payload_len, ext) = match len7 {
        126 => {
            let Some(b) = rest.first_chunk::<2>() else {
                return Ok(Parsed::Incomplete);
            };
            let n = u16::from_be_bytes(*b);
            if n < 126 {
                return Err(FrameError::NonMinimalLength);
            }
            (u64::from(n), 2)
        }
        127 => {
            let Some(b) = rest.first_chunk::<8>() else {
                return Ok(Parsed::Incomplete);
            };
            let n = u64::from_be_bytes(*b);
            if n >> 63 != 0 {
                return Err(FrameError::LengthTopBit);
            }
            if n <= 0xffff {
                return Err(FrameError::NonMinimalLength);
            }
            (n, 8)
        }
        n => (u64::from(n), 0),
    };
    let mask = if masked {
        let Some(key) = rest.get(ext..).and_then(|r| r.first_chunk::<4>()) else {
            return Ok(Parsed::Incomplete);
        };
        Some(*key)
    } else {
        None
    };
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
    };
    Ok(Parsed::Complete {
        value: header,
        consumed: header.encoded_len(),
    })
}

/// Append `h` in its minimal encoding.
pub fn write_header(h: &FrameHeader, out: &mut Vec<u8>) {
    // Assembled in a local array and appended once: one capacity check, not five.
    let mut head = [0u8; MAX_HEADER_LEN];
    let mask_bit = if h.mask.is_some() { 0x80 } else { 0 };
    head[0] = (u8::from(h.fin) << 7) | ((h.rsv & 0x7) << 4) | h.opcode.as_u8();
    let mut len = match h.length_encoding() {
        7 => {
            head[1] = mask_bit | h.payload_len as u8;
            2
        }
        16 => {
            head[1] = mask_bit | 126;
            head[2..4].copy_from_slice(&(h.payload_len as u16).to_be_bytes());
            4
        }
        _ => {
            head[1] = mask_bit | 127;
            head[2..10].copy_from_slice(&h.payload_len.to_be_bytes());
            10
        }
    };
    if let (Some(key), Some(slot)) = (h.mask, head.get_mut(len..len + 4)) {
        slot.copy_from_slice(&key);
        len += 4;
    }
    out.extend_from_slice(head.get(..len).unwrap_or_default());
}

/// Append a whole frame (no RSV bits): header, then the payload, masked if `mask` is
/// given. One reservation, one copy of the payload.
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    out.reserve(header.encoded_len() + payload.len());
    write_header(&header, out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(data)) = (mask, out.get_mut(start..)) {
        apply_mask(data, key, 0);
    }
}

/// XOR `data` with the masking key (§5.3). `offset` is the position of `data[0]` within
/// the payload, so a payload that arrives in pieces can be unmasked piece by piece.
/// Masking and unmasking are the same operation.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as a little-endian number, turned so that its first byte is the one for
    // data[0], then repeated to 8 bytes: one XOR covers 8 payload bytes. Loading and
    // storing the payload little-endian too keeps byte i against key byte i on every
    // machine (and costs nothing on little-endian ones).
    let shift = 8 * (offset % 4) as u32;
    let k = u32::from_le_bytes(key).rotate_right(shift);
    let wide = u64::from(k) | (u64::from(k) << 32);
    // 32 bytes per round, four independent words: the compiler turns this into
    // vector XORs; then single words; then the last few bytes.
    let mut blocks = data.chunks_exact_mut(32);
    for block in &mut blocks {
        for word in block.chunks_exact_mut(8) {
            if let Some(w) = word.first_chunk_mut::<8>() {
                *w = (u64::from_le_bytes(*w) ^ wide).to_le_bytes();
            }
        }
    }
    let mut words = blocks.into_remainder().chunks_exact_mut(8);
    for word in &mut words {
        if let Some(w) = word.first_chunk_mut::<8>() {
            *w = (u64::from_le_bytes(*w) ^ wide).to_le_bytes();
        }
    }
    // The tail is shorter than 8 bytes and starts at a multiple of 8, so its key
    // phase is that of data[0].
    for (b, k) in words
        .into_remainder()
        .iter_mut()
        .zip(k.to_le_bytes().iter().cycle())
    {
        *b ^= k;
    }
}

/// Parse a whole frame at the start of `buf`; the payload is borrowed and still masked.
pub fn parse_frame(buf: &[u8]) -> Result<Parsed<Frame<'_>>, FrameError> {
    let (header, header_len) = match parse_header(buf)? {
        Parsed::Complete { value, consumed } => (value, consumed),
        Parsed::Incomplete => return Ok(Parsed::Incomplete),
    };
    // A length that does not fit in usize cannot be in memory either: keep waiting,
    // exactly as for any other frame that has not fully arrived.
    let payload = usize::try_from(header.payload_len)
        .ok()
        .and_then(|len| buf.get(header_len..)?.get(..len));
    Ok(match payload {
        Some(payload) => Parsed::Complete {
            value: Frame { header, payload },
            consumed: header_len + payload.len(),
        },
        None => Parsed::Incomplete,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
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

    #[test]
    fn mask_across_pieces() {
        let mut data = *b"Hello, masked world!";
        let mut whole = data;
        apply_mask(&mut whole, KEY, 0);
        let (a, b) = data.split_at_mut(7);
        apply_mask(a, KEY, 0);
        apply_mask(b, KEY, 7);
        assert_eq!(data, whole);
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

        #[test]
        fn mask_is_involution_and_matches_naive(
            data in prop::collection::vec(any::<u8>(), 0..100),
            key in any::<[u8; 4]>(),
            offset in 0usize..1000,
        ) {
            let mut fast = data.clone();
            apply_mask(&mut fast, key, offset);
            let naive: Vec<u8> =
                data.iter().enumerate().map(|(i, b)| b ^ key[(offset + i) % 4]).collect();
            prop_assert_eq!(&fast, &naive);
            apply_mask(&mut fast, key, offset);
            prop_assert_eq!(fast, data);
        }
    }
}
