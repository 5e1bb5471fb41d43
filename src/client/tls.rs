//! TLS for the clients (`tcp --tls`, `ws wss://`): the options they share and the one
//! way a connected socket becomes a TLS stream. The handshake runs to its end here,
//! blocking for at most the connect timeout, so a refused certificate is said before
//! the client's loop starts, in words from `tls::client`.

use super::ClientError;
use crate::hostport::{Host, HostPort};
use crate::runtime::transport::Stream;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Trust only the certificates in this PEM file.
    pub ca: Option<PathBuf>,
    /// Check nothing about the server's certificate.
    pub insecure: bool,
}

pub fn add_options(o: &mut getopts::Options) {
    o.optopt(
        "",
        "ca",
        "with TLS: trust the CA certificates in FILE (PEM) instead of the system's",
        "FILE",
    );
    o.optflag(
        "",
        "insecure",
        "with TLS: do not check the server's certificate (anyone on the path can read along)",
    );
}

pub fn from_matches(m: &getopts::Matches) -> TlsOptions {
    TlsOptions {
        ca: m.opt_str("ca").map(PathBuf::from),
        insecure: m.opt_present("insecure"),
    }
}

impl TlsOptions {
    /// `--ca` or `--insecure` given without TLS to use them on.
    pub fn given(&self) -> bool {
        self.ca.is_some() || self.insecure
    }
}

/// The name the certificate must carry (and SNI, for a name): the host as written.
fn server_name(target: &HostPort) -> String {
    match &target.host {
        Host::Ip(ip) => ip.to_string(),
        Host::Name(name) => name.clone(),
    }
}

#[cfg(feature = "tls")]
pub fn connect(
    sock: TcpStream,
    target: &HostPort,
    tls: &TlsOptions,
    timeout: Duration,
) -> Result<Stream, ClientError> {
    if tls.insecure {
        eprintln!(
            "sockloop: --insecure: the server's certificate is NOT checked; this connection \
             is encrypted, but to whoever answered"
        );
    }
    let client = crate::tls::client::ClientTls {
        ca: tls.ca.clone(),
        insecure: tls.insecure,
    };
    let stream = client
        .connect(sock, &server_name(target), timeout)
        .map_err(ClientError::Failed)?;
    Ok(Stream::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
pub fn connect(
    _sock: TcpStream,
    target: &HostPort,
    _tls: &TlsOptions,
    _timeout: Duration,
) -> Result<Stream, ClientError> {
    Err(ClientError::Usage(format!(
        "TLS to {}: this sockloop was built without the `tls` feature",
        server_name(target)
    )))
}
