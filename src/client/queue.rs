//! The bytes a client loop has for its socket and the kernel has not taken yet.
//!
//! A partial write moves an offset instead of moving the rest of the queue to the
//! front (`Vec::drain` does that on every write). The sent prefix is dropped for free
//! when the queue runs empty, and moved away once it outweighs what is still waiting,
//! so the buffer holds at most about twice what is pending and, once it has grown to
//! the loop's working size, does not allocate again.

use std::io;

#[derive(Default)]
pub struct Outgoing {
    buf: Vec<u8>,
    /// How much of `buf` the kernel has taken.
    sent: usize,
}

impl Outgoing {
    pub fn is_empty(&self) -> bool {
        self.sent == self.buf.len()
    }

    /// Bytes waiting for the kernel.
    pub fn len(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Forgets what is waiting: the peer is gone and will never read it.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.sent = 0;
    }

    pub fn push(&mut self, data: &[u8]) {
        self.make_room();
        self.buf.extend_from_slice(data);
    }

    /// Lets an encoder that appends to a `Vec` (frames, a session's replies) queue its
    /// output; gives back its result and the bytes it appended.
    pub fn append<R>(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> R) -> (R, &[u8]) {
        self.make_room();
        let mark = self.buf.len();
        let result = encode(&mut self.buf);
        (result, self.buf.get(mark..).unwrap_or_default())
    }

    /// Hands the queue to `write` (one system call each) until it is empty or the
    /// socket would block; an interrupted write is tried again.
    pub fn flush(&mut self, mut write: impl FnMut(&[u8]) -> io::Result<usize>) -> io::Result<()> {
        while !self.is_empty() {
            match write(self.buf.get(self.sent..).unwrap_or_default()) {
                // A socket takes at least a byte of a non-empty buffer or says why not;
                // taking nothing would make this loop spin.
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.taken(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn taken(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.buf.len());
        if self.is_empty() {
            self.buf.clear();
            self.sent = 0;
        }
    }

    /// Drops the sent prefix once it is at least as large as what is pending: one move
    /// of the pending bytes then pays for at least as many bytes written.
    fn make_room(&mut self) {
        if self.sent > 0 && self.sent >= self.len() {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outgoing;
    use std::io;

    /// A socket that takes at most `per_write` bytes, then blocks after `writes`.
    fn socket(
        taken: &mut Vec<u8>,
        per_write: usize,
        writes: usize,
    ) -> impl FnMut(&[u8]) -> io::Result<usize> + '_ {
        let mut left = writes;
        move |data: &[u8]| {
            if left == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            left -= 1;
            let n = data.len().min(per_write);
            taken.extend_from_slice(&data[..n]);
            Ok(n)
        }
    }

    #[test]
    fn partial_writes_keep_order_and_the_rest() {
        let mut q = Outgoing::default();
        let mut taken = Vec::new();
        q.push(b"abcdefgh");
        q.flush(socket(&mut taken, 3, 1)).unwrap();
        assert_eq!((q.len(), taken.as_slice()), (5, &b"abc"[..]));
        q.push(b"ij");
        q.flush(socket(&mut taken, 3, 1)).unwrap();
        q.push(b"kl");
        q.flush(socket(&mut taken, 100, 10)).unwrap();
        assert!(q.is_empty());
        assert_eq!(taken, b"abcdefghijkl");
    }

    #[test]
    fn append_gives_what_the_encoder_added() {
        let mut q = Outgoing::default();
        q.push(b"old");
        let (r, added) = q.append(|v| {
            v.extend_from_slice(b"new");
            7
        });
        assert_eq!((r, added), (7, &b"new"[..]));
        assert_eq!(q.len(), 6);
    }

    #[test]
    fn errors_other_than_would_block_are_returned() {
        let mut q = Outgoing::default();
        q.push(b"x");
        let refused = q.flush(|_| Err(io::ErrorKind::BrokenPipe.into()));
        assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        let mut tries = 0;
        q.flush(|data| {
            tries += 1;
            if tries == 1 {
                Err(io::ErrorKind::Interrupted.into())
            } else {
                Ok(data.len())
            }
        })
        .unwrap();
        assert!(q.is_empty());
        q.flush(|_| panic!("an empty queue writes nothing"))
            .unwrap();
    }
}
