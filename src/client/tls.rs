//! TLS for the clients (`tcp --tls`, `ws wss://`): the options they share and the one
//! way a connected socket becomes a TLS stream. The handshake runs to its end here,
//! blocking for at most the connect timeout, so a refused certificate is said before
//! the client's loop starts, in words from `tls::client`.

use super::ClientError;
use crate::hostport::{Host, HostPort};
use crate::runtime::transport::Stream;
use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// Starts TLS on many non-blocking sockets at once (the load generator's `wss://`):
/// the configuration is made once, each socket gets a connection whose handshake the
/// caller's loop drives.
#[derive(Clone)]
pub struct Connector {
    #[cfg(feature = "tls")]
    config: std::sync::Arc<rustls::ClientConfig>,
    host: String,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connector({})", self.host)
    }
}

impl Connector {
    pub fn new(target: &HostPort, tls: &TlsOptions) -> Result<Connector, ClientError> {
        let host = server_name(target);
        #[cfg(feature = "tls")]
        {
            let client = crate::tls::client::ClientTls {
                ca: tls.ca.clone(),
                insecure: tls.insecure,
            };
            let config = client.config().map_err(ClientError::Usage)?;
            Ok(Connector { config, host })
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = tls;
            Err(ClientError::Usage(format!(
                "TLS to {host}: this sockloop was built without the `tls` feature"
            )))
        }
    }

    /// `sock` (connected or still connecting) as a TLS stream whose hello waits to be
    /// sent: the caller flushes it once the connect is done, then reads until the
    /// handshake is over.
    pub fn wrap(&self, sock: TcpStream) -> io::Result<Stream> {
        #[cfg(feature = "tls")]
        {
            let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                .map_err(|e| io::Error::other(format!("{}: {e}", self.host)))?;
            let conn = rustls::ClientConnection::new(self.config.clone(), name)
                .map_err(io::Error::other)?;
            let tls = crate::tls::stream::TlsStream::new(sock, conn.into());
            Ok(Stream::Tls(Box::new(tls)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = &self.host;
            Ok(Stream::Tcp(sock))
        }
    }
}
