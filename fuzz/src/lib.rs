//! Helpers shared by the fuzz targets: how an input is cut into chunks.
//!
//! Every chunked target starts its input with a short chunking header read through
//! `arbitrary::Unstructured` (integers are taken from the front of the input), and the
//! rest of the input is the byte stream itself, so a seed file is that header followed
//! by a real protocol stream:
//!
//! ```text
//! byte 0       n: how many chunk sizes follow (n % 8 + 1 of them)
//! next bytes   the sizes, each byte b meaning a chunk of b + 1 bytes
//! ```
//!
//! The sizes are cycled over the stream, so `[0x00, 0x00]` feeds it one byte at a time
//! and `[0x00, 0xff]` in 256-byte chunks.

use arbitrary::{Arbitrary, Unstructured};

/// Draws the chunking header (see the module comment).
pub fn draw_sizes(u: &mut Unstructured<'_>) -> Vec<usize> {
    let n = usize::from(u8::arbitrary(u).unwrap_or(0) % 8) + 1;
    (0..n)
        .map(|_| usize::from(u8::arbitrary(u).unwrap_or(0)) + 1)
        .collect()
}

/// The end offsets of the chunks that cover `len` bytes when `sizes` are cycled; the
/// last one is `len` (no offsets at all for an empty stream).
pub fn chunk_ends(len: usize, sizes: &[usize]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut pos = 0;
    for &size in sizes.iter().cycle() {
        if pos >= len {
            break;
        }
        pos = (pos + size.max(1)).min(len);
        ends.push(pos);
    }
    ends
}

/// `chunk_ends` with extra cut points merged in (sorted, deduplicated, all `<= len`).
pub fn merge_cuts(mut ends: Vec<usize>, extra: &[usize], len: usize) -> Vec<usize> {
    ends.extend(extra.iter().map(|&c| c.min(len)).filter(|&c| c > 0));
    ends.sort_unstable();
    ends.dedup();
    ends
}
