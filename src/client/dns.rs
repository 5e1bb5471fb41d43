//! The one poll loop for DNS: asks one server a few questions at once and waits for
//! their answers, for `sockloop lookup`.
//!
//! ```text
//!   every question → a query with a fresh random id, all sent at once on one connected
//!                    UDP socket (an ICMP port unreachable comes back as ECONNREFUSED),
//!                    answers told apart by id and question; stray datagrams ignored
//!   each UDP query  → wait the timeout, send once more, then give up
//!   an answer with TC set → asked again over TCP (non-blocking connect, 2-byte length
//!                    framing, RFC 1035 §4.2.2) in the same loop, while the other
//!                    queries may still be waiting on UDP
//! ```
//!
//! The messages are built and parsed by `proto::dns`; this file owns the sockets and the
//! clock. With `--trace=dns` every query sent and every message received is shown,
//! record by record in zone-file form, along with why a datagram was ignored, the
//! retries, the timeouts and the switch to TCP; `--trace=udp` adds the datagrams and
//! `--trace=loop` the TCP connection's connect, reads and writes.

use crate::client::connect::{finish_connect, start_connect};
use crate::proto::Parsed;
use crate::proto::dns::{self, Class, DnsError, Message, Name, Question, RType};
use crate::runtime::poll::{self, Events, Interest, Registration};
use crate::trace;
use crate::trace::{Layer, Preview};
use polling::Poller;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// Tries per query over UDP: the first send and one retry.
const UDP_TRIES: u32 = 2;
/// Largest datagram we can receive (an answer is 512 bytes without EDNS, but a
/// server may send more, and reading less would cut it).
const RECV_BUF: usize = 65_535;

const UDP_KEY: usize = 0;
const TCP_KEY: usize = 1;

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        })
    }
}

/// Why a query got no usable answer. Each prints as one line a person can act on.
#[derive(Debug)]
pub enum QueryError {
    Refused(SocketAddr, Transport),
    Timeout {
        server: SocketAddr,
        transport: Transport,
        timeout: Duration,
        tries: u32,
    },
    Malformed(SocketAddr, DnsError),
    ClosedEarly(SocketAddr),
    Io(SocketAddr, &'static str, io::Error),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Refused(server, Transport::Udp) => write!(
                f,
                "connection refused by {server} — is a DNS server listening?"
            ),
            QueryError::Refused(server, Transport::Tcp) => write!(
                f,
                "connection refused by {server} over TCP — the answer was too big for UDP \
                 and the server does not take TCP"
            ),
            QueryError::Timeout {
                server,
                transport: Transport::Udp,
                timeout,
                tries,
            } => write!(
                f,
                "no answer from {server} within {} (tried {tries} times)",
                secs(*timeout)
            ),
            QueryError::Timeout {
                server, timeout, ..
            } => write!(
                f,
                "no answer from {server} over TCP within {} (the UDP answer was truncated)",
                secs(*timeout)
            ),
            QueryError::Malformed(server, e) => {
                write!(f, "{server} sent a malformed answer: {e}")
            }
            QueryError::ClosedEarly(server) => {
                write!(f, "{server} closed the TCP connection before answering")
            }
            QueryError::Io(server, what, e) => write!(f, "cannot {what} {server}: {e}"),
        }
    }
}

/// `2 s`, `0.5 s`.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{} s", (s * 1000.0).round() / 1000.0)
    }
}

// ---------------------------------------------------------------------------------
// The loop
// ---------------------------------------------------------------------------------

enum State {
    /// Sent over UDP, waiting.
    Udp,
    /// Truncated over UDP; asked again over TCP, waiting.
    Tcp,
    Answered(Message, Transport),
    Failed(QueryError),
}

struct Query {
    id: u16,
    question: Question,
    wire: Vec<u8>,
    state: State,
    /// A malformed reply that carried this query's id: reported if nothing better comes.
    malformed: Option<DnsError>,
}

struct TcpConn {
    stream: TcpStream,
    connected: bool,
    /// Framed queries not yet written, from `written` on.
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    deadline: Instant,
    registration: Registration,
}

