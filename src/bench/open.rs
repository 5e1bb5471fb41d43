//! Opening many connections at once without blocking the loop: non-blocking connect
//! (socket2 `connect` answers EINPROGRESS), then, once the socket is writable, the
//! WebSocket opening handshake (RFC 6455 §4.1) — sent and read through the same
//! poller, a bounded number of connections in flight at a time.

use super::Stop;
use crate::proto::Parsed;
use crate::proto::http;
use crate::proto::ws::handshake;
use crate::runtime::poll::{register, set_interest};
use base64::Engine;
use polling::Poller;
use rand::RngExt;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// EINPROGRESS on Linux: a non-blocking connect has started. std cannot name it on
/// stable Rust (ErrorKind::InProgress is unstable), so compare the number.
const EINPROGRESS: i32 = 115;

/// Where to connect and, for WebSocket, what to ask for.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// `Some((host, path))`: perform the WebSocket handshake.
    pub ws: Option<(String, String)>,
}

/// A connection that finished opening; `leftover` is what came after the handshake
/// response (normally nothing).
pub struct Opened {
    pub sock: TcpStream,
    pub leftover: Vec<u8>,
}

enum State {
    Connecting,
    /// Sending the request (`written` bytes of it so far), then reading the response.
    Handshake {
        key: String,
        request: Vec<u8>,
        written: usize,
        response: Vec<u8>,
    },
}

struct Opening {
    sock: TcpStream,
    state: State,
    deadline: Instant,
}

