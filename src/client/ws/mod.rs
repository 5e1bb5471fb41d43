//! The `ws` client, like websocat: each line of standard input is a message, each
//! message received is printed. The opening handshake, framing and the close
//! handshake come from the same pure cores the server uses (`proto::ws`), in the
//! client role: every frame we send is masked with a fresh key from the OS-seeded
//! cryptographic generator (RFC 6455 §5.3), and the server's `Sec-WebSocket-Accept`
//! is checked.
//!
//! Ctrl-C (or end of input) sends Close 1000 and waits up to 2 s for the server's
//! Close; a second Ctrl-C exits at once.
//!
//! `url` reads the `ws://` URL, `handshake` opens the connection, `session_loop` runs
//! it, with `handler` for what the session's events do, `closing` for the two Closes
//! and `timers` for its deadlines.

mod closing;
mod handler;
mod handshake;
mod session_loop;
mod timers;
mod url;

pub use url::{Url, parse_url};

use super::ClientError;
use super::connect;
use super::tls::TlsOptions;
use crate::runtime::transport::Stream;
use std::time::Duration;

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
    /// Offer permessage-deflate (RFC 7692).
    pub deflate: bool,
    pub connect_timeout: Duration,
    /// Whom to trust for `wss://`.
    pub tls: TlsOptions,
    /// After the end of input, wait until the server has been quiet this long (for
    /// the replies to what we sent) before sending Close; zero closes at once.
    pub linger: Duration,
}

/// Connects, performs the opening handshake and runs the message loop.
pub fn run(opts: WsOptions) -> Result<(), ClientError> {
    let url = parse_url(&opts.url)?;
    if !url.tls && opts.tls.given() {
        return Err(ClientError::Usage(
            "--ca and --insecure are for wss:// URLs".into(),
        ));
    }
    let sock = connect::tcp(&url.target, opts.connect_timeout)?;
    let mut sock = match url.tls {
        true => super::tls::connect(sock, &url.target, &opts.tls, opts.connect_timeout)?,
        false => Stream::Tcp(sock),
    };
    let (accepted, leftover) = handshake::handshake(&mut sock, &url, &opts)?;
    if opts.verbose {
        let chosen = accepted
            .protocol
            .map(|p| format!(" (subprotocol {p})"))
            .unwrap_or_default();
        let compressed = match (&accepted.deflate, opts.deflate) {
            (Some(_), _) => ", compressed with permessage-deflate",
            (None, true) => ", the server declined compression",
            (None, false) => "",
        };
        eprintln!("sockloop: connected to {}{chosen}{compressed}", opts.url);
    }
    session_loop::Loop::new(sock, opts, accepted.deflate)?.run(leftover)
}
