//! What arrives on listeners: connections to accept (in batches, pausing the
//! listener when descriptors run out, refusing politely over `--max-conns` and
//! `--max-conns-per-ip`) and datagrams to answer (under the UDP rules of
//! `service::datagram`).

use super::connection::Step;
use super::per_ip::Admit;
use super::{Server, listener_key, socket_fd};
use crate::clock::Millis;
use crate::runtime::conn::state::ConnState;
use crate::runtime::conn::{Conn, Peer};
use crate::runtime::listener::ListenSocket;
use crate::runtime::poll::{Interest, Registration};
use crate::runtime::timers::Timer;
use crate::runtime::transport::Stream;
use crate::service::datagram::{self, DatagramService};
use crate::service::{self, Busy, Service, Shared, StreamSession};
#[cfg(feature = "tls")]
use crate::tls::stream::TlsStream;
use crate::trace::{self, Layer, Preview};
use crate::{debug, error, info};
use polling::{Event, PollMode};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// Datagrams answered per readiness event before giving others a turn.
const DATAGRAM_BATCH: usize = 64;
/// Connections accepted per readiness event before giving others a turn. The poller
/// is level-triggered, so a listener with more waiting is reported again next turn;
/// meanwhile every other ready listener and connection gets its turn. Without the
/// bound, one address connecting in a tight loop would keep us in this listener's
/// accept loop (each refusal costs only a few system calls, and it can connect as
/// fast as we refuse) while established connections wait. 64 keeps a turn short
/// (a few hundred microseconds of refusals) and costs one `epoll_wait` per 64
/// accepts when a burst is real. Clients of other addresses connecting to the same
/// listener wait in the same kernel queue, which this drains at full speed: they
/// are behind at most a backlog's worth of refusals.
const ACCEPT_BATCH: usize = 64;
/// How long a listener rests after the process ran out of file descriptors.
const EMFILE_PAUSE: Duration = Duration::from_millis(100);

impl Server {
    pub(super) fn on_listener(&mut self, index: usize) {
        let Some(listener) = self.listeners.get(index) else {
            return;
        };
        match &listener.socket {
            Some(ListenSocket::Udp(_)) => self.on_datagrams(index),
            Some(_) => self.accept_all(index),
            None => {}
        }
    }

