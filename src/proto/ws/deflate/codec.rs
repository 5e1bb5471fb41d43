//! The deflate streams themselves (RFC 7692 §7.2), over zlib-rs through `flate2`: raw
//! deflate, each message ending in a sync flush whose `00 00 ff ff` tail is not sent.
//!
//! [`Deflater`] compresses one message at a time, on its own (no context taken over
//! from the message before), so one of them serves every connection of a loop.
//! [`Inflater`] inflates one message as its pieces arrive, into the caller's buffer.

use super::{Step, TAIL};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Heap an inflater holds (zlib-rs state and its 32 KiB window), measured: counted
/// against the memory budget while a compressed message is arriving.
pub const INFLATER_HEAP: usize = 48 * 1024;

/// Heap a deflater holds (zlib-rs state, window and hash tables; 371 KiB measured),
/// counted against the memory budget for one kept per connection (context takeover).
pub const DEFLATER_HEAP: usize = 372 * 1024;

/// Compression level 1 of 9: on 1 KiB of JSON-like text it makes 225 bytes in 4.4 µs,
/// level 6 makes 189 bytes in 9.9 µs (docs/BENCHMARKS.md, "Compression"): on a small
/// machine the CPU matters more than the last 15 %.
const LEVEL: u32 = 1;

pub struct Inflater {
    stream: Decompress,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            stream: Decompress::new_with_window_bits(false, 15),
        }
    }
}

impl Inflater {
    /// Starts a fresh stream (the next message does not refer to earlier ones).
    pub fn reset(&mut self) {
        self.stream.reset(false);
    }

    /// Inflates from `input` into `out`'s spare capacity (never beyond it).
    pub fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Step {
        let (before_in, before_out) = (self.stream.total_in(), self.stream.total_out());
        let status = self
            .stream
            .decompress_vec(input, out, FlushDecompress::None);
        self.step_from(before_in, before_out, status)
    }

    /// [`step`](Self::step) into a single byte: at the size limit, tells whether
    /// `input` inflates to anything more without room being made for it.
    pub fn probe(&mut self, input: &[u8]) -> Step {
        let mut probe = [0u8; 1];
        let (before_in, before_out) = (self.stream.total_in(), self.stream.total_out());
        let status = self
            .stream
            .decompress(input, &mut probe, FlushDecompress::None);
        self.step_from(before_in, before_out, status)
    }

    fn step_from(
        &self,
        before_in: u64,
        before_out: u64,
        status: Result<Status, flate2::DecompressError>,
    ) -> Step {
        Step {
            consumed: (self.stream.total_in() - before_in) as usize,
            produced: (self.stream.total_out() - before_out) as usize,
            ended: matches!(status, Ok(Status::StreamEnd)),
            corrupt: status.is_err(),
        }
    }
}

pub struct Deflater {
    stream: Compress,
    /// The last message's compressed bytes; kept for the next one.
    out: Vec<u8>,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater {
            stream: Compress::new_with_window_bits(Compression::new(LEVEL), false, 15),
            out: Vec::new(),
        }
    }
}

/// Most compressed bytes a deflater keeps between messages; more is freed after use.
const KEEP: usize = 64 * 1024;

impl Deflater {
    /// `data` compressed as one message on its own, using back-references no longer
    /// than `2^window_bits` bytes, without the tail. With a window under 32 KiB the
    /// message is compressed in pieces of the window's size, each started afresh, so
    /// that no reference can reach further (zlib-rs has no 256-byte window). `None`
    /// if the compressor failed (it should not): the message then goes uncompressed.
    pub fn compress(&mut self, data: &[u8], window_bits: u8) -> Option<&[u8]> {
        self.begin(data.len());
        let piece = match window_bits {
            15.. => usize::MAX,
            bits => 1 << bits.max(8),
        };
        for chunk in data.chunks(piece.min(data.len().max(1))) {
            self.stream.reset();
            self.feed(chunk)?;
        }
        Some(self.finish())
    }

