//! Moving data in bulk over a [`Client`]: reads of an exact length (echoes), writes on
//! a helper thread (so the test can read meanwhile and neither side's buffers
//! deadlock), and half-close.

use super::line_client::{Client, Sock};
use std::io::{self, Write};
use std::net::Shutdown;
use std::thread::JoinHandle;

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

    /// Writes `data` from a helper thread; the thread returns how the writes went.
    pub fn send_in_background(&self, data: Vec<u8>) -> JoinHandle<io::Result<()>> {
        let mut sock = match &self.sock {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone().expect("clone")),
            Sock::Unix(s) => Sock::Unix(s.try_clone().expect("clone")),
        };
        std::thread::spawn(move || sock.write_all(&data))
    }

    pub fn shutdown_write(&self) {
        let _ = match &self.sock {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}
