//! One person in a chat room or one pub/sub client, whatever its transport: a line
//! client on TCP or a Unix socket, or a WebSocket (one text message per line). The
//! chat and pub/sub tests treat them alike, which is the point of those services.

use super::line_client::Client;
use super::server::Server;
use super::unix_spec::UnixSpec;
use super::ws_client::{Handshake, WsClient};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub enum Member {
    Line(Client),
    Ws(Box<WsClient>),
}

impl Member {
    pub fn tcp(addr: SocketAddr) -> Member {
        Member::Line(Client::tcp(addr))
    }

    pub fn unix(path: &Path) -> Member {
        Member::Line(Client::unix(path))
    }

    /// A WebSocket at `path` (`/chat`, `/pubsub`) of an http:// listener.
    pub fn ws(addr: SocketAddr, path: &str) -> Member {
        match WsClient::connect_with(addr, path, Handshake::default()) {
            Ok((ws, _)) => Member::Ws(Box::new(ws)),
            Err(refused) => panic!("WebSocket {path} refused: {}", refused.dump()),
        }
    }

    /// Sends one line (a text message on a WebSocket).
    pub fn say(&mut self, line: &str) {
        match self {
            Member::Line(c) => c.send_line(line),
            Member::Ws(ws) => ws.send_text(line),
        }
    }

    /// The next line (text message) from the server.
    pub fn hear(&mut self) -> String {
        match self {
            Member::Line(c) => c.read_line(),
            Member::Ws(ws) => ws.recv_text(),
        }
    }

    /// Sends a line and returns the line that answers it.
    pub fn ask(&mut self, line: &str) -> String {
        match self {
            Member::Line(c) => c.request(line),
            Member::Ws(ws) => ws.request(line),
        }
    }

    /// The next `n` lines.
    pub fn hear_n(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.hear()).collect()
    }

    /// Asserts nothing arrives for a moment (the WebSocket side; a line client is
    /// checked by the next line it reads being the one expected).
    pub fn hears_nothing(&mut self, within: Duration) {
        if let Member::Ws(ws) = self
            && let Ok(f) = ws.try_recv_frame(within)
        {
            panic!(
                "expected silence, got {:?}",
                String::from_utf8_lossy(&f.payload)
            );
        }
    }
}

/// `sockloop serve` with `service` on TCP, on a Unix socket (in a temp dir named after
/// `name`) and an http:// listener (`/chat`, `/pubsub`), plus `extra` options.
pub fn serve_rooms(name: &str, service: &str, extra: &[&str]) -> (Server, UnixSpec) {
    let unix = UnixSpec::new(name, service);
    let tcp = format!("tcp://127.0.0.1:0={service}");
    let mut args = vec!["-l", &tcp, "-l", &unix.spec, "-l", "http://127.0.0.1:0"];
    args.extend_from_slice(extra);
    (Server::start(&args), unix)
}

/// Writes `line` over and over without reading, until the kernel takes no more: the
/// server has stopped reading this client. Panics if 64 MiB went in first.
/// The lines go out many to a write, and a short write resumes mid-line, so the
/// server always sees whole copies of `line`.
pub fn flood_until_paused(client: &mut Client, line: &[u8]) {
    let chunk = line.repeat((8192 / line.len()).max(1));
    let mut written = 0;
    while written < 64 << 20 {
        match client.write_nonblocking(&chunk[written % chunk.len()..]) {
            Ok(0) => return,
            Ok(n) => written += n,
            Err(e) => panic!("flooding: {e}"),
        }
    }
    panic!("the server kept reading a client that never reads");
}