    /// `data` compressed after the messages this deflater compressed before (context
    /// takeover, RFC 7692 §7.1.1: the peer's inflater still holds them, so references
    /// may reach back into them; window 15). On a failure the history is dropped
    /// (`None`: send this one uncompressed, the next ones start afresh).
    pub fn compress_continuing(&mut self, data: &[u8]) -> Option<&[u8]> {
        self.begin(data.len());
        if self.feed(data).is_none() {
            self.stream.reset();
            return None;
        }
        Some(self.finish())
    }

    fn begin(&mut self, len: usize) {
        self.out.clear();
        if self.out.capacity() > KEEP {
            self.out = Vec::new();
        }
        // Deflate grows incompressible data by 5 bytes per stored block; this is
        // enough for the usual case and `feed` grows it if not.
        self.out.reserve(len + len / 64 + 64);
    }

    /// Compresses `chunk` into `out`, ending with a sync flush.
    fn feed(&mut self, chunk: &[u8]) -> Option<()> {
        let mut rest = chunk;
        loop {
            if self.out.capacity() - self.out.len() < 64 {
                self.out.reserve(self.out.capacity().max(256));
            }
            let before = self.stream.total_in();
            let status = self
                .stream
                .compress_vec(rest, &mut self.out, FlushCompress::Sync);
            status.ok()?;
            rest = rest
                .get((self.stream.total_in() - before) as usize..)
                .unwrap_or_default();
            // The flush is complete once all input is taken and room was left over.
            if rest.is_empty() && self.out.capacity() > self.out.len() {
                return Some(());
            }
        }
    }

    /// The compressed message, without the sync flush's tail.
    fn finish(&mut self) -> &[u8] {
        let end = self.out.len().saturating_sub(TAIL.len());
        if self.out.get(end..) == Some(&TAIL[..]) {
            self.out.truncate(end);
        }
        &self.out
    }

    /// Heap held between messages.
    pub fn heap_bytes(&self) -> usize {
        self.out.capacity()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;

    fn inflate(compressed: &[u8]) -> Vec<u8> {
        let mut i = Inflater::default();
        let mut out = Vec::with_capacity(1 << 20);
        let mut input = compressed.to_vec();
        input.extend_from_slice(&TAIL);
        let step = i.step(&input, &mut out);
        assert!(!step.corrupt);
        assert_eq!(step.consumed, input.len());
        out
    }

    #[test]
    fn the_rfcs_hello_inflates() {
        // RFC 7692 §7.2.3.1: "Hello" compressed, without the tail.
        assert_eq!(
            inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            b"Hello"
        );
        // §7.2.3.3: the same with no compression (a stored block).
        assert_eq!(
            inflate(&[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00
            ]),
            b"Hello"
        );
    }

    #[test]
    fn round_trips_with_every_window() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("line {} of the test ", i % 97).into_bytes())
            .collect();
        let mut d = Deflater::default();
        for bits in 8..=15 {
            let c = d.compress(&text, bits).unwrap().to_vec();
            assert!(c.len() < text.len() / 2, "window {bits}: {}", c.len());
            assert_eq!(inflate(&c), text, "window {bits}");
        }
        assert_eq!(inflate(d.compress(b"", 15).unwrap()), b"");
    }

    #[test]
    fn context_takeover_refers_back_to_earlier_messages() {
        let line = b"the same chat line, over and over; the same chat line".repeat(3);
        let mut d = Deflater::default();
        let mut i = Inflater::default();
        let mut sizes = Vec::new();
        for _ in 0..3 {
            let mut input = d.compress_continuing(&line).unwrap().to_vec();
            sizes.push(input.len());
            input.extend_from_slice(&TAIL);
            let mut out = Vec::with_capacity(1000);
            let step = i.step(&input, &mut out);
            assert!(!step.corrupt && step.consumed == input.len());
            assert_eq!(out, line);
        }
        assert!(
            sizes[1] < sizes[0] / 3,
            "the second refers to the first: {sizes:?}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut i = Inflater::default();
        let mut out = Vec::with_capacity(100);
        assert!(i.step(&[0xff; 16], &mut out).corrupt);
    }
}
