//! WebSocket frames: header parse and emit, and whole frames in a buffer (RFC 6455 §5.2,
//! §5.5; test vectors from §5.7). Payload masking (§5.3) is in [`super::mask`] and is
//! re-exported here, where callers have always found it.
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
pub use super::mask::apply_mask;

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
    let Some((payload_len, ext)) = parse_length(len7, rest)? else {
        return Ok(Parsed::Incomplete);
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

/// The payload length announced by the 7-bit field `len7` and the extended length at
/// the start of `rest`, with the number of extended bytes; `None` until they are here.
#[inline]
fn parse_length(len7: u8, rest: &[u8]) -> Result<Option<(u64, usize)>, FrameError> {
    Ok(Some(match len7 {
        126 => {
            let Some(b) = rest.first_chunk::<2>() else {
                return Ok(None);
            };
            let n = u16::from_be_bytes(*b);
            if n < 126 {
                return Err(FrameError::NonMinimalLength);
            }
            (u64::from(n), 2)
        }
        127 => {
            let Some(b) = rest.first_chunk::<8>() else {
                return Ok(None);
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
    }))
}

/// Append `h` in its minimal encoding.
pub fn write_header(h: &FrameHeader, out: &mut Vec<u8>) {
    let (head, len) = encode_header(h);
    out.extend_from_slice(head.get(..len).unwrap_or_default());
}

/// `h` in its minimal encoding: the bytes (the first `len` of the array) and `len`.
#[inline]
fn encode_header(h: &FrameHeader) -> ([u8; MAX_HEADER_LEN], usize) {
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
    (head, len)
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
    write_frame_rsv(out, fin, 0, opcode, payload, mask);
}

/// [`write_frame`] with RSV bits (RSV1 = 0b100 marks a compressed message, RFC 7692).
pub fn write_frame_rsv(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let (head, len) = encode_header(&header);
    // All 14 bytes of the array are appended and the unused ones cut off again: a
    // copy of a fixed size is two stores, where one of `len` bytes is a call to memcpy.
    out.reserve(MAX_HEADER_LEN + payload.len());
    let at = out.len();
    out.extend_from_slice(&head);
    out.truncate(at + len);
    let start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(data)) = (mask, out.get_mut(start..)) {
        apply_mask(data, key, 0);
    }
}

/// Append an unfragmented, unmasked, uncompressed data frame: what a server sends as
/// the reply to most messages. [`write_frame`] with `fin` set and no mask, written out
/// by hand because it is on the echo path: the header is 2, 4 or 10 bytes stored at
/// once, then the payload.
#[inline]
pub fn write_server_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    out.reserve(10 + payload.len());
    write_server_header(out, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// The header of [`write_server_frame`] alone, for a payload of `n` bytes sent from
/// elsewhere. Always inlined: called from two places on the echo path, the compiler
/// would otherwise make it a call (callgrind: 21 of an echo's 306 instructions).
#[inline(always)]
pub fn write_server_header(out: &mut Vec<u8>, opcode: Opcode, n: usize) {
    let b0 = 0x80 | opcode.as_u8();
    if n < 126 {
        out.extend_from_slice(&[b0, n as u8]);
    } else if let Ok(n) = u16::try_from(n) {
        let [hi, lo] = n.to_be_bytes();
        out.extend_from_slice(&[b0, 126, hi, lo]);
    } else {
        let [a, b, c, d, e, f, g, h] = (n as u64).to_be_bytes();
        out.extend_from_slice(&[b0, 127, a, b, c, d, e, f, g, h]);
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
mod tests;
