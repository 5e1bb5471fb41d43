//! Why a look-up got no usable answer, and over which transport: the errors of the
//! exchange, each one line a person can act on.

use crate::proto::dns::DnsError;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        })
    }
}

/// Why a query got no usable answer. Each prints as one line a person can act on.
#[derive(Debug)]
pub enum QueryError {
    Refused(SocketAddr, Transport),
    Timeout {
        server: SocketAddr,
        transport: Transport,
        timeout: Duration,
        tries: u32,
    },
    Malformed(SocketAddr, DnsError),
    ClosedEarly(SocketAddr),
    Io(SocketAddr, &'static str, io::Error),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Refused(server, Transport::Udp) => write!(
                f,
                "connection refused by {server} — is a DNS server listening?"
            ),
            QueryError::Refused(server, Transport::Tcp) => write!(
                f,
                "connection refused by {server} over TCP — the answer was too big for UDP \
                 and the server does not take TCP"
            ),
            QueryError::Timeout {
                server,
                transport: Transport::Udp,
                timeout,
                tries,
            } => write!(
                f,
                "no answer from {server} within {} (tried {tries} times)",
                secs(*timeout)
            ),
            QueryError::Timeout {
                server, timeout, ..
            } => write!(
                f,
                "no answer from {server} over TCP within {} (the UDP answer was truncated)",
                secs(*timeout)
            ),
            QueryError::Malformed(server, e) => {
                write!(f, "{server} sent a malformed answer: {e}")
            }
            QueryError::ClosedEarly(server) => {
                write!(f, "{server} closed the TCP connection before answering")
            }
            QueryError::Io(server, what, e) => write!(f, "cannot {what} {server}: {e}"),
        }
    }
}

/// `2 s`, `0.5 s`.
pub(super) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{} s", (s * 1000.0).round() / 1000.0)
    }
}

impl QueryError {
    /// The errors hold an `io::Error`, which is not `Clone`; this copies one for each
    /// query it applies to.
    pub(super) fn duplicate(&self) -> QueryError {
        match self {
            QueryError::Refused(s, t) => QueryError::Refused(*s, *t),
            QueryError::Timeout {
                server,
                transport,
                timeout,
                tries,
            } => QueryError::Timeout {
                server: *server,
                transport: *transport,
                timeout: *timeout,
                tries: *tries,
            },
            QueryError::Malformed(s, e) => QueryError::Malformed(*s, *e),
            QueryError::ClosedEarly(s) => QueryError::ClosedEarly(*s),
            QueryError::Io(s, what, e) => {
                QueryError::Io(*s, what, io::Error::new(e.kind(), e.to_string()))
            }
        }
    }
}
