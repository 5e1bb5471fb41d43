//! The exchange's shell: the one poll loop for DNS. It owns the UDP socket, the TCP
//! connection, the poller, the clock and stderr, hands the [`Exchange`] what they
//! report and does what it asks.
//!
//! The UDP socket is connected, so that an ICMP port unreachable comes back as
//! ECONNREFUSED; TCP uses the one non-blocking connect (`client::connect`), finished
//! in the same loop. `--trace=udp` (datagrams) and `--trace=loop` (the sockets, the
//! TCP connect, reads and writes) are written here; the exchange's own lines and the
//! `--verbose` notes arrive as outputs and are written in the order they come.

use super::error::QueryError;
use super::exchange::{Event, Exchange, Output};
use crate::client::connect::{finish_connect, start_connect};
use crate::runtime::poll::{self, Events, Interest, Registration};
use crate::trace;
use crate::trace::{Layer, Preview};
use polling::Poller;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

/// Largest datagram we can receive (an answer is 512 bytes without EDNS, but a
/// server may send more, and reading less would cut it).
const RECV_BUF: usize = 65_535;

const UDP_KEY: usize = 0;
const TCP_KEY: usize = 1;

struct TcpConn {
    stream: TcpStream,
    connected: bool,
    /// Bytes the exchange gave to write, not yet written, from `written` on.
    out: Vec<u8>,
    written: usize,
    registration: Registration,
}

/// The sockets of one exchange and the poller that watches them. Every socket is
/// deleted from the poller before it is dropped (`close_tcp`, the end of `run`); on an
/// early return the poller is dropped in the same `Shell` as the sockets. That is the
/// promise `crate::runtime::poll::Registration::add` asks for.
pub(super) struct Shell {
    poller: Poller,
    server: SocketAddr,
    verbose: bool,
    udp: UdpSocket,
    tcp: Option<TcpConn>,
    buf: Box<[u8]>,
}

