//! The look-up's resolver logic without any I/O: one exchange with one server, a state
//! machine that takes events and time in and gives back what to do (quinn-proto's
//! shape). The shell (`shell.rs`) owns the sockets, the poller, the clock and stderr.
//!
//! ```text
//!   every question → a query with the id the caller drew, all sent at once over UDP,
//!                    answers told apart by id and question; stray datagrams ignored
//!   each UDP query  → wait the timeout, send once more, then give up
//!   an answer with TC set → asked again over TCP (2-byte length framing, RFC 1035
//!                    §4.2.2) while the other queries may still be waiting on UDP
//! ```
//!
//! Driving it: hand what happens to [`Exchange::handle`], call
//! [`Exchange::handle_timeout`] after every wait, and after either take
//! [`Exchange::poll_output`] until it gives `None`; wait no later than
//! [`Exchange::poll_timeout`]; stop when [`Exchange::is_done`].
//!
//! The `--verbose` notes and the `--trace` lines of the resolver logic come out as
//! values in the same queue as the datagrams and the writes, so the shell prints them
//! in order with its own trace lines (datagrams, reads, writes) and the core prints
//! nothing. Trace lines are only formatted for the layers `traced` says are on.

use super::error::{QueryError, Transport, secs};
use crate::proto::dns::{self, DnsError, Message, Question};
use crate::runtime::poll::earliest;
use crate::trace::Layer;
use std::collections::VecDeque;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Tries per query over UDP: the first send and one retry.
pub const UDP_TRIES: u32 = 2;

/// The answer to one question and how it came, or why none came.
pub type Outcome = Result<(Message, Transport), QueryError>;

/// What the shell saw happen.
#[derive(Debug)]
pub enum Event<'a> {
    /// A datagram arrived on the UDP socket.
    UdpReceived(&'a [u8]),
    /// The datagram of [`Output::SendUdp`] for `query` was not sent.
    UdpSendFailed { query: usize, error: io::Error },
    /// Receiving on the UDP socket failed (ECONNREFUSED: an ICMP port unreachable).
    UdpReceiveFailed(io::Error),
    /// The connection [`Output::ConnectTcp`] asked for is on its way.
    TcpOpened,
    /// It could not even be started; `what` is the step that failed, as the error
    /// message puts it (`connect to`, `watch the TCP connection to`).
    TcpOpenFailed {
        what: &'static str,
        error: io::Error,
    },
    /// The connect finished (the stream turned writable without an error).
    TcpConnected,
    /// Bytes read from the connection, in order, in pieces of any size.
    TcpReceived(&'a [u8]),
    /// The server closed the connection (a read gave 0 bytes).
    TcpClosed,
    /// Connecting, writing or reading failed.
    TcpFailed(io::Error),
    /// Waiting for the sockets failed: no answer can come any more.
    WaitFailed(io::Error),
}

/// What the exchange asks the shell to do, or to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `datagram` on the UDP socket; a failure goes back as
    /// [`Event::UdpSendFailed`] for `query` (an index into the questions).
    SendUdp { query: usize, datagram: Vec<u8> },
    /// Start connecting over TCP, and answer [`Event::TcpOpened`] or
    /// [`Event::TcpOpenFailed`] before taking the next output.
    ConnectTcp,
    /// Bytes to write on the TCP connection after those given before.
    WriteTcp(Vec<u8>),
    /// Close the TCP connection: no query waits on it any more.
    CloseTcp,
    /// A line for `--verbose`.
    Note(String),
    /// A `--trace` line of that layer (made only for the layers `traced` says are on).
    Trace(Layer, String),
}

/// Queues a trace line, formatted only when its layer is traced (as `crate::trace!`
/// does). It names the fields it uses, so it works while `queries` is borrowed.
macro_rules! trace_line {
    ($ex:expr, $layer:expr, $($arg:tt)*) => {
        if ($ex.traced)($layer) {
            $ex.queue.push(Output::Trace($layer, format!($($arg)*)));
        }
    };
}

enum Queued {
    Out(Output),
    /// Where a UDP round's last datagram was queued (see [`Exchange::send_udp`]).
    EndOfUdpRound,
}

/// The outputs not taken yet, in order.
#[derive(Default)]
struct Queue(VecDeque<Queued>);

impl Queue {
    fn push(&mut self, out: Output) {
        self.0.push_back(Queued::Out(out));
    }
}

pub(super) enum State {
    /// Sent over UDP, waiting.
    Udp,
    /// Truncated over UDP; asked again over TCP, waiting.
    Tcp,
    Answered(Message, Transport),
    Failed(QueryError),
}

pub(super) struct Query {
    pub(super) id: u16,
    pub(super) question: Question,
    pub(super) wire: Vec<u8>,
    pub(super) state: State,
    /// A malformed reply that carried this query's id: reported if nothing better comes.
    pub(super) malformed: Option<DnsError>,
}

impl Query {
    fn waiting(&self) -> bool {
        matches!(self.state, State::Udp | State::Tcp)
    }
}

struct Tcp {
    /// The queries to write once the shell has started connecting; `None` after that.
    unsent: Option<Vec<usize>>,
    /// Bytes received that do not make a whole frame yet.
    input: Vec<u8>,
    deadline: Instant,
}

/// One exchange with one server (see the module comment).
pub struct Exchange {
    server: SocketAddr,
    timeout: Duration,
    traced: fn(Layer) -> bool,
    queries: Vec<Query>,
    udp_tries: u32,
    udp_deadline: Instant,
    /// A send of the current UDP round was refused.
    udp_round_refused: bool,
    tcp: Option<Tcp>,
    queue: Queue,
}

