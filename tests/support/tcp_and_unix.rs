//! The setup of every test that checks a service behaves the same over TCP and over a
//! Unix socket: one server with the service on both.

use super::line_client::Client;
use super::server::Server;
use super::unix_spec::UnixSpec;
use std::net::SocketAddr;

pub struct TcpAndUnix {
    pub server: Server,
    /// Where the TCP listener got bound.
    pub tcp: SocketAddr,
    pub unix: UnixSpec,
}

impl TcpAndUnix {
    /// `sockloop serve -l tcp://127.0.0.1:0=SERVICE -l unix:PATH=SERVICE EXTRA...`, the
    /// socket in a temp dir named after `name`.
    pub fn start(name: &str, service: &str, extra: &[&str]) -> TcpAndUnix {
        let unix = UnixSpec::new(name, service);
        let tcp_spec = format!("tcp://127.0.0.1:0={service}");
        let mut args = vec!["-l", &tcp_spec, "-l", &unix.spec];
        args.extend_from_slice(extra);
        let server = Server::start(&args);
        let tcp = server.addr("tcp", service);
        TcpAndUnix { server, tcp, unix }
    }

    /// A fresh client on each listener, TCP first.
    pub fn clients(&self) -> [Client; 2] {
        [Client::tcp(self.tcp), Client::unix(&self.unix.path)]
    }
}
