//! `HOST:PORT` as every command writes it: `serve`'s listeners (`tcp://HOST:PORT`,
//! `udp://`, `http://`), the targets of `tcp`, `udp`, `rpc` and `bench`, the authority
//! of a `ws://` URL and `lookup --server`. One parser, so an address means the same
//! everywhere and a mistake in it is a usage error everywhere.
//!
//! - HOST empty is 127.0.0.1 (where sockloop listens unless told otherwise), `*` is
//!   0.0.0.0 (every IPv4 interface), otherwise an IPv4 address, an IPv6 address in
//!   brackets, or a name, which whoever uses the address resolves.
//! - An IPv6 address with a port is always in brackets, as in URLs (RFC 3986 §3.2.2):
//!   `::1:1234` is itself a valid IPv6 address, so reading it as `[::1]:1234` would
//!   be a guess.
//! - PORT is digits, 0 to 65535; to connect, 0 is refused ([`HostPort::parse_target`]).
//!
//! Parsing touches no network: names are resolved by the caller, the server once at
//! start-up, a client when it connects.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A name for the resolver (`localhost`, `example.com`).
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: Host,
    pub port: u16,
}

/// What is wrong with an address; `Display` says how to write it instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrError {
    /// No `:PORT` at all.
    NoPort,
    /// `HOST:` with nothing after the colon.
    EmptyPort,
    /// Not digits, or more than 65535.
    BadPort(String),
    /// Port 0 where something is to be connected to.
    PortZero,
    /// An IPv6 address (or something else with colons) and a port, without brackets;
    /// `text` is the host and port as written.
    Unbracketed { text: String, why: Unbracketed },
    /// Brackets around something that is not an IPv6 address.
    NotIpv6(String),
    /// `[` with no `]`.
    Unclosed,
    /// Something other than `:PORT` after `]`.
    AfterBracket(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unbracketed {
    /// `::1:1234`: a valid IPv6 address on its own, and an address and a port too.
    Ambiguous { suggestion: String },
    /// `fe80::1:99999`: an IPv6 address and a port, which only brackets may join.
    Port { suggestion: String },
    /// `::1`: an IPv6 address, and no port.
    NoPort { suggestion: String },
    /// Colons in a host that is no IPv6 address either.
    NotAHost { host: String },
}

const EXAMPLE: &str = "write HOST:PORT, e.g. 127.0.0.1:1234";
const BRACKETS: &str = "write an IPv6 address with a port as";

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::NoPort => write!(f, "no port ({EXAMPLE})"),
            AddrError::EmptyPort => write!(f, "no port after ':' ({EXAMPLE})"),
            AddrError::BadPort(p) => write!(f, "port '{p}' is not a number from 0 to 65535"),
            AddrError::PortZero => write!(
                f,
                "port 0 cannot be connected to (to a server, 0 means any free port)"
            ),
            AddrError::Unbracketed { text, why } => match why {
                Unbracketed::Ambiguous { suggestion } => write!(
                    f,
                    "'{text}' is itself an IPv6 address, so no port can be told from it; \
                     {BRACKETS} {suggestion}"
                ),
                Unbracketed::Port { suggestion } => write!(
                    f,
                    "'{text}': an IPv6 address needs brackets when a port follows it; \
                     {BRACKETS} {suggestion}"
                ),
                Unbracketed::NoPort { suggestion } => write!(
                    f,
                    "'{text}' is an IPv6 address with no port; {BRACKETS} {suggestion}"
                ),
                Unbracketed::NotAHost { host } => write!(
                    f,
                    "'{host}' is neither a host name nor an IP address; {BRACKETS} [::1]:1234"
                ),
            },
            AddrError::NotIpv6(inside) => write!(
                f,
                "'[{inside}]' is not an IPv6 address (brackets are for IPv6 only: \
                 [::1]:1234, 127.0.0.1:1234)"
            ),
            AddrError::Unclosed => write!(f, "'[' without ']' ({BRACKETS} [::1]:1234)"),
            AddrError::AfterBracket(rest) => write!(
                f,
                "'{rest}' after ']' where ':PORT' should be ({BRACKETS} [::1]:1234)"
            ),
        }
    }
}

impl std::error::Error for AddrError {}

impl HostPort {
    /// An address to listen on: the port may be 0 (any free port).
    pub fn parse_listen(text: &str) -> Result<HostPort, AddrError> {
        parse(text, None)
    }

    /// An address to connect to: port 0 is refused; `default_port` is taken when no
    /// port is written (`ws://example.com/`), else a port is required.
    pub fn parse_target(text: &str, default_port: Option<u16>) -> Result<HostPort, AddrError> {
        let hp = parse(text, default_port)?;
        if hp.port == 0 {
            return Err(AddrError::PortZero);
        }
        Ok(hp)
    }

    /// The socket address, when the host is an IP address (no resolving needed).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Name(_) => None,
        }
    }
}

/// As it is written back: `127.0.0.1:1234`, `[::1]:1234`, `example.com:80`.
impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

fn parse(text: &str, default_port: Option<u16>) -> Result<HostPort, AddrError> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(AddrError::Unclosed)?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| AddrError::NotIpv6(inside.to_string()))?;
        let port = match after.strip_prefix(':') {
            Some(port) => parse_port(port)?,
            None if after.is_empty() => default_port.ok_or(AddrError::NoPort)?,
            None => return Err(AddrError::AfterBracket(after.to_string())),
        };
        return Ok(HostPort {
            host: Host::Ip(IpAddr::V6(ip)),
            port,
        });
    }
    if text.parse::<Ipv6Addr>().is_ok()
        || text.rsplit_once(':').is_some_and(|(h, _)| h.contains(':'))
    {
        return Err(unbracketed(text));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, parse_port(port)?),
        None => (text, default_port.ok_or(AddrError::NoPort)?),
    };
    let host = match host {
        "" => Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "*" => Host::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        _ => match host.parse::<Ipv4Addr>() {
            Ok(ip) => Host::Ip(IpAddr::V4(ip)),
            Err(_) => Host::Name(host.to_string()),
        },
    };
    Ok(HostPort { host, port })
}

