//! The exchange over TCP, after a truncated UDP answer: the framed query, the answer
//! across reads, the connection closed early, timed out or failed.

use super::*;

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let (t0, t1) = (Instant::now(), Instant::now() + ms(5));
    let mut ex = start(&[www(RType::A)], t0);
    take(&mut ex);
    ex.handle(
        Event::UdpReceived(&wire(&truncated(100, &www(RType::A)))),
        t1,
    );
    let outputs = take(&mut ex);
    assert_eq!(actions(&outputs), [&Output::ConnectTcp]);
    assert_eq!(
        notes(&outputs),
        [
            "A www.example.test.: the answer from 192.0.2.53:53 over UDP was truncated (TC); \
             asking again over TCP",
            "connecting to 192.0.2.53:53 over TCP",
        ]
    );
    // Nothing is written before the shell has started connecting.
    ex.handle(Event::TcpOpened, t1);
    let query = dns::query(100, &www(RType::A).name, RType::A, true);
    let written = take(&mut ex);
    assert_eq!(actions(&written), [&Output::WriteTcp(framed(&query))]);
    assert_eq!(
        traced(&written, Layer::Dns),
        ["dns < query id=100 rd A www.example.test. (TCP)"]
    );
    // UDP is not waited for any more: only the TCP deadline counts.
    assert_eq!(ex.poll_timeout(), Some(t1 + TIMEOUT));
    ex.handle(Event::TcpConnected, t1);
    assert_eq!(
        notes(&take(&mut ex)),
        ["connected to 192.0.2.53:53 over TCP"]
    );

    // The answer in three reads: inside the length, inside the message, the rest.
    let answer = response(
        100,
        &www(RType::A),
        vec![a_record("www.example.test", [192, 0, 2, 9])],
    );
    let stream = framed(&wire(&answer));
    for chunk in [&stream[..1], &stream[1..20], &stream[20..]] {
        assert!(!ex.is_done());
        assert!(actions(&take(&mut ex)).is_empty());
        ex.handle(Event::TcpReceived(chunk), t1 + ms(1));
    }
    assert!(ex.is_done());
    assert_eq!(actions(&take(&mut ex)), [&Output::CloseTcp]);
    assert!(matches!(single(ex), Ok((m, Transport::Tcp)) if m == answer));
}

#[test]
fn a_truncated_malformed_answer_is_asked_again_over_tcp() {
    let t0 = Instant::now();
    let mut ex = start(&[www(RType::A)], t0);
    take(&mut ex);
    ex.handle(Event::UdpReceived(&malformed_answer(true)), t0);
    let outputs = take(&mut ex);
    assert_eq!(actions(&outputs), [&Output::ConnectTcp]);
    assert!(
        traced(&outputs, Layer::Dns).contains(
            &"dns truncated (TC) and cut mid-record: asking A www.example.test. again over TCP"
        ),
        "{outputs:?}"
    );
}

#[test]
fn tcp_closed_before_the_answer_is_closed_early() {
    let t0 = Instant::now();
    let mut ex = over_tcp(t0, t0);
    let answer = framed(&wire(&response(100, &www(RType::A), vec![])));
    ex.handle(Event::TcpReceived(&answer[..answer.len() - 1]), t0);
    assert!(!ex.is_done());
    ex.handle(Event::TcpClosed, t0);
    assert_eq!(actions(&take(&mut ex)), [&Output::CloseTcp]);
    assert_failed!(
        ex,
        QueryError::ClosedEarly(_),
        "192.0.2.53:53 closed the TCP connection before answering"
    );
}

#[test]
fn tcp_times_out_after_one_try() {
    let (t0, t1) = (Instant::now(), Instant::now() + ms(700));
    let mut ex = over_tcp(t0, t1);
    // The UDP deadline has no say any more.
    ex.handle_timeout(t0 + TIMEOUT);
    assert!(take(&mut ex).is_empty());
    ex.handle_timeout(t1 + TIMEOUT);
    let outputs = take(&mut ex);
    assert_eq!(actions(&outputs), [&Output::CloseTcp]);
    assert_eq!(
        traced(&outputs, Layer::Dns),
        ["dns timeout: no answer over TCP within 2 s; giving up"]
    );
    assert_failed!(
        ex,
        QueryError::Timeout {
            transport: Transport::Tcp,
            tries: 1,
            ..
        },
        "no answer from 192.0.2.53:53 over TCP within 2 s (the UDP answer was truncated)"
    );
}

#[test]
fn tcp_errors_are_refused_or_io() {
    let t0 = Instant::now();
    // Refused at the connect: nothing to write, nothing to close.
    let mut ex = start(&[www(RType::A)], t0);
    take(&mut ex);
    ex.handle(
        Event::UdpReceived(&wire(&truncated(100, &www(RType::A)))),
        t0,
    );
    assert_eq!(actions(&take(&mut ex)), [&Output::ConnectTcp]);
    let event = Event::TcpOpenFailed {
        what: "connect to",
        error: refused(),
    };
    ex.handle(event, t0);
    assert!(actions(&take(&mut ex)).is_empty());
    assert_failed!(
        ex,
        QueryError::Refused(_, Transport::Tcp),
        "connection refused by 192.0.2.53:53 over TCP — the answer was too big for UDP \
         and the server does not take TCP"
    );

    // Failing once connected: the connection is closed.
    let mut ex = over_tcp(t0, t0);
    let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer");
    ex.handle(Event::TcpFailed(reset), t0);
    assert_eq!(actions(&take(&mut ex)), [&Output::CloseTcp]);
    assert_failed!(
        ex,
        QueryError::Io(..),
        "cannot talk over TCP to 192.0.2.53:53: reset by peer"
    );
}

#[test]
fn a_malformed_tcp_answer_fails_its_query() {
    let t0 = Instant::now();
    let mut ex = over_tcp(t0, t0);
    let mut bad = wire(&response(100, &www(RType::A), vec![]));
    bad.truncate(bad.len() - 2);
    ex.handle(Event::TcpReceived(&framed(&bad)), t0);
    assert_eq!(actions(&take(&mut ex)), [&Output::CloseTcp]);
    assert!(matches!(single(ex), Err(QueryError::Malformed(..))));
}
