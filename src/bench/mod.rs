//! `sockloop bench`: a load generator in the same style as everything else — one
//! thread, one readiness loop, non-blocking sockets, no async runtime.
//!
//! - `ws`: N WebSocket connections, each keeping `depth` messages in flight (closed
//!   loop); every echo is checked byte for byte ([`ws`], [`stream`]).
//! - `tcp`: the same over raw TCP with newline-terminated messages ([`tcp`]).
//! - `udp`: datagram round trips with loss counted ([`udp`]).
//! - `idle`: open many WebSocket connections, check one echo on each, hold them,
//!   close them cleanly — for memory-per-connection figures ([`idle`]).
//! - `fanout`: many subscribers of one pubsub topic, a few publishers; deliveries per
//!   second, delivery latency, drops ([`fanout`]).
//!
//! A generator that is itself the bottleneck measures nothing, so the hot paths
//! allocate nothing, and the report gives the generator's own CPU use and says when it
//! was saturated. Latencies go into a fixed log-linear histogram ([`stats`]).
//!
//! Compiled only with the `bench` cargo feature (on by default).
#![cfg(feature = "bench")]

pub mod fanout;
pub mod idle;
pub mod open;
pub mod pattern;
pub mod progress;
pub mod report;
pub mod stats;
pub mod stream;
pub mod sys;
pub mod tcp;
pub mod udp;
pub mod waiter;
pub mod window;
pub mod ws;

use crate::client::ClientError;
use crate::client::connect;
use crate::client::tls::{Connector, TlsOptions};
use crate::hostport::HostPort;
use std::net::SocketAddr;
use std::time::Duration;

pub use report::{FanoutFigures, IdleFigures, Report};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ws,
    Tcp,
    Udp,
    Idle,
    Fanout,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ws => "ws",
            Mode::Tcp => "tcp",
            Mode::Udp => "udp",
            Mode::Idle => "idle",
            Mode::Fanout => "fanout",
        }
    }
}

/// Everything a run needs; `cmd::bench` builds it from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub mode: Mode,
    /// `ws://HOST:PORT/PATH` for ws and idle, `HOST:PORT` for tcp and udp;
    /// `ws://HOST:PORT/PATH` or `tcp://HOST:PORT` for fanout.
    pub target: String,
    /// Connections (ws, tcp, idle) or sockets (udp); fanout: subscribers + publishers.
    pub conns: usize,
    /// Bytes per message: the WebSocket payload, the line with its '\n', the datagram.
    pub size: usize,
    /// Messages in flight per connection (fanout: unanswered publishes per publisher).
    pub depth: usize,
    /// How long to measure (with `count`: the most it may take).
    pub duration: Duration,
    /// Stop after exactly this many echoed messages (fanout: publishes in all).
    pub count: Option<u64>,
    pub binary: bool,
    /// idle: offer permessage-deflate.
    pub deflate: bool,
    /// idle: how long to hold the connections.
    pub hold: Duration,
    /// Connections opening at the same time.
    pub batch: usize,
    pub connect_timeout: Duration,
    /// udp: a datagram not answered within this is lost (and replaced).
    pub loss_timeout: Duration,
    pub json: bool,
    pub quiet: bool,
    /// A server process to watch: its CPU use (and for idle, its memory).
    pub server_pid: Option<u32>,
    /// `--ca` / `--insecure`, for `wss://`.
    pub tls: TlsOptions,
    /// fanout: connections subscribed to the topic, and connections publishing on it.
    pub subscribers: usize,
    pub publishers: usize,
    /// fanout: publishes per second per publisher (open loop, still at most `depth`
    /// unanswered); `None`: closed loop.
    pub rate: Option<f64>,
}

/// Runs the benchmark `opts` describes.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    let failed = ClientError::Failed;
    match opts.mode {
        Mode::Ws => {
            let wire = stream::Wire::Ws(ws::WsWire::new(opts.size, opts.binary, opts.deflate));
            stream::run(opts, ws_target(opts)?, wire).map_err(failed)
        }
        Mode::Idle => idle::run(opts, ws_target(opts)?).map_err(failed),
        Mode::Tcp => {
            let wire = stream::Wire::Line(tcp::LineWire::new(opts.size));
            stream::run(opts, tcp_target(&opts.target)?, wire).map_err(failed)
        }
        Mode::Udp => {
            let addr = first_addr(&connect::target(&opts.target)?)?;
            udp::run(opts, addr).map_err(failed)
        }
        Mode::Fanout => {
            let target = match opts.target.strip_prefix("tcp://") {
                Some(_) if opts.tls.given() => {
                    return Err(ClientError::Usage(
                        "--ca and --insecure are for wss:// URLs".into(),
                    ));
                }
                Some(hostport) => tcp_target(hostport)?,
                None => ws_target(opts)?,
            };
            fanout::run(opts, target).map_err(failed)
        }
    }
}

/// Where a `ws://` or `wss://` URL connects, and the handshake it asks for.
fn ws_target(opts: &Options) -> Result<open::Target, ClientError> {
    let url = crate::client::ws::parse_url(&opts.target)?;
    let addr = first_addr(&url.target)?;
    let tls = match url.tls {
        true => Some(Connector::new(&url.target, &opts.tls)?),
        false if opts.tls.given() => {
            return Err(ClientError::Usage(
                "--ca and --insecure are for wss:// URLs".into(),
            ));
        }
        false => None,
    };
    Ok(open::Target {
        addr,
        ws: Some((url.host, url.path)),
        deflate: opts.deflate,
        tls,
    })
}

/// A plain TCP connection to `HOST:PORT`.
fn tcp_target(hostport: &str) -> Result<open::Target, ClientError> {
    Ok(open::Target {
        addr: first_addr(&connect::target(hostport)?)?,
        ws: None,
        deflate: false,
        tls: None,
    })
}

fn first_addr(target: &HostPort) -> Result<SocketAddr, ClientError> {
    connect::resolve(target)?
        .into_iter()
        .next()
        .ok_or_else(|| ClientError::Failed(format!("{target} resolves to no address")))
}

/// The errors of a run: how many, and the first one in words (the rest are most
/// often the same failure again, on other connections).
#[derive(Debug, Default)]
pub struct Errors {
    pub count: u64,
    pub first: Option<String>,
}

impl Errors {
    /// One more; `what` is only called for the first.
    pub fn add(&mut self, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(what());
        }
    }
}
