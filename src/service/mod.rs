//! What each endpoint does with the bytes it receives: the classic services (echo,
//! daytime, counter, random) and the `cmd` line protocol, on streams and datagrams.
//!
//! Services see bytes and write bytes into the loop's shared output buffer; they never
//! touch a socket. The loop owns the sockets and the per-connection buffers.

pub mod broker;
pub mod chat;
pub mod datagram;
mod env;
pub mod fanout;
pub mod hub;
pub mod lend;
pub mod memory;
pub mod metrics;
mod rooms;
mod stream;
pub mod web;

pub use env::{FanoutCounts, ServerEnv, Shared};
pub use rooms::depart;
pub use stream::StreamSession;

use crate::proto::command::{self, After};
use std::fmt;

/// The services' settings from the command line; the loop passes them on unread.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--max-line`: the longest request line of the line services.
    pub max_line: usize,
    /// `--max-memory`: the budget for everything buffered on behalf of peers.
    pub max_memory: usize,
    pub web: web::WebConfig,
    /// `--publish-rate`: chat lines and publishes per second per connection.
    pub publish_rate: u32,
    /// Rooms and topics per server and per connection, and their name length.
    pub hub: hub::Limits,
}

/// The default `--publish-rate`: more than any person types and than most programs
/// publish, well under what would let one connection keep the loop busy fanning out.
pub const DEFAULT_PUBLISH_RATE: u32 = 100;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_line: 1024,
            max_memory: memory::DEFAULT_LIMIT,
            web: web::WebConfig::default(),
            publish_rate: DEFAULT_PUBLISH_RATE,
            hub: hub::Limits::default(),
        }
    }
}

/// What a stream session says after each step: the loop's cue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Keep serving.
    Continue,
    /// The output budget ran out with input (or output owed) still waiting: serve
    /// again, without new input, once the client has read most of what is queued.
    Backlog,
    /// Send what is queued, then hang up; input after the closing request is not
    /// served.
    Close,
}

impl From<After> for Next {
    fn from(after: After) -> Next {
        match after {
            After::Continue => Next::Continue,
            After::Close => Next::Close,
        }
    }
}

/// The services a listener can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Byte-exact echo; on streams a line that is exactly `STOP` hangs up.
    Echo,
    /// RFC 867 style: the time as an RFC 3339 line, then close (streams).
    Daytime,
    /// Every line answered with `Client number: K`.
    Counter,
    /// Every line answered with a random integer (1..=1000, or `MIN MAX`).
    Random,
    /// The `cmd` line protocol.
    Cmd,
    /// HTTP with WebSocket endpoints (`/ws` echo, `/cmd`, `/random`, `/chat`,
    /// `/pubsub`) and a test page.
    Web,
    /// Chat rooms: `/nick`, `/join`, … and lines said to the room.
    Chat,
    /// Topics: `SUB`, `UNSUB`, `PUB` → `MSG`.
    PubSub,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Echo,
        Service::Daytime,
        Service::Counter,
        Service::Random,
        Service::Cmd,
        Service::Web,
        Service::Chat,
        Service::PubSub,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Daytime => "daytime",
            Service::Counter => "counter",
            Service::Random => "random",
            Service::Cmd => "cmd",
            Service::Web => "web",
            Service::Chat => "chat",
            Service::PubSub => "pubsub",
        }
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .filter(|s| s.is_built())
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Whether this binary has the service (chat and pubsub are the `pubsub` cargo
    /// feature).
    pub fn is_built(self) -> bool {
        cfg!(feature = "pubsub") || !matches!(self, Service::Chat | Service::PubSub)
    }

    /// Counting clients, HTTP and rooms need connections; the rest also work on UDP.
    pub fn works_on_udp(self) -> bool {
        !matches!(
            self,
            Service::Counter | Service::Web | Service::Chat | Service::PubSub
        )
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Answers one datagram: writes the reply datagram into `out`. Every request gets a
/// reply (for echo, an empty datagram gets an empty one back).
/// Each datagram is one request; one trailing newline (LF or CRLF) is optional.
/// The loop calls it through [`datagram::serve`], which applies the UDP rules (no
/// reply to a service's port, none larger than 3× its request).
pub fn on_datagram(service: Service, data: &[u8], shared: &mut Shared, out: &mut Vec<u8>) {
    shared.requests += 1;
    let request = data
        .strip_suffix(b"\n")
        .map(|d| d.strip_suffix(b"\r").unwrap_or(d))
        .unwrap_or(data);
    match service {
        Service::Echo => out.extend_from_slice(data),
        Service::Daytime => {
            let mut env = ServerEnv::new(shared);
            command::answer(&command::Request::Time, &mut env, out);
            out.push(b'\n');
        }
        Service::Random => {
            stream::random_reply(request, &mut ServerEnv::new(shared), out);
            out.push(b'\n');
        }
        Service::Cmd => {
            if request.len() > shared.max_line {
                stream::write_too_long(shared.max_line, out);
                out.push(b'\n');
            } else {
                // There is no connection to close: STOP/QUIT just get their BYE.
                let _ = command::respond(request, &mut ServerEnv::new(shared), out);
            }
        }
        // Rejected when the listener is configured; answer plainly all the same.
        Service::Counter | Service::Web | Service::Chat | Service::PubSub => {
            out.extend_from_slice(b"ERR this service needs a stream socket\n")
        }
    }
}

/// Why a new connection is refused: each limit names itself in the busy answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// `--max-conns`: this many connections are open server-wide.
    MaxConns(usize),
    /// `--max-conns-per-ip`: this many are open from the client's address (for
    /// IPv6, its /64).
    PerAddress(usize),
    /// `--max-memory`: everything the server may buffer for peers is in use.
    Memory,
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Busy::MaxConns(n) => {
                write!(f, "server busy: {n} connections open (the limit)")?;
            }
            Busy::PerAddress(n) => write!(
                f,
                "server busy: {n} connections open from your address (the limit per address)"
            )?,
            Busy::Memory => f.write_str("server busy: out of memory for new connections")?,
        }
        f.write_str("; try again later")
    }
}

/// What a stream service sends a connection it cannot take before hanging up: the
/// protocol's busy answer (`ERR server busy: …`, HTTP 503), or nothing for echo,
/// whose output must stay byte-exact. A WebSocket upgrade is refused before its
/// request is read, so it gets the 503 too.
pub fn busy_reply(service: Service, why: Busy) -> Vec<u8> {
    match service {
        Service::Echo => Vec::new(),
        Service::Web => {
            let mut out = Vec::new();
            crate::proto::http::write_response(
                &mut out,
                503,
                &[
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Retry-After", "1"),
                    ("Connection", "close"),
                ],
                format!("{why}\n").as_bytes(),
            );
            out
        }
        _ => format!("ERR {why}\n").into_bytes(),
    }
}

#[cfg(test)]
mod tests;
