//! Output lent from the input: a large echo goes out from where it arrived.
//!
//! An echoed WebSocket message is unmasked in place in the loop's read buffer; copying
//! it into the output buffer only to have the kernel copy it again is a pass over every
//! byte for nothing. So, for a payload of at least [`LEND_MIN`] bytes that lies in the
//! read buffer, the service writes only the reply's header into the output and *lends*
//! the payload: it notes where in the output it belongs and where in the input it lies.
//! The loop then sends the output and the lent pieces, in order, with one vectored
//! write (`writev`); only what the kernel does not take is copied, into the
//! connection's queue, as any unsent output is.
//!
//! The rules that keep this sound:
//! - lending is open only while the loop serves bytes straight from its read buffer
//!   (not a connection's leftover input), and not while tracing (the trace reads the
//!   frames sent from the output buffer);
//! - a lent range is never written again during the step: the sessions only ever
//!   unmask bytes after the ones they have delivered;
//! - pieces are noted in the order they are written, at output positions that only
//!   grow; when output is taken back (a message after our Close is dropped), the
//!   pieces past that point go with it ([`Lend::truncate`]).
//!
//! What is lent is bounded by the read buffer, so it needs no share of the output
//! budget: a step cannot lend more than one read brought.

/// Payloads shorter than this are copied: below it, a copy costs less than an extra
/// piece of a vectored write.
pub const LEND_MIN: usize = 2048;

/// A payload lent from the input: `len` bytes at `start` in the input, to be sent
/// after the first `at` bytes of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub at: usize,
    pub start: usize,
    pub len: usize,
}

/// The input that may lend, while a step is served, and what it lent.
#[derive(Debug, Default)]
pub struct Lend {
    /// The input's address and length, while lending is open.
    input: Option<(usize, usize)>,
    pieces: Vec<Piece>,
}

impl Lend {
    /// `input` may lend until [`close`](Self::close).
    pub fn open(&mut self, input: &[u8]) {
        self.input = Some((input.as_ptr() as usize, input.len()));
        self.pieces.clear();
    }

    /// Ends lending; gives the pieces lent since [`open`](Self::open).
    pub fn close(&mut self) -> &[Piece] {
        self.input = None;
        &self.pieces
    }

    /// Forgets the pieces (once sent).
    pub fn clear(&mut self) {
        self.pieces.clear();
    }

    /// Lends `data` to be sent after the first `at` bytes of the output, if it lies in
    /// the open input and is long enough to be worth it; `false` says copy it instead.
    pub fn lend(&mut self, data: &[u8], at: usize) -> bool {
        let Some((base, len)) = self.input else {
            return false;
        };
        // Where `data` starts in the input, by address: it was borrowed from it (or
        // from elsewhere, which the bounds check tells).
        let start = (data.as_ptr() as usize).wrapping_sub(base);
        if data.len() < LEND_MIN || start > len || data.len() > len - start {
            return false;
        }
        self.pieces.push(Piece {
            at,
            start,
            len: data.len(),
        });
        true
    }

    /// The output was cut back to `len` bytes: pieces lent after that point go too.
    pub fn truncate(&mut self, len: usize) {
        self.pieces.retain(|p| p.at <= len);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn lends_only_long_slices_of_the_open_input() {
        let input = vec![7u8; 3 * LEND_MIN];
        let elsewhere = vec![7u8; 2 * LEND_MIN];
        let mut lend = Lend::default();
        assert!(!lend.lend(&input[..LEND_MIN], 0), "closed: nothing is lent");
        lend.open(&input);
        assert!(!lend.lend(&input[..LEND_MIN - 1], 0), "too short");
        assert!(!lend.lend(&elsewhere, 0), "not in the input");
        assert!(lend.lend(&input[10..10 + LEND_MIN], 2));
        assert!(lend.lend(&input[LEND_MIN + 20..], 4));
        let want = [
            Piece {
                at: 2,
                start: 10,
                len: LEND_MIN,
            },
            Piece {
                at: 4,
                start: LEND_MIN + 20,
                len: 2 * LEND_MIN - 20,
            },
        ];
        assert_eq!(lend.close(), want);
        assert!(!lend.lend(&input[..LEND_MIN], 9), "closed again");
    }

    #[test]
    fn truncation_takes_later_pieces() {
        let input = vec![0u8; 2 * LEND_MIN];
        let mut lend = Lend::default();
        lend.open(&input);
        assert!(lend.lend(&input[..LEND_MIN], 2));
        assert!(lend.lend(&input[LEND_MIN..], 6));
        lend.truncate(4);
        assert_eq!(lend.close().len(), 1);
        lend.clear();
        assert!(lend.close().is_empty());
    }
}
