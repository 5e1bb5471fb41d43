//! A blocking WebSocket client for the web tests, on [`Conn`] and the crate's own
//! handshake and frame codec: the opening handshake with any offer, masked frames (as
//! a client must send them), and the server's frames checked and unmasked.

use super::bounded_read::ReadError;
use super::http_client::{Conn, Response};
use super::net::IO_TIMEOUT;
use sockloop::proto::Parsed;
use sockloop::proto::ws::frame::{self, Opcode};
use sockloop::proto::ws::handshake;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The key from RFC 6455 §1.3; any 16 bytes in base64 will do for a test client.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// What to put in the opening handshake besides the basics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Handshake<'a> {
    pub protocols: &'a [&'a str],
    pub origin: Option<&'a str>,
    pub extra: &'a [(&'a str, &'a str)],
}

/// A frame as received from the server, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: Opcode,
    pub payload: Vec<u8>,
}

pub struct WsClient {
    pub conn: Conn,
    frames_sent: u32,
}

impl WsClient {
    /// Opens a WebSocket at `path`: the client and the server's 101, or the server's
    /// whole response if it refuses (any status but 101). A 101 that fails the
    /// client-side checks panics.
    pub fn connect_with(
        addr: SocketAddr,
        path: &str,
        hs: Handshake<'_>,
    ) -> Result<(WsClient, Response), Response> {
        let mut conn = Conn::connect(addr);
        let mut request = Vec::new();
        handshake::write_client_request(
            &mut request,
            &addr.to_string(),
            path,
            KEY,
            hs.protocols,
            hs.origin,
            hs.extra,
        );
        conn.send(&request);
        let response = conn.read_response(false);
        if response.status() != 101 {
            return Err(response);
        }
        if let Err(e) = handshake::validate_server_response(&response.head, KEY, hs.protocols) {
            panic!(
                "server's 101 is not a valid handshake: {e}\n{}",
                response.dump()
            );
        }
        let ws = WsClient {
            conn,
            frames_sent: 0,
        };
        Ok((ws, response))
    }

    /// A fresh, non-trivial masking key for each frame.
    fn next_key(&mut self) -> [u8; 4] {
        self.frames_sent = self.frames_sent.wrapping_add(1);
        let n = self.frames_sent.to_le_bytes();
        [0x37 ^ n[0], 0xfa ^ n[1], 0x21, 0x3d ^ n[0]]
    }

    pub fn send_frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) {
        let key = self.next_key();
        let bytes = client_frame(fin, opcode, payload, key);
        self.conn.send(&bytes);
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, Opcode::Text, text.as_bytes());
    }

    /// The next frame within `timeout`. Server frames must be unmasked (§5.1) and
    /// well-formed; anything else panics.
    pub fn try_recv_frame(&mut self, timeout: Duration) -> Result<Frame, ReadError> {
        let deadline = Instant::now() + timeout;
        loop {
            match frame::parse_frame(&self.conn.buf) {
                Ok(Parsed::Complete { value, consumed }) => {
                    assert_eq!(
                        value.header.mask, None,
                        "server sent a masked frame: {:?}",
                        value.header
                    );
                    let f = Frame {
                        fin: value.header.fin,
                        rsv: value.header.rsv,
                        opcode: value.header.opcode,
                        payload: value.payload.to_vec(),
                    };
                    self.conn.buf.drain(..consumed);
                    return Ok(f);
                }
                Ok(Parsed::Incomplete) => {}
                Err(e) => panic!("server sent a malformed frame: {e}"),
            }
            self.conn.fill(deadline)?;
        }
    }

    /// The next frame; panics on EOF or after [`IO_TIMEOUT`].
    pub fn recv_frame(&mut self) -> Frame {
        self.try_recv_frame(IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: no frame from the server: {e:?}", self.conn.addr))
    }

    /// The next frame, which must be a whole (FIN) message of `opcode`: its payload.
    pub fn recv_message(&mut self, opcode: Opcode) -> Vec<u8> {
        let f = self.recv_frame();
        assert_eq!(
            (f.fin, f.rsv, f.opcode),
            (true, 0, opcode),
            "expected one whole {opcode:?} frame, got {:?}",
            short(&f)
        );
        f.payload
    }

    pub fn recv_text(&mut self) -> String {
        String::from_utf8(self.recv_message(Opcode::Text)).expect("text message is UTF-8")
    }

    /// Sends `text` and returns the one text message that answers it.
    pub fn request(&mut self, text: &str) -> String {
        self.send_text(text);
        self.recv_text()
    }
}

/// A well-formed client frame (masked with `key`) built by the crate's own writer.
pub fn client_frame(fin: bool, opcode: Opcode, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    frame::write_frame(&mut out, fin, opcode, payload, Some(key));
    out
}

/// A frame for assertion messages, with long payloads cut.
pub fn short(f: &Frame) -> String {
    let p = &f.payload[..f.payload.len().min(64)];
    format!(
        "Frame {{ fin: {}, rsv: {}, opcode: {:?}, len: {}, payload: {:?} }}",
        f.fin,
        f.rsv,
        f.opcode,
        f.payload.len(),
        String::from_utf8_lossy(p)
    )
}
