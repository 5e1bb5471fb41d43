//! The `ws://` URL the client is given: where to connect, the Host header and the
//! request target (RFC 6455 §3).

use crate::client::ClientError;

/// The parts of a `ws://` URL.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    /// `host:port` to connect to.
    pub target: String,
    /// The Host header value.
    pub host: String,
    /// Path and query, at least `/`.
    pub path: String,
}

pub fn parse_url(text: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| ClientError::Usage(format!("bad URL '{text}': {why}"));
    if text.starts_with("wss://") {
        return Err(bad(
            "wss:// needs TLS, which sockloop does not speak; use ws://",
        ));
    }
    let rest = text
        .strip_prefix("ws://")
        .ok_or_else(|| bad("it must start with ws://"))?;
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
    let target = if has_port(authority) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok(Url {
        target,
        host: authority.to_string(),
        path,
    })
}

/// A port is present if the authority ends with `:digits` outside IPv6 brackets.
fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        Some(i) => {
            !authority[i..].contains(']') && authority[i + 1..].bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("ws://127.0.0.1:8080/ws").unwrap();
        assert_eq!(
            (u.target.as_str(), u.host.as_str(), u.path.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080", "/ws")
        );
        let u = parse_url("ws://example.com").unwrap();
        assert_eq!(
            (u.target.as_str(), u.path.as_str()),
            ("example.com:80", "/")
        );
        let u = parse_url("ws://[::1]:9001?case=1").unwrap();
        assert_eq!(
            (u.target.as_str(), u.path.as_str()),
            ("[::1]:9001", "/?case=1")
        );
        let u = parse_url("ws://[::1]/x").unwrap();
        assert_eq!(u.target, "[::1]:80");
        assert!(parse_url("wss://x/").is_err());
        assert!(parse_url("http://x/").is_err());
        assert!(parse_url("ws:///x").is_err());
        assert!(parse_url("ws://x/a b").is_err());
    }
}
