//! Sending output with pieces lent from the input (see `service/lend.rs`): the
//! output buffer and the lent payloads, in order, in one vectored write; what the
//! kernel does not take is queued as a copy, exactly as [`Conn::send`] queues.

use super::Conn;
use crate::runtime::transport::would_block;
use crate::service::lend::Piece;
use crate::trace::Layer;
use std::io::{self, IoSlice};

impl Conn {
    /// [`send`](Conn::send) for `out` with each piece of `input` inserted after the
    /// first `at` bytes of `out`. Returns the bytes written now.
    pub fn send_lent(&mut self, out: &[u8], lent: &[Piece], input: &[u8]) -> io::Result<usize> {
        if lent.is_empty() {
            return self.send(out);
        }
        let parts = parts(out, lent, input);
        if self.queues.as_ref().is_some_and(|q| q.unsent() > 0) {
            // Behind what waits already: all of it is queued, in order.
            for part in &parts {
                self.send(part)?;
            }
            return Ok(0);
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let written = match self.stream.write_vectored(&parts) {
            Ok(n) => n,
            Err(e) if would_block(&e) => 0,
            Err(e) => return Err(e),
        };
        crate::trace!(
            Layer::Loop,
            "writev {written} of {total} bytes in {} pieces",
            parts.len()
        );
        let mut skip = written;
        for part in &parts {
            let taken = skip.min(part.len());
            skip -= taken;
            self.keep_unsent(part.get(taken..).unwrap_or_default());
        }
        self.bytes_out += written as u64;
        Ok(written)
    }
}

/// The slices to send, in order: `out` cut at each piece's position, the piece
/// between. A piece that does not fit its buffers (which would be a bug) is left out
/// rather than trusted.
fn parts<'a>(out: &'a [u8], lent: &[Piece], input: &'a [u8]) -> Vec<IoSlice<'a>> {
    let mut parts = Vec::with_capacity(2 * lent.len() + 1);
    let mut from = 0;
    for p in lent {
        let (Some(before), Some(piece)) = (
            out.get(from..p.at),
            input.get(p.start..p.start.saturating_add(p.len)),
        ) else {
            continue;
        };
        parts.push(IoSlice::new(before));
        parts.push(IoSlice::new(piece));
        from = p.at;
    }
    parts.push(IoSlice::new(out.get(from..).unwrap_or_default()));
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn pieces_go_between_the_output_in_order() {
        let out = b"H1H2tail";
        let input = b"xxPAYLOAD-ONExxPAYLOAD-TWO";
        let lent = [
            Piece {
                at: 2,
                start: 2,
                len: 11,
            },
            Piece {
                at: 4,
                start: 15,
                len: 11,
            },
        ];
        let joined: Vec<u8> = parts(out, &lent, input)
            .iter()
            .flat_map(|p| p.to_vec())
            .collect();
        assert_eq!(joined, b"H1PAYLOAD-ONEH2PAYLOAD-TWOtail");
    }
}
