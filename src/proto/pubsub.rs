//! The `pubsub` line protocol (issue 14), one request per line:
//!
//! ```text
//! SUB topic            → OK
//! UNSUB topic          → OK
//! PUB topic payload    → OK; every subscriber of topic receives: MSG topic payload
//! anything else        → ERR <reason>
//! ```
//!
//! Verbs are case-insensitive; one space (or tab) separates the words, and the
//! payload is the rest of the line as it is (it may be empty, or hold spaces). A
//! topic is one word of UTF-8; the hub decides whether it is a usable name.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Sub(&'a str),
    Unsub(&'a str),
    Pub { topic: &'a str, payload: &'a [u8] },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubSubError {
    Empty,
    UnknownVerb,
    MissingTopic,
    /// SUB and UNSUB take a topic and nothing more.
    TrailingWords,
    NotUtf8,
}

impl fmt::Display for PubSubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PubSubError::Empty => "empty request (SUB topic | UNSUB topic | PUB topic payload)",
            PubSubError::UnknownVerb => {
                "unknown request (SUB topic | UNSUB topic | PUB topic payload)"
            }
            PubSubError::MissingTopic => "a topic is missing",
            PubSubError::TrailingWords => "SUB and UNSUB take one topic",
            PubSubError::NotUtf8 => "the topic is not UTF-8",
        })
    }
}

/// One request line, without its line end (a trailing CR is ignored).
pub fn parse(line: &[u8]) -> Result<Request<'_>, PubSubError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (verb, rest) = word(line);
    if verb.is_empty() {
        return Err(PubSubError::Empty);
    }
    let (topic, rest) = word(rest);
    if topic.is_empty() {
        return match known(verb) {
            true => Err(PubSubError::MissingTopic),
            false => Err(PubSubError::UnknownVerb),
        };
    }
    let topic = std::str::from_utf8(topic).map_err(|_| PubSubError::NotUtf8)?;
    if verb.eq_ignore_ascii_case(b"PUB") {
        return Ok(Request::Pub {
            topic,
            payload: rest,
        });
    }
    if !known(verb) {
        return Err(PubSubError::UnknownVerb);
    }
    if !rest.iter().all(|b| is_blank(*b)) {
        return Err(PubSubError::TrailingWords);
    }
    Ok(match verb.eq_ignore_ascii_case(b"SUB") {
        true => Request::Sub(topic),
        false => Request::Unsub(topic),
    })
}

/// What a subscriber receives: `MSG topic payload` and a line end.
pub fn write_msg(topic: &str, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(topic.len() + payload.len() + 6);
    out.extend_from_slice(b"MSG ");
    out.extend_from_slice(topic.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out.push(b'\n');
}

fn known(verb: &[u8]) -> bool {
    [&b"SUB"[..], b"UNSUB", b"PUB"]
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v))
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The first word after any blanks, and what follows it less the one blank after it.
fn word(s: &[u8]) -> (&[u8], &[u8]) {
    let start = s.iter().position(|b| !is_blank(*b)).unwrap_or(s.len());
    let s = s.get(start..).unwrap_or_default();
    let end = s.iter().position(|b| is_blank(*b)).unwrap_or(s.len());
    let rest = s.get(end + 1..).unwrap_or_default();
    (s.get(..end).unwrap_or_default(), rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_and_their_errors() {
        assert_eq!(parse(b"SUB news"), Ok(Request::Sub("news")));
        assert_eq!(parse(b"  unsub\tnews \r"), Ok(Request::Unsub("news")));
        assert_eq!(
            parse(b"pub news hello  world "),
            Ok(Request::Pub {
                topic: "news",
                payload: b"hello  world "
            })
        );
        assert_eq!(
            parse(b"PUB news"),
            Ok(Request::Pub {
                topic: "news",
                payload: b""
            })
        );
        assert_eq!(parse(b""), Err(PubSubError::Empty));
        assert_eq!(parse(b"   "), Err(PubSubError::Empty));
        assert_eq!(parse(b"SUB"), Err(PubSubError::MissingTopic));
        assert_eq!(parse(b"HELLO there"), Err(PubSubError::UnknownVerb));
        assert_eq!(parse(b"SUB a b"), Err(PubSubError::TrailingWords));
        assert_eq!(parse(b"SUB \xff"), Err(PubSubError::NotUtf8));
    }

    proptest! {
        /// What a publisher sends is what `MSG` carries, byte for byte.
        #[test]
        fn payloads_pass_unchanged(
            topic in "[a-z0-9._-]{1,16}",
            payload in proptest::collection::vec(any::<u8>().prop_filter("no line end", |b| *b != b'\n'), 0..64),
        ) {
            let mut line = format!("PUB {topic} ").into_bytes();
            line.extend_from_slice(&payload);
            let payload = payload.strip_suffix(b"\r").unwrap_or(&payload).to_vec();
            prop_assert_eq!(parse(&line), Ok(Request::Pub { topic: &topic, payload: &payload }));
            let mut out = Vec::new();
            write_msg(&topic, &payload, &mut out);
            let mut want = format!("MSG {topic} ").into_bytes();
            want.extend_from_slice(&payload);
            want.push(b'\n');
            prop_assert_eq!(out, want);
        }

        /// Any line gets an answer: a request or an error, never a panic.
        #[test]
        fn any_line_parses_or_errs(line in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse(&line);
        }
    }
}
