//! One write that never waits, for tests that fill a server's buffers until it stops
//! reading.

use super::line_client::{Client, Sock};
use std::io::{self, Write};

impl Sock {
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_nonblocking(on),
            Sock::Unix(s) => s.set_nonblocking(on),
        }
    }
}

impl Client {
    /// One non-blocking write attempt: Ok(n) bytes taken, Ok(0) would block.
    pub fn write_nonblocking(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sock.set_nonblocking(true)?;
        let r = match self.sock.write(bytes) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        };
        self.sock.set_nonblocking(false)?;
        r
    }
}