/// Why `text`, which has colons in its host or is an IPv6 address, is no address.
fn unbracketed(text: &str) -> AddrError {
    let split = text
        .rsplit_once(':')
        .filter(|(host, port)| host.parse::<Ipv6Addr>().is_ok() && is_port(port));
    let whole = text.parse::<Ipv6Addr>().is_ok();
    let why = match split {
        Some((host, port)) if whole => Unbracketed::Ambiguous {
            suggestion: format!("[{host}]:{port}"),
        },
        // `fe80::1:99999`: no IPv6 address as a whole (its last group is too big).
        Some((host, port)) => Unbracketed::Port {
            suggestion: format!("[{host}]:{port}"),
        },
        None if whole => Unbracketed::NoPort {
            suggestion: format!("[{text}]:1234"),
        },
        None => Unbracketed::NotAHost {
            host: text.rsplit_once(':').map_or(text, |(h, _)| h).to_string(),
        },
    };
    AddrError::Unbracketed {
        text: text.to_string(),
        why,
    }
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Digits only: `u16::from_str` would take `+80` too.
fn parse_port(text: &str) -> Result<u16, AddrError> {
    if text.is_empty() {
        return Err(AddrError::EmptyPort);
    }
    if !is_port(text) {
        return Err(AddrError::BadPort(text.to_string()));
    }
    text.parse()
        .map_err(|_| AddrError::BadPort(text.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn listen(text: &str) -> Result<String, AddrError> {
        HostPort::parse_listen(text).map(|hp| hp.to_string())
    }

    #[test]
    fn hosts() {
        assert_eq!(listen("127.0.0.1:1234").unwrap(), "127.0.0.1:1234");
        assert_eq!(listen(":1234").unwrap(), "127.0.0.1:1234");
        assert_eq!(listen("*:80").unwrap(), "0.0.0.0:80");
        assert_eq!(listen("[::1]:7").unwrap(), "[::1]:7");
        assert_eq!(listen("[::]:0").unwrap(), "[::]:0");
        assert_eq!(listen("localhost:1").unwrap(), "localhost:1");
        assert_eq!(
            HostPort::parse_listen("example.com:65535").unwrap().host,
            Host::Name("example.com".into())
        );
        assert_eq!(
            HostPort::parse_listen(":1").unwrap().socket_addr(),
            Some("127.0.0.1:1".parse().unwrap())
        );
    }

    #[test]
    fn default_ports() {
        let target = |t| HostPort::parse_target(t, Some(80)).map(|hp| hp.to_string());
        assert_eq!(target("example.com").unwrap(), "example.com:80");
        assert_eq!(target("[::1]").unwrap(), "[::1]:80");
        assert_eq!(target("h:8080").unwrap(), "h:8080");
        assert_eq!(target("h:"), Err(AddrError::EmptyPort));
        assert_eq!(HostPort::parse_target("h", None), Err(AddrError::NoPort));
    }

    #[test]
    fn ports() {
        assert_eq!(listen("1.2.3.4"), Err(AddrError::NoPort));
        assert_eq!(listen("127.0.0.1:"), Err(AddrError::EmptyPort));
        assert_eq!(listen(":99999"), Err(AddrError::BadPort("99999".into())));
        assert_eq!(listen(":abc"), Err(AddrError::BadPort("abc".into())));
        assert_eq!(listen(":+80"), Err(AddrError::BadPort("+80".into())));
        assert_eq!(listen("[::1]:x"), Err(AddrError::BadPort("x".into())));
        assert_eq!(listen(":0").unwrap(), "127.0.0.1:0");
        assert_eq!(
            HostPort::parse_target("127.0.0.1:0", None),
            Err(AddrError::PortZero)
        );
        assert!(
            AddrError::BadPort("99999".into())
                .to_string()
                .contains("0 to 65535")
        );
    }

    #[test]
    fn ipv6_with_a_port_needs_brackets() {
        let e = listen("::1:1234").unwrap_err().to_string();
        assert!(
            e.contains("write an IPv6 address with a port as [::1]:1234"),
            "{e}"
        );
        assert!(e.contains("'::1:1234' is itself an IPv6 address"), "{e}");
        let e = listen("fe80::1:99999").unwrap_err().to_string();
        assert!(e.contains("needs brackets when a port follows"), "{e}");
        assert!(e.contains("as [fe80::1]:99999"), "{e}");
        let e = listen("::1").unwrap_err().to_string();
        assert!(
            e.contains("with no port") && e.contains("as [::1]:1234"),
            "{e}"
        );
        let e = listen("2001:db8::7").unwrap_err().to_string();
        assert!(e.contains("as [2001:db8::7]:1234"), "{e}");
        let e = listen("a:b:1").unwrap_err().to_string();
        assert!(e.contains("'a:b' is neither"), "{e}");
        assert_eq!(listen("[::1"), Err(AddrError::Unclosed));
        assert_eq!(
            listen("[1.2.3.4]:1"),
            Err(AddrError::NotIpv6("1.2.3.4".into()))
        );
        assert_eq!(listen("[::1]1"), Err(AddrError::AfterBracket("1".into())));
    }
}
