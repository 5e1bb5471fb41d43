//! A UDP client for the datagram services: bound to 127.0.0.1:0, connected to the
//! server, and every wait bounded by [`IO_TIMEOUT`].

use super::net::IO_TIMEOUT;
use std::net::{SocketAddr, UdpSocket};

pub struct Udp {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Udp {
    pub fn new(server: SocketAddr) -> Udp {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        sock.connect(server).expect("connect udp");
        sock.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        sock.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Udp { sock, server }
    }

    pub fn send(&self, payload: &[u8]) {
        self.sock.send(payload).expect("udp send");
    }

    /// The next datagram; panics after [`IO_TIMEOUT`].
    pub fn recv(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 65536];
        let n = self.sock.recv(&mut buf).unwrap_or_else(|e| {
            panic!(
                "udp {}: no datagram within {IO_TIMEOUT:?}: {e}",
                self.server
            )
        });
        buf.truncate(n);
        buf
    }

    /// Sends one datagram and returns the one reply datagram.
    pub fn request(&self, payload: &[u8]) -> Vec<u8> {
        self.send(payload);
        self.recv()
    }

    /// Sends `text` (no newline added) and returns the reply as a string.
    pub fn request_str(&self, text: &str) -> String {
        String::from_utf8(self.request(text.as_bytes())).expect("UTF-8 reply")
    }
}
