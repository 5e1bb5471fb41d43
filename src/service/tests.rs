//! Services driven without sockets: bytes in, bytes out.

use super::*;
use crate::proto::command::After;

fn drive(service: Service, chunks: &[&[u8]]) -> (String, After) {
    let mut shared = Shared::seeded(16, 1);
    shared.conns_total = 3;
    let mut session = StreamSession::new(service, 16);
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let mut after = session.on_open(&mut shared, &mut out);
    for chunk in chunks {
        if after == After::Close {
            break;
        }
        after = session.on_data(&mut pending, chunk, &mut shared, &mut out);
    }
    if after == After::Continue {
        session.on_eof(&mut pending, &mut shared, &mut out);
    }
    (String::from_utf8_lossy(&out).into_owned(), after)
}

#[test]
fn echo_is_byte_exact_and_stops_on_stop() {
    assert_eq!(drive(Service::Echo, &[b"ab", b"c\nd"]).0, "abc\nd");
    let (out, after) = drive(Service::Echo, &[b"x\nST", b"OP\r\nnot echoed\n"]);
    assert_eq!(out, "x\nSTOP\r\n");
    assert_eq!(after, After::Close);
}

#[test]
fn counter_and_random() {
    assert_eq!(
        drive(Service::Counter, &[b"a\nb\n"]).0,
        "Client number: 3\nClient number: 3\n"
    );
    assert_eq!(
        drive(Service::Counter, &[b"STOP\nx\n"]),
        (String::new(), After::Close)
    );
    let (out, _) = drive(Service::Random, &[b"5 5\n7 7\n"]);
    assert_eq!(out, "5\n7\n");
    let (out, _) = drive(Service::Random, &[b"hello\n"]);
    let n: i64 = out.trim().parse().unwrap();
    assert!((1..=1000).contains(&n));
}

#[test]
fn cmd_lines_across_chunks_and_last_line_without_newline() {
    let (out, after) = drive(Service::Cmd, &[b"ECHO he", b"llo\r\nADD 1 2\nECHO end"]);
    assert_eq!(out, "hello\n3\nend\n");
    assert_eq!(after, After::Continue);
}

#[test]
fn cmd_line_too_long_then_goes_on() {
    let long = [b'x'; 40];
    let (out, _) = drive(Service::Cmd, &[&long, &long, b"\nECHO ok\n"]);
    assert_eq!(out, "ERR line too long (max 16 bytes)\nok\n");
}

#[test]
fn daytime_talks_first_and_closes() {
    let (out, after) = drive(Service::Daytime, &[b"ignored"]);
    assert_eq!(after, After::Close);
    assert!(out.ends_with("Z\n") && out.len() == 21, "{out:?}");
}

#[test]
fn datagrams() {
    let mut shared = Shared::seeded(16, 1);
    let mut out = Vec::new();
    on_datagram(Service::Cmd, b"ADD 2 2\n", &mut shared, &mut out);
    assert_eq!(out, b"4\n");
    out.clear();
    on_datagram(Service::Echo, b"raw\r\n", &mut shared, &mut out);
    assert_eq!(out, b"raw\r\n");
    out.clear();
    on_datagram(Service::Random, b"9 9", &mut shared, &mut out);
    assert_eq!(out, b"9\n");
    out.clear();
    on_datagram(Service::Cmd, &[b'x'; 17], &mut shared, &mut out);
    assert_eq!(out, b"ERR line too long (max 16 bytes)\n");
    assert_eq!(shared.requests, 4);
}
