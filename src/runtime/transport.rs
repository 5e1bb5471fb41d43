//! The transport seam: the one interface through which the loop reads and writes a
//! connection's bytes. Services and protocol cores never see it — they get the
//! plaintext the loop read and give back the bytes to send.
//!
//! A transport is a plain TCP or Unix stream, where each call is one system call, or
//! (feature `tls`) a TLS stream: the TCP socket and a rustls connection driven
//! sans-I/O (`crate::tls::stream`). For it, `read` pulls records from the socket and
//! returns the plaintext they release (a read that moved only handshake records is
//! a would-block, not an EOF); `write` hands plaintext to rustls and writes the
//! records it makes; `interest` adds what the TLS layer needs itself (readable during
//! the handshake, writable while records wait); `has_unsent` tells the loop that
//! records still wait, so it neither sends its FIN nor stops watching for
//! writability before they are out; `shutdown_write` sends close_notify before the
//! FIN. Nothing above this file knows which kind it has.

use super::poll::Interest;
use crate::clock::Millis;
#[cfg(feature = "tls")]
use crate::tls::stream::TlsStream;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Stream {
    /// Readies an accepted or connected stream for a readiness loop: non-blocking,
    /// and for TCP no Nagle delay (replies are small and sent whole).
    pub fn prepare(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(true).and_then(|()| s.set_nodelay(true)),
            Stream::Unix(s) => s.set_nonblocking(true),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let s = s.socket();
                s.set_nonblocking(true).and_then(|()| s.set_nodelay(true))
            }
        }
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }

    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    /// Writes from several buffers in one system call (`writev`) where the transport
    /// is a socket; through TLS, each buffer in turn until one is not taken whole.
    pub fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let mut total = 0;
                for buf in bufs {
                    match s.write(buf) {
                        Ok(n) => {
                            total += n;
                            if n < buf.len() {
                                break;
                            }
                        }
                        Err(_) if total > 0 => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(total)
            }
        }
    }

    /// Our side is done: the peer reads end-of-stream after what was sent.
    pub fn shutdown_write(&mut self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                s.shutdown_write();
                Ok(())
            }
        };
    }

    /// The connection is about to be closed: a TLS stream says close_notify (unless
    /// it already did, or failed), as the peer's own close_notify asks.
    pub fn before_close(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(s) = self {
            s.send_close_notify();
        }
    }

    /// What the poller must watch for the connection to get what it `wants`. A plain
    /// stream needs nothing more; a TLS stream reads during its handshake and writes
    /// while records wait.
    pub fn interest(&self, wants: Interest) -> Interest {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Interest::new(
                wants.readable || s.is_handshaking(),
                wants.writable || s.wants_write(),
            ),
            _ => wants,
        }
    }

    /// Bytes the transport itself still holds for the peer (TLS records the kernel
    /// did not take).
    pub fn has_unsent(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.wants_write(),
            _ => false,
        }
    }

    /// The TCP socket under the stream (`None` for a Unix one).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Unix(_) => None,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Some(s.socket()),
        }
    }

    /// A TLS stream whose peer opened with plain text instead of a TLS record (a
    /// handshake record starts with byte 22): looked at without taking it, before the
    /// first byte reaches rustls.
    pub fn plain_text_on_tls(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) if s.is_handshaking() => {
                let mut first = [0u8; 1];
                matches!(s.socket().peek(&mut first), Ok(1) if first[0].is_ascii_uppercase())
            }
            _ => false,
        }
    }

    /// Says `text` on the socket under the stream, bypassing TLS (a plain-text
    /// answer to a plain-text request on a TLS port); best effort.
    /// What the peer sent is read and dropped first (a close with unread input would
    /// be a reset, which may destroy the answer before the peer reads it), and no
    /// close_notify follows.
    pub fn write_plain(&mut self, text: &[u8]) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(s) = self {
            s.end_silently();
        }
        if let Some(mut tcp) = self.tcp() {
            let mut sink = [0u8; 4096];
            for _ in 0..16 {
                if !matches!(tcp.read(&mut sink), Ok(n) if n > 0) {
                    break;
                }
            }
            let _ = tcp.write(text);
            let _ = tcp.shutdown(Shutdown::Write);
        }
    }

    /// A TLS handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.is_handshaking(),
            _ => false,
        }
    }

    /// While a TLS handshake is not done: when it must be.
    pub fn handshake_deadline(&self) -> Option<Millis> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) if s.is_handshaking() => s.handshake_deadline,
            _ => None,
        }
    }

    /// A TLS handshake counted in flight has ended (done, or failed): true once, so
    /// the count can be taken back.
    pub fn handshake_ended(&mut self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) if s.in_flight && !s.is_handshaking() => {
                s.in_flight = false;
                true
            }
            _ => false,
        }
    }

    /// A TLS handshake still counted in flight (the connection closes during it).
    pub fn handshake_in_flight(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.in_flight,
            _ => false,
        }
    }

    /// Heap the transport holds for the connection, as the memory budget counts it
    /// (constant for the connection's life).
    pub fn heap_bytes(&self) -> usize {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(_) => crate::tls::stream::HEAP_BYTES,
            _ => 0,
        }
    }

    /// Sends what the transport holds ([`has_unsent`](Self::has_unsent)).
    pub fn flush_unsent(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush_records(),
            _ => Ok(()),
        }
    }

    /// For the trace: what this stream is and how it was set up.
    pub fn describe(&self) -> &'static str {
        match self {
            Stream::Tcp(_) => "TCP_NODELAY on, non-blocking",
            Stream::Unix(_) => "non-blocking",
            #[cfg(feature = "tls")]
            Stream::Tls(_) => "TLS over TCP, TCP_NODELAY on, non-blocking",
        }
    }
}

impl Stream {
    /// For a client's blocking steps (its opening handshake): how long a read may wait.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket().set_read_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Stream::read(self, buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Stream::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_unsent()
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket().as_fd(),
        }
    }
}

/// A read or write that found nothing to do now (or was interrupted): try again when
/// the poller says so.
pub fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
