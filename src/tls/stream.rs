//! A TLS stream for the readiness loop: a TCP socket and a rustls connection driven
//! by hand. rustls never touches the socket on its own; each call here moves records
//! between the two (`read_tls` / `write_tls`) and hands plaintext in and out, so the
//! same code serves a non-blocking socket in the loop and a blocking one in a
//! client's handshake.
//!
//! What the loop has to know (the transport seam in `runtime/transport.rs` says it
//! for every stream):
//! - A read that moved only handshake records has no plaintext to give: it is a
//!   would-block, not an end of stream. The end is a `close_notify`, or a TCP FIN
//!   without one (many clients never send it; the truncation it allows is no worse
//!   than plain TCP's).
//! - rustls may hold records the kernel did not take yet: `wants_write` says so and
//!   the loop keeps watching for writability until `flush_records` has sent them.
//! - Plaintext handed to `write` is bounded by [`BUFFER_LIMIT`]: past it the write
//!   takes less (or would block), so backpressure works as on a plain socket.

use crate::clock::Millis;
use rustls::Connection;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// The most plaintext and records rustls buffers for sending: two full records.
/// Output past it stays in the connection's own queue, where the loop's output
/// budget and the memory budget see it.
pub const BUFFER_LIMIT: usize = 32 * 1024;

/// Room kept in a read buffer for one more record's plaintext before asking the
/// socket for more (a TLS record carries at most 16 KiB).
const RECORD_ROOM: usize = 16 * 1024 + 256;

pub struct TlsStream {
    sock: TcpStream,
    conn: Connection,
    /// A server's: when the handshake must be over (`--handshake-timeout`).
    pub handshake_deadline: Option<Millis>,
}

impl TlsStream {
    pub fn new(sock: TcpStream, mut conn: Connection) -> TlsStream {
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        TlsStream {
            sock,
            conn,
            handshake_deadline: None,
        }
    }

    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Records wait to be written (handshake messages, alerts, or data).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Reads plaintext into `buf`. `Ok(0)` is the end of the peer's stream; a
    /// would-block error means no plaintext yet (perhaps only handshake moved).
    /// Reads records while `buf` has room for one more, so that nothing decrypted
    /// is left behind where the poller cannot see it.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.take_plaintext(buf.get_mut(filled..).unwrap_or_default())? {
                Plain::Data(n) => filled += n,
                Plain::End if filled == 0 => return Ok(0),
                Plain::End => return Ok(filled),
                Plain::None => {}
            }
            if buf.len() - filled < RECORD_ROOM && filled > 0 {
                return Ok(filled);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if filled > 0 && would_block(&e) => return Ok(filled),
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // rustls queued the alert that tells the peer why: send it.
                let _ = self.flush_records();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // The handshake's answers (and key updates) go out at once.
            self.flush_records()?;
        }
    }

    fn take_plaintext(&mut self, buf: &mut [u8]) -> io::Result<Plain> {
        if buf.is_empty() {
            return Ok(Plain::None);
        }
        match self.conn.reader().read(buf) {
            Ok(0) => Ok(Plain::End),
            Ok(n) => Ok(Plain::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Plain::None),
            // A FIN without close_notify: the end, as on plain TCP.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Plain::End),
            Err(e) => Err(e),
        }
    }

    /// Hands plaintext to rustls (as much as its buffer limit takes) and writes the
    /// records it makes. Would block when rustls takes nothing.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.flush_records()?;
        let n = self.conn.writer().write(buf)?;
        self.flush_records()?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Writes the records rustls holds until they are all out or the socket is full.
    pub fn flush_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Our side is done: close_notify, then the FIN.
    pub fn shutdown_write(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_records();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

enum Plain {
    Data(usize),
    End,
    None,
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        TlsStream::read(self, buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        TlsStream::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}

impl TlsStream {
    /// Drives the handshake to its end on a blocking socket (a client, before its
    /// loop). Errors carry rustls' reason (see `client::handshake_failure`).
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush_records()?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.conn.read_tls(&mut self.sock)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.flush_records();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        // The client's Finished (and anything after it) goes now.
        self.flush_records()
    }
}
