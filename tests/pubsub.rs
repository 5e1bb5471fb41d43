//! The pubsub service through a real `sockloop serve`: subscribers on TCP, on a Unix
//! socket and on WebSockets (`/pubsub`) getting exactly their topics' messages, in
//! order; binary payloads; the slow-subscriber policy (drops counted exactly and
//! told once); the limits and their `ERR`s; the fan-out in the trace.

#![cfg(feature = "pubsub")]

mod support {
    pub mod bounded_read;
    pub mod http_client;
    pub mod line_client;
    pub mod net;
    pub mod nonblocking_write;
    pub mod output;
    pub mod process;
    pub mod room_member;
    pub mod server;
    pub mod stderr_wait;
    pub mod temp;
    pub mod unix_spec;
    pub mod ws_client;
}

use sockloop::proto::ws::frame::Opcode;
use std::time::{Duration, Instant};
use support::line_client::Client;
use support::room_member::{Member, flood_until_paused, serve_rooms};
use support::server::Server;
use support::unix_spec::UnixSpec;
use support::ws_client::{Handshake, WsClient};

fn pubsub_server(name: &str, extra: &[&str]) -> (Server, UnixSpec) {
    serve_rooms(name, "pubsub", extra)
}

fn stat(server: &Server, key: &str) -> u64 {
    let mut cmd = Member::ws(server.addr("http", "web"), "/cmd");
    let stats = cmd.ask("STATS");
    stats
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {stats:?}"))
        .parse()
        .unwrap()
}

#[test]
fn subscribers_on_every_transport_get_exactly_their_topics_in_order() {
    let (server, unix) = pubsub_server("pubsub-topics", &["--publish-rate", "0"]);
    let mut tcp = Member::tcp(server.addr("tcp", "pubsub"));
    let mut local = Member::unix(&unix.path);
    let mut web = Member::ws(server.addr("http", "web"), "/pubsub");
    assert_eq!(tcp.ask("SUB news"), "OK");
    assert_eq!(tcp.ask("sub sports"), "OK");
    assert_eq!(local.ask("SUB news"), "OK");
    assert_eq!(web.ask("SUB sports"), "OK");

    let mut publisher = Member::tcp(server.addr("tcp", "pubsub"));
    for i in 0..50 {
        let topic = if i % 2 == 0 { "news" } else { "sports" };
        publisher.say(&format!("PUB {topic} item {i} with  spaces"));
    }
    assert_eq!(publisher.hear_n(50), vec!["OK"; 50]);
    for i in 0..50 {
        let topic = if i % 2 == 0 { "news" } else { "sports" };
        assert_eq!(tcp.hear(), format!("MSG {topic} item {i} with  spaces"));
    }
    for i in (0..50).step_by(2) {
        assert_eq!(local.hear(), format!("MSG news item {i} with  spaces"));
    }
    for i in (1..50).step_by(2) {
        assert_eq!(web.hear(), format!("MSG sports item {i} with  spaces"));
    }
    web.hears_nothing(Duration::from_millis(200));

    // A publisher on its own topic gets its copy right after the OK.
    assert_eq!(web.ask("PUB sports from the web"), "OK");
    assert_eq!(web.hear(), "MSG sports from the web");
    assert_eq!(tcp.hear(), "MSG sports from the web");
    assert_eq!(tcp.ask("UNSUB sports"), "OK");
    assert_eq!(tcp.ask("UNSUB sports"), "ERR not subscribed");
    assert_eq!(publisher.ask("PUB sports after unsub"), "OK");
    assert_eq!(publisher.ask("PUB news still subscribed"), "OK");
    assert_eq!(
        tcp.hear(),
        "MSG news still subscribed",
        "no sports any more"
    );
    assert_eq!(local.hear(), "MSG news still subscribed");
    assert_eq!(web.hear(), "MSG sports after unsub");
    assert_eq!(stat(&server, "published"), 53);
}

