//! One accepted stream connection (TCP or Unix): its socket, its service state and the
//! two buffers it may need — both empty, holding no heap, while the connection idles.

use crate::service::StreamSession;
use crate::trace;
use crate::trace::Layer;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
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

    pub fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        };
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

/// Where a connection came from, for logs.
#[derive(Clone, Copy, Debug)]
pub enum Peer {
    Ip(SocketAddr),
    Unix,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Ip(a) => write!(f, "{a}"),
            Peer::Unix => f.write_str("unix client"),
        }
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading requests and answering them.
    Open,
    /// Done reading (peer finished, STOP, timeout, shutdown): sending what is queued.
    Flushing,
    /// Our side is shut (FIN sent); reading and discarding until the peer closes too,
    /// so unread input cannot turn our close into a reset that destroys the replies.
    Draining { until: Instant },
}

pub struct Conn {
    pub stream: Stream,
    pub peer: Peer,
    /// Unique for the life of the server (slots are reused, ids are not).
    pub id: u64,
    pub listener: usize,
    pub session: StreamSession,
    pub phase: Phase,
    /// The unfinished request line, if any.
    pub pending_in: Vec<u8>,
    /// Output the kernel did not take yet.
    pub pending_out: Vec<u8>,
    /// How much of `pending_out` is already written: the buffer is compacted only now
    /// and then, so a large reply sent in many partial writes is not moved each time.
    pub out_sent: usize,
    /// Reading stopped because `pending_out` passed its cap.
    pub paused: bool,
    pub peer_eof: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_active: Instant,
    /// The deadline of this connection's current timer entry.
    pub timer_at: Option<Instant>,
    /// The interest registered in the poller: (readable, writable).
    pub interest: (bool, bool),
}

/// How long a connection that stopped reading may take to drain our output, and how
/// long we wait for the peer's FIN after sending ours.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl Conn {
    /// Queues `data` for the peer: writes straight to the socket when nothing is
    /// queued, keeps only what the kernel did not take. Returns the bytes written now.
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.queued() > 0 {
            self.pending_out.extend_from_slice(data);
            trace!(
                Layer::Loop,
                "queue {} bytes behind {} already waiting",
                data.len(),
                self.queued() - data.len()
            );
            return Ok(0);
        }
        let written = match self.stream.write(data) {
            Ok(n) => n,
            Err(e) if would_block(&e) => 0,
            Err(e) => return Err(e),
        };
        if written == data.len() {
            trace!(Layer::Loop, "write {written} bytes");
        } else {
            trace!(
                Layer::Loop,
                "write {written} of {} bytes (partial: the kernel's send buffer is full; {} queued, waiting for writable)",
                data.len(),
                data.len() - written
            );
        }
        if let Some(rest) = data.get(written..) {
            self.pending_out.extend_from_slice(rest);
        }
        self.bytes_out += written as u64;
        Ok(written)
    }

    /// Output accepted from the services but not yet taken by the kernel.
    pub fn queued(&self) -> usize {
        self.pending_out.len() - self.out_sent
    }

    /// Writes queued output; frees the buffer once it is empty. Returns bytes written.
    pub fn flush(&mut self) -> io::Result<usize> {
        if self.queued() == 0 {
            return Ok(0);
        }
        let unsent = self.pending_out.get(self.out_sent..).unwrap_or_default();
        match self.stream.write(unsent) {
            Ok(n) => {
                trace!(Layer::Loop, "write {n} of {} queued bytes", unsent.len());
                self.out_sent += n;
                if self.out_sent >= self.pending_out.len() {
                    self.pending_out = Vec::new();
                    self.out_sent = 0;
                } else if self.out_sent >= 64 * 1024 && self.out_sent * 2 >= self.pending_out.len()
                {
                    // Compact once the written part is the larger half: each byte is
                    // moved at most once on average, however many partial writes.
                    self.pending_out.drain(..self.out_sent);
                    self.out_sent = 0;
                }
                self.bytes_out += n as u64;
                Ok(n)
            }
            Err(e) if would_block(&e) => {
                trace!(Layer::Loop, "write: would block");
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// The interest this connection needs now, given its phase and buffers. A
    /// session with a backlog is not read from (its input is already waiting) but is
    /// woken by writability to serve that backlog.
    pub fn wanted_interest(&self) -> (bool, bool) {
        let backlog = self.phase == Phase::Open && self.session.has_backlog();
        let readable = match self.phase {
            Phase::Open => !self.paused && !backlog,
            Phase::Flushing => false,
            Phase::Draining { .. } => true,
        };
        (readable, self.queued() > 0 || backlog)
    }

    /// When this connection's timer should next look at it, if ever: the idle
    /// timeout or the session's own deadline while open, then the closing deadlines.
    pub fn deadline(&self, idle: Option<Duration>, session: Option<Instant>) -> Option<Instant> {
        match self.phase {
            Phase::Open => match (idle.map(|d| self.last_active + d), session) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Phase::Flushing => {
                Some(self.last_active + idle.map_or(FLUSH_TIMEOUT, |d| d.min(FLUSH_TIMEOUT)))
            }
            Phase::Draining { until } => Some(until),
        }
    }
}

pub fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
