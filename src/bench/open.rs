//! Opening many connections at once without blocking the loop: non-blocking connect
//! (socket2 `connect` answers EINPROGRESS), then, once the socket is writable, the
//! TLS handshake for `wss://` and the WebSocket opening handshake (RFC 6455 §4.1) —
//! sent and read through the same poller, a bounded number of connections in flight
//! at a time.

use super::progress::Progress;
use super::waiter::Waiter;
use super::{Errors, Options};
use crate::client::connect::{finish_connect, start_connect};
use crate::client::tls::Connector;
use crate::proto::Parsed;
use crate::proto::ws::handshake::{ClientHandshake, ClientRequest};
use crate::runtime::poll::{self, Interest, Registration};
use crate::runtime::transport::{Stream, would_block};
use polling::Poller;
use rand::RngExt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where to connect and, for WebSocket, what to ask for.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// `Some((host, path))`: perform the WebSocket handshake.
    pub ws: Option<(String, String)>,
    /// Offer permessage-deflate in that handshake (idle: memory per compressed
    /// connection).
    pub deflate: bool,
    /// `wss://`: TLS first.
    pub tls: Option<Connector>,
}

/// A connection that finished opening, watched for reading; `leftover` is what came
/// after the handshake response (normally nothing).
pub struct Opened {
    pub sock: Stream,
    pub registration: Registration,
    pub leftover: Vec<u8>,
}

enum State {
    Connecting,
    /// The TLS handshake, driven by reading (rustls answers as records arrive).
    Tls,
    /// Sending the request (`written` bytes of it so far), then reading the response.
    Handshake {
        handshake: ClientHandshake,
        request: Vec<u8>,
        written: usize,
        response: Vec<u8>,
    },
}

impl State {
    /// The opening handshake's request, ready to send (RFC 6455 §4.1).
    fn handshake(host: &str, path: &str, deflate: bool) -> State {
        let mut request = Vec::new();
        let ask = ClientRequest {
            host,
            path,
            deflate,
            ..ClientRequest::default()
        };
        let handshake = ClientHandshake::start(rand::rng().random(), &ask, &mut request);
        State::Handshake {
            handshake,
            request,
            written: 0,
            response: Vec::new(),
        }
    }
}