#[test]
fn binary_payloads_reach_websockets_as_binary_and_lines_as_bin_or_msg() {
    let (server, _unix) = pubsub_server("pubsub-binary", &[]);
    let mut line = Client::tcp(server.addr("tcp", "pubsub"));
    assert_eq!(line.request("SUB raw"), "OK");
    let Member::Ws(mut web) = Member::ws(server.addr("http", "web"), "/pubsub") else {
        unreachable!()
    };
    assert_eq!(web.request("SUB raw"), "OK");

    let mut message = vec![3];
    message.extend_from_slice(b"raw\x00\xfftwo\nlines");
    web.send_frame(true, Opcode::Binary, &message);
    assert_eq!(web.recv_text(), "OK");
    assert_eq!(
        web.recv_message(Opcode::Binary),
        message,
        "its own copy, as sent"
    );
    assert_eq!(line.read_line(), "BIN raw 11");
    assert_eq!(line.read_line_bytes().unwrap(), b"\x00\xfftwo\n");
    assert_eq!(line.read_line_bytes().unwrap(), b"lines\n");

    web.send_frame(true, Opcode::Binary, b"\x03rawno line end");
    assert_eq!(web.recv_text(), "OK");
    web.recv_frame();
    assert_eq!(line.read_line(), "MSG raw no line end");
    // From a line publisher, bytes that are not UTF-8 reach a WebSocket as binary.
    line.send(b"PUB raw \xfe\xff\n");
    assert_eq!(line.read_line(), "OK");
    assert_eq!(line.read_line_bytes().unwrap(), b"MSG raw \xfe\xff\n");
    assert_eq!(web.recv_message(Opcode::Binary), b"\x03raw\xfe\xff");

    for (bad, why) in [
        (
            &b""[..],
            "ERR an empty binary message (want [topic length][topic][payload])",
        ),
        (
            b"\x09raw",
            "ERR the topic length byte does not fit the message",
        ),
        (b"\x02a b", "ERR bad topic: no spaces allowed"),
    ] {
        web.send_frame(true, Opcode::Binary, bad);
        assert_eq!(web.recv_text(), why);
    }
}

#[test]
fn a_subscriber_that_never_reads_does_not_delay_the_others_and_is_told_what_it_missed() {
    const COUNT: usize = 5_000;
    let (server, _unix) =
        pubsub_server("pubsub-slow", &["--publish-rate", "0", "--max-line", "2k"]);
    let addr = server.addr("tcp", "pubsub");
    // A small receive buffer, so that the kernel holds little for it.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut slow = Client::from_tcp(socket.into());
    assert_eq!(slow.request("SUB firehose"), "OK");
    let mut fast = Member::ws(server.addr("http", "web"), "/pubsub");
    assert_eq!(fast.ask("SUB firehose"), "OK");

    let fast_reader = std::thread::spawn(move || {
        for i in 0..COUNT {
            let got = fast.hear();
            assert!(
                got.starts_with(&format!("MSG firehose {i:06} ")),
                "the fast subscriber at {i}: {got:.40}"
            );
        }
        fast
    });
    let mut publisher = Client::try_tcp(addr).unwrap();
    let pad = "p".repeat(1000);
    let started = Instant::now();
    let batch: String = (0..COUNT)
        .map(|i| format!("PUB firehose {i:06} {pad}\n"))
        .collect();
    publisher.send(batch.as_bytes());
    for i in 0..COUNT {
        assert_eq!(publisher.read_line(), "OK", "publish {i}");
    }
    let mut fast = fast_reader
        .join()
        .expect("the fast subscriber got everything");
    let fast_took = started.elapsed();
    assert!(
        fast_took < Duration::from_secs(20),
        "the fast subscriber took {fast_took:?}"
    );
    let dropped = stat(&server, "fanout_dropped");
    assert!(dropped > 0, "the slow subscriber's queue never filled");

    // Now it reads: messages in order, gaps only where it is told of drops, and
    // every message either delivered or counted.
    let (mut received, mut told, mut last) = (0u64, 0u64, None::<usize>);
    while received + told < COUNT as u64 {
        let line = slow.read_line();
        if let Some(n) = line.strip_prefix("DROPPED ") {
            told += n.parse::<u64>().unwrap();
            continue;
        }
        let seq: usize = line["MSG firehose ".len()..][..6].parse().unwrap();
        assert!(
            last.is_none_or(|l| seq > l),
            "out of order: {seq} after {last:?}"
        );
        last = Some(seq);
        received += 1;
    }
    assert_eq!((received + told, told), (COUNT as u64, dropped));
    fast.hears_nothing(Duration::from_millis(100));
    assert_eq!(
        slow.request("UNSUB firehose"),
        "OK",
        "nothing more was queued for it"
    );
}

