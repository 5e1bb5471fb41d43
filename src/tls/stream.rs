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
use crate::trace;
use crate::trace::Layer;
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

/// `S` is the socket: a `TcpStream` in the loop and the clients, an in-memory wire
/// in the fuzz target.
pub struct TlsStream<S = TcpStream> {
    sock: S,
    conn: Connection,
    /// A server's: when the handshake must be over (`--handshake-timeout`).
    pub handshake_deadline: Option<Millis>,
    /// A server's: this handshake is counted among those in flight
    /// (`--max-tls-handshakes`) until the loop sees it end.
    pub in_flight: bool,
    /// Our last word was said: close_notify, or the alert of a failure.
    ended: bool,
}

/// What the memory budget counts for each TLS connection, all its life: rustls'
/// state for a connection once the handshake is over (keys, the record layer, its
/// emptied buffers) and this box, as measured with `benches/tls_idle.py` (see
/// docs/BENCHMARKS.md). The records it buffers in flight are bounded by
/// [`BUFFER_LIMIT`] each way and not counted: the count must stay the same for the
/// connection's whole life, and rustls does not say what it holds.
pub const HEAP_BYTES: usize = 8 * 1024;

impl<S: Read + Write> TlsStream<S> {
    pub fn new(sock: S, mut conn: Connection) -> TlsStream<S> {
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        TlsStream {
            sock,
            conn,
            handshake_deadline: None,
            in_flight: false,
            ended: false,
        }
    }

    pub fn socket(&self) -> &S {
        &self.sock
    }

    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.sock
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
                Ok(n) => trace!(Layer::Tls, "records in: {n} bytes"),
                Err(e) if filled > 0 && would_block(&e) => return Ok(filled),
                Err(e) => return Err(e),
            }
            self.process()?;
            // The handshake's answers (and key updates) go out at once.
            self.flush_records()?;
        }
    }

    /// Decrypts what was read; a failure sends the alert rustls queued for it.
    fn process(&mut self) -> io::Result<()> {
        let was_handshaking = self.conn.is_handshaking();
        match self.conn.process_new_packets() {
            Ok(state) => {
                if was_handshaking && !self.conn.is_handshaking() && trace::on(Layer::Tls) {
                    trace_handshake_done(&self.conn);
                }
                if state.peer_has_closed() {
                    trace!(Layer::Tls, "close_notify received");
                }
                Ok(())
            }
            Err(e) => {
                trace!(Layer::Tls, "failed: {e}");
                self.ended = true;
                // rustls queued the alert that tells the peer why: send it.
                let _ = self.flush_records();
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
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
                Ok(n) => trace!(Layer::Tls, "records out: {n} bytes"),
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Nothing more is to be said in TLS (not even close_notify): the peer does not
    /// speak it.
    pub fn end_silently(&mut self) {
        self.ended = true;
    }

    /// Our side is done (close_notify; the caller sends the FIN).
    pub fn send_close_notify(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        trace!(Layer::Tls, "close_notify sent");
        self.conn.send_close_notify();
        let _ = self.flush_records();
    }
}

impl TlsStream<TcpStream> {
    /// Our side is done: close_notify, then the FIN.
    pub fn shutdown_write(&mut self) {
        self.send_close_notify();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// The handshake's outcome, for `--trace=tls`.
fn trace_handshake_done(conn: &Connection) {
    let version = conn.protocol_version().map(|v| format!("{v:?}"));
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));
    let group = conn
        .negotiated_key_exchange_group()
        .map(|g| format!("{:?}", g.name()));
    let alpn = conn.alpn_protocol().map(String::from_utf8_lossy);
    let sni = match conn {
        Connection::Server(c) => c.server_name(),
        Connection::Client(_) => None,
    };
    let none = || "none".to_string();
    crate::trace!(
        Layer::Tls,
        "handshake done: {}, {}, key exchange {}, ALPN {}, SNI {}",
        version.unwrap_or_else(none),
        suite.unwrap_or_else(none),
        group.unwrap_or_else(none),
        alpn.map_or_else(none, |a| a.into_owned()),
        sni.unwrap_or("none")
    );
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

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        TlsStream::read(self, buf)
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        TlsStream::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// Drives the handshake to its end on a blocking socket (a client, before its
    /// loop). Errors carry rustls' reason (see `client::handshake_failure`).
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush_records()?;
            if !self.conn.is_handshaking() {
                break;
            }
            match self.conn.read_tls(&mut self.sock)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => trace!(Layer::Tls, "records in: {n} bytes"),
            }
            self.process()?;
        }
        // The client's Finished (and anything after it) goes now.
        self.flush_records()
    }
}
