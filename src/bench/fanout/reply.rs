//! What the pubsub server says, one line (tcp) or one text message (WebSocket) at a
//! time: `OK`, `ERR reason`, `MSG topic payload`, `DROPPED N`.

/// One line or message from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    Ok,
    Err(&'a [u8]),
    Msg {
        topic: &'a [u8],
        payload: &'a [u8],
    },
    /// `N` deliveries were dropped for this subscriber since the last notice.
    Dropped(u64),
    /// Anything else, for the error message.
    Other(&'a [u8]),
}

/// Parses one reply (without its line end).
#[inline]
pub fn parse(line: &[u8]) -> Reply<'_> {
    if let Some(rest) = line.strip_prefix(b"MSG ") {
        let space = rest.iter().position(|&b| b == b' ');
        return match space {
            Some(i) => Reply::Msg {
                topic: rest.get(..i).unwrap_or_default(),
                payload: rest.get(i + 1..).unwrap_or_default(),
            },
            None => Reply::Other(line),
        };
    }
    if line == b"OK" {
        return Reply::Ok;
    }
    if let Some(reason) = line.strip_prefix(b"ERR ") {
        return Reply::Err(reason);
    }
    let count = line
        .strip_prefix(b"DROPPED ")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse().ok());
    match count {
        Some(n) => Reply::Dropped(n),
        None => Reply::Other(line),
    }
}

/// A reply as a user can read it in an error message (cut to 80 characters).
pub fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line.get(..80).unwrap_or(line)).into_owned();
    if line.len() > 80 {
        format!("{text}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse(b"OK"), Reply::Ok);
        assert_eq!(parse(b"ERR too fast"), Reply::Err(b"too fast"));
        assert_eq!(
            parse(b"MSG bench a b "),
            Reply::Msg {
                topic: b"bench",
                payload: b"a b "
            }
        );
        assert_eq!(
            parse(b"MSG bench "),
            Reply::Msg {
                topic: b"bench",
                payload: b""
            }
        );
        assert_eq!(parse(b"DROPPED 12"), Reply::Dropped(12));
        for other in [
            &b"MSG bench"[..],
            b"DROPPED x",
            b"DROPPED -1",
            b"OK ",
            b"",
            b"SUB bench",
        ] {
            assert_eq!(parse(other), Reply::Other(other));
        }
        assert_eq!(shown(b"hi"), "hi");
        assert_eq!(shown(&[b'x'; 100]).chars().count(), 81);
    }
}
