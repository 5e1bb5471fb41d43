//! The transport seam: the one interface through which the loop reads and writes a
//! connection's bytes. Services and protocol cores never see it — they get the
//! plaintext the loop read and give back the bytes to send.
//!
//! Today a transport is a plain TCP or Unix stream, and each call is one system call.
//! TLS will slot in here as a third variant, `Tls(Box<TlsStream>)`, holding the TCP
//! socket and a rustls connection driven sans-I/O: `read` pulls ciphertext from the
//! socket into rustls and returns the plaintext it releases (zero bytes of plaintext
//! from a read that moved only handshake records is a would-block, not an EOF);
//! `write` hands plaintext to rustls and writes the records it produces; `interest`
//! adds what the TLS layer itself needs (readable during the handshake, writable while
//! records are queued) to what the connection wants; `shutdown_write` sends
//! close_notify before the FIN. Nothing above this file changes for it.

use super::poll::Interest;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Readies an accepted or connected stream for a readiness loop: non-blocking,
    /// and for TCP no Nagle delay (replies are small and sent whole).
    pub fn prepare(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(true).and_then(|()| s.set_nodelay(true)),
            Stream::Unix(s) => s.set_nonblocking(true),
        }
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    /// Our side is done: the peer reads end-of-stream after what was sent.
    pub fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }

    /// What the poller must watch for the connection to get what it `wants`. A plain
    /// stream needs nothing more; a TLS stream will.
    pub fn interest(&self, wants: Interest) -> Interest {
        wants
    }

    /// For the trace: what this stream is and how it was set up.
    pub fn describe(&self) -> &'static str {
        match self {
            Stream::Tcp(_) => "TCP_NODELAY on, non-blocking",
            Stream::Unix(_) => "non-blocking",
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
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
