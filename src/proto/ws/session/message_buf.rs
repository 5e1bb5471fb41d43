//! The session's message buffer: 8 bytes while empty, which is nearly always.
//!
//! A message is buffered only when it arrives in several frames or several reads;
//! a server holds thousands of idle sessions, and a plain `Vec` would cost each of
//! them 24 bytes for nothing. Boxing the `Vec` costs one more allocation per
//! buffered message, on the path that already allocates.

#[derive(Default)]
#[allow(clippy::box_collection)] // the point: 8 bytes while empty, not 24
pub(super) struct MessageBuf(Option<Box<Vec<u8>>>);

impl MessageBuf {
    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |v| v.len())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn capacity(&self) -> usize {
        self.0.as_ref().map_or(0, |v| v.capacity())
    }

    pub(super) fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.0.get_or_insert_default().extend_from_slice(bytes);
        }
    }

    /// The capacity the buffer grows to if it must hold `additional` more bytes: what
    /// it has if that is enough, else double (at least 64 bytes, at least the need).
    /// Growth is done here rather than by `Vec`'s own policy so that a memory budget
    /// can be asked for the exact amount beforehand.
    pub(super) fn capacity_for(&self, additional: usize) -> usize {
        let need = self.len().saturating_add(additional);
        let cap = self.capacity();
        if need <= cap {
            cap
        } else {
            need.max(cap.saturating_mul(2)).max(64)
        }
    }

    /// Grows the heap to `capacity` (from [`capacity_for`](Self::capacity_for)).
    pub(super) fn grow_to(&mut self, capacity: usize) {
        let v = self.0.get_or_insert_default();
        v.reserve_exact(capacity.saturating_sub(v.len()));
    }

    /// The bytes as a `Vec`, to be written into its spare capacity (by an inflater);
    /// its capacity still grows only by [`grow_to`](Self::grow_to).
    pub(super) fn vec_mut(&mut self) -> &mut Vec<u8> {
        self.0.get_or_insert_default()
    }

    /// Takes the bytes out, leaving the buffer empty and without heap.
    pub(super) fn take(&mut self) -> Vec<u8> {
        self.0.take().map(|v| *v).unwrap_or_default()
    }

    /// Puts bytes back (taken with [`take`](Self::take)); an empty `Vec` frees them.
    pub(super) fn put(&mut self, bytes: Vec<u8>) {
        self.0 = (!bytes.is_empty()).then(|| Box::new(bytes));
    }

    pub(super) fn clear(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_bytes_and_frees_them() {
        let mut b = MessageBuf::default();
        assert!(b.is_empty() && b.capacity() == 0);
        b.extend_from_slice(b"");
        assert_eq!(b.capacity(), 0, "nothing allocated for nothing");
        b.extend_from_slice(b"ab");
        b.extend_from_slice(b"c");
        assert_eq!(b.len(), 3);
        let mut v = b.take();
        assert_eq!(v, b"abc");
        assert!(b.is_empty() && b.capacity() == 0);
        v.truncate(1);
        b.put(v);
        assert_eq!(b.len(), 1);
        b.put(Vec::new());
        assert_eq!(b.capacity(), 0);
        b.extend_from_slice(b"x");
        b.clear();
        assert_eq!(
            b.capacity_for(10),
            64,
            "a first allocation is at least 64 bytes"
        );
        b.grow_to(b.capacity_for(100));
        assert_eq!(b.capacity(), 100);
        b.extend_from_slice(&[0; 100]);
        assert_eq!(b.capacity_for(0), 100, "no growth needed");
        assert_eq!(b.capacity_for(1), 200, "then double");
        assert_eq!(b.capacity_for(500), 600, "or the need, if larger");
        b.clear();
        assert!(b.is_empty() && b.capacity() == 0);
        assert_eq!(std::mem::size_of::<MessageBuf>(), 8);
    }
}
