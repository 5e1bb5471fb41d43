//! A small blocking HTTP/1.1 and WebSocket client for the web integration tests, built
//! on `std::net::TcpStream` and the crate's own pure protocol cores (request writer,
//! response parser, handshake checks, frame codec, masking).
//!
//! Every read has a deadline (at most [`IO_TIMEOUT`]) and every write a timeout, so a
//! server that misbehaves makes a test fail with a message instead of hanging. Frames
//! can be sent well-formed (always masked, as a client must) or as arbitrary bytes, to
//! provoke the server's protocol errors.

#![allow(dead_code)]

use sockloop::proto::Parsed;
use sockloop::proto::http::{self, Limits, ResponseHead};
use sockloop::proto::ws::frame::{self, Opcode};
use sockloop::proto::ws::handshake;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Timeout for every socket operation.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The key from RFC 6455 §1.3; any 16 bytes in base64 will do for a test client.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Limits for parsing the server's response heads: generous, the server is trusted.
const RESPONSE_LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_headers: 256,
};

// ---------------------------------------------------------------------------------
// A TCP connection with a read buffer
// ---------------------------------------------------------------------------------

/// Why a bounded read gave up.
#[derive(Debug)]
pub enum ReadError {
    /// The deadline passed with nothing (more) to read.
    Timeout,
    /// The server closed the connection (FIN).
    Eof,
    Io(io::Error),
}

pub struct Conn {
    pub stream: TcpStream,
    /// Received bytes not yet consumed.
    pub buf: Vec<u8>,
    pub addr: SocketAddr,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: Vec::new(),
            addr,
        }
    }

    /// Writes all of `bytes`; panics on error or timeout.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            panic!("{}: write of {} bytes: {e}", self.addr, bytes.len());
        }
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// One read into the buffer, waiting until `deadline` at most.
    pub fn fill(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadError::Timeout);
            }
            self.stream
                .set_read_timeout(Some(left.min(IO_TIMEOUT)))
                .expect("timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(ReadError::Timeout);
                    }
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Reads one HTTP response; the body is read by `Content-Length` unless `head_only`
    /// (the answer to HEAD) or the status has no body (1xx, 204, 304).
    pub fn read_response(&mut self, head_only: bool) -> Response {
        let deadline = Instant::now() + IO_TIMEOUT;
        let (head, consumed) = loop {
            match http::parse_response(&self.buf, &RESPONSE_LIMITS) {
                Ok(Parsed::Complete { value, consumed }) => break (value, consumed),
                Ok(Parsed::Incomplete) => {}
                Err(e) => panic!(
                    "{}: unparsable response ({e}): {:?}",
                    self.addr,
                    String::from_utf8_lossy(&self.buf)
                ),
            }
            if let Err(e) = self.fill(deadline) {
                panic!(
                    "{}: no complete response head ({e:?}); have {:?}",
                    self.addr,
                    String::from_utf8_lossy(&self.buf)
                );
            }
        };
        let raw_head: Vec<u8> = self.buf.drain(..consumed).collect();
        let bodiless =
            head_only || (100..200).contains(&head.status) || matches!(head.status, 204 | 304);
        let len = if bodiless {
            0
        } else {
            let value = head.header("content-length").unwrap_or_else(|| {
                panic!(
                    "{}: response without Content-Length: {:?}",
                    self.addr,
                    String::from_utf8_lossy(&raw_head)
                )
            });
            value
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("Content-Length {value:?}: {e}"))
        };
        while self.buf.len() < len {
            if let Err(e) = self.fill(deadline) {
                panic!(
                    "{}: body cut short at {} of {len} bytes ({e:?})",
                    self.addr,
                    self.buf.len()
                );
            }
        }
        let body = self.buf.drain(..len).collect();
        Response {
            head,
            raw_head,
            body,
        }
    }

    /// Reads until the server closes (FIN) and returns what came before it. Panics if
    /// the connection is still open after `timeout`, or on a reset.
    pub fn read_to_eof(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fill(deadline) {
                Ok(_) => {}
                Err(ReadError::Eof) => return std::mem::take(&mut self.buf),
                Err(ReadError::Timeout) => panic!(
                    "{}: server did not close the connection within {timeout:?} (have {} bytes: {:?})",
                    self.addr,
                    self.buf.len(),
                    String::from_utf8_lossy(&self.buf[..self.buf.len().min(200)])
                ),
                Err(ReadError::Io(e)) => panic!(
                    "{}: connection failed instead of a clean close: {e}",
                    self.addr
                ),
            }
        }
    }

    /// Asserts the server closes cleanly within `timeout` with nothing more to say.
    pub fn expect_eof(&mut self, timeout: Duration) {
        let rest = self.read_to_eof(timeout);
        assert!(
            rest.is_empty(),
            "{}: expected EOF, got {} more bytes: {:?}",
            self.addr,
            rest.len(),
            String::from_utf8_lossy(&rest[..rest.len().min(200)])
        );
    }

    /// True if the connection is still open (no EOF, no reset) after `wait`; anything
    /// read meanwhile is kept in the buffer.
    pub fn still_open_after(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match self.fill(deadline) {
                Ok(_) => {}
                Err(ReadError::Timeout) => return true,
                Err(_) => return false,
            }
        }
    }
}

