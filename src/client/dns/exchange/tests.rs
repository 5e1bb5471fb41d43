//! The exchange without sockets: events and instants in, outputs and outcomes out.
//! Messages are built with `proto::dns`; the ids are 100, 101, ... in question order.
//! UDP in `tests/udp.rs`, TCP in `tests/tcp.rs`; here the helpers, and what concerns
//! the exchange as a whole.

use super::*;
use crate::proto::dns::{Class, RData, RType, Record};
use std::net::Ipv4Addr;

const TIMEOUT: Duration = Duration::from_secs(2);

fn server() -> SocketAddr {
    "192.0.2.53:53".parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn question(name: &str, qtype: RType) -> Question {
    Question {
        name: name.parse().unwrap(),
        qtype,
        qclass: Class::IN,
    }
}

fn www(qtype: RType) -> Question {
    question("www.example.test", qtype)
}

/// An exchange for `questions`, started at `t0`, every trace layer on.
fn start(questions: &[Question], t0: Instant) -> Exchange {
    let queries = (100..).zip(questions.iter().cloned()).collect();
    Exchange::new(server(), TIMEOUT, queries, |_| true, t0)
}

/// Every output queued, taken as the shell takes them.
fn take(ex: &mut Exchange) -> Vec<Output> {
    std::iter::from_fn(|| ex.poll_output()).collect()
}

/// The outputs that ask for I/O, without the notes and trace lines.
fn actions(outputs: &[Output]) -> Vec<&Output> {
    outputs
        .iter()
        .filter(|o| !matches!(o, Output::Note(_) | Output::Trace(..)))
        .collect()
}

fn notes(outputs: &[Output]) -> Vec<&str> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Note(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn traced(outputs: &[Output], layer: Layer) -> Vec<&str> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Trace(l, line) if *l == layer => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

fn a_record(name: &str, ip: [u8; 4]) -> Record {
    Record {
        name: name.parse().unwrap(),
        class: Class::IN,
        ttl: 60,
        data: RData::A(Ipv4Addr::from(ip)),
    }
}

/// The response to query `id` asking `question`.
fn response(id: u16, question: &Question, answers: Vec<Record>) -> Message {
    let mut m = Message::query(id, question.name.clone(), question.qtype, true);
    m.header.flags.qr = true;
    m.header.flags.ra = true;
    m.answers = answers;
    m
}

fn truncated(id: u16, question: &Question) -> Message {
    let mut m = response(id, question, Vec::new());
    m.header.flags.tc = true;
    m
}

fn wire(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    dns::emit(m, &mut out).unwrap();
    out
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(message.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

fn refused() -> io::Error {
    io::Error::from(io::ErrorKind::ConnectionRefused)
}

/// The exchange for one A question whose UDP answer came back truncated at `t1`, with
/// the TCP connection on its way and the framed query given to write.
fn over_tcp(t0: Instant, t1: Instant) -> Exchange {
    let mut ex = start(&[www(RType::A)], t0);
    take(&mut ex);
    ex.handle(
        Event::UdpReceived(&wire(&truncated(100, &www(RType::A)))),
        t1,
    );
    assert_eq!(actions(&take(&mut ex)), [&Output::ConnectTcp]);
    ex.handle(Event::TcpOpened, t1);
    let query = dns::query(100, &www(RType::A).name, RType::A, true);
    assert_eq!(actions(&take(&mut ex)), [&Output::WriteTcp(framed(&query))]);
    ex
}

/// Asserts that the exchange's one query failed with an error that matches `pattern`
/// and says `text`.
macro_rules! assert_failed {
    ($ex:expr, $pattern:pat, $text:expr) => {
        match single($ex) {
            Err(e @ $pattern) => assert_eq!(e.to_string(), $text),
            other => panic!("{other:?}"),
        }
    };
}

fn single(ex: Exchange) -> Outcome {
    let mut outcomes = ex.outcomes();
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

/// An answer to query 100 with its last byte cut off: the header is ours, the record
/// data ends early.
fn malformed_answer(tc: bool) -> Vec<u8> {
    let mut m = response(
        100,
        &www(RType::A),
        vec![a_record("www.example.test", [192, 0, 2, 1])],
    );
    m.header.flags.tc = tc;
    let mut bytes = wire(&m);
    bytes.pop();
    bytes
}

/// A over UDP and AAAA over TCP in flight at once: the UDP retry resends only A, a
/// datagram answering AAAA is not taken over UDP any more, and each ends on its own
/// transport.
#[test]
fn one_question_over_udp_and_one_over_tcp_at_once() {
    let t0 = Instant::now();
    let (a, aaaa) = (www(RType::A), www(RType::AAAA));
    let mut ex = start(&[a.clone(), aaaa.clone()], t0);
    take(&mut ex);
    ex.handle(
        Event::UdpReceived(&wire(&truncated(101, &aaaa))),
        t0 + ms(10),
    );
    assert_eq!(actions(&take(&mut ex)), [&Output::ConnectTcp]);
    ex.handle(Event::TcpOpened, t0 + ms(10));
    take(&mut ex);
    assert_eq!(ex.poll_timeout(), Some(t0 + TIMEOUT));

    ex.handle_timeout(t0 + TIMEOUT);
    assert_eq!(
        actions(&take(&mut ex)),
        [&Output::SendUdp {
            query: 0,
            datagram: dns::query(100, &a.name, RType::A, true)
        }]
    );
    assert_eq!(ex.poll_timeout(), Some(t0 + ms(10) + TIMEOUT));

    ex.handle(
        Event::UdpReceived(&wire(&response(101, &aaaa, vec![]))),
        t0 + TIMEOUT,
    );
    assert!(
        traced(&take(&mut ex), Layer::Dns)
            .contains(&"dns ignored: id=101: that query is now asked over TCP")
    );
    ex.handle(
        Event::UdpReceived(&wire(&response(100, &a, vec![]))),
        t0 + TIMEOUT,
    );
    assert!(!ex.is_done());
    // The TCP connection now only has AAAA to answer, and the UDP deadline is gone.
    assert_eq!(ex.poll_timeout(), Some(t0 + ms(10) + TIMEOUT));
    let tcp_answer = framed(&wire(&response(101, &aaaa, vec![])));
    ex.handle(Event::TcpReceived(&tcp_answer), t0 + TIMEOUT + ms(1));
    assert!(ex.is_done());
    assert_eq!(actions(&take(&mut ex)), [&Output::CloseTcp]);
    match ex.outcomes().as_slice() {
        [Ok((m0, Transport::Udp)), Ok((m1, Transport::Tcp))] => {
            assert_eq!((m0.header.id, m1.header.id), (100, 101));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_wait_fails_every_waiting_query() {
    let t0 = Instant::now();
    let mut ex = start(&[www(RType::A)], t0);
    take(&mut ex);
    let e = io::Error::other("bad poller");
    ex.handle(Event::WaitFailed(e), t0);
    assert_failed!(
        ex,
        QueryError::Io(..),
        "cannot wait for an answer from 192.0.2.53:53: bad poller"
    );
}

#[test]
fn no_trace_lines_unless_traced() {
    let t0 = Instant::now();
    let queries = vec![(100, www(RType::A))];
    let mut ex = Exchange::new(server(), TIMEOUT, queries, |_| false, t0);
    let mut outputs = take(&mut ex);
    ex.handle(Event::UdpReceived(b"\x00"), t0);
    ex.handle(
        Event::UdpReceived(&wire(&truncated(100, &www(RType::A)))),
        t0,
    );
    ex.handle(Event::TcpOpened, t0);
    ex.handle_timeout(t0 + TIMEOUT * 2);
    outputs.extend(take(&mut ex));
    assert!(
        !outputs.iter().any(|o| matches!(o, Output::Trace(..))),
        "{outputs:?}"
    );
    // The notes are made either way: printing them is the shell's choice.
    assert_eq!(notes(&outputs).len(), 3, "{outputs:?}");
}

mod tcp;
mod udp;
