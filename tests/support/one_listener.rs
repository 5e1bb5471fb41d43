//! The server most tests need: `sockloop serve` with one listener on loopback, quiet.

use super::server::Server;
use std::net::SocketAddr;

/// `sockloop serve -l TRANSPORT://127.0.0.1:0=SERVICE -q EXTRA...`: the server and the
/// address its listener got.
pub fn serve_one(transport: &str, service: &str, extra: &[&str]) -> (Server, SocketAddr) {
    let spec = format!("{transport}://127.0.0.1:0={service}");
    let mut args = vec!["-l", &spec, "-q"];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    let addr = server.addr(transport, service);
    (server, addr)
}
