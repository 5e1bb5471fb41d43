//! Writes on a helper thread over a [`Client`], so the test can read meanwhile and
//! neither side's buffers deadlock.

use super::line_client::{Client, Sock};
use std::io::{self, Write};
use std::thread::JoinHandle;

impl Client {
    /// Writes `data` from a helper thread; the thread returns how the writes went.
    pub fn send_in_background(&self, data: Vec<u8>) -> JoinHandle<io::Result<()>> {
        let mut sock = match &self.sock {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone().expect("clone")),
            Sock::Unix(s) => Sock::Unix(s.try_clone().expect("clone")),
        };
        std::thread::spawn(move || sock.write_all(&data))
    }
}
