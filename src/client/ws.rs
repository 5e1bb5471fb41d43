//! The `ws` client, like websocat: each line of standard input is a message, each
//! message received is printed. The opening handshake, framing and the close
//! handshake come from the same pure cores the server uses (`proto::ws`), in the
//! client role: every frame we send is masked with a fresh key from the OS-seeded
//! cryptographic generator (RFC 6455 §5.3), and the server's `Sec-WebSocket-Accept`
//! is checked.
//!
//! Ctrl-C (or end of input) sends Close 1000 and waits up to 2 s for the server's
//! Close; a second Ctrl-C exits at once.

use super::ClientError;
use super::connect;
use super::input::{Input, STDIN_KEY};
use super::stream::Output;
use crate::proto::Parsed;
use crate::proto::http::ResponseHead;
use crate::proto::ws::codes;
use crate::proto::ws::frame::{self, Opcode};
use crate::proto::ws::handshake::{ClientHandshake, ClientHandshakeError, ClientRequest};
use crate::proto::ws::session::{self, Event, Handler, MessageKind, Role, Session};
use crate::runtime::poll::{self, Events, Interest, Registration};
use crate::runtime::signals::{SIGNAL_KEY, SignalPipe};
use crate::trace;
use crate::trace::Layer;
use polling::Poller;
use rand::RngExt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SOCKET: usize = 1;
/// How long we wait for the server's Close after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Stop reading stdin while this much is waiting to be sent.
const MAX_QUEUED: usize = 1024 * 1024;

pub struct WsOptions {
    pub url: String,
    /// Send each line as a binary message instead of text.
    pub binary: bool,
    /// Print binary messages as raw bytes instead of hex.
    pub raw: bool,
    /// Send every message received back (for conformance testing); stdin is ignored.
    pub echo: bool,
    pub verbose: bool,
    pub headers: Vec<(String, String)>,
    pub origin: Option<String>,
    pub protocols: Vec<String>,
    pub ping_interval: Option<Duration>,
    /// Remind the user every this long without input ("Please give me input! N").
    pub idle_prompt: Option<Duration>,
    /// Close after this many reminders.
    pub idle_max: u32,
    pub max_message: usize,
    pub connect_timeout: Duration,
    /// After the end of input, wait until the server has been quiet this long (for
    /// the replies to what we sent) before sending Close; zero closes at once.
    pub linger: Duration,
}

/// The most time `linger` may add after the end of input, however chatty the server.
const LINGER_CAP: Duration = Duration::from_secs(5);

/// The parts of a `ws://` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    /// `host:port` to connect to.
    pub target: String,
    /// The Host header value.
    pub host: String,
    /// Path and query, at least `/`.
    pub path: String,
}

