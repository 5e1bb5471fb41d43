//! Listener specifications from the command line: one argument names the transport,
//! the address and the service.
//!
//! ```text
//! tcp://127.0.0.1:1234=echo     tcp://:1235=cmd (host defaults to 127.0.0.1)
//! udp://[::1]:7=echo            tcp://*:1234=echo (all IPv4 interfaces; [::] for IPv6)
//! unix:/run/sockloop.sock=cmd   service defaults to echo when `=SERVICE` is left out
//! http://127.0.0.1:8080         HTTP + WebSocket (the `web` service) over TCP
//! tls://:1240=echo              any stream service over TLS (needs a certificate)
//! https://127.0.0.1:8443         the web service over TLS (`wss://` WebSockets)
//! fd:web=web                    a socket passed by systemd (socket activation)
//! ```

use crate::hostport::{Host, HostPort};
use crate::service::Service;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
    /// A socket passed at start (`fd:NAME`, socket activation): its name or number;
    /// what it is, the socket says when it is taken.
    Fd(String),
}

impl Endpoint {
    pub fn transport(&self) -> &'static str {
        match self {
            Endpoint::Tcp(_) => "tcp",
            Endpoint::Udp(_) => "udp",
            Endpoint::Unix(_) => "unix",
            Endpoint::Fd(_) => "fd",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
            Endpoint::Udp(a) => write!(f, "udp://{a}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Fd(name) => write!(f, "fd:{name}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    pub endpoint: Endpoint,
    pub service: Service,
    /// TLS over the TCP endpoint (`tls://`, `https://`).
    pub tls: bool,
}

impl ListenSpec {
    /// How the listener is named on the command line and in the banner: its
    /// transport, or `http` for the web service over TCP.
    pub fn scheme(&self) -> &'static str {
        match (&self.endpoint, self.service, self.tls) {
            (Endpoint::Tcp(_), Service::Web, false) => "http",
            (Endpoint::Tcp(_), Service::Web, true) => "https",
            (Endpoint::Tcp(_), _, true) => "tls",
            (endpoint, _, _) => endpoint.transport(),
        }
    }
}

pub const SYNTAX: &str = "tcp://HOST:PORT=SERVICE, udp://HOST:PORT=SERVICE, unix:PATH=SERVICE, \
     tls://HOST:PORT=SERVICE, http://HOST:PORT, https://HOST:PORT or fd:NAME=SERVICE \
     (services: echo, daytime, counter, random, cmd, web, chat, pubsub)";

impl std::str::FromStr for ListenSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("bad listener '{text}': {why}; expected {SYNTAX}");
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("unix:") {
            ("unix", rest)
        } else if let Some(rest) = text.strip_prefix("fd:") {
            ("fd", rest)
        } else {
            text.split_once("://")
                .ok_or_else(|| bad("no transport (tcp://, udp:// or unix:)"))?
        };
        if scheme == "http" || scheme == "https" {
            if rest.contains('=') && !rest.ends_with("=web") {
                return Err(bad(&format!("{scheme} listeners run the web service only")));
            }
            let addr = parse_addr(rest.trim_end_matches("=web")).map_err(|e| bad(&e))?;
            return Ok(ListenSpec {
                endpoint: Endpoint::Tcp(addr),
                service: Service::Web,
                tls: scheme == "https",
            });
        }
        let (where_, service) = match rest.rsplit_once('=') {
            Some((w, s)) => {
                let service = Service::from_name(s).ok_or_else(|| {
                    match Service::ALL
                        .into_iter()
                        .find(|known| known.name().eq_ignore_ascii_case(s))
                    {
                        Some(_) => bad("this sockloop was built without the `pubsub` feature"),
                        None => bad("unknown service"),
                    }
                })?;
                (w, service)
            }
            None => (rest, Service::Echo),
        };
        let endpoint = match scheme {
            "tcp" | "tls" => Endpoint::Tcp(parse_addr(where_).map_err(|e| bad(&e))?),
            "udp" => Endpoint::Udp(parse_addr(where_).map_err(|e| bad(&e))?),
            "unix" if where_.is_empty() => return Err(bad("empty socket path")),
            "unix" => Endpoint::Unix(PathBuf::from(where_)),
            "fd" if where_.is_empty() => return Err(bad("no socket name after fd:")),
            "fd" => Endpoint::Fd(where_.to_string()),
            _ => return Err(bad("unknown transport")),
        };
        if matches!(endpoint, Endpoint::Udp(_)) && !service.works_on_udp() {
            return Err(bad(
                "this service needs connections, and UDP has none; use tcp or unix",
            ));
        }
        Ok(ListenSpec {
            endpoint,
            service,
            tls: scheme == "tls",
        })
    }
}

