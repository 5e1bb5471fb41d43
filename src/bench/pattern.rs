//! The bytes the benchmark sends. Each run rotates through a few distinct messages,
//! so an echo that is lost, repeated or out of order is caught by a plain compare
//! against the message expected next.

/// Distinct messages sent in rotation.
pub const VARIANTS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Printable ASCII (valid UTF-8, so usable as a WebSocket text message).
    Text,
    /// Every byte value, pseudo-random.
    Binary,
    /// `size - 1` printable bytes and a '\n': one line of a line protocol.
    Line,
}

/// Message `variant` of `size` bytes. Text and lines start with the variant's digit
/// and never spell STOP (which makes sockloop's echo service hang up).
pub fn pattern(size: usize, variant: usize, kind: Pattern) -> Vec<u8> {
    let printable = |i: usize| -> u8 {
        if i == 0 {
            b'0' + (variant % 10) as u8
        } else {
            // '!'..='~' cycling, shifted per variant.
            b'!' + ((i * 7 + variant * 13) % 94) as u8
        }
    };
    match kind {
        Pattern::Text => (0..size).map(printable).collect(),
        Pattern::Line => {
            let mut v: Vec<u8> = (0..size.saturating_sub(1)).map(printable).collect();
            if size > 0 {
                v.push(b'\n');
            }
            v
        }
        Pattern::Binary => {
            // xorshift64: cheap and deterministic; quality does not matter here.
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (variant as u64 + 1);
            (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        for size in [1, 2, 5, 64, 16384] {
            for v in 0..VARIANTS {
                let t = pattern(size, v, Pattern::Text);
                assert_eq!(t.len(), size);
                assert!(t.iter().all(|b| b.is_ascii_graphic()));
                let l = pattern(size, v, Pattern::Line);
                assert_eq!(l.len(), size);
                assert_eq!(l.last(), Some(&b'\n'));
                assert!(l[..size - 1].iter().all(|b| b.is_ascii_graphic()));
                assert_ne!(&l[..], b"STOP\n");
                assert_eq!(pattern(size, v, Pattern::Binary).len(), size);
            }
            // Variants differ from their first byte.
            assert_ne!(
                pattern(size, 0, Pattern::Text),
                pattern(size, 1, Pattern::Text)
            );
        }
        assert_ne!(
            pattern(64, 0, Pattern::Binary),
            pattern(64, 1, Pattern::Binary)
        );
    }
}
