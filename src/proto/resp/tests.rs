//! Tests of `proto::resp`: each type (with the protocol spec's examples), nulls,
//! nesting, every error, limits from the header, the writers, subscriber events, and
//! property tests of the round trip and of incremental input.

use super::*;
use RespError as E;
use Value::{Array, Bulk, Integer, Null, Simple};
use proptest::collection::vec;
use proptest::prelude::*;

fn parse_default(buf: &[u8]) -> Result<Parsed<Value<'_>>, RespError> {
    parse(buf, &Limits::default())
}

fn ok(buf: &[u8]) -> (Value<'_>, usize) {
    match parse_default(buf) {
        Ok(Parsed::Complete { value, consumed }) => (value, consumed),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

fn incomplete(buf: &[u8]) -> bool {
    parse_default(buf) == Ok(Parsed::Incomplete)
}

fn complete_with(buf: &[u8], limits: &Limits) -> bool {
    matches!(parse(buf, limits), Ok(Parsed::Complete { .. }))
}

fn limits(max_bulk: usize, max_elements: usize, max_depth: usize) -> Limits {
    Limits {
        max_bulk,
        max_elements,
        max_depth,
    }
}

fn encode(value: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

/// `wire` with each `*-1\r\n` as `$-1\r\n`, the one null `write_value` writes.
fn null_as_bulk(wire: &[u8]) -> Vec<u8> {
    let mut out = wire.to_vec();
    for i in 0..out.len() {
        if out[i..].starts_with(b"*-1\r\n") {
            out[i] = b'$';
        }
    }
    out
}

/// Each one whole; every strict prefix Incomplete; with more after it, the same value
/// and `consumed`; written back, the same bytes (but `*-1`, written as `$-1`).
#[test]
fn each_type() {
    let wrongtype = b"WRONGTYPE Operation against a key holding the wrong kind of value";
    let spec_error = [&b"-"[..], wrongtype, b"\r\n"].concat();
    let cases: &[(&[u8], Value<'_>)] = &[
        (b"+OK\r\n", Simple(b"OK")),
        (b"+\r\n", Simple(b"")),
        (b"+hello world\r\n", Simple(b"hello world")),
        // Any byte but CR and LF is text.
        (b"+\x00\xff\t\r\n", Simple(b"\x00\xff\t")),
        (b"-Error message\r\n", Value::Error(b"Error message")),
        (
            b"-ERR unknown command 'asdf'\r\n",
            Value::Error(b"ERR unknown command 'asdf'"),
        ),
        (&spec_error, Value::Error(wrongtype)),
        (b":0\r\n", Integer(0)),
        (b":1000\r\n", Integer(1000)),
        (b":-1\r\n", Integer(-1)),
        (b":9223372036854775807\r\n", Integer(i64::MAX)),
        (b":-9223372036854775808\r\n", Integer(i64::MIN)),
        (b"$5\r\nhello\r\n", Bulk(b"hello")),
        (b"$0\r\n\r\n", Bulk(b"")),
        // Binary-safe: CR, LF and CRLF inside the payload are payload.
        (b"$4\r\na\r\nb\r\n", Bulk(b"a\r\nb")),
        (b"$2\r\n\n\r\r\n", Bulk(b"\n\r")),
        (b"$-1\r\n", Null),
        (b"*-1\r\n", Null),
        (b"*0\r\n", Array(vec![])),
        (
            b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n",
            Array(vec![Bulk(b"hello"), Bulk(b"world")]),
        ),
        (
            b"*3\r\n:1\r\n:2\r\n:3\r\n",
            Array(vec![Integer(1), Integer(2), Integer(3)]),
        ),
        (
            b"*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n",
            Array(vec![Bulk(b"hello"), Null, Bulk(b"world")]),
        ),
        (
            b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
            Array(vec![
                Array(vec![Integer(1), Integer(2), Integer(3)]),
                Array(vec![Simple(b"Hello"), Value::Error(b"World")]),
            ]),
        ),
        (
            b"*2\r\n*-1\r\n*1\r\n*0\r\n",
            Array(vec![Null, Array(vec![Array(vec![])])]),
        ),
    ];
    for (wire, want) in cases {
        let show = String::from_utf8_lossy(wire);
        assert_eq!(ok(wire), (want.clone(), wire.len()), "{show:?}");
        for cut in 0..wire.len() {
            assert!(incomplete(&wire[..cut]), "{show:?} cut at {cut}");
        }
        let more = [wire, &b"+next\r\n"[..]].concat();
        assert_eq!(ok(&more), (want.clone(), wire.len()), "{show:?} and more");
        assert_eq!(encode(want), null_as_bulk(wire), "{show:?} written back");
    }
}

#[test]
fn values_in_a_stream() {
    let stream = b"+OK\r\n:7\r\n$3\r\nabc\r\n*1\r\n+x\r\n$-1\r\n+rest";
    let mut rest = &stream[..];
    let mut seen = Vec::new();
    while let Ok(Parsed::Complete { value, consumed }) = parse_default(rest) {
        seen.push(value);
        rest = &rest[consumed..];
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], Null);
    assert_eq!(rest, b"+rest");
}

/// Every error kind, each as soon as the bytes that show it are here (several cases
/// end before their line does), and still the same error with more bytes after it.
#[test]
fn every_error() {
    let len = i64::MAX as u64;
    let cases: &[(&[u8], RespError)] = &[
        // Not RESP2: an inline command, RESP3 types, a stray line end.
        (b"PING\r\n", E::UnknownType(b'P')),
        (b"_\r\n", E::UnknownType(b'_')),
        (b"%1\r\n", E::UnknownType(b'%')),
        (b">", E::UnknownType(b'>')),
        (b"\r\n", E::UnknownType(b'\r')),
        (b"*2\r\n:1\r\n~", E::UnknownType(b'~')),
        // Lengths: -1 or canonical digits.
        (b"$+5\r\nhello\r\n", E::BadLength),
        (b"$05\r\nhello\r\n", E::BadLength),
        (b"$-0\r\n", E::BadLength),
        (b"$-2\r\n", E::BadLength),
        (b"$-01", E::BadLength),
        (b"$\r\n", E::BadLength),
        (b"$ 5\r\n", E::BadLength),
        (b"$1-", E::BadLength),
        (b"$99999999999999999999", E::BadLength),
        (b"*01\r\n", E::BadLength),
        (b"*-2\r\n", E::BadLength),
        (b"*\r\n", E::BadLength),
        // Integers: canonical digits within i64.
        (b":+", E::BadInteger),
        (b":01\r\n", E::BadInteger),
        (b":-0\r\n", E::BadInteger),
        (b":-01\r\n", E::BadInteger),
        (b":\r\n", E::BadInteger),
        (b":1a\r\n", E::BadInteger),
        (b": 1\r\n", E::BadInteger),
        (b":9223372036854775808\r\n", E::BadInteger),
        (b":-9223372036854775809\r\n", E::BadInteger),
        (b":100000000000000000000", E::BadInteger),
        // Line ends: CRLF, and no CR or LF inside a line.
        (b"+OK\n", E::BareLf),
        (b"+a\nb\r\n", E::BareLf),
        (b":1\n", E::BareLf),
        (b"$1\n", E::BareLf),
        (b"+a\rb\r\n", E::ControlInLine),
        (b"+\r\r\n", E::ControlInLine),
        (b":1\r1\n", E::ControlInLine),
        (b"$1\r\r", E::ControlInLine),
        (b"$3\r\nabcd\r\n", E::MissingCrlf),
        (b"$3\r\nabc\n\n", E::MissingCrlf),
        (b"$3\r\nabcX", E::MissingCrlf),
        // Limits, from the header: the defaults are 1 MiB + 4 KiB, 1024, 4.
        (b"$2000000\r\n", E::BulkTooLong { len: 2_000_000 }),
        (b"$1052673\r\n", E::BulkTooLong { len: 1_052_673 }),
        (b"$9223372036854775807\r\n", E::BulkTooLong { len }),
        (b"*1\r\n$2000000\r\n", E::BulkTooLong { len: 2_000_000 }),
        (b"*1025\r\n", E::TooManyElements { len: 1025 }),
        (b"*1\r\n*1\r\n*1\r\n*1\r\n*0\r\n", E::TooDeep),
    ];
    for (wire, want) in cases {
        let show = String::from_utf8_lossy(wire);
        assert_eq!(parse_default(wire), Err(*want), "{show:?}");
        let longer = [wire, &b"\r\n$1\r\nx\r\n"[..]].concat();
        assert_eq!(parse_default(&longer), Err(*want), "{show:?} and more");
    }
}

#[test]
fn limits_at_and_over() {
    let small = limits(4, 2, 2);
    for at in [
        &b"$4\r\nabcd\r\n"[..],
        b"+abcd\r\n",
        b"-abcd\r\n",
        b"*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n",
        b"*1\r\n*1\r\n*-1\r\n", // a null array is no nesting
    ] {
        assert!(complete_with(at, &small), "{at:?}");
    }
    let over: &[(&[u8], RespError)] = &[
        (b"$5\r\n", E::BulkTooLong { len: 5 }),
        (b"+abcde", E::LineTooLong),
        (b"-abcde\r\n", E::LineTooLong),
        (b"*3\r\n", E::TooManyElements { len: 3 }),
        (b"*1\r\n*1\r\n*0\r\n", E::TooDeep),
    ];
    for (wire, want) in over {
        assert_eq!(parse(wire, &small), Err(*want), "{wire:?}");
    }
    let flat = limits(4, 2, 0);
    assert_eq!(parse(b"*0\r\n", &flat), Err(E::TooDeep));
    assert!(complete_with(b"*-1\r\n", &flat));
    // The default depth: four arrays, not five (above).
    assert!(matches!(ok(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").0, Array(_)));
}

#[test]
fn big_payloads_wait_for_their_bytes() {
    // A bulk at the limit: Incomplete from its header on, whole once it is all here.
    let mut big = b"$1052672\r\n".to_vec();
    assert!(incomplete(&big));
    big.resize(big.len() + (1 << 20), b'x');
    assert!(incomplete(&big));
    big.resize(big.len() + 4096, b'\n');
    big.extend_from_slice(b"\r\n");
    assert_eq!(ok(&big), (Bulk(&big[10..big.len() - 2]), big.len()));
    // A line that never ends is refused once it is over the limit.
    let mut line = vec![b'+'];
    line.resize(1 + (1 << 20) + 4096, b'a');
    assert!(incomplete(&line));
    line.push(b'a');
    assert_eq!(parse_default(&line), Err(E::LineTooLong));
}

#[test]
fn error_messages() {
    for e in [
        E::UnknownType(b'P'),
        E::UnknownType(0),
        E::BadLength,
        E::BadInteger,
        E::BareLf,
        E::ControlInLine,
        E::MissingCrlf,
        E::LineTooLong,
        E::BulkTooLong { len: 10 },
        E::TooManyElements { len: 10 },
        E::TooDeep,
    ] {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        assert!(!text.ends_with('.') && text.len() < 80, "{text}");
    }
    assert!(E::UnknownType(b'P').to_string().contains("'P'"));
    assert!(E::UnknownType(0).to_string().contains("0x00"));
    assert_eq!(
        E::BulkTooLong { len: 2_000_000 }.to_string(),
        "bulk string of 2000000 bytes over the limit"
    );
}

#[test]
fn writing_commands() {
    let mut out = b"kept".to_vec();
    write_command(&mut out, &[b"SUBSCRIBE", b"news"]);
    assert_eq!(out, b"kept*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n");
    out.clear();
    write_command(&mut out, &[b"PUBLISH", b"ch", b"a\r\nb", b""]);
    assert_eq!(
        out,
        b"*4\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$4\r\na\r\nb\r\n$0\r\n\r\n"
    );
    out.clear();
    write_command(&mut out, &[]);
    assert_eq!(out, b"*0\r\n");
    // Appends, as write_value does.
    write_value(&mut out, &Integer(-42));
    assert_eq!(out, b"*0\r\n:-42\r\n");
}

/// `[kind, channel, third]` as Redis sends it, the kind a bulk string.
fn reply<'a>(kind: &'a [u8], channel: Value<'a>, third: Value<'a>) -> Value<'a> {
    Array(vec![Bulk(kind), channel, third])
}

#[test]
fn subscriber_events() {
    use SubscriberEvent as S;
    let wire = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    let (channel, payload) = (&b"news"[..], &b"hello"[..]);
    assert_eq!(
        subscriber_event(&ok(wire).0),
        Some(S::Message { channel, payload })
    );

    let (channel, payload, count) = (&b"c"[..], &b"p"[..], 3);
    let cases = [
        (
            reply(b"message", Bulk(channel), Bulk(payload)),
            S::Message { channel, payload },
        ),
        (
            reply(b"subscribe", Bulk(channel), Integer(3)),
            S::Subscribed { channel, count },
        ),
        (
            reply(b"unsubscribe", Bulk(channel), Integer(3)),
            S::Unsubscribed { channel, count },
        ),
        (Array(vec![Bulk(b"pong"), Bulk(b"")]), S::Pong),
        (Array(vec![Bulk(b"pong"), Bulk(b"data")]), S::Pong),
        (Simple(b"PONG"), S::Pong),
        (Value::Error(b"ERR Can't"), S::Error(b"ERR Can't")),
    ];
    for (value, want) in cases {
        assert_eq!(subscriber_event(&value), Some(want), "{value:?}");
    }
    // UNSUBSCRIBE with nothing subscribed: a null channel, given as empty.
    let (channel, count) = (&b""[..], 0);
    let none_left = reply(b"unsubscribe", Null, Integer(0));
    assert_eq!(
        subscriber_event(&none_left),
        Some(S::Unsubscribed { channel, count })
    );

    let c = &b"c"[..];
    for unexpected in [
        Simple(b"OK"),
        Simple(b"pong"),
        Integer(1),
        Bulk(b"message"),
        Null,
        Array(vec![]),
        reply(b"Message", Bulk(c), Bulk(b"p")),
        Array(vec![Simple(b"message"), Bulk(c), Bulk(b"p")]),
        Array(vec![Bulk(b"message"), Bulk(c)]),
        Array(vec![Bulk(b"pmessage"), Bulk(b"*"), Bulk(c), Bulk(b"p")]),
        reply(b"message", Bulk(c), Integer(1)),
        reply(b"message", Null, Bulk(b"p")),
        reply(b"subscribe", Bulk(c), Bulk(b"1")),
        reply(b"subscribe", Null, Integer(1)),
        reply(b"unsubscribe", Integer(5), Integer(1)),
        reply(b"pong", Bulk(c), Integer(1)),
        Array(vec![Bulk(b"pong")]),
        Array(vec![Bulk(b"PONG"), Bulk(b"")]),
    ] {
        assert_eq!(subscriber_event(&unexpected), None, "{unexpected:?}");
    }
}

/// An owned value for proptest to generate; [`view`] borrows it as a [`Value`].
#[derive(Clone, Debug)]
enum Tree {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    Null,
    Array(Vec<Tree>),
}

fn view(tree: &Tree) -> Value<'_> {
    match tree {
        Tree::Simple(s) => Value::Simple(s),
        Tree::Error(s) => Value::Error(s),
        Tree::Integer(n) => Value::Integer(*n),
        Tree::Bulk(b) => Value::Bulk(b),
        Tree::Null => Value::Null,
        Tree::Array(items) => Value::Array(items.iter().map(view).collect()),
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    // Simple strings and errors: any bytes but CR and LF.
    let text = || {
        vec(any::<u8>(), 0..12).prop_map(|mut t| {
            t.retain(|b| !b"\r\n".contains(b));
            t
        })
    };
    let payload = vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..24);
    let int = prop_oneof![any::<i64>(), -20i64..20, Just(i64::MIN), Just(i64::MAX)];
    let leaf = prop_oneof![
        text().prop_map(Tree::Simple),
        text().prop_map(Tree::Error),
        int.prop_map(Tree::Integer),
        payload.prop_map(Tree::Bulk),
        Just(Tree::Null),
    ];
    // Three levels of arrays at most: within the default max_depth of 4.
    leaf.prop_recursive(3, 48, 6, |inner| vec(inner, 0..6).prop_map(Tree::Array))
}

proptest! {
    /// write_value then parse gives the same value and consumes everything.
    #[test]
    fn written_values_read_back(t in tree()) {
        let value = view(&t);
        let wire = encode(&value);
        prop_assert_eq!(
            parse(&wire, &Limits::default()),
            Ok(Parsed::Complete { value, consumed: wire.len() })
        );
    }

    /// Every strict prefix of an encoding is Incomplete, never an error.
    #[test]
    fn prefixes_are_incomplete(t in tree()) {
        let wire = encode(&view(&t));
        for cut in 0..wire.len() {
            prop_assert_eq!(parse(&wire[..cut], &Limits::default()), Ok(Parsed::Incomplete), "cut {}", cut);
        }
    }

    /// A value followed by anything parses as that value, and says where it ended.
    #[test]
    fn garbage_after_a_value_is_left(t in tree(), garbage in vec(any::<u8>(), 0..16)) {
        let value = view(&t);
        let mut wire = encode(&value);
        let len = wire.len();
        wire.extend_from_slice(&garbage);
        prop_assert_eq!(
            parse(&wire, &Limits::default()),
            Ok(Parsed::Complete { value, consumed: len })
        );
    }

    /// Any bytes get an answer; an error stays the same error whatever follows it; a
    /// complete value is canonical (reads back from its own encoding, same length).
    #[test]
    fn any_bytes(
        bytes in vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'*'), Just(b'$'), any::<u8>()], 0..48),
        more in vec(any::<u8>(), 1..8),
    ) {
        let limits = limits(8, 4, 2);
        match parse(&bytes, &limits) {
            Err(e) => {
                let longer = [&bytes[..], &more[..]].concat();
                prop_assert_eq!(parse(&longer, &limits), Err(e));
            }
            Ok(Parsed::Complete { value, consumed }) => {
                prop_assert!(consumed <= bytes.len());
                prop_assert_eq!(encode(&value).len(), consumed);
            }
            Ok(Parsed::Incomplete) => {}
        }
    }
}