/// What two listeners of one command line would both take, if anything: the same
/// Unix path, or the same TCP (`tcp://`, `http://`) or UDP port on addresses that
/// overlap — the same address (`:7100` is `127.0.0.1:7100`), or a wildcard and an
/// address it covers (`*` every IPv4 address; `[::]` every IPv6 address, and every
/// IPv4 one too with `dual_stack`). Port 0 asks for a free port each time, so it
/// never clashes. Said before anything is bound, the clash is the command line's
/// and not another server's.
pub fn clash(a: &Endpoint, b: &Endpoint, dual_stack: bool) -> Option<String> {
    let (x, y) = match (a, b) {
        (Endpoint::Unix(p), Endpoint::Unix(q)) if p == q => {
            return Some(format!("unix {}", p.display()));
        }
        (Endpoint::Fd(p), Endpoint::Fd(q)) if p == q => return Some(format!("fd:{p}")),
        (Endpoint::Tcp(x), Endpoint::Tcp(y)) | (Endpoint::Udp(x), Endpoint::Udp(y)) => (x, y),
        _ => return None,
    };
    if x.port() == 0 || x.port() != y.port() {
        return None;
    }
    let what = a.transport();
    if x.ip() == y.ip() {
        return Some(format!("{what} {x}"));
    }
    let covers = |wide: &SocketAddr, narrow: &SocketAddr| {
        wide.ip().is_unspecified()
            && (wide.is_ipv4() == narrow.is_ipv4() || (dual_stack && wide.is_ipv6()))
    };
    let (wide, narrow) = if covers(x, y) {
        (x, y)
    } else if covers(y, x) {
        (y, x)
    } else {
        return None;
    };
    Some(format!(
        "{what} {narrow} ({} is every {} address{})",
        wide.ip(),
        if wide.is_ipv4() { "IPv4" } else { "IPv6" },
        if dual_stack && wide.is_ipv6() {
            " and, with --dual-stack, every IPv4 one"
        } else {
            ""
        }
    ))
}