impl Exchange {
    /// An exchange with `server` for `queries`, each with the id the caller drew for it
    /// (they must differ), with its first UDP round queued at `now`. `traced` says which
    /// trace layers to make lines for (`crate::trace::on` in the shell).
    pub fn new(
        server: SocketAddr,
        timeout: Duration,
        queries: Vec<(u16, Question)>,
        traced: fn(Layer) -> bool,
        now: Instant,
    ) -> Exchange {
        let queries = queries
            .into_iter()
            .map(|(id, question)| Query {
                id,
                wire: dns::query(id, &question.name, question.qtype, true),
                question,
                state: State::Udp,
                malformed: None,
            })
            .collect();
        let mut exchange = Exchange {
            server,
            timeout,
            traced,
            queries,
            udp_tries: 0,
            udp_deadline: now,
            udp_round_refused: false,
            tcp: None,
            queue: Queue::default(),
        };
        exchange.send_udp(now);
        exchange
    }

    /// Takes in what the shell saw happen at `now`.
    pub fn handle(&mut self, event: Event<'_>, now: Instant) {
        // These answer the output just taken, while the shell is still taking them:
        // what they cause comes out before the outputs queued after that one.
        if matches!(
            event,
            Event::UdpSendFailed { .. } | Event::TcpOpened | Event::TcpOpenFailed { .. }
        ) {
            self.ahead(|ex| ex.dispatch(event, now));
        } else {
            self.dispatch(event, now);
        }
    }

    fn dispatch(&mut self, event: Event<'_>, now: Instant) {
        let server = self.server;
        match event {
            Event::UdpReceived(datagram) => self.udp_received(datagram, now),
            Event::UdpSendFailed { query, error } => self.udp_send_failed(query, error),
            Event::UdpReceiveFailed(error) => self.udp_receive_failed(error),
            Event::TcpOpened => self.tcp_opened(),
            Event::TcpOpenFailed { what, error } => self.tcp_open_failed(what, error),
            Event::TcpConnected if self.tcp.is_some() => {
                self.note(format!("connected to {server} over TCP"));
            }
            Event::TcpConnected => {}
            Event::TcpReceived(bytes) => self.tcp_received(bytes),
            Event::TcpClosed => self.fail_tcp(|_| QueryError::ClosedEarly(server)),
            Event::TcpFailed(error) => self.tcp_failed(error),
            Event::WaitFailed(e) => {
                for q in self.queries.iter_mut().filter(|q| q.waiting()) {
                    let e = io::Error::new(e.kind(), e.to_string());
                    q.state = State::Failed(QueryError::Io(server, "wait for an answer from", e));
                }
            }
        }
        self.close_idle_tcp();
    }

    /// Fires the deadlines that `now` has reached: the UDP retry or give-up, and the
    /// TCP timeout. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.udp_deadline && self.queries.iter().any(|q| matches!(q.state, State::Udp)) {
            if self.udp_tries < UDP_TRIES {
                let wait = secs(self.timeout);
                trace_line!(
                    self,
                    Layer::Dns,
                    "dns timeout: no answer over UDP within {wait}; sending again"
                );
                let server = self.server;
                self.note(format!(
                    "no answer from {server} within {wait}; asking again"
                ));
                self.send_udp(now);
            } else {
                self.give_up_udp();
            }
        }
        if self.tcp.as_ref().is_some_and(|t| now >= t.deadline) {
            let (server, timeout) = (self.server, self.timeout);
            trace_line!(
                self,
                Layer::Dns,
                "dns timeout: no answer over TCP within {}; giving up",
                secs(timeout)
            );
            self.fail_tcp(|_| QueryError::Timeout {
                server,
                transport: Transport::Tcp,
                timeout,
                tries: 1,
            });
        }
        self.close_idle_tcp();
    }

    /// The next thing to do or say, in order; `None` until the next event or timeout.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            match self.queue.0.pop_front()? {
                Queued::Out(out) => return Some(out),
                Queued::EndOfUdpRound => {
                    if mem::take(&mut self.udp_round_refused) {
                        self.ahead(Exchange::udp_refused);
                    }
                }
            }
        }
    }

    /// The earliest deadline, if any query is waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let udp = self.queries.iter().any(|q| matches!(q.state, State::Udp));
        earliest([
            udp.then_some(self.udp_deadline),
            self.tcp.as_ref().map(|t| t.deadline),
        ])
    }

    /// Whether every query is answered or has failed.
    pub fn is_done(&self) -> bool {
        !self.queries.iter().any(Query::waiting)
    }

    /// The outcomes in the order of the questions.
    pub fn outcomes(self) -> Vec<Outcome> {
        let server = self.server;
        self.queries
            .into_iter()
            .map(|q| match q.state {
                State::Answered(m, t) => Ok((m, t)),
                State::Failed(e) => Err(e),
                // Only asked for once `is_done`: every query is settled by then.
                State::Udp | State::Tcp => Err(QueryError::ClosedEarly(server)),
            })
            .collect()
    }

    /// Runs `f` with the outputs queued so far set aside, and queues them after
    /// what `f` queued.
    fn ahead(&mut self, f: impl FnOnce(&mut Exchange)) {
        let later = mem::take(&mut self.queue.0);
        f(self);
        self.queue.0.extend(later);
    }

    fn note(&mut self, text: String) {
        self.queue.push(Output::Note(text));
    }
}

mod tcp;
mod udp;

#[cfg(test)]
mod tests;