pub fn parse_url(text: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| ClientError::Usage(format!("bad URL '{text}': {why}"));
    if text.starts_with("wss://") {
        return Err(bad(
            "wss:// needs TLS, which sockloop does not speak; use ws://",
        ));
    }
    let rest = text
        .strip_prefix("ws://")
        .ok_or_else(|| bad("it must start with ws://"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("the path may not contain spaces or control characters"));
    }
    // A port is present if the authority ends with `:digits` outside IPv6 brackets.
    let has_port = match authority.rfind(':') {
        Some(i) => {
            !authority[i..].contains(']') && authority[i + 1..].bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    };
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok(Url {
        target,
        host: authority.to_string(),
        path,
    })
}

/// Connects, performs the opening handshake and runs the message loop.
pub fn run(opts: WsOptions) -> Result<(), ClientError> {
    let url = parse_url(&opts.url)?;
    let mut sock = connect::tcp(&url.target, opts.connect_timeout)?;
    let (protocol, leftover) = handshake(&mut sock, &url, &opts)?;
    if opts.verbose {
        let chosen = protocol
            .map(|p| format!(" (subprotocol {p})"))
            .unwrap_or_default();
        eprintln!("sockloop: connected to {}{chosen}", opts.url);
    }
    Loop::new(sock, opts)?.run(leftover)
}

/// Sends the opening handshake and reads the response (blocking, with a timeout:
/// there is nothing else to do until it is done). Returns the chosen subprotocol and
/// any bytes that came after the response head (the first frames).
fn handshake(
    sock: &mut TcpStream,
    url: &Url,
    opts: &WsOptions,
) -> Result<(Option<String>, Vec<u8>), ClientError> {
    let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = opts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest {
        host: &url.host,
        path: &url.path,
        protocols: &protocols,
        origin: opts.origin.as_deref(),
        headers: &headers,
    };
    let mut bytes = Vec::new();
    let hs = ClientHandshake::start(rand::rng().random(), &request, &mut bytes);
    let failed = |e: io::Error| ClientError::Failed(format!("handshake with {}: {e}", opts.url));
    sock.set_read_timeout(Some(opts.connect_timeout))
        .map_err(failed)?;
    if trace::any() {
        trace::set_context(format_args!("{}", opts.url));
        let line = bytes.split(|&b| b == b'\r').next().unwrap_or_default();
        trace!(
            Layer::Http,
            "http < {} (Sec-WebSocket-Key: {})",
            String::from_utf8_lossy(line),
            hs.key()
        );
    }
    sock.write_all(&bytes).map_err(failed)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match sock.read(&mut chunk) {
            Ok(0) => {
                return Err(ClientError::Failed(format!(
                    "{} closed the connection during the handshake — is it a WebSocket server?",
                    url.target
                )));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ClientError::Failed(format!(
                    "no handshake response from {} within {} s",
                    url.target,
                    opts.connect_timeout.as_secs_f64()
                )));
            }
            Err(e) => return Err(failed(e)),
        };
        buf.extend_from_slice(&chunk[..n]);
        match hs.read_response(&buf) {
            Ok(Parsed::Incomplete) => {}
            Ok(Parsed::Complete { value, consumed }) => {
                trace_response(&value.head);
                sock.set_read_timeout(None).map_err(failed)?;
                return Ok((value.protocol, buf.split_off(consumed)));
            }
            Err(e) => {
                if let ClientHandshakeError::Refused { head, .. } = &e {
                    trace_response(head);
                }
                let who = match e {
                    ClientHandshakeError::NotHttp(_) => &url.target,
                    _ => &opts.url,
                };
                return Err(ClientError::Failed(format!("{who} {e}")));
            }
        }
    }
}

fn trace_response(head: &ResponseHead) {
    trace!(
        Layer::Http,
        "http > HTTP/1.{} {} {} (Sec-WebSocket-Accept: {})",
        head.minor_version,
        head.status,
        head.reason,
        head.header("sec-websocket-accept").unwrap_or("none")
    );
}

/// What the session's events do in the client.
struct Client {
    /// Frames of the message in progress, for the trace.
    fragments: u16,
    echo: bool,
    raw: bool,
    verbose: bool,
    out: Output,
    /// The server's Close, once it came: (code, reason).
    close: Option<(Option<u16>, String)>,
}

impl Handler for Client {
    fn on_event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if trace::on(Layer::Ws) {
            trace::ws_event(&event, &mut self.fragments);
        }
        match event {
            Event::Message { kind, data } if self.echo => {
                frame::write_frame(out, true, kind.opcode(), data, Some(self.mask_key()));
            }
            Event::Message {
                kind: MessageKind::Text,
                data,
            } => {
                self.out.raw(data);
                self.out.raw(b"\n");
            }
            Event::Message {
                kind: MessageKind::Binary,
                data,
            } if self.raw => self.out.raw(data),
            Event::Message {
                kind: MessageKind::Binary,
                data,
            } => {
                let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
                self.out.line(&hex.join(" "));
            }
            Event::Ping(payload) if self.verbose => {
                eprintln!("sockloop: ping ({} bytes), pong sent", payload.len());
            }
            Event::Pong(payload) if self.verbose => {
                eprintln!("sockloop: pong ({} bytes)", payload.len());
            }
            Event::Close { code, reason } => self.close = Some((code, reason.to_string())),
            _ => {}
        }
    }

    fn mask_key(&mut self) -> [u8; 4] {
        rand::rng().random()
    }
}