/// `HOST:PORT` as [`HostPort`] reads it (empty HOST is 127.0.0.1, `*` 0.0.0.0, IPv6
/// in brackets); a name is resolved here, once, at start-up (`localhost` is
/// 127.0.0.1 without asking).
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let hp = HostPort::parse_listen(text).map_err(|e| e.to_string())?;
    match &hp.host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, hp.port)),
        Host::Name(name) if name.eq_ignore_ascii_case("localhost") => {
            Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, hp.port)))
        }
        Host::Name(name) => (name.as_str(), hp.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(|| format!("cannot resolve host '{name}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<ListenSpec, String> {
        s.parse()
    }

    #[test]
    fn forms() {
        assert_eq!(
            spec("tcp://127.0.0.1:1234=echo").unwrap(),
            ListenSpec {
                endpoint: Endpoint::Tcp("127.0.0.1:1234".parse().unwrap()),
                service: Service::Echo,
                tls: false,
            }
        );
        assert_eq!(
            spec("udp://[::1]:7=CMD").unwrap().endpoint,
            Endpoint::Udp("[::1]:7".parse().unwrap())
        );
        assert_eq!(
            spec("tcp://:0").unwrap().endpoint,
            Endpoint::Tcp("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(
            spec("tcp://*:80=daytime").unwrap().endpoint,
            Endpoint::Tcp("0.0.0.0:80".parse().unwrap())
        );
        assert_eq!(
            spec("http://:8080").unwrap(),
            ListenSpec {
                endpoint: Endpoint::Tcp("127.0.0.1:8080".parse().unwrap()),
                service: Service::Web,
                tls: false,
            }
        );
        let https = spec("https://:8443").unwrap();
        assert_eq!(
            (https.service, https.tls, https.scheme()),
            (Service::Web, true, "https")
        );
        let tls = spec("tls://:1240=cmd").unwrap();
        assert_eq!(
            (tls.service, tls.tls, tls.scheme()),
            (Service::Cmd, true, "tls")
        );
        assert_eq!(
            tls.endpoint,
            Endpoint::Tcp("127.0.0.1:1240".parse().unwrap())
        );
        assert_eq!(
            spec("unix:/tmp/a=b.sock=cmd").unwrap(),
            ListenSpec {
                endpoint: Endpoint::Unix("/tmp/a=b.sock".into()),
                service: Service::Cmd,
                tls: false,
            }
        );
    }

    #[test]
    fn clashes() {
        let clash_of = |a: &str, b: &str, dual| {
            clash(&spec(a).unwrap().endpoint, &spec(b).unwrap().endpoint, dual)
        };
        assert_eq!(
            clash_of("tcp://:7100", "tcp://127.0.0.1:7100=cmd", false).as_deref(),
            Some("tcp 127.0.0.1:7100")
        );
        assert!(clash_of("http://:7100", "tcp://localhost:7100", false).is_some());
        assert!(clash_of("udp://:7101", "udp://:7101=random", false).is_some());
        assert!(clash_of("unix:/tmp/a.sock", "unix:/tmp//a.sock=cmd", false).is_some());
        let wide = clash_of("tcp://*:7100", "tcp://127.0.0.2:7100", false).unwrap();
        assert!(wide.contains("0.0.0.0 is every IPv4 address"), "{wide}");
        assert!(clash_of("tcp://[::]:7100", "tcp://[::1]:7100", false).is_some());
        // Not clashes: another transport, port, path, address, or port 0.
        assert_eq!(clash_of("tcp://:7100", "udp://:7100", false), None);
        assert_eq!(clash_of("tcp://:7100", "tcp://:7101", false), None);
        assert_eq!(clash_of("tcp://:0", "tcp://:0=cmd", false), None);
        assert_eq!(clash_of("tcp://:7100", "tcp://127.0.0.2:7100", false), None);
        assert_eq!(clash_of("unix:/tmp/a", "unix:/tmp/b", false), None);
        assert_eq!(clash_of("tcp://[::]:7100", "tcp://*:7100", false), None);
        let dual = clash_of("tcp://*:7100", "tcp://[::]:7100", true).unwrap();
        assert!(dual.contains("with --dual-stack"), "{dual}");
    }

    #[test]
    fn passed_sockets() {
        let web = spec("fd:web=web").unwrap();
        assert_eq!(
            (web.endpoint, web.service),
            (Endpoint::Fd("web".into()), Service::Web)
        );
        assert_eq!(spec("fd:3=cmd").unwrap().endpoint, Endpoint::Fd("3".into()));
        assert!(spec("fd:=cmd").unwrap_err().contains("no socket name"));
        let a = Endpoint::Fd("web".into());
        assert_eq!(clash(&a, &a.clone(), false).as_deref(), Some("fd:web"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(spec("127.0.0.1:80").unwrap_err().contains("no transport"));
        assert!(spec("tcp://1.2.3.4").unwrap_err().contains("no port"));
        assert!(spec("tcp://:99999").unwrap_err().contains("0 to 65535"));
        assert!(
            spec("tcp://:1=gossip")
                .unwrap_err()
                .contains("unknown service")
        );
        assert!(
            spec("udp://:1=counter")
                .unwrap_err()
                .contains("UDP has none")
        );
        assert!(spec("sctp://:1").unwrap_err().contains("unknown transport"));
        assert!(spec("udp://:1=web").unwrap_err().contains("UDP has none"));
        assert!(
            spec("http://:1=echo")
                .unwrap_err()
                .contains("web service only")
        );
        assert!(
            spec("https://:1=cmd")
                .unwrap_err()
                .contains("https listeners")
        );
    }
}
