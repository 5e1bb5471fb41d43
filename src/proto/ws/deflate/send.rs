//! Sending a message with permessage-deflate (RFC 7692 §6.1): one frame, RSV1 set and
//! the payload compressed when that pays, else the plain frame (always allowed: RSV1
//! clear means "not compressed", §6).

use super::Deflater;
use crate::proto::ws::frame::{self, Opcode};

/// RSV1, the bit that marks the first frame of a compressed message.
pub const RSV1: u8 = 0b100;

/// Messages shorter than this go uncompressed. Each message is compressed on its own,
/// so a short one has no history to refer to: a 54-byte JSON message comes out at 55
/// bytes, while starting the compressor afresh costs ~3 µs (it clears a 128 KiB hash
/// table). From about 128 bytes up, text shrinks by a third or more.
pub const MIN_COMPRESSED: usize = 128;

/// How this connection compresses what it sends.
pub struct Compression<'a> {
    pub deflater: &'a mut Deflater,
    /// The peer's window limit (`*_max_window_bits`).
    pub window_bits: u8,
    /// Context takeover: `deflater` is this connection's own and carries its history
    /// from message to message (window 15).
    pub context: bool,
}

/// Appends `data` as one message of `opcode` (text or binary), compressed when
/// `compression` is given, the message is long enough and compressing shrinks it.
/// Says whether it was compressed.
pub fn write_message(
    out: &mut Vec<u8>,
    opcode: Opcode,
    data: &[u8],
    mask: Option<[u8; 4]>,
    compression: Option<Compression<'_>>,
) -> bool {
    if let Some(c) = compression.filter(|_| data.len() >= MIN_COMPRESSED) {
        if c.context {
            // The compressor's history now holds this message, so the peer's must
            // too: it goes compressed even if that did not shrink it.
            if let Some(packed) = c.deflater.compress_continuing(data) {
                frame::write_frame_rsv(out, true, RSV1, opcode, packed, mask);
                return true;
            }
        } else if let Some(packed) = c.deflater.compress(data, c.window_bits)
            && packed.len() < data.len()
        {
            frame::write_frame_rsv(out, true, RSV1, opcode, packed, mask);
            return true;
        }
    }
    frame::write_frame(out, true, opcode, data, mask);
    false
}
