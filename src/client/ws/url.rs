//! The `ws://` or `wss://` URL the client is given: where to connect, whether over
//! TLS, the Host header and the request target (RFC 6455 §3).

use crate::client::ClientError;
use crate::hostport::HostPort;

/// The parts of a `ws://` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    /// Where to connect: the authority as [`HostPort`] reads every address, port 80
    /// when none is written.
    pub target: HostPort,
    /// The Host header value.
    pub host: String,
    /// Path and query, at least `/`.
    pub path: String,
    /// `wss://`: the connection speaks TLS (port 443 when none is written).
    pub tls: bool,
}

pub fn parse_url(text: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| ClientError::Usage(format!("bad URL '{text}': {why}"));
    let (rest, tls) = match (text.strip_prefix("ws://"), text.strip_prefix("wss://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return Err(bad("it must start with ws:// or wss://")),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("the path may not contain spaces or control characters"));
    }
    let default_port = if tls { 443 } else { 80 };
    let target =
        HostPort::parse_target(authority, Some(default_port)).map_err(|e| bad(&e.to_string()))?;
    // An empty host is 127.0.0.1, and the Host header says so.
    let host = if authority.starts_with(':') {
        target.to_string()
    } else {
        authority.to_string()
    };
    Ok(Url {
        target,
        host,
        path,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where to connect, the Host header and the path.
    fn parts(text: &str) -> (String, String, String) {
        let u = parse_url(text).unwrap();
        (u.target.to_string(), u.host, u.path)
    }

    #[test]
    fn urls() {
        let part = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            parts("ws://127.0.0.1:8080/ws"),
            part("127.0.0.1:8080", "127.0.0.1:8080", "/ws")
        );
        assert_eq!(
            parts("ws://example.com"),
            part("example.com:80", "example.com", "/")
        );
        assert_eq!(
            parts("ws://[::1]:9001?case=1"),
            part("[::1]:9001", "[::1]:9001", "/?case=1")
        );
        assert_eq!(parts("ws://[::1]/x"), part("[::1]:80", "[::1]", "/x"));
        assert_eq!(
            parts("ws://:8080/ws"),
            part("127.0.0.1:8080", "127.0.0.1:8080", "/ws")
        );
        assert_eq!(
            parts("wss://example.com/chat"),
            part("example.com:443", "example.com", "/chat")
        );
        assert!(parse_url("wss://x/").unwrap().tls);
        assert!(!parse_url("ws://x/").unwrap().tls);
        assert!(parse_url("http://x/").is_err());
        assert!(parse_url("ws:///x").is_err());
        assert!(parse_url("ws://x/a b").is_err());
        for bad in [
            "ws://127.0.0.1:99999/",
            "ws://127.0.0.1:abc/",
            "ws://127.0.0.1:/",
            "ws://::1:8080/",
            "ws://h:0/",
        ] {
            assert!(
                matches!(parse_url(bad), Err(ClientError::Usage(_))),
                "accepted: {bad}"
            );
        }
    }
}
