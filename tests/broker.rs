//! `--broker redis://`: two sockloop processes sharing chat rooms and pub/sub topics
//! through a real `redis-server` (Debian's package, started here on a free port):
//! what is said in one is heard in the other exactly once, its sender included;
//! while Redis is away each process goes on alone; when Redis is back they share
//! again by themselves; `/metrics` says how the broker is.
//!
//! Without `redis-server` the tests print `SKIPPED …` and pass, unless
//! SOCKLOOP_REQUIRE_TEST_DEPS=1 (CI), where they fail.
#![cfg(feature = "pubsub")]

mod support {
    pub mod deps;
    pub mod free_port;
    pub mod output;
    pub mod poll;
    pub mod process;
    pub mod server;
    pub mod stderr_wait;
}

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;
use support::free_port::free_tcp_port;
use support::poll::wait_until;
use support::process::Proc;
use support::server::Server;

const WAIT: Duration = Duration::from_secs(10);
const REDIS: &str = "/usr/bin/redis-server";

/// `redis-server` on `addr`, in the foreground, keeping nothing on disk.
fn redis(addr: SocketAddr) -> Option<Proc> {
    if !std::path::Path::new(REDIS).exists() {
        return support::deps::missing(
            "redis-server is missing (Debian package redis-server; scripts/install-test-deps.sh)",
        );
    }
    let mut command = Command::new(REDIS);
    command.args([
        "--port",
        &addr.port().to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    let p = Proc::spawn(command);
    assert!(
        wait_until(WAIT, || TcpStream::connect(addr).is_ok()),
        "redis-server does not listen"
    );
    Some(p)
}

/// How many subscribers Redis has on `channel` (an inline command: one line).
fn subscribers(redis: SocketAddr, channel: &str) -> u64 {
    let Ok(mut s) = TcpStream::connect(redis) else {
        return 0;
    };
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(format!("PUBSUB NUMSUB {channel}\r\n").as_bytes())
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    // *2 $len channel :count — complete once the count's line is in.
    while !reply.ends_with(b"\r\n") || !reply.contains(&b':') {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&reply);
    text.rsplit_once(':')
        .and_then(|(_, n)| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until `n` processes subscribe to `channel`.
fn wait_subscribed(redis: SocketAddr, channel: &str, n: u64) {
    assert!(
        wait_until(WAIT, || subscribers(redis, channel) == n),
        "{channel}: {} subscribers, not {n}",
        subscribers(redis, channel)
    );
}

fn serve(redis: SocketAddr, service: &str) -> Server {
    Server::start(&[
        "--broker",
        &format!("redis://{redis}"),
        "-l",
        &format!("tcp://127.0.0.1:0={service}"),
        "-l",
        "tcp://127.0.0.1:0=chat",
        "-l",
        "http://127.0.0.1:0",
    ])
}

/// A `news` subscriber on each of `a` and `b`, once Redis has both processes on it.
fn subscribers_of_news(redis: SocketAddr, a: &Server, b: &Server) -> (Client, Client) {
    let mut here = Client::connect(a.addr("tcp", "pubsub"));
    let mut there = Client::connect(b.addr("tcp", "pubsub"));
    for c in [&mut here, &mut there] {
        c.say("SUB news");
        assert_eq!(c.hear(), "OK");
    }
    wait_subscribed(redis, "sockloop:pubsub:news", 2);
    (here, there)
}

/// A chat member past its welcome and its arrival in the lobby.
fn arrive(addr: SocketAddr) -> Client {
    let mut c = Client::connect(addr);
    assert!(c.hear().starts_with("* welcome"));
    assert!(c.hear().contains("joined lobby"));
    c
}

/// A line client with a deadline on every read.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        Client {
            reader: BufReader::new(s),
        }
    }

    fn say(&mut self, line: &str) {
        self.reader
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    fn hear(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a line in time");
        line.trim_end().to_string()
    }

    /// The next line that is not someone's arrival: whether a join crosses to the other
    /// process depends on whether that one had subscribed when Redis took the PUBLISH,
    /// which Redis does not order against other connections, so the tests do not pin it.
    fn hear_past_joins(&mut self) -> String {
        loop {
            let line = self.hear();
            if !line.contains("joined lobby") {
                return line;
            }
        }
    }

    /// Nothing more arrives within a moment.
    fn hears_nothing(&mut self) {
        let s = self.reader.get_ref();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut line = String::new();
        let got = self.reader.read_line(&mut line);
        assert!(
            matches!(&got, Err(_) | Ok(0)),
            "unexpected {line:?} ({got:?})"
        );
        self.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    }
}

#[test]
fn a_topic_is_shared_by_two_processes_and_each_message_arrives_once() {
    let redis_addr = free_tcp_port();
    let Some(_redis) = redis(redis_addr) else {
        return;
    };
    let a = serve(redis_addr, "pubsub");
    let b = serve(redis_addr, "pubsub");
    let (mut here, mut there) = subscribers_of_news(redis_addr, &a, &b);
    here.say("PUB news from a");
    assert_eq!(here.hear(), "OK");
    assert_eq!(here.hear(), "MSG news from a", "the publisher's own copy");
    assert_eq!(there.hear(), "MSG news from a");
    there.say("PUB news from b");
    assert_eq!(there.hear(), "OK");
    assert_eq!(there.hear(), "MSG news from b");
    assert_eq!(here.hear(), "MSG news from b");
    // Nobody hears anything twice (Redis sends each process its own message back).
    here.hears_nothing();
    there.hears_nothing();
    // Someone outside sockloop can publish on a sockloop channel too.
    let mut outside = TcpStream::connect(redis_addr).unwrap();
    outside
        .write_all(b"PUBLISH sockloop:pubsub:news \"from redis-cli\"\r\n")
        .unwrap();
    assert_eq!(here.hear(), "MSG news from redis-cli");
    assert_eq!(there.hear(), "MSG news from redis-cli");
    // A topic nobody here wants any more is unsubscribed from.
    there.say("UNSUB news");
    assert_eq!(there.hear(), "OK");
    wait_subscribed(redis_addr, "sockloop:pubsub:news", 1);
}

#[test]
fn a_chat_room_spans_two_processes() {
    let redis_addr = free_tcp_port();
    let Some(_redis) = redis(redis_addr) else {
        return;
    };
    let a = serve(redis_addr, "chat");
    let b = serve(redis_addr, "chat");
    let mut alice = Client::connect(a.addr("tcp", "chat"));
    assert!(alice.hear().starts_with("* welcome"));
    assert!(alice.hear().contains("joined lobby"));
    wait_subscribed(redis_addr, "sockloop:chat:lobby", 1);
    let mut bob = Client::connect(b.addr("tcp", "chat"));
    let welcome = bob.hear();
    assert!(
        welcome.starts_with("* welcome to sockloop chat, guest-"),
        "{welcome}"
    );
    // Guests of two processes do not share names: each process tags its own.
    assert!(!welcome.contains("guest-1;"), "{welcome}");
    let joined = bob.hear();
    assert!(joined.contains("joined lobby"), "{joined}");
    // Bob's arrival was said in his process's lobby; Alice's process may not have
    // subscribed yet when it was, so only what follows is checked across.
    wait_subscribed(redis_addr, "sockloop:chat:lobby", 2);
    let _ = alice.reader.get_ref().set_read_timeout(Some(WAIT));
    alice.say("/nick alice");
    let renamed = alice.hear_past_joins();
    assert!(renamed.ends_with("is now known as alice"), "{renamed}");
    assert_eq!(bob.hear_past_joins(), renamed);
    alice.say("hello from a");
    assert_eq!(alice.hear_past_joins(), "<alice> hello from a");
    assert_eq!(bob.hear_past_joins(), "<alice> hello from a");
    bob.say("/nick bob");
    let renamed = bob.hear_past_joins();
    assert_eq!(alice.hear_past_joins(), renamed);
    bob.say("hi alice");
    assert_eq!(bob.hear_past_joins(), "<bob> hi alice");
    assert_eq!(alice.hear_past_joins(), "<bob> hi alice");
    alice.hears_nothing();
    bob.hears_nothing();
}

#[test]
fn without_redis_each_goes_on_alone_and_a_topic_and_a_room_are_shared_again_when_it_is_back() {
    let redis_addr = free_tcp_port();
    let Some(redis_server) = redis(redis_addr) else {
        return;
    };
    let mut a = serve(redis_addr, "pubsub");
    let b = serve(redis_addr, "pubsub");
    let (mut here, mut there) = subscribers_of_news(redis_addr, &a, &b);
    let mut alice = arrive(a.addr("tcp", "chat"));
    wait_subscribed(redis_addr, "sockloop:chat:lobby", 1);
    let mut bob = arrive(b.addr("tcp", "chat"));
    wait_subscribed(redis_addr, "sockloop:chat:lobby", 2);
    while !alice.hear().contains("joined lobby") {} // Bob's, carried over
    assert!(metrics(&a).contains("sockloop_broker_up 1"));

    drop(redis_server); // killed
    // The reason logged is whichever side met the outage first (a FIN read, or a
    // reset on a write), so wait for what every outage line says.
    a.wait_stderr("rooms and topics are this process's alone", WAIT);
    assert!(wait_until(WAIT, || metrics(&a).contains("sockloop_broker_up 0")));
    here.say("PUB news while redis is away");
    assert_eq!(here.hear(), "OK");
    assert_eq!(
        here.hear(),
        "MSG news while redis is away",
        "local delivery goes on"
    );
    there.hears_nothing();
    assert!(metrics(&a).contains("sockloop_broker_unsent_total 1"));

    let _redis_again = redis(redis_addr).unwrap();
    // Both come back and subscribe again by themselves.
    wait_subscribed(redis_addr, "sockloop:pubsub:news", 2);
    here.say("PUB news redis is back");
    assert_eq!(here.hear(), "OK");
    assert_eq!(here.hear(), "MSG news redis is back");
    assert_eq!(there.hear(), "MSG news redis is back");
    // The chat room is one again too.
    wait_subscribed(redis_addr, "sockloop:chat:lobby", 2);
    alice.say("are you there?");
    // Past join lines, as in the test above. Alice's process sends its SUBSCRIBE and
    // the PUBLISH of her join on two Redis connections, and Redis keeps no order across
    // connections: it can take a's SUBSCRIBE, then b's (Bob arrives), and only then a's
    // PUBLISH, so Bob may still hear Alice join (seen in a MONITOR capture).
    let line = alice.hear_past_joins();
    assert!(line.ends_with("> are you there?"), "{line}");
    assert_eq!(bob.hear_past_joins(), line);
    let m = metrics(&a);
    assert!(m.contains("sockloop_broker_up 1"), "{m}");
    assert!(m.contains("sockloop_broker_connects_total 2"), "{m}");
    assert!(m.contains("sockloop_broker_subscriptions 2"), "{m}");
}

/// `GET /metrics` of `server`'s http listener.
fn metrics(server: &Server) -> String {
    let mut s = TcpStream::connect(server.addr("http", "web")).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}
