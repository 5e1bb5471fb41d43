//! A stream client for the line services (TCP or Unix) with a read buffer: every read
//! and write times out after [`IO_TIMEOUT`], and the helpers panic with a clear message
//! on a timeout.

use super::bounded_read::{self, ReadError, TimedRead, abbreviate};
use super::net::{self, IO_TIMEOUT};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

pub(super) enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TimedRead for Sock {
    fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_read_timeout(timeout),
            Sock::Unix(s) => s.set_read_timeout(timeout),
        }
    }
}

pub struct Client {
    pub(super) sock: Sock,
    /// Received bytes not yet consumed.
    pub(super) buf: Vec<u8>,
    pub(super) what: String,
}

impl Client {
    pub fn tcp(addr: SocketAddr) -> Client {
        Client::try_tcp(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    pub fn try_tcp(addr: SocketAddr) -> io::Result<Client> {
        net::connect_tcp(addr).map(Client::from_tcp)
    }

    /// A client on a TCP connection made elsewhere (to learn its local address first,
    /// say); it gets the same timeouts.
    pub fn from_tcp(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let what = match stream.peer_addr() {
            Ok(addr) => format!("tcp {addr}"),
            Err(_) => "tcp".to_string(),
        };
        Client {
            sock: Sock::Tcp(stream),
            buf: Vec::new(),
            what,
        }
    }

    pub fn unix(path: &Path) -> Client {
        let s =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        Client {
            sock: Sock::Unix(s),
            buf: Vec::new(),
            what: format!("unix {}", path.display()),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.sock.write_all(bytes) {
            panic!("{}: write of {} bytes: {e}", self.what, bytes.len());
        }
    }

    /// Sends `line` plus `\n`.
    pub fn send_line(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send(&bytes);
    }

    /// Reads more into the buffer: Ok(0) at EOF. Panics if nothing comes within
    /// [`IO_TIMEOUT`].
    pub(super) fn fill(&mut self) -> io::Result<usize> {
        match bounded_read::fill(&mut self.sock, &mut self.buf, Instant::now() + IO_TIMEOUT) {
            Ok(n) => Ok(n),
            Err(ReadError::Eof) => Ok(0),
            Err(ReadError::Io(e)) => Err(e),
            Err(ReadError::Timeout) => panic!(
                "{}: no data within {IO_TIMEOUT:?} (have {} bytes: {:?})",
                self.what,
                self.buf.len(),
                abbreviate(&self.buf)
            ),
        }
    }

    /// The next line including its `\n`, or None at EOF (after any partial line is
    /// returned as is). Panics on timeout.
    pub fn read_line_bytes(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return Some(self.buf.drain(..=i).collect());
            }
            match self.fill() {
                Ok(0) | Err(_) => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    return Some(std::mem::take(&mut self.buf));
                }
                Ok(_) => {}
            }
        }
    }

    /// The next line without its terminator; panics at EOF or timeout.
    pub fn read_line(&mut self) -> String {
        let line = self
            .read_line_bytes()
            .unwrap_or_else(|| panic!("{}: EOF while waiting for a line", self.what));
        if line.last() != Some(&b'\n') {
            panic!(
                "{}: EOF inside a line of {} bytes: {:?}",
                self.what,
                line.len(),
                abbreviate(&line)
            );
        }
        let text = String::from_utf8(line).expect("reply is UTF-8");
        text[..text.len() - 1].to_string()
    }

    /// Sends `line\n` and returns the reply line.
    pub fn request(&mut self, line: &str) -> String {
        self.send_line(line);
        self.read_line()
    }

    /// Everything until the server closes, which it must do within [`IO_TIMEOUT`]. A
    /// reset ends it too but is returned, so callers can assert a clean close.
    pub fn read_to_eof(&mut self) -> (Vec<u8>, Option<io::Error>) {
        let before = std::mem::take(&mut self.buf);
        bounded_read::read_to_eof(&mut self.sock, before, IO_TIMEOUT, &self.what)
    }

    /// Asserts the server closes cleanly (FIN) with nothing more to say.
    pub fn expect_eof(&mut self) {
        let (rest, err) = self.read_to_eof();
        assert!(
            rest.is_empty(),
            "{}: expected EOF, got {:?}",
            self.what,
            String::from_utf8_lossy(&rest)
        );
        assert!(
            err.is_none(),
            "{}: expected EOF, got error {err:?}",
            self.what
        );
    }
}
