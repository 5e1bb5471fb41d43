//! `sockloop bench`: a load generator in the same style as everything else — one
//! thread, one readiness loop, non-blocking sockets, no async runtime.
//!
//! - `ws`: N WebSocket connections, each keeping `depth` messages in flight (closed
//!   loop); every echo is checked byte for byte ([`ws`], [`stream`]).
//! - `tcp`: the same over raw TCP with newline-terminated messages ([`tcp`]).
//! - `udp`: datagram round trips with loss counted ([`udp`]).
//! - `idle`: open many WebSocket connections, check one echo on each, hold them,
//!   close them cleanly — for memory-per-connection figures ([`idle`]).
//!
//! A generator that is itself the bottleneck measures nothing, so the hot paths
//! allocate nothing, and the report gives the generator's own CPU use and says when it
//! was saturated. Latencies go into a fixed log-linear histogram ([`stats`]).
//!
//! Compiled only with the `bench` cargo feature (on by default).
#![cfg(feature = "bench")]

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

pub use report::{IdleFigures, Report};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ws,
    Tcp,
    Udp,
    Idle,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ws => "ws",
            Mode::Tcp => "tcp",
            Mode::Udp => "udp",
            Mode::Idle => "idle",
        }
    }
}

/// Everything a run needs; `cmd::bench` builds it from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub mode: Mode,
    /// `ws://HOST:PORT/PATH` for ws and idle, `HOST:PORT` for tcp and udp.
    pub target: String,
    /// Connections (ws, tcp, idle) or sockets (udp).
    pub conns: usize,
    /// Bytes per message: the WebSocket payload, the line with its '\n', the datagram.
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// How long to measure (with `count`: the most it may take).
    pub duration: Duration,
    /// Stop after exactly this many echoed messages.
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
}

/// Runs the benchmark `opts` describes.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    let failed = ClientError::Failed;
    match opts.mode {
        Mode::Ws | Mode::Idle => {
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
            let target = open::Target {
                addr,
                ws: Some((url.host, url.path)),
                deflate: opts.deflate,
                tls,
            };
            if opts.mode == Mode::Idle {
                idle::run(opts, target).map_err(failed)
            } else {
                let wire = stream::Wire::Ws(ws::WsWire::new(opts.size, opts.binary));
                stream::run(opts, target, wire).map_err(failed)
            }
        }
        Mode::Tcp => {
            let target = open::Target {
                addr: first_addr(&connect::target(&opts.target)?)?,
                ws: None,
                deflate: false,
                tls: None,
            };
            let wire = stream::Wire::Line(tcp::LineWire::new(opts.size));
            stream::run(opts, target, wire).map_err(failed)
        }
        Mode::Udp => {
            let addr = first_addr(&connect::target(&opts.target)?)?;
            udp::run(opts, addr).map_err(failed)
        }
    }
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
