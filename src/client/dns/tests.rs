//! Tests of `client::dns`: the trace formatting, the ids, and the shell against a
//! server held by the test. The exchange's own tests, without sockets, are in
//! `exchange/tests.rs`.

use super::error::secs;
use super::exchange::{Query, State};
use super::trace_dns::{FlagNames, Mismatch};
use super::*;
use crate::proto::dns::{self, Flags, Message};
use std::net::UdpSocket;

#[test]
fn durations() {
    assert_eq!(secs(Duration::from_secs(2)), "2 s");
    assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
    assert_eq!(secs(Duration::from_millis(1250)), "1.25 s");
}

#[test]
fn flag_names() {
    assert_eq!(FlagNames(Flags::query(true)).to_string(), " rd");
    assert_eq!(FlagNames(Flags::from_bits(0)).to_string(), "");
    // QR AA RD RA, rcode 3.
    assert_eq!(
        FlagNames(Flags::from_bits(0x8583)).to_string(),
        " qr aa rd ra"
    );
    // Every bit, opcode 5 (UPDATE).
    assert_eq!(
        FlagNames(Flags::from_bits(0xaff0)).to_string(),
        " opcode=5 qr aa tc rd ra z ad cd"
    );
}

#[test]
fn ids_differ_even_when_the_draws_clash() {
    let mut draws = [7u16, 7, 8, u16::MAX, u16::MAX].into_iter();
    let ids = fresh_ids(5, || draws.next().unwrap());
    assert_eq!(ids, [7, 8, 9, u16::MAX, 0]);
}

fn query(id: u16, name: &str, state: State) -> Query {
    let question = question(name.parse().unwrap(), RType::A);
    Query {
        id,
        wire: dns::query(id, &question.name, question.qtype, true),
        question,
        state,
        malformed: None,
    }
}

fn response(id: u16, name: &str, qr: bool) -> Message {
    let mut m = Message::query(id, name.parse().unwrap(), RType::A, true);
    m.header.flags.qr = qr;
    m
}

#[test]
fn mismatches_say_why() {
    let queries = [
        query(7, "www.example.test", State::Udp),
        query(8, "www.example.test", State::Tcp),
    ];
    let why = |m: &Message, t| Mismatch(m, &queries, t).to_string();
    let udp = Transport::Udp;
    assert_eq!(
        why(&response(7, "www.example.test", false), udp),
        "id=7 is not a response (QR bit clear)"
    );
    assert_eq!(
        why(&response(9, "www.example.test", true), udp),
        "id=9 is none of our queries (a stray or late datagram)"
    );
    assert_eq!(
        why(&response(8, "www.example.test", true), udp),
        "id=8: that query is now asked over TCP"
    );
    assert_eq!(
        why(&response(7, "other.example.test", true), udp),
        "id=7 is ours, but it answers IN A other.example.test. instead of \
         IN A www.example.test."
    );
}

/// The loop against a server held by the test: a stray datagram first, then the
/// answer; then a server that never answers, so both tries time out.
#[test]
fn answers_strays_and_timeouts() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr = server.local_addr().unwrap();
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 600];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        let query = buf[..n].to_vec();
        server.send_to(b"\x00", from).unwrap();
        let mut answer = query;
        answer[2] |= 0x80; // QR
        server.send_to(&answer, from).unwrap();
        server
    });
    let name: Name = "www.example.test".parse().unwrap();
    let outcomes = ask(
        addr,
        Duration::from_secs(5),
        false,
        &[question(name.clone(), RType::A)],
    )
    .unwrap();
    let silent = responder.join().unwrap();
    match outcomes.as_slice() {
        [Ok((m, Transport::Udp))] => {
            assert!(m.header.flags.qr);
            assert_eq!(m.questions[0].name, name);
        }
        other => panic!("{other:?}"),
    }

    let started = Instant::now();
    let outcomes = ask(
        addr,
        Duration::from_millis(50),
        false,
        &[question(name, RType::AAAA)],
    )
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    match outcomes.as_slice() {
        [Err(QueryError::Timeout { tries: 2, .. })] => {}
        other => panic!("{other:?}"),
    }
    drop(silent);
}
