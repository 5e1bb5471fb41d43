//! The client side: one readiness loop over standard input and one socket.
//!
//! Each client reads stdin and its socket in the same poll loop, so a server that
//! talks first or pushes without being asked is shown at once, and typing never waits
//! for the network. No threads, no async runtime.

pub mod connect;
pub mod dns;
pub mod hosts;
pub mod input;
pub mod lines;
pub mod output;
pub mod queue;
pub mod stream;
pub mod tls;
pub mod udp;
pub mod ws;

use crate::runtime::transport::would_block;
use std::fmt;
use std::io::{self, Read};

/// Why a client stopped with an error. `Display` is one line a person can act on.
#[derive(Debug)]
pub enum ClientError {
    /// The command line was wrong (exit 2).
    Usage(String),
    /// Network or protocol trouble (exit 1).
    Failed(String),
    /// A second Ctrl-C: stopped without finishing (exit 130, like `serve`). What was
    /// cut short has been said already.
    Interrupted,
}

impl ClientError {
    pub fn io(what: &str, e: io::Error) -> ClientError {
        ClientError::Failed(format!("{what}: {e}"))
    }

    /// The poller failed (creating it, registering, waiting): nothing the user did.
    pub fn poller(e: io::Error) -> ClientError {
        ClientError::io("poller", e)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Usage(m) | ClientError::Failed(m) => f.write_str(m),
            ClientError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// One read from a non-blocking socket: `Some(0)` is the peer's FIN, `None` a wake-up
/// with nothing to read (or an interrupted read): the poller says when to try again.
pub fn read_now(read: io::Result<usize>, peer: &str) -> Result<Option<usize>, ClientError> {
    match read {
        Ok(n) => Ok(Some(n)),
        Err(e) if would_block(&e) => Ok(None),
        Err(e) => Err(ClientError::Failed(format!(
            "connection to {peer} failed: {e}"
        ))),
    }
}

/// One read from a blocking socket that has a read timeout: `None` once the timeout
/// has passed. An interrupted read is tried again.
pub fn read_within(sock: &mut impl Read, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match sock.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Interprets the escapes `\n`, `\r`, `\t`, `\\`, `\0` and `\xNN` in a `-e` argument,
/// so `-e 'HEAD / HTTP/1.0\r\n\r\n'` sends what it says.
pub fn unescape(text: &str) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let value = std::str::from_utf8(&hex)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ClientError::Usage(format!("bad \\x escape in '{text}'")))?;
                out.push(value);
            }
            Some(other) => {
                out.push(b'\\');
                out.push(other);
            }
            None => out.push(b'\\'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unescape_handles_http_and_hex() {
        assert_eq!(
            super::unescape(r"HEAD / HTTP/1.0\r\n\r\n").unwrap(),
            b"HEAD / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(super::unescape(r"a\x41\\b\q").unwrap(), b"aA\\b\\q");
        assert!(super::unescape(r"\xZZ").is_err());
    }
}
