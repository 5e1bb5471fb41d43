//! Reads of an exact length over a [`Client`], for echoes of binary data.

use super::line_client::Client;

impl Client {
    /// Exactly `n` bytes; panics on EOF or timeout.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match self.fill() {
                Ok(0) => panic!("{}: EOF after {} of {n} bytes", self.what, self.buf.len()),
                Ok(_) => {}
                Err(e) => panic!("{}: read: {e}", self.what),
            }
        }
        self.buf.drain(..n).collect()
    }
}
