//! Opening many connections at once without blocking the loop: non-blocking connect
//! (socket2 `connect` answers EINPROGRESS), then, once the socket is writable, the
//! WebSocket opening handshake (RFC 6455 §4.1) — sent and read through the same
//! poller, a bounded number of connections in flight at a time.

use super::Stop;
use crate::client::connect::{finish_connect, start_connect};
use crate::proto::Parsed;
use crate::proto::ws::handshake::{ClientHandshake, ClientRequest};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::signals::SIGNAL_KEY;
use polling::Poller;
use rand::RngExt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Where to connect and, for WebSocket, what to ask for.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// `Some((host, path))`: perform the WebSocket handshake.
    pub ws: Option<(String, String)>,
}

/// A connection that finished opening, watched for reading; `leftover` is what came
/// after the handshake response (normally nothing).
pub struct Opened {
    pub sock: TcpStream,
    pub registration: Registration,
    pub leftover: Vec<u8>,
}

enum State {
    Connecting,
    /// Sending the request (`written` bytes of it so far), then reading the response.
    Handshake {
        handshake: ClientHandshake,
        request: Vec<u8>,
        written: usize,
        response: Vec<u8>,
    },
}

struct Opening {
    sock: TcpStream,
    registration: Registration,
    state: State,
    deadline: Instant,
}

impl Opening {
    fn start(poller: &Poller, key: usize, target: &Target, deadline: Instant) -> io::Result<Self> {
        let sock = start_connect(target.addr)?;
        // Writable once the connect is done.
        let registration = Registration::add(poller, &sock, key, Interest::WRITE)?;
        Ok(Opening {
            sock,
            registration,
            state: State::Connecting,
            deadline,
        })
    }

    fn interest(&self) -> Interest {
        match &self.state {
            State::Connecting => Interest::WRITE,
            State::Handshake {
                request, written, ..
            } => Interest::new(*written == request.len(), *written < request.len()),
        }
    }

    /// The socket is ready for something: make progress. `Ok(true)`: open.
    fn advance(&mut self, target: &Target, buf: &mut [u8]) -> io::Result<bool> {
        if let State::Connecting = self.state {
            if !finish_connect(&self.sock)? {
                return Ok(false);
            }
            self.sock.set_nodelay(true)?;
            let Some((host, path)) = &target.ws else {
                return Ok(true);
            };
            let mut request = Vec::new();
            let ask = ClientRequest {
                host,
                path,
                ..ClientRequest::default()
            };
            let handshake = ClientHandshake::start(rand::rng().random(), &ask, &mut request);
            self.state = State::Handshake {
                handshake,
                request,
                written: 0,
                response: Vec::new(),
            };
        }
        let State::Handshake {
            handshake,
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
            match handshake.read_response(response) {
                Ok(Parsed::Incomplete) => {}
                Ok(Parsed::Complete { consumed, .. }) => {
                    response.drain(..consumed);
                    return Ok(true);
                }
                Err(e) => return Err(io::Error::other(format!("the server {e}"))),
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
            registration: self.registration,
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
            match Opening::start(poller, i, target, Instant::now() + timeout) {
                Ok(o) => {
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
                        poll::remove(poller, &o.sock);
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
            if ev.key == SIGNAL_KEY {
                stop.on_signal();
                continue;
            }
            let i = ev.key;
            let Some(Some(o)) = pending.get_mut(i) else {
                continue;
            };
            let progressed = o.advance(target, &mut buf).and_then(|open| {
                let wanted = if open { Interest::READ } else { o.interest() };
                o.registration.set(poller, &o.sock, i, wanted)?;
                Ok(open)
            });
            match progressed {
                Ok(true) => {
                    let o = pending.get_mut(i).and_then(Option::take);
                    if let Some(o) = o {
                        in_progress -= 1;
                        opened += 1;
                        if let Some(slot) = conns.get_mut(i) {
                            *slot = Some(o.finish());
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    poll::remove(poller, &o.sock);
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
        poll::remove(poller, &o.sock);
    }
    progress(opened, failed);
    if stop.requested() {
        for c in conns.iter_mut().filter_map(Option::take) {
            poll::remove(poller, &c.sock);
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
