//! The part of a connection's output queue that holds fan-out frames: shared
//! [`Frame`]s (the same bytes every recipient's queue points to) and, between them,
//! the connection's own output that came after a frame was queued — so that replies
//! and deliveries leave in the order they were made.

use crate::service::fanout::Frame;
use std::collections::VecDeque;
use std::io::IoSlice;

/// Slices one vectored write takes at most (well under IOV_MAX, 1024 on Linux).
pub const MAX_SLICES: usize = 64;

enum Piece {
    Frame(Frame),
    Own(Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Frame(f) => f.bytes(),
            Piece::Own(v) => v,
        }
    }
}

#[derive(Default)]
pub struct Later {
    pieces: VecDeque<Piece>,
    /// Of the front piece, the bytes already written.
    front_sent: usize,
    /// Bytes not yet written, over all pieces.
    len: usize,
    /// Capacity of the `Own` pieces (frames are counted by the budget once, not
    /// per queue).
    own_capacity: usize,
}

impl Later {
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push_frame(&mut self, frame: Frame) {
        self.len += frame.len();
        self.pieces.push_back(Piece::Frame(frame));
    }

    /// Own output queued after a frame: appended to the last piece if that is own
    /// output too, so a run of replies stays one slice.
    pub fn push_own(&mut self, data: &[u8]) {
        self.len += data.len();
        if let Some(Piece::Own(last)) = self.pieces.back_mut() {
            self.own_capacity -= last.capacity();
            last.reserve_exact(data.len());
            last.extend_from_slice(data);
            self.own_capacity += last.capacity();
        } else {
            self.own_capacity += data.len();
            self.pieces.push_back(Piece::Own(data.to_vec()));
        }
    }

    /// `n` bytes from the front were written: whole pieces go (a frame's last holder
    /// frees it).
    pub fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.pieces.front() else {
                break;
            };
            let left = front.bytes().len() - self.front_sent;
            if n < left {
                self.front_sent += n;
                return;
            }
            n -= left;
            self.front_sent = 0;
            if let Some(Piece::Own(v)) = self.pieces.pop_front() {
                self.own_capacity -= v.capacity();
            }
        }
        if self.pieces.is_empty() {
            // An idle subscriber holds no queue.
            self.pieces = VecDeque::new();
        }
    }

    /// Heap bytes held by this queue itself.
    pub fn heap_bytes(&self) -> usize {
        self.pieces.capacity() * std::mem::size_of::<Piece>() + self.own_capacity
    }
}

/// Fills `slices` with `first` (unless empty) and then the unsent pieces; returns
/// how many slices it filled.
pub fn gather<'a>(first: &'a [u8], later: &'a Later, slices: &mut [IoSlice<'a>]) -> usize {
    let mut count = 0;
    let rest = later.pieces.iter().enumerate().map(|(i, p)| match i {
        0 => p.bytes().get(later.front_sent..).unwrap_or_default(),
        _ => p.bytes(),
    });
    for bytes in std::iter::once(first).chain(rest).filter(|b| !b.is_empty()) {
        let Some(slot) = slices.get_mut(count) else {
            break;
        };
        *slot = IoSlice::new(bytes);
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    fn frame(bytes: &[u8], live: &Rc<Cell<usize>>) -> Frame {
        Frame::new(bytes.to_vec(), live)
    }

    #[test]
    fn pieces_leave_in_order_and_frames_are_freed_by_their_last_holder() {
        let live = Rc::new(Cell::new(0));
        let shared = frame(b"MSG t one\n", &live);
        let mut a = Later::default();
        let mut b = Later::default();
        a.push_frame(shared.clone());
        b.push_frame(shared);
        a.push_own(b"OK\n");
        a.push_own(b"OK\n");
        assert_eq!(a.len(), 16);
        assert_eq!(a.pieces.len(), 2, "own output after a frame is one piece");
        let gathered = |first: &[u8], later: &Later| {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = gather(first, later, &mut slices);
            let bytes: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
            (n, bytes)
        };
        assert_eq!(
            gathered(b"early\n", &a),
            (3, b"early\nMSG t one\nOK\nOK\n".to_vec())
        );
        a.consume(4);
        assert_eq!(gathered(b"", &a), (2, b"t one\nOK\nOK\n".to_vec()));
        a.consume(12);
        assert!(a.is_empty());
        assert_eq!(a.heap_bytes(), 0);
        assert_eq!(live.get(), 10, "b still holds the frame");
        b.consume(10);
        assert_eq!(live.get(), 0, "freed with its last holder");
    }
}