impl Opening {
    fn start(target: &Target, deadline: Instant) -> io::Result<Opening> {
        let sock = Socket::new(
            Domain::for_address(target.addr),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        sock.set_nonblocking(true)?;
        match sock.connect(&target.addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        Ok(Opening {
            sock: TcpStream::from(sock),
            state: State::Connecting,
            deadline,
        })
    }

    fn interest(&self) -> (bool, bool) {
        match &self.state {
            State::Connecting => (false, true),
            State::Handshake {
                request, written, ..
            } => (*written == request.len(), *written < request.len()),
        }
    }

    /// The socket is ready for something: make progress. `Ok(true)`: open.
    fn advance(&mut self, target: &Target, buf: &mut [u8]) -> io::Result<bool> {
        if let State::Connecting = self.state {
            if let Some(e) = self.sock.take_error()? {
                return Err(e);
            }
            match self.sock.peer_addr() {
                Ok(_) => {}
                // Not connected yet (a spurious wakeup).
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(e),
            }
            self.sock.set_nodelay(true)?;
            let Some((host, path)) = &target.ws else {
                return Ok(true);
            };
            let key_bytes: [u8; 16] = rand::rng().random();
            let key = base64::engine::general_purpose::STANDARD.encode(key_bytes);
            let mut request = Vec::new();
            handshake::write_client_request(&mut request, host, path, &key, &[], None, &[]);
            self.state = State::Handshake {
                key,
                request,
                written: 0,
                response: Vec::new(),
            };
        }
        let State::Handshake {
            key,
            request,
            written,
            response,
        } = &mut self.state
        else {
            return Ok(false);
        };
        while *written < request.len() {
            match self.sock.write(&request[*written..]) {
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        loop {
            let n = match self.sock.read(buf) {
                Ok(0) => {
                    return Err(io::Error::other(
                        "the server closed the connection during the handshake — is it a WebSocket server?",
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            response.extend_from_slice(&buf[..n]);
            match http::parse_response(response, &http::Limits::default()) {
                Ok(Parsed::Incomplete) => {}
                Ok(Parsed::Complete { value, consumed }) => {
                    if value.status != 101 {
                        return Err(io::Error::other(format!(
                            "the server refused the WebSocket handshake: {} {}",
                            value.status, value.reason
                        )));
                    }
                    handshake::validate_server_response(&value, key, &[])
                        .map_err(|e| io::Error::other(format!("bad handshake response: {e}")))?;
                    response.drain(..consumed);
                    return Ok(true);
                }
                Err(e) => {
                    return Err(io::Error::other(format!(
                        "the server did not answer with HTTP: {e}"
                    )));
                }
            }
        }
    }

    fn finish(self) -> Opened {
        let leftover = match self.state {
            State::Handshake { response, .. } => response,
            State::Connecting => Vec::new(),
        };
        Opened {
            sock: self.sock,
            leftover,
        }
    }
}

/// How [`open_all`] went.
pub struct OpenResult {
    /// One entry per connection, in order; `None` for those that failed.
    pub conns: Vec<Option<Opened>>,
    pub failed: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

/// Opens `n` connections to `target`, at most `batch` at a time, each within
/// `timeout`. Connection `i` is registered in `poller` under key `i`, with read
/// interest once open. With `stop_on_error`, the first failure ends the whole
/// attempt. `progress(opened, failed)` is called now and then.
#[allow(clippy::too_many_arguments)]
pub fn open_all(
    poller: &Poller,
    stop: &mut Stop,
    target: &Target,
    n: usize,
    batch: usize,
    timeout: Duration,
    stop_on_error: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<OpenResult, String> {
    let start = Instant::now();
    let mut pending: Vec<Option<Opening>> = Vec::new();
    pending.resize_with(n, || None);
    let mut conns: Vec<Option<Opened>> = Vec::new();
    conns.resize_with(n, || None);
    let (mut started, mut in_progress, mut opened, mut failed) = (0usize, 0usize, 0u64, 0u64);
    let mut first_error: Option<String> = None;
    let mut events = super::events();
    let mut buf = vec![0u8; 16 * 1024];
    let mut next_scan = start;
    let mut next_report = start;
    let addr = target.addr;
    let mut fail = |i: usize, e: io::Error, failed: &mut u64| {
        *failed += 1;
        if first_error.is_none() {
            first_error = Some(match e.kind() {
                io::ErrorKind::ConnectionRefused => {
                    format!("connection refused by {addr} — is a server listening?")
                }
                _ => format!("connection {i} to {addr}: {e}"),
            });
        }
    };
    while (opened + failed) < n as u64 {
        if stop_on_error && failed > 0 {
            break;
        }
        while in_progress < batch && started < n {
            let i = started;
            started += 1;
            match Opening::start(target, Instant::now() + timeout) {
                Ok(o) => {
                    if let Err(e) = register(poller, &o.sock, i, o.interest()) {
                        fail(i, e, &mut failed);
                        continue;
                    }
                    if let Some(slot) = pending.get_mut(i) {
                        *slot = Some(o);
                    }
                    in_progress += 1;
                }
                Err(e) => fail(i, e, &mut failed),
            }
        }
        let now = Instant::now();
        if now >= next_report {
            progress(opened, failed);
            next_report = now + Duration::from_millis(250);
        }
        if now >= next_scan {
            // Deadlines: a connection that has not opened in time has failed.
            for i in 0..started {
                let expired = matches!(pending.get(i), Some(Some(o)) if o.deadline <= now);
                if expired {
                    if let Some(o) = pending.get_mut(i).and_then(Option::take) {
                        let _ = poller.delete(&o.sock);
                        in_progress -= 1;
                        let what = match o.state {
                            State::Connecting => "connect",
                            State::Handshake { .. } => "handshake",
                        };
                        fail(
                            i,
                            io::Error::new(
                                io::ErrorKind::TimedOut,
                                format!("{what} not done within {:.1} s", timeout.as_secs_f64()),
                            ),
                            &mut failed,
                        );
                    }
                }
            }
            next_scan = now + Duration::from_millis(100);
        }
        if in_progress == 0 {
            continue;
        }
        super::wait(poller, &mut events, Duration::from_millis(50))?;
        for ev in events.iter() {
            if ev.key == super::SIGNAL_KEY {
                stop.on_signal();
                continue;
            }
            let i = ev.key;
            let Some(Some(o)) = pending.get_mut(i) else {
                continue;
            };
            let before = o.interest();
            match o.advance(target, &mut buf) {
                Ok(true) => {
                    let o = pending.get_mut(i).and_then(Option::take);
                    if let Some(o) = o {
                        in_progress -= 1;
                        if let Err(e) = set_interest(poller, &o.sock, i, (true, false)) {
                            let _ = poller.delete(&o.sock);
                            fail(i, e, &mut failed);
                            continue;
                        }
                        opened += 1;
                        if let Some(slot) = conns.get_mut(i) {
                            *slot = Some(o.finish());
                        }
                    }
                }
                Ok(false) => {
                    let after = o.interest();
                    if after != before {
                        if let Err(e) = set_interest(poller, &o.sock, i, after) {
                            let _ = poller.delete(&o.sock);
                            pending.get_mut(i).and_then(Option::take);
                            in_progress -= 1;
                            fail(i, e, &mut failed);
                        }
                    }
                }
                Err(e) => {
                    let _ = poller.delete(&o.sock);
                    pending.get_mut(i).and_then(Option::take);
                    in_progress -= 1;
                    fail(i, e, &mut failed);
                }
            }
        }
        if stop.requested() {
            break;
        }
    }
    // Whatever is still opening (after an error or Ctrl-C) is given up.
    for o in pending.iter_mut().filter_map(Option::take) {
        let _ = poller.delete(&o.sock);
    }
    progress(opened, failed);
    if stop.requested() {
        for c in conns.iter_mut().filter_map(Option::take) {
            let _ = poller.delete(&c.sock);
        }
        return Err("interrupted while opening connections".into());
    }
    Ok(OpenResult {
        conns,
        failed,
        first_error,
        elapsed: start.elapsed(),
    })
}