/// One HTTP response.
pub struct Response {
    pub head: ResponseHead,
    pub raw_head: Vec<u8>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Head and body as text, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.raw_head),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Sends `raw` on a fresh connection and reads one response.
pub fn http_exchange(addr: SocketAddr, raw: &[u8], head_only: bool) -> (Conn, Response) {
    let mut conn = Conn::connect(addr);
    conn.send(raw);
    let resp = conn.read_response(head_only);
    (conn, resp)
}

/// A WebSocket opening handshake written by hand, so any field can be wrong.
/// `key` and `version` are the header values; `extra` is inserted as is (each line
/// ending in CRLF).
pub fn upgrade_request(path: &str, key: &str, version: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    )
}

// ---------------------------------------------------------------------------------
// WebSocket frames
// ---------------------------------------------------------------------------------

/// A frame as received from the server, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: Opcode,
    pub payload: Vec<u8>,
}

/// A frame with an arbitrary first byte (FIN, RSV bits and any opcode, reserved ones
/// included), the shortest length form, and the payload masked with `mask` if given.
pub fn raw_frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = raw_header(b0, payload.len() as u64, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        frame::apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// Just a frame header announcing `len` payload bytes (shortest length form).
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

/// A well-formed client frame (masked with `key`) built by the crate's own writer.
pub fn client_frame(fin: bool, opcode: Opcode, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    frame::write_frame(&mut out, fin, opcode, payload, Some(key));
    out
}

/// The payload of a Close frame: the code (big-endian) and a reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

// ---------------------------------------------------------------------------------
// The WebSocket client
// ---------------------------------------------------------------------------------

/// What to put in the opening handshake besides the basics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Handshake<'a> {
    pub protocols: &'a [&'a str],
    pub origin: Option<&'a str>,
    pub extra: &'a [(&'a str, &'a str)],
}

pub struct WsClient {
    pub conn: Conn,
    /// The server's 101 response.
    pub response: Response,
    /// The subprotocol the server chose.
    pub protocol: Option<String>,
    frames_sent: u32,
}

impl WsClient {
    /// Opens a WebSocket at `path`; panics if the server refuses.
    pub fn connect(addr: SocketAddr, path: &str) -> WsClient {
        match WsClient::connect_with(addr, path, Handshake::default()) {
            Ok(ws) => ws,
            Err(resp) => panic!("WebSocket {path} refused:\n{}", resp.dump()),
        }
    }

    /// Opens a WebSocket at `path`; the server's whole response if it refuses (any
    /// status but 101). A 101 that fails the client-side checks panics.
    pub fn connect_with(
        addr: SocketAddr,
        path: &str,
        hs: Handshake<'_>,
    ) -> Result<WsClient, Response> {
        let mut conn = Conn::connect(addr);
        let host = addr.to_string();
        let mut request = Vec::new();
        handshake::write_client_request(
            &mut request,
            &host,
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
        let protocol = handshake::validate_server_response(&response.head, KEY, hs.protocols)
            .unwrap_or_else(|e| {
                panic!(
                    "server's 101 is not a valid handshake: {e}\n{}",
                    response.dump()
                )
            });
        Ok(WsClient {
            conn,
            response,
            protocol,
            frames_sent: 0,
        })
    }

    /// A fresh, non-trivial masking key for each frame.
    pub fn next_key(&mut self) -> [u8; 4] {
        self.frames_sent = self.frames_sent.wrapping_add(1);
        let n = self.frames_sent.to_le_bytes();
        [0x37 ^ n[0], 0xfa ^ n[1], 0x21, 0x3d ^ n[0]]
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.conn.send(bytes);
    }

    pub fn send_frame(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) {
        let key = self.next_key();
        let bytes = client_frame(fin, opcode, payload, key);
        self.conn.send(&bytes);
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, Opcode::Text, text.as_bytes());
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(true, Opcode::Binary, data);
    }

    pub fn send_close(&mut self, code: u16, reason: &str) {
        self.send_frame(true, Opcode::Close, &close_payload(code, reason.as_bytes()));
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

    /// The next frame must be a Close: its status code (None if empty) and reason.
    pub fn expect_close(&mut self) -> (Option<u16>, String) {
        let f = self.recv_frame();
        assert_eq!(
            (f.fin, f.opcode),
            (true, Opcode::Close),
            "expected a Close frame, got {:?}",
            short(&f)
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

    /// The server fails the connection: a Close with `code`, then it closes TCP
    /// (within 2 s) with nothing after the Close. Returns the close reason.
    pub fn expect_failure(&mut self, code: u16) -> String {
        let (got, reason) = self.expect_close();
        assert_eq!(got, Some(code), "close code (reason {reason:?})");
        self.conn.expect_eof(Duration::from_secs(2));
        reason
    }

    /// Reads until the server closes TCP; see [`Conn::read_to_eof`].
    pub fn read_to_eof(&mut self, timeout: Duration) -> Vec<u8> {
        self.conn.read_to_eof(timeout)
    }
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
