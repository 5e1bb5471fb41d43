//! Reads bounded by a deadline, shared by the test clients and peers: a server that
//! stops talking fails the test with a message instead of hanging it.

use std::io::{self, Read};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A stream whose reads can be bounded in time.
pub trait TimedRead: Read {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl TimedRead for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
}

/// Why a bounded read gave up.
#[derive(Debug)]
pub enum ReadError {
    /// The deadline passed with nothing (more) to read.
    Timeout,
    /// The peer closed the connection (FIN).
    Eof,
    Io(io::Error),
}

/// One read appended to `buf`, waiting until `deadline` at most: how many bytes came.
pub fn fill(
    stream: &mut impl TimedRead,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, ReadError> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout);
        }
        stream.set_read_timeout(Some(left)).map_err(ReadError::Io)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Eof),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

/// Reads until the peer closes: `buf` (what was read before) and everything that came
/// after it up to the close, and the error if the connection failed (a reset) instead
/// of closing cleanly. A connection still open after `within` panics, naming `what`.
pub fn read_to_eof(
    stream: &mut impl TimedRead,
    mut buf: Vec<u8>,
    within: Duration,
    what: &str,
) -> (Vec<u8>, Option<io::Error>) {
    let deadline = Instant::now() + within;
    loop {
        match fill(stream, &mut buf, deadline) {
            Ok(_) => {}
            Err(ReadError::Eof) => return (buf, None),
            Err(ReadError::Io(e)) => return (buf, Some(e)),
            Err(ReadError::Timeout) => panic!(
                "{what}: not closed within {within:?} (have {} bytes: {:?})",
                buf.len(),
                abbreviate(&buf)
            ),
        }
    }
}

/// At most 200 bytes of `bytes` for a failure message.
pub fn abbreviate(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    if bytes.len() > 200 {
        format!("{text}…")
    } else {
        text
    }
}
