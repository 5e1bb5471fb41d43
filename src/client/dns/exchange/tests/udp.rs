//! The exchange over UDP: matching, strays, the retry and give-up, malformed answers,
//! and the socket's errors.

use super::*;

#[test]
fn answers_are_matched_by_id_and_question() {
    let t0 = Instant::now();
    let (a, aaaa) = (www(RType::A), www(RType::AAAA));
    let mut ex = start(&[a.clone(), aaaa.clone()], t0);
    let first = take(&mut ex);
    assert_eq!(
        actions(&first),
        [
            &Output::SendUdp {
                query: 0,
                datagram: dns::query(100, &a.name, RType::A, true)
            },
            &Output::SendUdp {
                query: 1,
                datagram: dns::query(101, &aaaa.name, RType::AAAA, true)
            },
        ]
    );
    assert_eq!(
        notes(&first),
        [
            "asking 192.0.2.53:53 over UDP: A www.example.test.",
            "asking 192.0.2.53:53 over UDP: AAAA www.example.test.",
        ]
    );
    assert_eq!(
        traced(&first, Layer::Dns),
        [
            "dns < query id=100 rd A www.example.test. (UDP)",
            "dns < query id=101 rd AAAA www.example.test. (UDP)",
        ]
    );
    assert_eq!(ex.poll_timeout(), Some(t0 + TIMEOUT));

    // The second question's answer first: each goes to its own query.
    ex.handle(Event::UdpReceived(&wire(&response(101, &aaaa, vec![]))), t0);
    assert!(!ex.is_done());
    let answer = response(100, &a, vec![a_record("www.example.test", [192, 0, 2, 1])]);
    ex.handle(Event::UdpReceived(&wire(&answer)), t0 + ms(3));
    assert!(ex.is_done());
    assert_eq!(ex.poll_timeout(), None);
    assert!(actions(&take(&mut ex)).is_empty());
    match ex.outcomes().as_slice() {
        [Ok((m0, Transport::Udp)), Ok((m1, Transport::Udp))] => {
            assert_eq!(*m0, answer);
            assert_eq!((m1.header.id, m1.answers.len()), (101, 0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stray_datagrams_are_ignored() {
    let t0 = Instant::now();
    let a = www(RType::A);
    let mut ex = start(std::slice::from_ref(&a), t0);
    take(&mut ex);
    let mut not_a_response = response(100, &a, vec![]);
    not_a_response.header.flags.qr = false;
    let strays = [
        wire(&response(7, &a, vec![])),
        wire(&response(
            100,
            &question("other.example.test", RType::A),
            vec![],
        )),
        wire(&response(100, &www(RType::AAAA), vec![])),
        wire(&not_a_response),
        b"\x00".to_vec(),
    ];
    let mut outputs = Vec::new();
    for (i, stray) in strays.iter().enumerate() {
        ex.handle(Event::UdpReceived(stray), t0 + ms(i as u64));
        outputs.extend(take(&mut ex));
    }
    let ignored: Vec<&str> = traced(&outputs, Layer::Dns)
        .into_iter()
        .filter(|l| l.starts_with("dns ignored"))
        .collect();
    assert_eq!(
        ignored,
        [
            "dns ignored: id=7 is none of our queries (a stray or late datagram)",
            "dns ignored: id=100 is ours, but it answers IN A other.example.test. instead of \
             IN A www.example.test.",
            "dns ignored: id=100 is ours, but it answers IN AAAA www.example.test. instead of \
             IN A www.example.test.",
            "dns ignored: id=100 is not a response (QR bit clear)",
            "dns ignored: 1 bytes are too few for a DNS header",
        ]
    );
    assert_eq!(
        notes(&outputs),
        [
            "ignored a datagram that answers none of our questions (id 0x0007)",
            "ignored a datagram that answers none of our questions (id 0x0064)",
            "ignored a datagram that answers none of our questions (id 0x0064)",
            "ignored a datagram that answers none of our questions (id 0x0064)",
        ]
    );
    assert!(actions(&outputs).is_empty());
    assert!(!ex.is_done());
    assert_eq!(ex.poll_timeout(), Some(t0 + TIMEOUT));
    ex.handle(Event::UdpReceived(&wire(&response(100, &a, vec![]))), t0);
    assert!(matches!(single(ex), Ok((_, Transport::Udp))));
}

#[test]
fn retries_once_after_the_timeout_then_gives_up() {
    let t0 = Instant::now();
    let mut ex = start(&[www(RType::A)], t0);
    let first = take(&mut ex);
    ex.handle_timeout(t0 + TIMEOUT - ms(1));
    assert!(take(&mut ex).is_empty());

    ex.handle_timeout(t0 + TIMEOUT);
    let again = take(&mut ex);
    // The same datagram, with the same id.
    assert_eq!(actions(&again), actions(&first));
    assert_eq!(
        notes(&again),
        [
            "no answer from 192.0.2.53:53 within 2 s; asking again",
            "asking 192.0.2.53:53 over UDP: A www.example.test. (again)",
        ]
    );
    assert_eq!(
        traced(&again, Layer::Dns),
        [
            "dns timeout: no answer over UDP within 2 s; sending again",
            "dns < query id=100 rd A www.example.test. (UDP, try 2 of 2)",
        ]
    );
    assert_eq!(ex.poll_timeout(), Some(t0 + TIMEOUT * 2));

    ex.handle_timeout(t0 + TIMEOUT * 2);
    assert!(actions(&take(&mut ex)).is_empty());
    assert!(ex.is_done());
    assert_failed!(
        ex,
        QueryError::Timeout {
            transport: Transport::Udp,
            tries: 2,
            ..
        },
        "no answer from 192.0.2.53:53 within 2 s (tried 2 times)"
    );
}

#[test]
fn a_malformed_answer_is_reported_only_if_nothing_better_comes() {
    let t0 = Instant::now();
    let malformed = malformed_answer(false);
    let mut ex = start(&[www(RType::A)], t0);
    take(&mut ex);
    ex.handle(Event::UdpReceived(&malformed), t0 + ms(1));
    assert_eq!(
        notes(&take(&mut ex)),
        [
            "a malformed answer from 192.0.2.53:53 (message ends inside the record data); \
          still waiting"
        ]
    );
    assert!(!ex.is_done());
    // A good answer after it wins.
    let good = response(100, &www(RType::A), vec![]);
    ex.handle(Event::UdpReceived(&wire(&good)), t0 + ms(2));
    assert!(matches!(single(ex), Ok((m, Transport::Udp)) if m == good));

    // Nothing better: the malformed answer is the error, not the timeout.
    let mut ex = start(&[www(RType::A)], t0);
    ex.handle(Event::UdpReceived(&malformed), t0 + ms(1));
    ex.handle_timeout(t0 + TIMEOUT);
    ex.handle_timeout(t0 + TIMEOUT * 2);
    let gave_up = take(&mut ex);
    assert!(
        traced(&gave_up, Layer::Dns)
            .last()
            .is_some_and(|l| l.ends_with("giving up (reporting the malformed answer)")),
        "{gave_up:?}"
    );
    assert_failed!(
        ex,
        QueryError::Malformed(_, DnsError::Truncated(_)),
        "192.0.2.53:53 sent a malformed answer: message ends inside the record data"
    );
}

#[test]
fn an_icmp_port_unreachable_is_refused() {
    let t0 = Instant::now();
    let mut ex = start(&[www(RType::A), www(RType::AAAA)], t0);
    take(&mut ex);
    ex.handle(Event::UdpReceiveFailed(refused()), t0 + ms(1));
    assert_eq!(
        traced(&take(&mut ex), Layer::Udp),
        ["udp > ICMP port unreachable (ECONNREFUSED): nothing listens on 192.0.2.53:53"]
    );
    assert!(ex.is_done());
    let outcomes = ex.outcomes();
    for outcome in &outcomes {
        match outcome {
            Err(e @ QueryError::Refused(_, Transport::Udp)) => assert_eq!(
                e.to_string(),
                "connection refused by 192.0.2.53:53 — is a DNS server listening?"
            ),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(outcomes.len(), 2);
}

/// A send refused in a round: the round goes out whole (as the shell takes it, answering
/// each send), then the refusal is traced and fails every query still on UDP.
#[test]
fn a_refused_send_fails_the_round_once_it_is_out() {
    let t0 = Instant::now();
    let mut ex = start(&[www(RType::A), www(RType::AAAA)], t0);
    let mut seen = Vec::new();
    while let Some(out) = ex.poll_output() {
        if let Output::SendUdp { query: 0, .. } = out {
            let event = Event::UdpSendFailed {
                query: 0,
                error: refused(),
            };
            ex.handle(event, t0);
        }
        seen.push(out);
    }
    let sends = seen
        .iter()
        .position(|o| matches!(o, Output::SendUdp { query: 1, .. }));
    let icmp = seen
        .iter()
        .position(|o| matches!(o, Output::Trace(Layer::Udp, l) if l.contains("ICMP")));
    assert!(sends.is_some() && icmp > sends, "{seen:?}");
    assert!(ex.is_done());
    assert!(
        ex.outcomes()
            .iter()
            .all(|o| matches!(o, Err(QueryError::Refused(_, Transport::Udp))))
    );
}

#[test]
fn a_datagram_not_queued_is_like_a_lost_one_and_other_send_errors_fail() {
    let t0 = Instant::now();
    let mut ex = start(&[www(RType::A), www(RType::AAAA)], t0);
    take(&mut ex);
    let would_block = io::Error::from(io::ErrorKind::WouldBlock);
    let event = Event::UdpSendFailed {
        query: 0,
        error: would_block,
    };
    ex.handle(event, t0);
    let other = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
    let event = Event::UdpSendFailed {
        query: 1,
        error: other,
    };
    ex.handle(event, t0);
    assert!(!ex.is_done());
    ex.handle_timeout(t0 + TIMEOUT);
    // Only the query whose datagram was not queued is sent again.
    assert_eq!(
        actions(&take(&mut ex)),
        [&Output::SendUdp {
            query: 0,
            datagram: dns::query(100, &www(RType::A).name, RType::A, true)
        }]
    );
    ex.handle_timeout(t0 + TIMEOUT * 2);
    match ex.outcomes().as_slice() {
        [
            Err(QueryError::Timeout { tries: 2, .. }),
            Err(e @ QueryError::Io(..)),
        ] => {
            assert_eq!(e.to_string(), "cannot send to 192.0.2.53:53: denied");
        }
        other => panic!("{other:?}"),
    }
}