impl Shell {
    /// Opens the UDP socket, connected to `server`, and the poller watching it.
    pub(super) fn open(server: SocketAddr, verbose: bool) -> Result<Shell, QueryError> {
        if trace::any() {
            trace::set_context(format_args!("dns {server}"));
        }
        let io_err = |what| move |e| QueryError::Io(server, what, e);
        let poller = Poller::new().map_err(io_err("create a poller to ask"))?;
        let socket = Socket::new(
            Domain::for_address(server),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
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
        Ok(Shell {
            poller,
            server,
            verbose,
            udp,
            tcp: None,
            buf: vec![0u8; RECV_BUF].into_boxed_slice(),
        })
    }

    /// Drives `exchange` until every query is answered or has failed.
    pub(super) fn run(mut self, exchange: &mut Exchange) {
        self.drain(exchange);
        let mut events = Events::new();
        while !exchange.is_done() {
            let wait = poll::timeout_until(exchange.poll_timeout(), Instant::now());
            if let Err(e) = poll::wait(&self.poller, &mut events, wait) {
                self.feed(exchange, Event::WaitFailed(e));
                break;
            }
            for ready in events.iter() {
                match ready.key {
                    UDP_KEY => self.udp_readable(exchange),
                    TCP_KEY => self.tcp_ready(exchange, ready.readable, ready.writable),
                    _ => {}
                }
            }
            exchange.handle_timeout(Instant::now());
            self.drain(exchange);
        }
        self.close_tcp();
        poll::remove(&self.poller, &self.udp);
    }

    fn feed(&mut self, exchange: &mut Exchange, event: Event<'_>) {
        exchange.handle(event, Instant::now());
        self.drain(exchange);
    }

    /// Does what the exchange asks, in order, until it asks nothing more.
    fn drain(&mut self, exchange: &mut Exchange) {
        while let Some(out) = exchange.poll_output() {
            match out {
                Output::SendUdp { query, datagram } => self.send_udp(exchange, query, &datagram),
                Output::ConnectTcp => self.open_tcp(exchange),
                Output::WriteTcp(bytes) => self.queue_tcp(&bytes),
                Output::CloseTcp => self.close_tcp(),
                Output::Note(text) => {
                    if self.verbose {
                        eprintln!("sockloop lookup: {text}");
                    }
                }
                Output::Trace(_, line) => trace::emit(format_args!("{line}")),
            }
        }
    }

    fn send_udp(&mut self, exchange: &mut Exchange, query: usize, datagram: &[u8]) {
        let error = match self.udp.send(datagram) {
            Ok(n) => {
                trace!(Layer::Udp, "udp < datagram {n} bytes {}", Preview(datagram));
                return;
            }
            Err(e) => e,
        };
        match error.kind() {
            io::ErrorKind::WouldBlock => trace!(
                Layer::Udp,
                "udp < datagram not sent: the kernel would block; like a lost one, \
                 the retry or the timeout deals with it"
            ),
            // The exchange says so once the round is out.
            io::ErrorKind::ConnectionRefused => {}
            _ => trace!(Layer::Udp, "udp < datagram not sent: {error}"),
        }
        exchange.handle(Event::UdpSendFailed { query, error }, Instant::now());
    }

    fn udp_readable(&mut self, exchange: &mut Exchange) {
        loop {
            match self.udp.recv(&mut self.buf) {
                Ok(n) => {
                    let datagram = self.buf.get(..n).unwrap_or_default();
                    trace!(Layer::Udp, "udp > datagram {n} bytes {}", Preview(datagram));
                    exchange.handle(Event::UdpReceived(datagram), Instant::now());
                    self.drain(exchange);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if e.kind() != io::ErrorKind::ConnectionRefused {
                        trace!(Layer::Udp, "udp > receive failed: {e}");
                    }
                    self.feed(exchange, Event::UdpReceiveFailed(e));
                    break;
                }
            }
        }
    }

    fn open_tcp(&mut self, exchange: &mut Exchange) {
        let server = self.server;
        let failed = |what, error| Event::TcpOpenFailed { what, error };
        let stream = match start_connect(server) {
            Ok(stream) => stream,
            Err(e) => {
                if e.kind() == io::ErrorKind::ConnectionRefused {
                    trace!(Layer::Loop, "tcp connect to {server}: refused");
                } else {
                    trace!(Layer::Loop, "tcp connect to {server}: {e}");
                }
                return exchange.handle(failed("connect to", e), Instant::now());
            }
        };
        let registration = match Registration::add(&self.poller, &stream, TCP_KEY, Interest::BOTH) {
            Ok(registration) => registration,
            Err(e) => {
                let event = failed("watch the TCP connection to", e);
                return exchange.handle(event, Instant::now());
            }
        };
        trace!(
            Layer::Loop,
            "tcp connect to {server}, fd={}: in progress (non-blocking); writable means it is done",
            stream.as_fd().as_raw_fd(),
        );
        self.tcp = Some(TcpConn {
            stream,
            connected: false,
            out: Vec::new(),
            written: 0,
            registration,
        });
        exchange.handle(Event::TcpOpened, Instant::now());
    }

    fn queue_tcp(&mut self, bytes: &[u8]) {
        if let Some(tcp) = &mut self.tcp {
            tcp.out.extend_from_slice(bytes);
            let _ = tcp
                .registration
                .set(&self.poller, &tcp.stream, TCP_KEY, Interest::BOTH);
        }
    }

    fn close_tcp(&mut self) {
        if let Some(tcp) = self.tcp.take() {
            poll::remove(&self.poller, &tcp.stream);
            trace!(Layer::Loop, "tcp closed");
        }
    }

    fn tcp_ready(&mut self, exchange: &mut Exchange, readable: bool, writable: bool) {
        let server = self.server;
        let Some(tcp) = &mut self.tcp else { return };
        if !tcp.connected {
            match finish_connect(&tcp.stream) {
                Ok(true) => {
                    tcp.connected = true;
                    trace!(Layer::Loop, "tcp connected to {server}");
                    self.feed(exchange, Event::TcpConnected);
                }
                // Not connected yet (a spurious wake-up): wait for the next one.
                Ok(false) => return,
                Err(e) => return self.tcp_error(exchange, e),
            }
        }
        if let Err(e) = self.tcp_write(writable) {
            return self.tcp_error(exchange, e);
        }
        if readable {
            self.tcp_read(exchange);
        }
    }

    /// Writes what is pending; once all is written, watches for reading only.
    fn tcp_write(&mut self, writable: bool) -> io::Result<()> {
        let Some(tcp) = &mut self.tcp else {
            return Ok(());
        };
        if !writable && tcp.written == tcp.out.len() {
            return Ok(());
        }
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
                Err(e) => return Err(e),
            }
        }
        if tcp.written == tcp.out.len() {
            tcp.out.clear();
            tcp.written = 0;
            let _ = tcp
                .registration
                .set(&self.poller, &tcp.stream, TCP_KEY, Interest::READ);
        }
        Ok(())
    }

    /// Reads all there is, then hands it to the exchange at once, and the end of the
    /// stream after it.
    fn tcp_read(&mut self, exchange: &mut Exchange) {
        let Some(tcp) = &mut self.tcp else { return };
        let mut received = Vec::new();
        let mut eof = false;
        loop {
            match tcp.stream.read(&mut self.buf) {
                Ok(0) => {
                    trace!(Layer::Loop, "tcp read 0 bytes: the server sent FIN");
                    eof = true;
                    break;
                }
                Ok(n) => {
                    trace!(Layer::Loop, "tcp read {n} bytes");
                    received.extend_from_slice(self.buf.get(..n).unwrap_or_default());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.tcp_error(exchange, e),
            }
        }
        if !received.is_empty() {
            self.feed(exchange, Event::TcpReceived(&received));
        }
        if eof {
            self.feed(exchange, Event::TcpClosed);
        }
    }

    fn tcp_error(&mut self, exchange: &mut Exchange, e: io::Error) {
        let server = self.server;
        trace!(Layer::Loop, "tcp connection to {server} failed: {e}");
        self.feed(exchange, Event::TcpFailed(e));
    }
}