struct Loop {
    sock: TcpStream,
    opts: WsOptions,
    poller: Poller,
    session: Session,
    client: Client,
    input: Input,
    signals: SignalPipe,
    /// Frames waiting for the socket to take them.
    to_sock: Vec<u8>,
    /// Input not yet ended by a newline.
    partial: Vec<u8>,
    /// We sent Close: give up waiting for the server's by then.
    close_deadline: Option<Instant>,
    /// When input ended (and everything was sent).
    eof_at: Option<Instant>,
    /// Send Close at this time unless more data arrives first.
    linger_until: Option<Instant>,
    next_ping: Option<Instant>,
    next_reminder: Option<Instant>,
    reminders: u32,
    socket: Registration,
}

impl Loop {
    fn new(sock: TcpStream, opts: WsOptions) -> Result<Loop, ClientError> {
        let io_err = |e| ClientError::io("poller", e);
        sock.set_nonblocking(true).map_err(io_err)?;
        let poller = Poller::new().map_err(io_err)?;
        let socket = Registration::add(&poller, &sock, SOCKET, Interest::READ).map_err(io_err)?;
        let signals = SignalPipe::watch(&poller).map_err(io_err)?;
        let input = if opts.echo {
            Input::closed()
        } else {
            Input::open(&poller)
        };
        let now = Instant::now();
        let limits = session::Limits {
            max_message: opts.max_message,
        };
        Ok(Loop {
            client: Client {
                fragments: 0,
                echo: opts.echo,
                raw: opts.raw,
                verbose: opts.verbose,
                out: Output::default(),
                close: None,
            },
            session: {
                let mut session = Session::new(Role::Client, limits);
                session.set_trace(trace::on(Layer::Ws));
                session
            },
            next_ping: opts.ping_interval.map(|d| now + d),
            next_reminder: opts.idle_prompt.filter(|_| !opts.echo).map(|d| now + d),
            socket,
            sock,
            opts,
            poller,
            input,
            signals,
            to_sock: Vec::new(),
            partial: Vec::new(),
            close_deadline: None,
            eof_at: None,
            linger_until: None,
            reminders: 0,
        })
    }

