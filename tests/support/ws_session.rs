//! Driving whole WebSocket sessions with a [`WsClient`]: opening a path, sending any
//! bytes (well-formed frames or not, to provoke protocol errors), and the closing
//! handshake the server must answer with a code and then a TCP close.

use super::ws_client::{Handshake, WsClient};
use sockloop::proto::ws::frame::Opcode;
use std::net::SocketAddr;
use std::time::Duration;

impl WsClient {
    /// Opens a WebSocket at `path`; panics if the server refuses.
    pub fn connect(addr: SocketAddr, path: &str) -> WsClient {
        match WsClient::connect_with(addr, path, Handshake::default()) {
            Ok((ws, _)) => ws,
            Err(resp) => panic!("WebSocket {path} refused:\n{}", resp.dump()),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.conn.send(bytes);
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(true, Opcode::Binary, data);
    }

    pub fn send_close(&mut self, code: u16, reason: &str) {
        self.send_frame(true, Opcode::Close, &close_payload(code, reason.as_bytes()));
    }

    /// The next frame must be a Close: its status code (None if empty) and reason.
    pub fn expect_close(&mut self) -> (Option<u16>, String) {
        let f = self.recv_frame();
        assert_eq!(
            (f.fin, f.opcode),
            (true, Opcode::Close),
            "expected a Close frame, got {:?}",
            super::ws_client::short(&f)
        );
        match f.payload.as_slice() {
            [] => (None, String::new()),
            [hi, lo, reason @ ..] => (
                Some(u16::from_be_bytes([*hi, *lo])),
                String::from_utf8(reason.to_vec()).expect("close reason is UTF-8"),
            ),
            [_] => panic!("server sent a Close with a 1-byte payload"),
        }
    }

    /// The server fails the connection, as `what` should make it: a Close with `code`,
    /// then it closes TCP (within 2 s) with nothing after the Close.
    pub fn expect_failure(&mut self, code: u16, what: &str) {
        let (got, reason) = self.expect_close();
        assert_eq!(got, Some(code), "{what}: close code (reason {reason:?})");
        self.conn.expect_eof(Duration::from_secs(2));
    }
}

/// Just a frame header announcing `len` payload bytes (shortest length form), with
/// an arbitrary first byte (FIN, RSV bits and any opcode, reserved ones included).
pub fn raw_header(b0: u8, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// The payload of a Close frame: the code (big-endian) and a reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}