/// Writes what is left of `request`; `Ok(false)`: the socket is full, wait.
fn send(sock: &mut Stream, request: &[u8], written: &mut usize) -> io::Result<bool> {
    while let Some(rest) = request.get(*written..).filter(|r| !r.is_empty()) {
        match sock.write(rest) {
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Moves a TLS handshake on with what arrived; `Ok(true)` once it is over (at once
/// for plain TCP). The server says nothing before our request, so a read that gives
/// plaintext here would be a protocol error; it ends the connection.
fn tls_done(sock: &mut Stream, buf: &mut [u8]) -> io::Result<bool> {
    if !sock.is_handshaking() {
        return Ok(true);
    }
    match sock.read(buf) {
        Ok(0) => Err(io::Error::other(
            "the server closed the connection during the TLS handshake",
        )),
        Ok(_) => Err(io::Error::other(
            "the server spoke before the TLS handshake was over",
        )),
        Err(e) if would_block(&e) => Ok(!sock.is_handshaking()),
        Err(e) => Err(e),
    }
}

/// Reads the response until the handshake completes (`Ok(true)`; what follows it
/// stays in `response`) or the socket has nothing more for now (`Ok(false)`).
fn receive(
    sock: &mut Stream,
    handshake: &ClientHandshake,
    response: &mut Vec<u8>,
    buf: &mut [u8],
) -> io::Result<bool> {
    loop {
        let n = match sock.read(buf) {
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
        response.extend_from_slice(buf.get(..n).unwrap_or_default());
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

struct Opening {
    sock: Stream,
    registration: Registration,
    state: State,
    deadline: Instant,
}

impl Opening {
    fn start(poller: &Poller, key: usize, target: &Target, deadline: Instant) -> io::Result<Self> {
        let tcp = start_connect(target.addr)?;
        // Writable once the connect is done.
        let registration = Registration::add(poller, &tcp, key, Interest::WRITE)?;
        let sock = match &target.tls {
            Some(tls) => tls.wrap(tcp)?,
            None => Stream::Tcp(tcp),
        };
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
            State::Tls => self.sock.interest(Interest::READ),
            State::Handshake {
                request, written, ..
            } => Interest::new(*written == request.len(), *written < request.len()),
        }
    }

    /// The socket is ready for something: make progress. `Ok(true)`: open.
    fn advance(&mut self, target: &Target, buf: &mut [u8]) -> io::Result<bool> {
        if let State::Connecting = self.state {
            let Some(tcp) = self.sock.tcp() else {
                return Err(io::Error::other("not a TCP socket"));
            };
            if !finish_connect(tcp)? {
                return Ok(false);
            }
            tcp.set_nodelay(true)?;
            self.state = State::Tls;
            // The TLS hello goes now (nothing for plain TCP).
            self.sock.flush_unsent()?;
        }
        if let State::Tls = self.state {
            if !tls_done(&mut self.sock, buf)? {
                return Ok(false);
            }
            let Some((host, path)) = &target.ws else {
                return Ok(true);
            };
            self.state = State::handshake(host, path, target.deflate);
        }
        match &mut self.state {
            State::Handshake {
                handshake,
                request,
                written,
                response,
            } => {
                if !send(&mut self.sock, request, written)? {
                    return Ok(false);
                }
                receive(&mut self.sock, handshake, response, buf)
            }
            State::Connecting | State::Tls => Ok(false),
        }
    }

    fn finish(self) -> Opened {
        let leftover = match self.state {
            State::Handshake { response, .. } => response,
            State::Connecting | State::Tls => Vec::new(),
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

/// How many connections to open, and how.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub n: usize,
    /// Connections opening at the same time, at most.
    pub batch: usize,
    /// For each, connect and handshake together.
    pub timeout: Duration,
    /// The first failure ends the whole attempt.
    pub stop_on_error: bool,
}

impl Plan {
    /// `--conns` connections, `--batch` at a time, each within `--timeout`.
    pub fn new(opts: &Options, stop_on_error: bool) -> Plan {
        Plan {
            n: opts.conns,
            batch: opts.batch,
            timeout: opts.connect_timeout,
            stop_on_error,
        }
    }
}

/// How often deadlines are looked at: a timeout is seconds, so a tenth of a second
/// late is on time, and scanning ten thousand openings ten times a second is cheap.
const SCAN_EVERY: Duration = Duration::from_millis(100);
/// How often `progress` hears how it goes.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// Opens `plan.n` connections to `target`, at most `plan.batch` at a time, each
/// within `plan.timeout`. Connection `i` is registered in `poller` under key `i`,
/// with read interest once open. `progress(opened, failed)` is called now and then.
pub fn open_all(
    poller: &Poller,
    waiter: &mut Waiter,
    target: &Target,
    plan: Plan,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<OpenResult, String> {
    let start = Instant::now();
    let mut opener = Opener::new(poller, target, plan);
    let (mut next_scan, mut next_report) = (start, start);
    while !opener.finished() {
        opener.start_more();
        let now = Instant::now();
        if now >= next_report {
            progress(opener.opened, opener.errors.count);
            next_report = now + REPORT_EVERY;
        }
        if now >= next_scan {
            opener.expire(now);
            next_scan = now + SCAN_EVERY;
        }
        if opener.in_progress == 0 {
            continue;
        }
        for ev in waiter.wait(poller, next_scan.min(next_report))? {
            opener.on_ready(ev.key);
        }
        if waiter.interrupted() {
            break;
        }
    }
    opener.give_up();
    progress(opener.opened, opener.errors.count);
    if waiter.interrupted() {
        for c in opener.conns.iter_mut().filter_map(Option::take) {
            poll::remove(poller, &c.sock);
        }
        return Err("interrupted while opening connections".into());
    }
    Ok(OpenResult {
        conns: opener.conns,
        failed: opener.errors.count,
        first_error: opener.errors.first,
        elapsed: start.elapsed(),
    })
}

/// Opens all `--conns` connections, or none: a closed loop (or a fanout) over fewer
/// than asked for would measure something else.
pub fn open_every(
    opts: &Options,
    poller: &Poller,
    waiter: &mut Waiter,
    target: &Target,
    progress: &mut Progress,
) -> Result<OpenResult, String> {
    let plan = Plan::new(opts, true);
    let opened = open_all(poller, waiter, target, plan, &mut |ok, _| {
        progress.status(|| format!("connecting: {ok}/{} open", opts.conns))
    })?;
    if opened.failed > 0 {
        for c in opened.conns.iter().flatten() {
            poll::remove(poller, &c.sock);
        }
        progress.finish();
        return Err(format!(
            "could not open all {}: {}",
            crate::plural::count(opts.conns as u64, "connection"),
            opened.first_error.unwrap_or_default()
        ));
    }
    Ok(opened)
}

/// The openings in flight and what became of the others.
struct Opener<'a> {
    poller: &'a Poller,
    target: &'a Target,
    plan: Plan,
    /// Slot `i`: connection `i` while it is opening.
    pending: Vec<Option<Opening>>,
    /// Slot `i`: connection `i` once open.
    conns: Vec<Option<Opened>>,
    started: usize,
    in_progress: usize,
    opened: u64,
    /// Failed openings (a failure is not an error of the run: `bench idle` counts
    /// them and goes on).
    errors: Errors,
    buf: Vec<u8>,
}

impl<'a> Opener<'a> {
    fn new(poller: &'a Poller, target: &'a Target, plan: Plan) -> Self {
        let mut pending = Vec::new();
        pending.resize_with(plan.n, || None);
        let mut conns = Vec::new();
        conns.resize_with(plan.n, || None);
        Opener {
            poller,
            target,
            plan,
            pending,
            conns,
            started: 0,
            in_progress: 0,
            opened: 0,
            errors: Errors::default(),
            buf: vec![0u8; 16 * 1024],
        }
    }

    fn finished(&self) -> bool {
        let failed = self.errors.count;
        self.opened + failed >= self.plan.n as u64 || (self.plan.stop_on_error && failed > 0)
    }

    /// Starts connections until `batch` are in flight.
    fn start_more(&mut self) {
        while self.in_progress < self.plan.batch && self.started < self.plan.n {
            let i = self.started;
            self.started += 1;
            let deadline = Instant::now() + self.plan.timeout;
            match Opening::start(self.poller, i, self.target, deadline) {
                Ok(o) => {
                    if let Some(slot) = self.pending.get_mut(i) {
                        *slot = Some(o);
                    }
                    self.in_progress += 1;
                }
                Err(e) => self.fail(i, &e),
            }
        }
    }

    /// A connection that has not opened by its deadline has failed.
    fn expire(&mut self, now: Instant) {
        for i in 0..self.started {
            let expired = matches!(self.pending.get(i), Some(Some(o)) if o.deadline <= now);
            if !expired {
                continue;
            }
            let Some(o) = self.take(i) else {
                continue;
            };
            let what = match o.state {
                State::Connecting => "connect",
                State::Tls => "TLS handshake",
                State::Handshake { .. } => "handshake",
            };
            let secs = self.plan.timeout.as_secs_f64();
            let why = format!("{what} not done within {secs:.1} s");
            self.fail(i, &io::Error::new(io::ErrorKind::TimedOut, why));
        }
    }

    /// Connection `i`'s socket is ready: move its opening on.
    fn on_ready(&mut self, i: usize) {
        let Some(Some(o)) = self.pending.get_mut(i) else {
            return;
        };
        let progressed = o.advance(self.target, &mut self.buf).and_then(|open| {
            let wanted = if open { Interest::READ } else { o.interest() };
            o.registration.set(self.poller, &o.sock, i, wanted)?;
            Ok(open)
        });
        match progressed {
            Ok(true) => {
                // Taken out of `pending` without leaving the poller: it stays
                // registered, for reading, as the caller's.
                let o = self.pending.get_mut(i).and_then(Option::take);
                if let (Some(o), Some(slot)) = (o, self.conns.get_mut(i)) {
                    self.in_progress -= 1;
                    self.opened += 1;
                    *slot = Some(o.finish());
                }
            }
            Ok(false) => {}
            Err(e) => {
                self.take(i);
                self.fail(i, &e);
            }
        }
    }

    /// Takes opening `i` out of the poller and of the count in flight.
    fn take(&mut self, i: usize) -> Option<Opening> {
        let o = self.pending.get_mut(i).and_then(Option::take)?;
        poll::remove(self.poller, &o.sock);
        self.in_progress -= 1;
        Some(o)
    }

    fn fail(&mut self, i: usize, e: &io::Error) {
        let addr = self.target.addr;
        self.errors.add(|| match e.kind() {
            io::ErrorKind::ConnectionRefused => {
                format!("connection refused by {addr} — is a server listening?")
            }
            _ => format!("connection {i} to {addr}: {e}"),
        });
    }

    /// Whatever is still opening (after an error or Ctrl-C) is given up.
    fn give_up(&mut self) {
        for o in self.pending.iter_mut().filter_map(Option::take) {
            poll::remove(self.poller, &o.sock);
        }
    }
}