    fn run(mut self, mut leftover: Vec<u8>) -> Result<(), ClientError> {
        if !leftover.is_empty() {
            self.feed(&mut leftover)?;
        }
        let mut events = Events::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if !self.input.open
                && self.partial.is_empty()
                && self.to_sock.is_empty()
                && !self.session.close_sent()
                && !self.opts.echo
                && self.eof_at.is_none()
            {
                // End of input and everything sent: give the server a quiet moment to
                // answer what we sent (a server may stop sending once our Close
                // arrives), then say goodbye.
                let now = Instant::now();
                self.eof_at = Some(now);
                self.linger_until = Some(now + self.opts.linger);
            }
            self.update_interest()?;
            let timeout = self.timeout();
            poll::wait(&self.poller, &mut events, timeout)
                .map_err(|e| ClientError::io("poller", e))?;
            let mut stdin_ready = self.input.ready_now(self.wants_stdin());
            for ev in events.iter() {
                match ev.key {
                    SOCKET => {
                        if ev.writable {
                            self.flush()?;
                        }
                        if ev.readable {
                            match self.sock.read(&mut buf) {
                                Ok(0) => return self.finish(),
                                Ok(n) => {
                                    self.feed(&mut buf[..n])?;
                                    self.extend_linger();
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                                    ) => {}
                                Err(e) => {
                                    return Err(ClientError::Failed(format!(
                                        "connection to {} failed: {e}",
                                        self.opts.url
                                    )));
                                }
                            }
                        }
                    }
                    STDIN_KEY => stdin_ready = true,
                    SIGNAL_KEY if self.signals.drain() > 0 => {
                        if self.session.close_sent() {
                            self.client.out.flush();
                            eprintln!("sockloop: interrupted again; exiting without waiting");
                            return Err(ClientError::Failed("interrupted".into()));
                        }
                        if self.opts.verbose {
                            eprintln!("sockloop: interrupted; sending close 1000");
                        }
                        self.input.close(&self.poller);
                        self.partial.clear();
                        self.close(1000, "");
                    }
                    _ => {}
                }
            }
            if stdin_ready && self.wants_stdin() {
                self.read_stdin(&mut buf)?;
            }
            if self.on_timers()? {
                return Ok(());
            }
            if self.session.is_closed() && self.to_sock.is_empty() && self.close_deadline.is_none()
            {
                // Both Closes exchanged: the server should now close TCP; don't wait long.
                self.close_deadline = Some(Instant::now() + CLOSE_WAIT);
            }
            self.client.out.flush();
        }
    }

    /// Data arrived while lingering after the end of input: wait for quiet again
    /// (but never past the cap).
    fn extend_linger(&mut self) {
        if let (Some(_), Some(eof)) = (self.linger_until, self.eof_at) {
            self.linger_until = Some((Instant::now() + self.opts.linger).min(eof + LINGER_CAP));
        }
    }

    fn wants_stdin(&self) -> bool {
        self.input.open && !self.session.close_sent() && self.to_sock.len() < MAX_QUEUED
    }

    fn update_interest(&mut self) -> Result<(), ClientError> {
        let io_err = |e| ClientError::io("poller", e);
        let writing = Interest::new(true, !self.to_sock.is_empty());
        self.socket
            .set(&self.poller, &self.sock, SOCKET, writing)
            .map_err(io_err)?;
        let wanted = self.wants_stdin();
        self.input.want(&self.poller, wanted).map_err(io_err)
    }

    fn timeout(&self) -> Option<Duration> {
        if self.input.ready_now(self.wants_stdin()) {
            return Some(Duration::ZERO);
        }
        let next = poll::earliest([
            self.close_deadline,
            self.next_ping,
            self.next_reminder,
            self.linger_until,
        ]);
        poll::timeout_until(next, Instant::now())
    }

    /// Acts on the timers that are due; `Ok(true)` once the session is over.
    fn on_timers(&mut self) -> Result<bool, ClientError> {
        let now = Instant::now();
        if self.linger_until.is_some_and(|d| d <= now) {
            self.linger_until = None;
            self.close(1000, "");
        }
        if self.close_deadline.is_some_and(|d| d <= now) {
            if self.client.close.is_some() {
                // Both Closes exchanged; the server just did not close TCP: we do.
                return self.finish().map(|()| true);
            }
            self.client.out.flush();
            return Err(ClientError::Failed(format!(
                "{} did not answer our close within {} s",
                self.opts.url,
                CLOSE_WAIT.as_secs()
            )));
        }
        if self.session.close_sent() {
            // Neither fires after our Close; a past deadline kept would make every
            // wait return at once until the server closes.
            self.next_ping = None;
            self.next_reminder = None;
        }
        if let (Some(at), Some(every)) = (self.next_ping, self.opts.ping_interval) {
            if at <= now && !self.session.close_sent() {
                let mark = self.to_sock.len();
                self.session
                    .send_ping(b"sockloop", &mut self.to_sock, &mut self.client);
                trace_sent(&self.to_sock, mark);
                self.next_ping = Some(now + every);
                self.flush()?;
            }
        }
        if let (Some(at), Some(every)) = (self.next_reminder, self.opts.idle_prompt) {
            if at <= now && !self.session.close_sent() {
                self.reminders += 1;
                eprintln!("Please give me input! {}", self.reminders);
                self.next_reminder = Some(now + every);
                if self.reminders >= self.opts.idle_max {
                    eprintln!(
                        "sockloop: no input after {} reminders; closing",
                        self.reminders
                    );
                    self.input.close(&self.poller);
                    self.close(1000, "");
                }
            }
        }
        Ok(false)
    }

    /// Sends our Close (once) and starts waiting for the server's.
    fn close(&mut self, code: u16, reason: &str) {
        if !self.session.close_sent() {
            let mark = self.to_sock.len();
            self.session
                .send_close(code, reason, &mut self.to_sock, &mut self.client);
            trace_sent(&self.to_sock, mark);
            self.close_deadline = Some(Instant::now() + CLOSE_WAIT);
            let _ = self.flush();
        }
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> Result<(), ClientError> {
        let n = self.input.read(buf).unwrap_or(0);
        if let Some(every) = self.opts.idle_prompt {
            self.next_reminder = Some(Instant::now() + every);
            self.reminders = 0;
        }
        if n == 0 {
            self.input.close(&self.poller);
            let last = std::mem::take(&mut self.partial);
            if !last.is_empty() {
                self.send_line(&last);
            }
        } else {
            self.partial.extend_from_slice(&buf[..n]);
            while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=end).collect();
                self.send_line(&line);
            }
        }
        self.flush()
    }

    /// One line of input becomes one message (without its line ending).
    fn send_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let opcode = if self.opts.binary {
            Opcode::Binary
        } else if std::str::from_utf8(line).is_ok() {
            Opcode::Text
        } else {
            eprintln!(
                "sockloop: a line is not valid UTF-8, so it cannot be a text message; not sent (use --binary)"
            );
            return;
        };
        let key = self.client.mask_key();
        let mark = self.to_sock.len();
        frame::write_frame(&mut self.to_sock, true, opcode, line, Some(key));
        trace_sent(&self.to_sock, mark);
    }

    fn feed(&mut self, data: &mut [u8]) -> Result<(), ClientError> {
        trace!(Layer::Loop, "socket read {} bytes", data.len());
        let mark = self.to_sock.len();
        let fed = self.session.feed(data, &mut self.to_sock, &mut self.client);
        trace_sent(&self.to_sock, mark);
        self.flush()?;
        if let Err(e) = fed {
            self.client.out.flush();
            return Err(ClientError::Failed(format!(
                "{} broke the WebSocket protocol: {} (sent close {})",
                self.opts.url, e.reason, e.code
            )));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        while !self.to_sock.is_empty() {
            match self.sock.write(&self.to_sock) {
                Ok(n) => {
                    self.to_sock.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(ClientError::Failed(format!(
                        "cannot send to {}: {e}",
                        self.opts.url
                    )));
                }
            }
        }
        Ok(())
    }

    /// The server closed TCP (or we stopped waiting): report how the session ended.
    fn finish(&mut self) -> Result<(), ClientError> {
        self.client.out.flush();
        poll::remove(&self.poller, &self.sock);
        match &self.client.close {
            Some((code, reason)) => {
                if self.opts.verbose {
                    let code = code.map_or("no status code".to_string(), |c| {
                        format!("{c} ({})", codes::close_code_name(c))
                    });
                    eprintln!(
                        "sockloop: closed by {}: {code}, reason {reason:?}",
                        self.opts.url
                    );
                }
                match code {
                    Some(c) if codes::is_error_close_code(*c) => Err(ClientError::Failed(format!(
                        "server closed with {c} ({}){}",
                        codes::close_code_name(*c),
                        if reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {reason}")
                        }
                    ))),
                    _ => Ok(()),
                }
            }
            None => Err(ClientError::Failed(format!(
                "{} closed the connection without a close frame (1006, abnormal closure)",
                self.opts.url
            ))),
        }
    }
}

/// Traces the frames appended to `queue` since `mark` (whole frames: we just wrote them).
fn trace_sent(queue: &[u8], mark: usize) {
    if trace::on(Layer::Ws) {
        trace::sent_frames(queue.get(mark..).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("ws://127.0.0.1:8080/ws").unwrap();
        assert_eq!(
            (u.target.as_str(), u.host.as_str(), u.path.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080", "/ws")
        );
        let u = parse_url("ws://example.com").unwrap();
        assert_eq!(
            (u.target.as_str(), u.path.as_str()),
            ("example.com:80", "/")
        );
        let u = parse_url("ws://[::1]:9001?case=1").unwrap();
        assert_eq!(
            (u.target.as_str(), u.path.as_str()),
            ("[::1]:9001", "/?case=1")
        );
        let u = parse_url("ws://[::1]/x").unwrap();
        assert_eq!(u.target, "[::1]:80");
        assert!(parse_url("wss://x/").is_err());
        assert!(parse_url("http://x/").is_err());
        assert!(parse_url("ws:///x").is_err());
        assert!(parse_url("ws://x/a b").is_err());
    }
}
