//! One accepted stream connection (TCP or Unix): its socket, its service state and the
//! two buffers it may need — in one box that exists only while either holds bytes, so
//! an idle connection is this struct and nothing else (128 bytes on 64-bit Linux).

use super::poll::{Interest, Registration};
use crate::clock::Millis;
use crate::service::StreamSession;
use crate::trace;
use crate::trace::Layer;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

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

/// Where a connection came from, for logs. 16 bytes rather than a `SocketAddr`'s 32:
/// an IPv6 address (28 bytes with flow and scope) is boxed.
#[derive(Clone, Debug)]
pub enum Peer {
    V4(SocketAddrV4),
    V6(Box<SocketAddrV6>),
    Unix,
}

impl Peer {
    pub fn ip(addr: SocketAddr) -> Peer {
        match addr {
            SocketAddr::V4(a) => Peer::V4(a),
            SocketAddr::V6(a) => Peer::V6(Box::new(a)),
        }
    }

    /// The peer's IP address and port; `None` for a Unix socket client.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Peer::V4(a) => Some(SocketAddr::V4(*a)),
            Peer::V6(a) => Some(SocketAddr::V6(**a)),
            Peer::Unix => None,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr() {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("unix client"),
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
    /// `last_active` is when the FIN went, and stays so: the drain has a fixed end.
    Draining,
}

pub struct Conn {
    pub stream: Stream,
    pub peer: Peer,
    /// Unique for the life of the server (slots are reused, ids are not).
    pub id: u64,
    pub session: StreamSession,
    /// Input and output waiting; `None` while there is none.
    queues: Option<Box<Queues>>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_active: Millis,
    /// The deadline of this connection's current timer entry.
    pub timer_at: Option<Millis>,
    /// Index of the listener that accepted it.
    pub listener: u16,
    pub phase: Phase,
    /// Reading stopped because queued output passed its cap.
    pub paused: bool,
    pub peer_eof: bool,
    /// What the poller watches it for.
    pub registration: Registration,
}

/// A connection's waiting bytes.
#[derive(Default)]
struct Queues {
    /// The unfinished request (line, head or frame) the service has not used yet.
    input: Vec<u8>,
    /// Output the kernel did not take yet.
    output: Vec<u8>,
    /// How much of `output` is already written: the buffer is compacted only now and
    /// then, so a large reply sent in many partial writes is not moved each time.
    sent: usize,
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.input.is_empty() && self.output.is_empty()
    }
}

/// How long a connection that stopped reading may take to drain our output, and how
/// long we wait for the peer's FIN after sending ours.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl Conn {
    pub fn new(
        stream: Stream,
        peer: Peer,
        id: u64,
        listener: u16,
        session: StreamSession,
        now: Millis,
        registration: Registration,
    ) -> Conn {
        Conn {
            stream,
            peer,
            id,
            session,
            queues: None,
            bytes_in: 0,
            bytes_out: 0,
            last_active: now,
            timer_at: None,
            listener,
            phase: Phase::Open,
            paused: false,
            peer_eof: false,
            registration,
        }
    }

    /// Takes the unfinished input out, to be lent to the service and handed back
    /// with [`keep_input`](Self::keep_input), or dropped (an empty `Vec` holds no
    /// heap).
    pub fn take_input(&mut self) -> Vec<u8> {
        let input = self
            .queues
            .as_mut()
            .map(|q| std::mem::take(&mut q.input))
            .unwrap_or_default();
        self.release_if_empty();
        input
    }

    /// Stores what the service left unfinished.
    pub fn keep_input(&mut self, input: Vec<u8>) {
        if !input.is_empty() {
            self.queues.get_or_insert_default().input = input;
        }
    }

    fn release_if_empty(&mut self) {
        if self.queues.as_ref().is_some_and(|q| q.is_empty()) {
            self.queues = None;
        }
    }

    /// Queues `data` for the peer: writes straight to the socket when nothing is
    /// queued, keeps only what the kernel did not take. Returns the bytes written now.
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if let Some(q) = self.queues.as_mut().filter(|q| !q.output.is_empty()) {
            q.output.extend_from_slice(data);
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
        if let Some(rest) = data.get(written..).filter(|rest| !rest.is_empty()) {
            self.queues
                .get_or_insert_default()
                .output
                .extend_from_slice(rest);
        }
        self.bytes_out += written as u64;
        Ok(written)
    }

    /// Output accepted from the services but not yet taken by the kernel.
    pub fn queued(&self) -> usize {
        self.queues.as_ref().map_or(0, |q| q.output.len() - q.sent)
    }

    /// Writes queued output; frees the buffer once it is empty. Returns bytes written.
    pub fn flush(&mut self) -> io::Result<usize> {
        let Some(q) = self.queues.as_mut().filter(|q| !q.output.is_empty()) else {
            return Ok(0);
        };
        let unsent = q.output.get(q.sent..).unwrap_or_default();
        match self.stream.write(unsent) {
            Ok(n) => {
                trace!(Layer::Loop, "write {n} of {} queued bytes", unsent.len());
                q.sent += n;
                if q.sent >= q.output.len() {
                    q.output = Vec::new();
                    q.sent = 0;
                } else if q.sent >= 64 * 1024 && q.sent * 2 >= q.output.len() {
                    // Compact once the written part is the larger half: each byte is
                    // moved at most once on average, however many partial writes.
                    q.output.drain(..q.sent);
                    q.sent = 0;
                }
                self.bytes_out += n as u64;
                self.release_if_empty();
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
    pub fn wanted_interest(&self) -> Interest {
        let backlog = self.phase == Phase::Open && self.session.has_backlog();
        let readable = match self.phase {
            Phase::Open => !self.paused && !backlog,
            Phase::Flushing => false,
            Phase::Draining => true,
        };
        Interest::new(readable, self.queued() > 0 || backlog)
    }

    /// When this connection's timer should next look at it, if ever: the idle
    /// timeout or the session's own deadline while open, then the closing deadlines.
    pub fn deadline(&self, idle: Option<Duration>, session: Option<Millis>) -> Option<Millis> {
        match self.phase {
            Phase::Open => match (idle.map(|d| self.last_active.after(d)), session) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Phase::Flushing => Some(
                self.last_active
                    .after(idle.map_or(FLUSH_TIMEOUT, |d| d.min(FLUSH_TIMEOUT))),
            ),
            Phase::Draining => Some(self.last_active.after(DRAIN_TIMEOUT)),
        }
    }
}

pub fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
