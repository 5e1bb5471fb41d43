//! `sockloop serve --tls-self-signed` as a fixture: the server, and the certificate
//! file its banner names (for the clients to trust).

use super::server::Server;
use std::path::PathBuf;

/// The self-signed certificate's file, from the banner.
pub fn banner_cert(server: &Server) -> PathBuf {
    let line = server
        .banner
        .iter()
        .find(|l| l.starts_with("  TLS certificate"))
        .unwrap_or_else(|| panic!("no certificate line in {:?}", server.banner));
    PathBuf::from(line.rsplit_once(": ").expect("path after ': '").1)
}

/// A server with these listeners and options, and its self-signed certificate.
pub fn self_signed_server(listeners: &[&str], options: &[&str]) -> (Server, PathBuf) {
    let mut args = Vec::new();
    for l in listeners {
        args.extend(["-l", l]);
    }
    args.extend(options);
    args.push("--tls-self-signed");
    let server = Server::start(&args);
    let cert = banner_cert(&server);
    (server, cert)
}
