//! Fuzz target `resp`: the RESP2 parser and writers (src/proto/resp.rs) and the reading
//! of subscribe-mode replies.
//!
//! Input: one byte that picks the limits, then a byte stream read as RESP2 values one
//! after another (a seed is that byte and what a Redis server sends). A first byte
//! below 0x80 means the defaults (1 MiB + 4 KiB, 1024 elements, depth 4); from 0x80 up,
//! small limits a short input reaches: `max_bulk = b & 7`, `max_elements = (b >> 3) & 3`,
//! `max_depth = (b >> 5) & 3`. Checks, for each value:
//! - never panics; a complete value takes at least 3 bytes and at most what is there;
//! - canonical: the value written back with `write_value` is exactly the bytes it was
//!   parsed from (but where those say `*-1`, the one null written as `$-1`);
//! - within the limits: no bulk string or line over `max_bulk`, no array over
//!   `max_elements` or nested over `max_depth`; no CR or LF in a simple string or error;
//! - strict prefixes of those bytes are `Incomplete` (a few cut points: the first
//!   bytes, the middle, the last bytes, one drawn from the input), never an error;
//! - an error is known from the bytes that show it: with more bytes after it, it is
//!   the same error;
//! - `subscriber_event` never panics, and an event it gives is exactly the shape it
//!   names (the value rebuilt from the event is the value).
//!
//! After a complete value, parsing goes on with the bytes that follow it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockloop::proto::Parsed;
use sockloop::proto::resp::{Limits, SubscriberEvent, Value, parse, subscriber_event, write_value};

fn limits_from(b: u8) -> Limits {
    if b < 0x80 {
        return Limits::default();
    }
    Limits {
        max_bulk: usize::from(b & 7),
        max_elements: usize::from((b >> 3) & 3),
        max_depth: usize::from((b >> 5) & 3),
    }
}

/// Arrays nested in `value` (0 for a value that is no array), checking the limits on
/// the way.
fn check_limits(value: &Value<'_>, limits: &Limits) -> usize {
    match value {
        Value::Simple(text) | Value::Error(text) => {
            assert!(text.len() <= limits.max_bulk, "line over max_bulk");
            assert!(
                !text.iter().any(|&b| b == b'\r' || b == b'\n'),
                "CR or LF in a line"
            );
            0
        }
        Value::Bulk(payload) => {
            assert!(payload.len() <= limits.max_bulk, "bulk over max_bulk");
            0
        }
        Value::Integer(_) | Value::Null => 0,
        Value::Array(items) => {
            assert!(
                items.len() <= limits.max_elements,
                "array over max_elements"
            );
            let depth = 1 + items
                .iter()
                .map(|v| check_limits(v, limits))
                .max()
                .unwrap_or(0);
            assert!(depth <= limits.max_depth, "arrays nested over max_depth");
            depth
        }
    }
}

/// `out` (written) equals `wire` (parsed) but where `wire` has `*-1\r\n` and `out` the
/// `$-1\r\n` that stands for the same null.
fn same_but_nulls(out: &[u8], wire: &[u8]) -> bool {
    out.len() == wire.len()
        && (0..out.len()).all(|i| {
            out[i] == wire[i]
                || (wire[i..].starts_with(b"*-1\r\n") && out[i..].starts_with(b"$-1\r\n"))
        })
}

fn check_event(value: &Value<'_>) {
    use SubscriberEvent as E;
    let reply =
        |kind: &'static [u8], channel, third| Value::Array(vec![Value::Bulk(kind), channel, third]);
    match subscriber_event(value) {
        Some(E::Message { channel, payload }) => assert_eq!(
            *value,
            reply(b"message", Value::Bulk(channel), Value::Bulk(payload))
        ),
        Some(E::Subscribed { channel, count }) => assert_eq!(
            *value,
            reply(b"subscribe", Value::Bulk(channel), Value::Integer(count))
        ),
        Some(E::Unsubscribed { channel, count }) => {
            let bulk = reply(b"unsubscribe", Value::Bulk(channel), Value::Integer(count));
            let null = reply(b"unsubscribe", Value::Null, Value::Integer(count));
            assert!(
                *value == bulk || (channel.is_empty() && *value == null),
                "{value:?}"
            );
        }
        Some(E::Pong) => match value {
            Value::Simple(text) => assert_eq!(*text, b"PONG"),
            Value::Array(items) => {
                assert_eq!(items.len(), 2);
                assert_eq!(items[0], Value::Bulk(b"pong"));
                assert!(matches!(items[1], Value::Bulk(_)), "{value:?}");
            }
            other => panic!("Pong from {other:?}"),
        },
        Some(E::Error(text)) => assert_eq!(*value, Value::Error(text)),
        None => assert!(
            !matches!(value, Value::Error(_)) && *value != Value::Simple(b"PONG"),
            "no event for {value:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let limits = limits_from(first);
    let mut out = Vec::new();
    loop {
        match parse(rest, &limits) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                let longer = [rest, b"\r\n*1\r\n$1\r\nx\r\n"].concat();
                assert_eq!(
                    parse(&longer, &limits),
                    Err(e),
                    "more bytes changed the error"
                );
                return;
            }
            Ok(Parsed::Incomplete) => return,
            Ok(Parsed::Complete { value, consumed }) => {
                assert!((3..=rest.len()).contains(&consumed), "consumed {consumed}");
                let wire = &rest[..consumed];
                out.clear();
                write_value(&mut out, &value);
                assert!(
                    same_but_nulls(&out, wire),
                    "not canonical: parsed {:?}, written back {:?}",
                    String::from_utf8_lossy(wire),
                    String::from_utf8_lossy(&out)
                );
                check_limits(&value, &limits);
                let drawn = (usize::from(first) * 7919 + rest.len()) % consumed;
                for cut in [0, 1, 2, consumed / 2, consumed - 2, consumed - 1, drawn] {
                    assert_eq!(
                        parse(&wire[..cut], &limits),
                        Ok(Parsed::Incomplete),
                        "prefix of {cut} of {consumed} bytes"
                    );
                }
                check_event(&value);
                rest = &rest[consumed..];
            }
        }
    }
});
