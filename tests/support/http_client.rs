//! A small blocking HTTP/1.1 client over TCP for the web tests, on the crate's own
//! response parser: a connection with a read buffer, one response read by its
//! `Content-Length`, and the close that follows. Every read has a deadline.

use super::bounded_read::{self, ReadError};
use super::net::{self, IO_TIMEOUT};
use sockloop::proto::Parsed;
use sockloop::proto::http::{self, Limits, ResponseHead};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Limits for parsing the server's response heads: generous, the server is trusted.
const RESPONSE_LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_headers: 256,
};

pub struct Conn {
    pub stream: TcpStream,
    /// Received bytes not yet consumed.
    pub buf: Vec<u8>,
    pub addr: SocketAddr,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = net::connect_tcp(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
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

    /// One read into the buffer, waiting until `deadline` at most.
    pub fn fill(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        bounded_read::fill(&mut self.stream, &mut self.buf, deadline)
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
        let mut response = Response {
            head,
            raw_head: self.buf.drain(..consumed).collect(),
            body: Vec::new(),
        };
        let status = response.status();
        let bodiless = head_only || (100..200).contains(&status) || matches!(status, 204 | 304);
        let len = if bodiless {
            0
        } else {
            let value = response.header("content-length").unwrap_or_else(|| {
                panic!(
                    "{}: response without Content-Length: {:?}",
                    self.addr,
                    String::from_utf8_lossy(&response.raw_head)
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
        response.body = self.buf.drain(..len).collect();
        response
    }

    /// Reads until the server closes (FIN) and returns what came before it. Panics if
    /// the connection is still open after `within`, or on a reset.
    pub fn read_to_eof(&mut self, within: Duration) -> Vec<u8> {
        let what = self.addr.to_string();
        let before = std::mem::take(&mut self.buf);
        match bounded_read::read_to_eof(&mut self.stream, before, within, &what) {
            (all, None) => all,
            (_, Some(e)) => panic!("{what}: connection failed instead of a clean close: {e}"),
        }
    }

    /// Asserts the server closes cleanly within `within` with nothing more to say.
    pub fn expect_eof(&mut self, within: Duration) {
        let rest = self.read_to_eof(within);
        assert!(
            rest.is_empty(),
            "{}: expected EOF, got {} more bytes: {:?}",
            self.addr,
            rest.len(),
            bounded_read::abbreviate(&rest)
        );
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
