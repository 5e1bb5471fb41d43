//! DNS over TCP: each message behind a 2-byte length (RFC 1035 §4.2.2, RFC 7766 §8).

use super::DnsError;
use super::wire::put_u16;
use crate::proto::Parsed;

/// Appends `msg` with its 2-byte length prefix (RFC 1035 §4.2.2).
pub fn frame_tcp(msg: &[u8], out: &mut Vec<u8>) -> Result<(), DnsError> {
    let len = u16::try_from(msg.len()).map_err(|_| DnsError::MessageTooLong)?;
    out.reserve(2 + msg.len());
    put_u16(out, len);
    out.extend_from_slice(msg);
    Ok(())
}

/// The first length-prefixed message in a TCP byte stream, or `Incomplete` until all of
/// it has arrived. The length is 16 bits, so at most 65537 bytes are ever waited for.
pub fn parse_tcp_frame(buf: &[u8]) -> Parsed<&[u8]> {
    let Some(len) = buf.first_chunk::<2>() else {
        return Parsed::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes(*len));
    match buf.get(2..2 + len) {
        Some(value) => Parsed::Complete {
            value,
            consumed: 2 + len,
        },
        None => Parsed::Incomplete,
    }
}
