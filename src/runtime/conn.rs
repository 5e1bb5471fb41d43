//! One accepted stream connection (TCP or Unix): its transport, its service session,
//! its life ([`state`]) and the two buffers it may need — in one box that exists only
//! while either holds bytes, so an idle connection is this struct and nothing else
//! (104 bytes on 64-bit Linux).

mod later;
mod lent;
pub mod state;

use super::transport::{Stream, would_block};
use crate::service::StreamSession;
use crate::service::fanout::Frame;
use crate::trace;
use crate::trace::Layer;
use later::Later;
use state::ConnState;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

/// Where a connection came from, for logs: the listener that accepted it (its index)
/// and the peer's address. 16 bytes rather than a `SocketAddr`'s 32: an IPv6 address
/// (28 bytes with flow and scope) is boxed, and the index fits beside either address.
#[derive(Clone, Debug)]
pub enum Peer {
    V4(SocketAddrV4, u16),
    V6(Box<SocketAddrV6>, u16),
    Unix(u16),
}

impl Peer {
    pub fn ip(addr: SocketAddr, listener: u16) -> Peer {
        match addr {
            SocketAddr::V4(a) => Peer::V4(a, listener),
            SocketAddr::V6(a) => Peer::V6(Box::new(a), listener),
        }
    }

    /// The peer's IP address and port; `None` for a Unix socket client.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Peer::V4(a, _) => Some(SocketAddr::V4(*a)),
            Peer::V6(a, _) => Some(SocketAddr::V6(**a)),
            Peer::Unix(_) => None,
        }
    }

    /// The index of the listener that accepted the connection.
    pub fn listener(&self) -> usize {
        match self {
            Peer::V4(_, l) | Peer::V6(_, l) | Peer::Unix(l) => usize::from(*l),
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

pub struct Conn {
    pub stream: Stream,
    pub peer: Peer,
    /// Unique for the life of the server (slots are reused, ids are not).
    pub id: u64,
    pub session: StreamSession,
    pub state: ConnState,
    /// Input and output waiting; `None` while there is none.
    queues: Option<Box<Queues>>,
    pub bytes_in: u64,
    pub bytes_out: u64,
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
    /// Fan-out frames queued behind `output`, and the connection's own output that
    /// came after them, in order (only chat and pub/sub connections ever have any).
    later: Later,
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.input.is_empty() && self.output.is_empty() && self.later.is_empty()
    }

    fn unsent(&self) -> usize {
        self.output.len() - self.sent + self.later.len()
    }

    /// `n` bytes were written: first from `output`, the rest from `later`.
    fn consume(&mut self, n: usize) {
        let own = n.min(self.output.len() - self.sent);
        self.sent += own;
        if self.sent >= self.output.len() {
            self.output = Vec::new();
            self.sent = 0;
        } else if self.sent >= 64 * 1024 && self.sent * 2 >= self.output.len() {
            // Compact once the written part is the larger half: each byte is
            // moved at most once on average, however many partial writes.
            self.output.drain(..self.sent);
            self.sent = 0;
        }
        self.later.consume(n - own);
    }
}

impl Conn {
    pub fn new(
        stream: Stream,
        peer: Peer,
        id: u64,
        session: StreamSession,
        state: ConnState,
    ) -> Conn {
        Conn {
            stream,
            peer,
            id,
            session,
            state,
            queues: None,
            bytes_in: 0,
            bytes_out: 0,
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
        if let Some(q) = self.queues.as_mut().filter(|q| q.unsent() > 0) {
            if q.later.is_empty() {
                // Exactly: a doubling Vec would hold up to twice what is queued, past
                // what the memory budget let this step write.
                q.output.reserve_exact(data.len());
                q.output.extend_from_slice(data);
            } else {
                q.later.push_own(data);
            }
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
        self.keep_unsent(data.get(written..).unwrap_or_default());
        self.bytes_out += written as u64;
        Ok(written)
    }

    /// Queues what the kernel did not take of a write (nothing was queued before it).
    fn keep_unsent(&mut self, rest: &[u8]) {
        if !rest.is_empty() {
            self.queues
                .get_or_insert_default()
                .output
                .extend_from_slice(rest);
        }
    }

    /// Queues a fan-out frame, to be written with whatever else is queued when the
    /// loop flushes (at the end of its turn): no system call now.
    pub fn push_frame(&mut self, frame: Frame) {
        self.queues.get_or_insert_default().later.push_frame(frame);
    }

    /// Heap bytes held for the peer: the input and output buffers, what the session
    /// keeps (an unfinished WebSocket message) and what the transport holds (TLS
    /// state). The memory budget counts this.
    pub fn footprint(&self) -> usize {
        let queues = self.queues.as_ref().map_or(0, |q| {
            std::mem::size_of::<Queues>()
                + q.input.capacity()
                + q.output.capacity()
                + q.later.heap_bytes()
        });
        queues + self.session.heap_bytes() + self.stream.heap_bytes()
    }

    /// Output accepted from the services but not yet taken by the kernel. TLS
    /// records still waiting in the transport count as one byte: enough for the loop
    /// to keep watching for writability and to hold its FIN back until they are out.
    pub fn queued(&self) -> usize {
        let queued = self.queues.as_ref().map_or(0, |q| q.unsent());
        queued + usize::from(self.stream.has_unsent())
    }

    /// Writes queued output; frees the buffer once it is empty. Returns bytes written.
    pub fn flush(&mut self) -> io::Result<usize> {
        let Some(q) = self.queues.as_mut().filter(|q| q.unsent() > 0) else {
            return self.stream.flush_unsent().map(|()| 0);
        };
        let unsent = q.output.get(q.sent..).unwrap_or_default();
        let written = if q.later.is_empty() {
            self.stream.write(unsent)
        } else {
            // Everything queued in one system call (as much as an iovec array takes).
            let mut slices = [io::IoSlice::new(&[]); later::MAX_SLICES];
            let count = later::gather(unsent, &q.later, &mut slices);
            self.stream
                .write_vectored(slices.get(..count).unwrap_or_default())
        };
        match written {
            Ok(n) => {
                trace!(Layer::Loop, "write {n} of {} queued bytes", q.unsent());
                q.consume(n);
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
}
