//! The TCP line-echo side of the benchmark: each message is `size - 1` printable
//! bytes and a '\n', and the echo stream is checked against what was sent by
//! position alone — no line splitting, no copy, however the bytes are chunked.

use super::pattern::{Pattern, VARIANTS, pattern};

pub struct LineWire {
    lines: Vec<Vec<u8>>,
}

impl LineWire {
    pub fn new(size: usize) -> LineWire {
        LineWire {
            lines: (0..VARIANTS)
                .map(|v| pattern(size, v, Pattern::Line))
                .collect(),
        }
    }

    /// Message number `i`, newline included.
    #[inline]
    pub fn line(&self, i: u64) -> &[u8] {
        self.lines
            .get(i as usize % VARIANTS)
            .map_or(&[], Vec::as_slice)
    }
}

/// Per-connection receive state: bytes of the oldest outstanding message seen.
#[derive(Default)]
pub struct LineRx {
    off: usize,
}

impl LineRx {
    /// Checks `data`, the next bytes from the server; returns how many messages it
    /// completed. `first` is the oldest outstanding message, `in_flight` how many are.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        wire: &LineWire,
        first: u64,
        in_flight: u64,
    ) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            if done >= in_flight {
                return Err("the server sent more bytes than it was sent".into());
            }
            let line = wire.line(first + done);
            let take = data.len().min(line.len() - self.off);
            let (chunk, rest) = data.split_at(take);
            if line.get(self.off..self.off + take) != Some(chunk) {
                return Err(format!(
                    "an echo differs from the line sent (message {}, bytes {}..{})",
                    first + done,
                    self.off,
                    self.off + take
                ));
            }
            self.off += take;
            data = rest;
            if self.off == line.len() {
                self.off = 0;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Whether a message is partly received.
    pub fn mid_message(&self) -> bool {
        self.off != 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn echoes_check_in_any_chunking() {
        let wire = LineWire::new(64);
        let stream: Vec<u8> = (3..9).flat_map(|i| wire.line(i).to_vec()).collect();
        for chunk in [1, 7, 64, 65, 1000] {
            let mut rx = LineRx::default();
            let mut got = 0;
            for piece in stream.chunks(chunk) {
                got += rx.feed(piece, &wire, 3 + got, 6 - got).unwrap();
            }
            assert_eq!(got, 6);
            assert!(!rx.mid_message());
        }
    }

    #[test]
    fn wrong_echoes_are_errors() {
        let wire = LineWire::new(16);
        assert!(LineRx::default().feed(wire.line(1), &wire, 0, 1).is_err());
        assert!(LineRx::default().feed(wire.line(0), &wire, 0, 0).is_err());
        let mut twice = wire.line(0).to_vec();
        twice.extend_from_slice(wire.line(0));
        assert!(LineRx::default().feed(&twice, &wire, 0, 2).is_err());
    }
}