    fn accept_all(&mut self, index: usize) {
        // Listener indexes are small: the command line names each listener.
        let tag = index as u16;
        for _ in 0..ACCEPT_BATCH {
            let Some(listener) = self.listeners.get_mut(index) else {
                return;
            };
            let accepted = match &listener.socket {
                Some(ListenSocket::Tcp(l)) => {
                    l.accept().map(|(s, a)| (Stream::Tcp(s), Peer::ip(a, tag)))
                }
                Some(ListenSocket::Unix(l, _)) => {
                    l.accept().map(|(s, _)| (Stream::Unix(s), Peer::Unix(tag)))
                }
                _ => return,
            };
            match accepted {
                Ok((stream, peer)) => {
                    listener.fd_exhaustion_logged = false;
                    let stream = match listener.tls {
                        true => self.tls_stream(stream),
                        false => Some(stream),
                    };
                    if let Some(stream) = stream {
                        self.on_accept(index, stream, peer);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if out_of_descriptors(&e) => {
                    self.pause_listener(index, &e);
                    return;
                }
                // ECONNABORTED and friends concern one would-be connection only.
                Err(e) => debug!("accept on {}: {e}", listener.info.address),
            }
        }
    }

    /// Out of file descriptors: the pending connection stays in the backlog, so a
    /// level-triggered listener would wake us forever. Stop watching it for a moment.
    fn pause_listener(&mut self, index: usize, e: &io::Error) {
        let Some(listener) = self.listeners.get_mut(index) else {
            return;
        };
        if !listener.fd_exhaustion_logged {
            error!(
                "{} {}: {e}; pausing accepts for {} ms at a time until descriptors free up \
                 (raise `ulimit -n` or lower --max-conns)",
                listener.info.transport,
                listener.info.address,
                EMFILE_PAUSE.as_millis()
            );
            listener.fd_exhaustion_logged = true;
        }
        listener.paused = true;
        if let Some(socket) = &listener.socket {
            let _ = self.poller.modify_with_mode(
                socket_fd(socket),
                Event::none(listener_key(index)),
                PollMode::Level,
            );
        }
        let at = Millis::since(self.shared.started).after(EMFILE_PAUSE);
        self.timers.push(at, Timer::ResumeListener(index as u32));
    }

    pub(super) fn resume_listener(&mut self, index: usize) {
        if let Some(listener) = self.listeners.get_mut(index)
            && let (true, Some(socket)) = (listener.paused, &listener.socket)
        {
            listener.paused = false;
            let _ = self.poller.modify_with_mode(
                socket_fd(socket),
                Event::readable(listener_key(index)),
                PollMode::Level,
            );
        }
    }

    /// A connection accepted on a TLS listener: a rustls server connection on it
    /// (the handshake starts with the client's first read). `None` (the connection
    /// is dropped) only if rustls cannot start one, which a loaded config rules out.
    #[cfg(feature = "tls")]
    fn tls_stream(&mut self, stream: Stream) -> Option<Stream> {
        let limit = self.limits.max_tls_handshakes;
        if self.shared.tls_handshakes >= limit as u64 {
            // Nothing readable can be said before a handshake: the TCP connection is
            // closed, and the client may try again.
            self.shared.refused_tls_handshakes += 1;
            debug!("refused a TLS connection: {limit} handshakes under way (--max-tls-handshakes)");
            return None;
        }
        match (stream, &self.tls) {
            (Stream::Tcp(sock), Some(tls)) => {
                match rustls::ServerConnection::new(tls.config().clone()) {
                    Ok(conn) => {
                        let mut tls = TlsStream::new(sock, conn.into());
                        let allowed = self.shared.web.handshake_timeout;
                        tls.handshake_deadline = Some(self.shared.now.after(allowed));
                        tls.in_flight = true;
                        Some(Stream::Tls(Box::new(tls)))
                    }
                    Err(e) => {
                        error!("cannot start a TLS session: {e}");
                        None
                    }
                }
            }
            _ => None,
        }
    }

    #[cfg(not(feature = "tls"))]
    fn tls_stream(&self, _stream: Stream) -> Option<Stream> {
        None
    }

    /// Whether a new connection may be served: over a limit, it gets its service's
    /// busy answer and is closed (the stream is given back only when admitted).
    fn admit(&mut self, stream: Stream, service: Service, peer: &Peer) -> Option<Stream> {
        if let Err(e) = stream.prepare() {
            debug!("dropping new connection from {peer}: {e}");
            return None;
        }
        if self.conns.len() >= self.limits.max_conns {
            self.shared.refused_max_conns += 1;
            refuse_busy(stream, service, Busy::MaxConns(self.limits.max_conns));
            debug!("refused {peer}: at --max-conns {}", self.limits.max_conns);
            return None;
        }
        if self.shared.memory.is_full() {
            self.shared.memory.refuse_connection();
            refuse_busy(stream, service, Busy::Memory);
            debug!("refused {peer}: the --max-memory budget is full");
            return None;
        }
        if let Admit::No { client, first } = self.per_ip.admit(peer.addr()) {
            let limit = self.per_ip.limit();
            self.shared.refused_per_ip += 1;
            refuse_busy(stream, service, Busy::PerAddress(limit));
            if first {
                info!(
                    "{client}: {limit} connections open, the --max-conns-per-ip limit; \
                     refusing its new ones (said once, until all of its connections close)"
                );
            }
            debug!("refused {peer}: at --max-conns-per-ip {limit}");
            return None;
        }
        Some(stream)
    }

    pub(super) fn on_accept(&mut self, index: usize, stream: Stream, peer: Peer) {
        let service = self.listeners[index].info.service;
        let Some(stream) = self.admit(stream, service, &peer) else {
            return;
        };
        self.shared.conns_total += 1;
        self.shared.conns_active += 1;
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        let now = self.shared.now;
        let session = StreamSession::new(service, &self.shared);
        let slot = self.conns.next_key();
        let registration = match Registration::add(&self.poller, &stream, slot, Interest::READ) {
            Ok(registration) => registration,
            Err(e) => {
                error!("cannot watch connection from {peer}: {e}");
                self.shared.conns_active -= 1;
                self.release_address(&peer);
                return;
            }
        };
        let state = ConnState::new(now, registration);
        if stream.handshake_in_flight() {
            self.shared.tls_handshakes += 1;
        }
        if let Some(counts) = self.shared.metrics.listeners.get_mut(index) {
            counts.accepted += 1;
            counts.open += 1;
        }
        let conn = Conn::new(stream, peer, id, session, state);
        // A TLS connection's state is counted from the start (plain ones hold nothing).
        self.shared.memory.resize(0, conn.footprint());
        let slot = self.conns.insert(conn);
        if trace::any() {
            self.trace_accept(slot, index);
        }
        let info = &self.listeners[index].info;
        if let Some(conn) = self.conns.get(slot) {
            match conn.peer.addr() {
                Some(addr) => debug!("#{id} open {} {addr} ({service})", info.transport),
                None => debug!("#{id} open unix {} ({service})", info.address),
            }
        }
        self.step(slot, Step::Open);
    }

    /// A connection counted by `--max-conns-per-ip` is gone: the one call from
    /// `close`. Says so when this ends an episode of refusals.
    pub(super) fn release_address(&mut self, peer: &Peer) {
        if let Some(ended) = self.per_ip.release(peer.addr()) {
            info!(
                "{}: its last connection closed; {} new ones were refused over \
                 --max-conns-per-ip {}",
                ended.client,
                ended.refused,
                self.per_ip.limit()
            );
        }
    }

    fn trace_accept(&self, slot: usize, index: usize) {
        self.trace_context(slot);
        let info = &self.listeners[index].info;
        if let Some(conn) = self.conns.get(slot) {
            crate::trace!(
                Layer::Loop,
                "accept fd={} on {} {} ({}), {}",
                conn.stream.as_fd().as_raw_fd(),
                info.transport,
                info.address,
                info.service,
                conn.stream.describe()
            );
        }
    }

    fn on_datagrams(&mut self, index: usize) {
        let Some(listener) = self.listeners.get(index) else {
            return;
        };
        let rules = DatagramService {
            service: listener.info.service,
            tcp_port: listener.tcp_port,
        };
        let Some(ListenSocket::Udp(socket)) = &listener.socket else {
            return;
        };
        for _ in 0..DATAGRAM_BATCH {
            let (n, peer) = match socket.recv_from(&mut self.read_buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    debug!("udp {}: {e}", listener.info.address);
                    return;
                }
            };
            self.shared.bytes_in += n as u64;
            if let Some(counts) = self.shared.metrics.listeners.get_mut(index) {
                counts.accepted += 1;
            }
            let data = self.read_buf.get(..n).unwrap_or_default();
            if trace::any() {
                trace::set_context(format_args!("udp {}", listener.info.address));
                crate::trace!(
                    Layer::Udp,
                    "datagram from {peer}: {n} bytes {}",
                    Preview(data)
                );
            }
            let answer = datagram::serve(
                &rules,
                data,
                &peer,
                &self.udp_ports,
                &mut self.shared,
                &mut self.scratch,
            );
            if !answer {
                // Counted in STATS; not logged, or a flood of them would flood the log.
                crate::trace!(
                    Layer::Udp,
                    "dropped, not answered: source port {} is a datagram service's \
                     (a reply could start a loop)",
                    peer.port()
                );
                continue;
            }
            send_reply(socket, &self.scratch, peer, &mut self.shared);
            self.scratch.clear();
        }
    }
}

fn send_reply(socket: &UdpSocket, reply: &[u8], peer: SocketAddr, shared: &mut Shared) {
    match socket.send_to(reply, peer) {
        Ok(sent) => {
            shared.bytes_out += sent as u64;
            crate::trace!(
                Layer::Udp,
                "datagram to {peer}: {sent} bytes {}",
                Preview(reply)
            );
        }
        // UDP may drop: a full send buffer loses this reply, like the network could.
        Err(e) => debug!("udp reply to {peer} dropped: {e}"),
    }
}

fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE (24): this process is at its limit; ENFILE (23): the whole system is.
    // ENOBUFS/ENOMEM: the kernel is short of memory for sockets; same remedy.
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

/// Over a limit: tell the client why (in its service's protocol) and hang up.
fn refuse_busy(mut stream: Stream, service: Service, why: Busy) {
    let reply = service::busy_reply(service, why);
    if !reply.is_empty() {
        let _ = stream.write(&reply);
    }
    stream.shutdown_write();
}