#[test]
fn limits_are_refused_with_readable_errors() {
    let (server, _unix) = pubsub_server("pubsub-limits", &["--publish-rate", "3"]);
    let mut c = Member::tcp(server.addr("tcp", "pubsub"));
    for i in 0..16 {
        assert_eq!(c.ask(&format!("SUB t{i}")), "OK");
    }
    assert_eq!(
        c.ask("SUB t16"),
        "ERR already subscribed to 16 topics, the limit per connection"
    );
    assert_eq!(c.ask("SUB t1"), "ERR already subscribed");
    assert_eq!(
        c.ask(&format!("SUB {}", "x".repeat(65))),
        "ERR bad topic: too long"
    );
    assert_eq!(
        c.ask("SUB a\u{1}b"),
        "ERR bad topic: no control characters allowed"
    );
    assert_eq!(
        c.ask("HELLO"),
        "ERR unknown request (SUB topic | UNSUB topic | PUB topic payload)"
    );
    assert_eq!(c.ask("SUB a b"), "ERR SUB and UNSUB take one topic");
    // Its own topic: each OK is followed by its copy.
    assert_eq!(c.ask("PUB t0 0"), "OK");
    assert_eq!(c.hear(), "MSG t0 0");
    let replies: Vec<String> = (1..5)
        .map(|i| c.ask(&format!("PUB elsewhere {i}")))
        .collect();
    assert_eq!(replies[..2], ["OK", "OK"]);
    assert_eq!(
        replies[2],
        "ERR slow down: more than 3 publishes per second; not sent"
    );
    assert!(stat(&server, "publish_throttled") >= 2);

    let mut web = Member::ws(server.addr("http", "web"), "/pubsub");
    let big = format!("PUB t0 {}", "b".repeat(64 * 1024 + 1));
    assert_eq!(
        web.ask(&big),
        "ERR message too long to publish (65537 bytes; the limit is 65536)"
    );

    // A publisher that never reads its replies is paused, not buffered for. Each
    // short PUB past the rate is answered with a longer ERR, so the replies outgrow
    // what the kernel's buffers hold long before the flood's 64 MiB cap.
    let mut flooder = Client::tcp(server.addr("tcp", "pubsub"));
    flood_until_paused(&mut flooder, b"PUB t0 f\n");
    assert_eq!(
        web.ask("SUB t0"),
        "OK",
        "and serves everyone else meanwhile"
    );
}

#[test]
fn idle_subscribers_are_closed_with_a_reason() {
    let (server, _unix) = pubsub_server("pubsub-idle", &["--idle-timeout", "1"]);
    let mut line = Client::tcp(server.addr("tcp", "pubsub"));
    assert_eq!(line.request("SUB quiet"), "OK");
    let web = server.addr("http", "web");
    let refused = WsClient::connect_with(web, "/pubsubx", Handshake::default())
        .err()
        .expect("no endpoint at /pubsubx");
    assert!(
        refused.body_str().contains("/pubsub"),
        "{}",
        refused.body_str()
    );
    let Ok((mut ws, _)) = WsClient::connect_with(web, "/pubsub", Handshake::default()) else {
        panic!("/pubsub refused the WebSocket");
    };
    assert_eq!(ws.request("SUB quiet"), "OK");
    assert_eq!(line.read_line(), "ERR idle for 1 s; closing");
    line.expect_eof();
    let close = ws.recv_frame();
    assert_eq!(
        (close.opcode, &close.payload[..2]),
        (Opcode::Close, &1001u16.to_be_bytes()[..])
    );
    ws.send_frame(true, Opcode::Close, &close.payload[..2]);
    ws.conn.expect_eof(Duration::from_secs(2));
}

#[test]
fn the_trace_shows_each_publish_and_its_fan_out() {
    let (mut server, _unix) = pubsub_server("pubsub-trace", &["--trace=line"]);
    let mut a = Member::tcp(server.addr("tcp", "pubsub"));
    let mut b = Member::ws(server.addr("http", "web"), "/pubsub");
    assert_eq!(a.ask("SUB news"), "OK");
    assert_eq!(b.ask("SUB news"), "OK");
    assert_eq!(a.ask("PUB news hi"), "OK");
    assert_eq!(a.hear(), "MSG news hi");
    assert_eq!(b.hear(), "MSG news hi");
    server.wait_stderr(
        "fan-out pubsub \"news\": 1 queued, 0 dropped (queue full), publisher's copy inline; shared frames: ws 13 bytes",
        Duration::from_secs(5),
    );
}