/// One exchange with one server: the poller owns the sockets' registrations, and every
/// socket is deleted from it before it is dropped (`finish_tcp`, `Exchange::run`'s
/// end); on an early return the poller is dropped in the same `Exchange` as the
/// sockets. That is the promise `crate::runtime::poll::register` asks for.
struct Exchange {
    poller: Poller,
    server: SocketAddr,
    timeout: Duration,
    verbose: bool,
    udp: UdpSocket,
    udp_tries: u32,
    udp_deadline: Instant,
    tcp: Option<TcpConn>,
    queries: Vec<Query>,
    buf: Box<[u8]>,
}

fn domain_of(addr: &SocketAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

impl Exchange {
    /// Opens the UDP socket, connected so that an ICMP port unreachable comes back as
    /// ECONNREFUSED, and queues `questions` with fresh random ids.
    fn new(
        server: SocketAddr,
        timeout: Duration,
        verbose: bool,
        questions: Vec<Question>,
    ) -> Result<Exchange, QueryError> {
        if trace::any() {
            trace::set_context(format_args!("dns {server}"));
        }
        let io_err = |what| move |e| QueryError::Io(server, what, e);
        let poller = Poller::new().map_err(io_err("create a poller to ask"))?;
        let socket = Socket::new(domain_of(&server), Type::DGRAM, Some(Protocol::UDP))
            .map_err(io_err("open a UDP socket to ask"))?;
        socket
            .set_nonblocking(true)
            .map_err(io_err("set up a UDP socket to ask"))?;
        socket
            .connect(&SockAddr::from(server))
            .map_err(io_err("send to"))?;
        let udp: UdpSocket = socket.into();
        Registration::add(&poller, &udp, UDP_KEY, Interest::READ)
            .map_err(io_err("watch the socket of"))?;
        trace!(
            Layer::Loop,
            "udp socket fd={} connected to {server} (ICMP errors come back as ECONNREFUSED)",
            udp.as_fd().as_raw_fd()
        );
        let mut ids: Vec<u16> = Vec::new();
        let queries = questions
            .into_iter()
            .map(|question| {
                let mut id = rand::random::<u16>();
                while ids.contains(&id) {
                    id = id.wrapping_add(1);
                }
                ids.push(id);
                Query {
                    id,
                    wire: dns::query(id, &question.name, question.qtype, true),
                    question,
                    state: State::Udp,
                    malformed: None,
                }
            })
            .collect();
        Ok(Exchange {
            poller,
            server,
            timeout,
            verbose,
            udp,
            udp_tries: 0,
            udp_deadline: Instant::now(),
            tcp: None,
            queries,
            buf: vec![0u8; RECV_BUF].into_boxed_slice(),
        })
    }

    fn note(&self, text: fmt::Arguments<'_>) {
        if self.verbose {
            eprintln!("sockloop lookup: {text}");
        }
    }

    /// Runs until every query is answered or has failed, and returns their outcomes
    /// in the order the questions were given.
    fn run(mut self) -> Vec<Result<(Message, Transport), QueryError>> {
        self.send_udp();
        let mut events = Events::new();
        while self.queries.iter().any(Query::waiting) {
            let now = Instant::now();
            let wait = self.next_deadline().saturating_duration_since(now);
            match poll::wait(&self.poller, &mut events, Some(wait)) {
                Ok(_) => {}
                Err(e) => {
                    let server = self.server;
                    self.fail_waiting(|_| {
                        QueryError::Io(server, "wait for an answer from", {
                            io::Error::new(e.kind(), e.to_string())
                        })
                    });
                    break;
                }
            }
            for ev in events.iter() {
                match ev.key {
                    UDP_KEY => self.udp_readable(),
                    TCP_KEY => self.tcp_ready(ev.readable, ev.writable),
                    _ => {}
                }
            }
            self.fire_deadlines(Instant::now());
            if self.tcp.is_some() && !self.queries.iter().any(|q| matches!(q.state, State::Tcp)) {
                self.finish_tcp();
            }
        }
        self.finish_tcp();
        poll::remove(&self.poller, &self.udp);
        std::mem::take(&mut self.queries)
            .into_iter()
            .map(|q| match q.state {
                State::Answered(m, t) => Ok((m, t)),
                State::Failed(e) => Err(e),
                // The loop only ends with every query settled.
                State::Udp | State::Tcp => Err(QueryError::ClosedEarly(self.server)),
            })
            .collect()
    }

    fn next_deadline(&self) -> Instant {
        let mut next = None::<Instant>;
        if self.queries.iter().any(|q| matches!(q.state, State::Udp)) {
            next = Some(self.udp_deadline);
        }
        if let Some(tcp) = &self.tcp {
            next = Some(next.map_or(tcp.deadline, |n| n.min(tcp.deadline)));
        }
        next.unwrap_or_else(Instant::now)
    }

    fn fail_waiting(&mut self, mut error: impl FnMut(&State) -> QueryError) {
        for q in &mut self.queries {
            if q.waiting() {
                q.state = State::Failed(error(&q.state));
            }
        }
    }

    /// Sends every query still waiting on UDP: the first try, or the retry.
    fn send_udp(&mut self) {
        self.udp_tries += 1;
        self.udp_deadline = Instant::now() + self.timeout;
        let mut refused = false;
        for i in 0..self.queries.len() {
            let Some(q) = self.queries.get(i) else { break };
            if !matches!(q.state, State::Udp) {
                continue;
            }
            self.note(format_args!(
                "asking {} over UDP: {} {}{}",
                self.server,
                q.question.qtype,
                q.question.name,
                if self.udp_tries > 1 { " (again)" } else { "" }
            ));
            if trace::on(Layer::Dns) {
                let attempt = (self.udp_tries > 1).then_some((self.udp_tries, UDP_TRIES));
                trace_query(q, Transport::Udp, attempt);
            }
            match self.udp.send(&q.wire) {
                Ok(n) => trace!(Layer::Udp, "udp < datagram {n} bytes {}", Preview(&q.wire)),
                // A datagram the kernel would not queue is like one lost: the retry or
                // the timeout deals with it.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => trace!(
                    Layer::Udp,
                    "udp < datagram not sent: the kernel would block; like a lost one, \
                     the retry or the timeout deals with it"
                ),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => refused = true,
                Err(e) => {
                    let server = self.server;
                    trace!(Layer::Udp, "udp < datagram not sent: {e}");
                    if let Some(q) = self.queries.get_mut(i) {
                        q.state = State::Failed(QueryError::Io(server, "send to", e));
                    }
                }
            }
        }
        if refused {
            self.udp_refused();
        }
    }

    fn udp_refused(&mut self) {
        let server = self.server;
        trace!(
            Layer::Udp,
            "udp > ICMP port unreachable (ECONNREFUSED): nothing listens on {server}"
        );
        for q in &mut self.queries {
            if matches!(q.state, State::Udp) {
                q.state = State::Failed(QueryError::Refused(server, Transport::Udp));
            }
        }
    }

    fn udp_readable(&mut self) {
        loop {
            match self.udp.recv(&mut self.buf) {
                Ok(n) => {
                    let datagram = self.buf.get(..n).unwrap_or_default().to_vec();
                    trace!(
                        Layer::Udp,
                        "udp > datagram {n} bytes {}",
                        Preview(&datagram)
                    );
                    self.handle_udp_reply(&datagram);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.udp_refused();
                    break;
                }
                Err(e) => {
                    let server = self.server;
                    trace!(Layer::Udp, "udp > receive failed: {e}");
                    for q in &mut self.queries {
                        if matches!(q.state, State::Udp) {
                            let e = io::Error::new(e.kind(), e.to_string());
                            q.state = State::Failed(QueryError::Io(server, "receive from", e));
                        }
                    }
                    break;
                }
            }
        }
    }

    fn handle_udp_reply(&mut self, datagram: &[u8]) {
        let header = datagram.first_chunk::<4>().map(|h| {
            (
                u16::from_be_bytes([h[0], h[1]]),
                dns::Flags::from_bits(u16::from_be_bytes([h[2], h[3]])),
            )
        });
        let parsed = dns::parse(datagram);
        let verbose = self.verbose;
        let server = self.server;
        let waiting_udp = |q: &Query| matches!(q.state, State::Udp);
        match parsed {
            Ok(msg) => {
                trace_message(&msg, Transport::Udp);
                let found = self
                    .queries
                    .iter()
                    .position(|q| waiting_udp(q) && msg.is_response_to(q.id, &q.question));
                let Some(q) = found.and_then(|i| self.queries.get_mut(i)) else {
                    if trace::on(Layer::Dns) {
                        trace::emit(format_args!(
                            "dns ignored: {}",
                            Mismatch(&msg, &self.queries, Transport::Udp)
                        ));
                    }
                    if verbose {
                        eprintln!(
                            "sockloop lookup: ignored a datagram that answers none of our \
                             questions (id {:#06x})",
                            msg.header.id
                        );
                    }
                    return;
                };
                if msg.header.flags.tc {
                    q.state = State::Tcp;
                    let frame = q.wire.clone();
                    let what = format!("{} {}", q.question.qtype, q.question.name);
                    trace!(
                        Layer::Dns,
                        "dns truncated (TC): the answer did not fit in a datagram; \
                         asking {what} again over TCP"
                    );
                    self.note(format_args!(
                        "{what}: the answer from {server} over UDP was truncated (TC); \
                         asking again over TCP"
                    ));
                    self.ask_over_tcp(&frame);
                } else {
                    q.state = State::Answered(msg, Transport::Udp);
                }
            }
            Err(e) => {
                trace!(
                    Layer::Dns,
                    "dns > malformed message of {} bytes: {e}",
                    datagram.len()
                );
                let Some((id, flags)) = header else {
                    trace!(
                        Layer::Dns,
                        "dns ignored: {} bytes are too few for a DNS header",
                        datagram.len()
                    );
                    return;
                };
                let found = self
                    .queries
                    .iter()
                    .position(|q| waiting_udp(q) && q.id == id && flags.qr);
                let Some(q) = found.and_then(|i| self.queries.get_mut(i)) else {
                    if trace::on(Layer::Dns) {
                        let why = if flags.qr {
                            format!("id={id} is not a query of ours waiting on UDP")
                        } else {
                            "not a response (QR bit clear)".into()
                        };
                        trace::emit(format_args!("dns ignored: {why}"));
                    }
                    return;
                };
                if flags.tc {
                    // Cut short without care for record boundaries: TCP will tell.
                    q.state = State::Tcp;
                    let frame = q.wire.clone();
                    trace!(
                        Layer::Dns,
                        "dns truncated (TC) and cut mid-record: asking {} {} again over TCP",
                        q.question.qtype,
                        q.question.name
                    );
                    self.ask_over_tcp(&frame);
                } else {
                    trace!(
                        Layer::Dns,
                        "dns id={id} answers {} {} but is malformed: kept in case nothing \
                         better comes; still waiting",
                        q.question.qtype,
                        q.question.name
                    );
                    if verbose {
                        eprintln!(
                            "sockloop lookup: a malformed answer from {server} ({e}); \
                             still waiting"
                        );
                    }
                    q.malformed = Some(e);
                }
            }
        }
    }

    /// Queues a query for the TCP connection, opening it first if needed.
    fn ask_over_tcp(&mut self, query: &[u8]) {
        if self.tcp.is_none() {
            match self.connect_tcp() {
                Ok(tcp) => self.tcp = Some(tcp),
                Err(e) => {
                    self.fail_tcp(|_| e.duplicate());
                    return;
                }
            }
        }
        if trace::on(Layer::Dns) {
            let asked = query.first_chunk::<2>().map(|b| u16::from_be_bytes(*b));
            if let Some(q) = self.queries.iter().find(|q| Some(q.id) == asked) {
                trace_query(q, Transport::Tcp, None);
            }
        }
        if let Some(tcp) = &mut self.tcp {
            // A query is far below 65535 bytes, so framing cannot fail.
            let _ = dns::frame_tcp(query, &mut tcp.out);
            let _ = tcp
                .registration
                .set(&self.poller, &tcp.stream, TCP_KEY, Interest::BOTH);
        }
    }

    fn connect_tcp(&self) -> Result<TcpConn, QueryError> {
        let server = self.server;
        let io_err = |what| move |e| QueryError::Io(server, what, e);
        self.note(format_args!("connecting to {server} over TCP"));
        let stream = match start_connect(server) {
            Ok(stream) => stream,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                trace!(Layer::Loop, "tcp connect to {server}: refused");
                return Err(QueryError::Refused(server, Transport::Tcp));
            }
            Err(e) => {
                trace!(Layer::Loop, "tcp connect to {server}: {e}");
                return Err(io_err("connect to")(e));
            }
        };
        let registration = Registration::add(&self.poller, &stream, TCP_KEY, Interest::BOTH)
            .map_err(io_err("watch the TCP connection to"))?;
        trace!(
            Layer::Loop,
            "tcp connect to {server}, fd={}: in progress (non-blocking); writable means it is done",
            stream.as_fd().as_raw_fd(),
        );
        Ok(TcpConn {
            stream,
            connected: false,
            out: Vec::new(),
            written: 0,
            input: Vec::new(),
            deadline: Instant::now() + self.timeout,
            registration,
        })
    }

    /// Fails every query waiting on TCP and closes the connection.
    fn fail_tcp(&mut self, mut error: impl FnMut(&Query) -> QueryError) {
        for q in &mut self.queries {
            if matches!(q.state, State::Tcp) {
                q.state = State::Failed(error(q));
            }
        }
        self.finish_tcp();
    }

    fn finish_tcp(&mut self) {
        if let Some(tcp) = self.tcp.take() {
            poll::remove(&self.poller, &tcp.stream);
            trace!(Layer::Loop, "tcp closed");
        }
    }

    fn tcp_ready(&mut self, readable: bool, writable: bool) {
        let server = self.server;
        let Some(tcp) = &mut self.tcp else { return };
        if !tcp.connected {
            match finish_connect(&tcp.stream) {
                Ok(true) => {
                    tcp.connected = true;
                    trace!(Layer::Loop, "tcp connected to {server}");
                    if self.verbose {
                        eprintln!("sockloop lookup: connected to {server} over TCP");
                    }
                }
                // Not connected yet (a spurious wake-up): wait for the next one.
                Ok(false) => return,
                Err(e) => return self.tcp_error(e),
            }
        }
        let Some(tcp) = &mut self.tcp else { return };
        if writable || tcp.written < tcp.out.len() {
            while tcp.written < tcp.out.len() {
                let pending = tcp.out.get(tcp.written..).unwrap_or_default();
                match tcp.stream.write(pending) {
                    Ok(0) => break,
                    Ok(n) => {
                        trace!(Layer::Loop, "tcp write {n} of {} bytes", pending.len());
                        tcp.written += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return self.tcp_error(e),
                }
            }
            if tcp.written == tcp.out.len() {
                tcp.out.clear();
                tcp.written = 0;
                let _ = tcp
                    .registration
                    .set(&self.poller, &tcp.stream, TCP_KEY, Interest::READ);
            }
        }
        if readable {
            self.tcp_read();
        }
    }

    fn tcp_error(&mut self, e: io::Error) {
        let server = self.server;
        trace!(Layer::Loop, "tcp connection to {server} failed: {e}");
        if e.kind() == io::ErrorKind::ConnectionRefused {
            self.fail_tcp(|_| QueryError::Refused(server, Transport::Tcp));
        } else {
            let text = e.to_string();
            let kind = e.kind();
            self.fail_tcp(|_| {
                QueryError::Io(
                    server,
                    "talk over TCP to",
                    io::Error::new(kind, text.clone()),
                )
            });
        }
    }

    fn tcp_read(&mut self) {
        let server = self.server;
        let mut eof = false;
        {
            let Some(tcp) = &mut self.tcp else { return };
            loop {
                match tcp.stream.read(&mut self.buf) {
                    Ok(0) => {
                        trace!(Layer::Loop, "tcp read 0 bytes: the server sent FIN");
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        trace!(Layer::Loop, "tcp read {n} bytes");
                        tcp.input
                            .extend_from_slice(self.buf.get(..n).unwrap_or_default());
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return self.tcp_error(e),
                }
            }
        }
        // Every whole frame: an answer to one of the queries waiting on TCP.
        loop {
            let Some(tcp) = &mut self.tcp else { return };
            let (frame, consumed) = match dns::parse_tcp_frame(&tcp.input) {
                Parsed::Complete { value, consumed } => (value.to_vec(), consumed),
                Parsed::Incomplete => break,
            };
            tcp.input.drain(..consumed);
            let id = frame.first_chunk::<2>().map(|b| u16::from_be_bytes(*b));
            let waiting_tcp = |q: &&mut Query| matches!(q.state, State::Tcp);
            match dns::parse(&frame) {
                Ok(msg) => {
                    trace_message(&msg, Transport::Tcp);
                    if trace::on(Layer::Dns)
                        && !self.queries.iter().any(|q| {
                            matches!(q.state, State::Tcp) && msg.is_response_to(q.id, &q.question)
                        })
                    {
                        trace::emit(format_args!(
                            "dns ignored: {}",
                            Mismatch(&msg, &self.queries, Transport::Tcp)
                        ));
                    }
                    if let Some(q) = self
                        .queries
                        .iter_mut()
                        .filter(waiting_tcp)
                        .find(|q| msg.is_response_to(q.id, &q.question))
                    {
                        q.state = State::Answered(msg, Transport::Tcp);
                    }
                }
                Err(e) => {
                    trace!(
                        Layer::Dns,
                        "dns > malformed message of {} bytes over TCP: {e}",
                        frame.len()
                    );
                    if let Some(q) = self
                        .queries
                        .iter_mut()
                        .filter(waiting_tcp)
                        .find(|q| Some(q.id) == id)
                    {
                        q.state = State::Failed(QueryError::Malformed(server, e));
                    }
                }
            }
        }
        if eof {
            self.fail_tcp(|_| QueryError::ClosedEarly(server));
        }
    }

    fn fire_deadlines(&mut self, now: Instant) {
        let server = self.server;
        if now >= self.udp_deadline && self.queries.iter().any(|q| matches!(q.state, State::Udp)) {
            if self.udp_tries < UDP_TRIES {
                trace!(
                    Layer::Dns,
                    "dns timeout: no answer over UDP within {}; sending again",
                    secs(self.timeout)
                );
                self.note(format_args!(
                    "no answer from {server} within {}; asking again",
                    secs(self.timeout)
                ));
                self.send_udp();
            } else {
                let (timeout, tries) = (self.timeout, self.udp_tries);
                for q in &mut self.queries {
                    if matches!(q.state, State::Udp) {
                        trace!(
                            Layer::Dns,
                            "dns timeout: no answer to {} {} after {tries} tries of {}; \
                             giving up{}",
                            q.question.qtype,
                            q.question.name,
                            secs(timeout),
                            if q.malformed.is_some() {
                                " (reporting the malformed answer)"
                            } else {
                                ""
                            }
                        );
                        q.state = State::Failed(match q.malformed {
                            Some(e) => QueryError::Malformed(server, e),
                            None => QueryError::Timeout {
                                server,
                                transport: Transport::Udp,
                                timeout,
                                tries,
                            },
                        });
                    }
                }
            }
        }
        if self.tcp.as_ref().is_some_and(|t| now >= t.deadline) {
            let timeout = self.timeout;
            trace!(
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
    }
}

impl Query {
    fn waiting(&self) -> bool {
        matches!(self.state, State::Udp | State::Tcp)
    }
}

impl QueryError {
    /// The errors hold an `io::Error`, which is not `Clone`; this copies one for each
    /// query it applies to.
    fn duplicate(&self) -> QueryError {
        match self {
            QueryError::Refused(s, t) => QueryError::Refused(*s, *t),
            QueryError::Timeout {
                server,
                transport,
                timeout,
                tries,
            } => QueryError::Timeout {
                server: *server,
                transport: *transport,
                timeout: *timeout,
                tries: *tries,
            },
            QueryError::Malformed(s, e) => QueryError::Malformed(*s, *e),
            QueryError::ClosedEarly(s) => QueryError::ClosedEarly(*s),
            QueryError::Io(s, what, e) => {
                QueryError::Io(*s, what, io::Error::new(e.kind(), e.to_string()))
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// What the caller sees
// ---------------------------------------------------------------------------------

/// The answer to one question and how it came, or why none came.
pub type Outcome = Result<(Message, Transport), QueryError>;

/// Asks `server` the questions, all at once, and gives back their outcomes in the
/// order of `questions`. With `verbose`, says on stderr what it does; the error is for
/// a socket that could not even be set up.
pub fn ask(
    server: SocketAddr,
    timeout: Duration,
    verbose: bool,
    questions: &[Question],
) -> Result<Vec<Outcome>, QueryError> {
    let exchange = Exchange::new(server, timeout, verbose, questions.to_vec())?;
    Ok(exchange.run())
}

/// A question of class IN.
pub fn question(name: Name, qtype: RType) -> Question {
    Question {
        name,
        qtype,
        qclass: Class::IN,
    }
}

mod trace_dns;
#[cfg(test)]
use trace_dns::FlagNames;
use trace_dns::{Mismatch, trace_message, trace_query};

#[cfg(test)]
mod tests;
