//! Every service on every transport it runs on, through a real `sockloop serve`.

mod support {
    pub mod bounded_read;
    pub mod bulk_io;
    pub mod half_close;
    pub mod line_client;
    pub mod net;
    pub mod output;
    pub mod process;
    pub mod server;
    pub mod tcp_and_unix;
    pub mod temp;
    pub mod time;
    pub mod udp_client;
    pub mod unix_spec;
}

use std::collections::HashSet;
use std::path::PathBuf;
use support::line_client::Client;
use support::server::Server;
use support::tcp_and_unix::TcpAndUnix;
use support::time::{assert_time_now, unix_now};
use support::udp_client::Udp;
use support::unix_spec::UnixSpec;

const HELP: &str = "commands: HELP | ECHO <text> | TIME | TIMESTAMP | RANDOM [MIN MAX] \
     | RANDOMS N [MIN MAX] | COUNT | ADD A B | SUB A B | STATS | STOP | QUIT";

/// Every byte value, some newlines among them, and a tail without a newline.
fn binary_payload() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend((0..=255u8).rev());
    data.extend_from_slice(b"\x00\xff\r\n\r\r\n tail without newline \x01");
    data
}

/// Writes `data` in chunks, reading the echo as it goes (so neither side's buffers
/// fill), and checks the echo is byte-exact.
fn assert_echoes(client: &mut Client, data: &[u8]) {
    for chunk in data.chunks(16 * 1024) {
        client.send(chunk);
        let back = client.read_exact(chunk.len());
        assert!(
            back == chunk,
            "echo differs for a {}-byte chunk",
            chunk.len()
        );
    }
}

#[test]
fn echo_tcp_is_byte_exact() {
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=echo"]);
    let mut c = Client::tcp(server.addr("tcp", "echo"));
    assert_echoes(&mut c, &binary_payload());
    // A large pseudo-random payload, to cross buffer boundaries.
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_echoes(&mut c, &big);
    // A last line without a newline, then half-close: echoed, then a clean EOF.
    c.send(b"no newline");
    c.shutdown_write();
    let (rest, err) = c.read_to_eof();
    assert_eq!(rest, b"no newline");
    assert!(err.is_none(), "{err:?}");
}

#[test]
fn echo_unix_is_byte_exact() {
    let unix = UnixSpec::new("echo_unix", "echo");
    let (path, spec) = (&unix.path, &unix.spec);
    let server = Server::start(&["-l", spec]);
    assert_eq!(
        PathBuf::from(&server.listener("unix", "echo").address),
        *path
    );
    let mut c = Client::unix(path);
    assert_echoes(&mut c, &binary_payload());
    c.send(b"last\nno newline");
    c.shutdown_write();
    let (rest, err) = c.read_to_eof();
    assert_eq!(rest, b"last\nno newline");
    assert!(err.is_none(), "{err:?}");
}

#[test]
fn echo_udp_answers_each_datagram_byte_exact() {
    let server = Server::start(&["-l", "udp://127.0.0.1:0=echo"]);
    let udp = Udp::new(server.addr("udp", "echo"));
    let payload = binary_payload();
    assert_eq!(udp.request(&payload), payload);
    assert_eq!(udp.request(b"hello\n"), b"hello\n");
    assert_eq!(udp.request(b"no newline"), b"no newline");
    // STOP means nothing to a datagram echo: it comes back, and the socket goes on.
    assert_eq!(udp.request(b"STOP\n"), b"STOP\n");
    assert_eq!(
        udp.request(b""),
        b"",
        "an empty datagram gets an empty reply"
    );
    let big = vec![0xA5u8; 60_000];
    assert_eq!(udp.request(&big), big);
}

#[test]
fn echo_stop_closes_that_connection_only() {
    let both = TcpAndUnix::start("echo_stop", "echo", &[]);
    let (server, path) = (&both.server, &both.unix.path);
    let addr = server.addr("tcp", "echo");

    let mut bystander = Client::tcp(addr);
    let mut unix_bystander = Client::unix(path);
    assert_eq!(bystander.request("before"), "before");

    // STOP in the middle of one write: everything up to and including the STOP line
    // is echoed, the rest is not, and the server closes cleanly.
    let mut c = Client::tcp(addr);
    c.send(b"hello\nSTOP\nafter stop\n");
    let (got, err) = c.read_to_eof();
    assert_eq!(String::from_utf8_lossy(&got), "hello\nSTOP\n");
    assert!(err.is_none(), "expected a clean close, got {err:?}");

    // Blanks around STOP are trimmed; lookalikes are not STOP.
    let mut c = Client::tcp(addr);
    assert_eq!(c.request("stop"), "stop");
    assert_eq!(c.request("STOPX"), "STOPX");
    assert_eq!(c.request("xSTOP"), "xSTOP");
    assert_eq!(c.request("ST OP"), "ST OP");
    c.send(b" \tSTOP \r\n");
    let (got, err) = c.read_to_eof();
    assert_eq!(got, b" \tSTOP \r\n");
    assert!(err.is_none(), "{err:?}");

    // STOP split across two writes still counts.
    let mut c = Client::unix(path);
    c.send(b"ST");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(b"OP\n");
    let (got, err) = c.read_to_eof();
    assert_eq!(got, b"STOP\n");
    assert!(err.is_none(), "{err:?}");

    // The other clients never noticed.
    assert_eq!(bystander.request("still here"), "still here");
    assert_eq!(unix_bystander.request("me too"), "me too");
    // And new clients are served.
    let mut fresh = Client::tcp(addr);
    assert_eq!(fresh.request("new"), "new");
}

#[test]
fn daytime_tcp_unix_and_udp() {
    let both = TcpAndUnix::start("daytime", "daytime", &["-l", "udp://127.0.0.1:0=daytime"]);
    let server = &both.server;
    for mut c in both.clients() {
        let (got, err) = c.read_to_eof();
        assert!(err.is_none(), "{err:?}");
        let text = String::from_utf8(got).expect("UTF-8");
        let line = text
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("daytime reply not one line: {text:?}"));
        assert!(!line.contains('\n'), "more than one line: {text:?}");
        assert_time_now(line);
    }
    // Input sent to daytime is ignored; it still talks first and hangs up.
    let mut c = Client::tcp(server.addr("tcp", "daytime"));
    c.send(b"hello?\n");
    let line = c.read_line();
    assert_time_now(&line);
    c.expect_eof();

    let udp = Udp::new(server.addr("udp", "daytime"));
    for request in ["", "what time is it?\n", "x"] {
        let reply = udp.request_str(request);
        let line = reply.strip_suffix('\n').expect("newline");
        assert_time_now(line);
    }
}

#[test]
fn counter_counts_connections_server_wide() {
    let both = TcpAndUnix::start("counter", "counter", &[]);
    let (server, path) = (&both.server, &both.unix.path);
    let addr = server.addr("tcp", "counter");

    let mut a = Client::tcp(addr);
    assert_eq!(a.request("hi"), "Client number: 1");
    assert_eq!(a.request("again"), "Client number: 1");
    let mut b = Client::tcp(addr);
    assert_eq!(b.request(""), "Client number: 2");
    // The number is the server-wide count when the line is answered.
    assert_eq!(a.request("x"), "Client number: 2");
    // Unix connections count too (one counter for the whole server).
    let mut u = Client::unix(path);
    assert_eq!(u.request("x"), "Client number: 3");

    // STOP closes without a reply; the others carry on.
    b.send(b"STOP\nignored\n");
    b.expect_eof();
    let mut c = Client::tcp(addr);
    assert_eq!(c.request("x"), "Client number: 4");
    assert_eq!(a.request("x"), "Client number: 4");
    u.send_line("  STOP\r");
    u.expect_eof();
}

fn parse_in_range(reply: &str, min: i64, max: i64) -> i64 {
    let n: i64 = reply
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {reply:?}"));
    assert!((min..=max).contains(&n), "{n} not in {min}..={max}");
    n
}

#[test]
fn random_tcp_ranges() {
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=random"]);
    let mut c = Client::tcp(server.addr("tcp", "random"));
    let mut seen = HashSet::new();
    for _ in 0..300 {
        seen.insert(parse_in_range(&c.request("5 7"), 5, 7));
    }
    assert_eq!(seen.len(), 3, "300 draws from 5..=7 gave only {seen:?}");
    let mut seen = HashSet::new();
    for request in ["", "hello", "1", "a b", "1 2 3"] {
        for _ in 0..20 {
            seen.insert(parse_in_range(&c.request(request), 1, 1000));
        }
    }
    assert!(seen.len() > 20, "default range looks constant: {seen:?}");
    assert_eq!(c.request("-3 -3"), "-3");
    assert_eq!(c.request("9 5"), "ERR MIN 9 is greater than MAX 5");
    // CRLF lines work like LF lines.
    assert_eq!(c.request("6 6\r"), "6");
    assert_eq!(c.request("-3 -3\r"), "-3");
    c.send(b"STOP\n1 2\n");
    c.expect_eof();
}

#[test]
fn random_udp_ranges() {
    let server = Server::start(&["-l", "udp://127.0.0.1:0=random"]);
    let udp = Udp::new(server.addr("udp", "random"));
    let mut seen = HashSet::new();
    for i in 0..200 {
        let request = if i % 2 == 0 { "5 7\n" } else { "5 7" };
        let reply = udp.request_str(request);
        let n = reply.strip_suffix('\n').expect("newline");
        seen.insert(parse_in_range(n, 5, 7));
    }
    assert_eq!(seen.len(), 3, "200 draws from 5..=7 gave only {seen:?}");
    for request in ["", "\n", "hi\n", "5 7 9\n"] {
        let reply = udp.request_str(request);
        parse_in_range(reply.strip_suffix('\n').expect("newline"), 1, 1000);
    }
    assert_eq!(
        udp.request_str("7 5\n"),
        "ERR MIN 7 is greater than MAX 5\n"
    );
    assert_eq!(udp.request_str("-1 -1\r\n"), "-1\n");
}

/// Checks every command of the `cmd` protocol through `ask` (request line without
/// terminator in, reply line without `\n` out). Over UDP no reply may be more than 3×
/// its request on the wire, so the long ones are refused there (and STATS is checked
/// by the caller, over TCP).
fn check_every_command(ask: &mut dyn FnMut(&str) -> String, over_udp: bool) {
    if over_udp {
        for request in ["HELP", "help", "RANDOMS 10000 4 4", "STATS"] {
            let reply = ask(request);
            assert!(
                reply.starts_with("ERR reply too big for UDP") && reply.contains("use TCP"),
                "{request:?} over UDP: {reply:?}"
            );
        }
    } else {
        assert_eq!(ask("HELP"), HELP);
        assert_eq!(ask("help"), HELP, "verbs are case-insensitive");
        assert_eq!(ask("RANDOMS 10000 4 4").len(), 10000 * 2 - 1);
    }
    assert_eq!(ask("ECHO hello  world "), "hello  world ");
    assert_eq!(ask("ECHO"), "");
    assert_eq!(ask("echo ünïcödé ✓"), "ünïcödé ✓");
    assert_time_now(&ask("TIME"));
    let ts: i64 = ask("TIMESTAMP").parse().expect("TIMESTAMP is an integer");
    assert!((ts - unix_now()).abs() <= 5, "TIMESTAMP {ts} not now");
    parse_in_range(&ask("RANDOM"), 1, 1000);
    let mut seen = HashSet::new();
    for _ in 0..60 {
        seen.insert(parse_in_range(&ask("RANDOM 5 7"), 5, 7));
    }
    assert_eq!(seen.len(), 3, "RANDOM 5 7 gave only {seen:?}");
    assert_eq!(ask("RANDOM 7 5"), "ERR MIN 7 is greater than MAX 5");
    assert_eq!(ask("RANDOM 5"), "ERR usage: RANDOM [MIN MAX]");
    let r = ask("RANDOMS 5 1 3");
    let nums: Vec<i64> = r
        .split(' ')
        .map(|s| s.parse().unwrap_or_else(|_| panic!("RANDOMS reply {r:?}")))
        .collect();
    assert_eq!(nums.len(), 5, "{r:?}");
    assert!(nums.iter().all(|n| (1..=3).contains(n)), "{r:?}");
    let r = ask("RANDOMS 3");
    assert_eq!(r.split(' ').count(), 3);
    r.split(' ').for_each(|n| {
        parse_in_range(n, 1, 1000);
    });
    assert_eq!(
        ask("RANDOMS 0"),
        "ERR RANDOMS count 0 is not between 1 and 10000"
    );
    assert_eq!(
        ask("RANDOMS 10001"),
        "ERR RANDOMS count 10001 is not between 1 and 10000"
    );
    let count = ask("COUNT");
    let n: u64 = count
        .strip_prefix("Client number: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("COUNT reply {count:?}"));
    assert!(n <= 1000);
    assert_eq!(ask("ADD 2 3"), "5");
    assert_eq!(ask("ADD -17 18"), "1");
    assert_eq!(ask("add 9223372036854775806 1"), "9223372036854775807");
    assert_eq!(ask("SUB 5 8"), "-3");
    assert_eq!(ask("SUB\t-9223372036854775807  1"), "-9223372036854775808");
    assert_eq!(
        ask("ADD 9223372036854775807 1"),
        "ERR 9223372036854775807 + 1 does not fit in a signed 64-bit integer"
    );
    assert_eq!(
        ask("SUB -9223372036854775808 1"),
        "ERR -9223372036854775808 - 1 does not fit in a signed 64-bit integer"
    );
    assert_eq!(ask("ADD x 2"), "ERR 'x' is not a 64-bit whole number");
    assert_eq!(ask("ADD 1"), "ERR usage: ADD A B");
    assert_eq!(ask("SUB 1 2 3"), "ERR usage: SUB A B");
    if !over_udp {
        check_stats(&ask("STATS"), 30);
    }
    assert_eq!(ask("FROB x"), "ERR unknown command 'FROB'; try HELP");
    assert_eq!(ask(""), "ERR empty request; try HELP");
    assert_eq!(ask("HELP me"), "ERR usage: HELP");
    assert_eq!(ask("QUIT now"), "ERR usage: STOP | QUIT");
    // After all those errors the session still answers.
    assert_eq!(ask("ECHO still here"), "still here");
}

/// A STATS reply: every key in order, numbers only, and at least `requests` served.
fn check_stats(stats: &str, requests: u64) {
    let fields: Vec<(&str, u64)> = stats
        .split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("STATS field {kv:?} in {stats:?}"));
            (
                k,
                v.parse().unwrap_or_else(|_| panic!("STATS value {kv:?}")),
            )
        })
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "uptime",
            "conns_active",
            "conns_total",
            "bytes_in",
            "bytes_out",
            "requests",
            "refused_max_conns",
            "refused_per_ip",
            "tls_handshakes",
            "refused_tls_handshakes",
            "udp_too_big",
            "udp_dropped",
            "memory_limit",
            "memory_used",
            "memory_peak",
            "memory_refused",
            "refused_memory",
            "published",
            "delivered",
            "fanout_dropped",
            "publish_throttled",
            "pid"
        ],
        "{stats:?}"
    );
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| *v)
            .unwrap()
    };
    assert!(
        get("requests") >= requests,
        "{stats:?}: we made {requests}+ requests"
    );
    assert!(get("bytes_in") > 0 && get("bytes_out") > 0, "{stats:?}");
    assert!(get("conns_active") <= get("conns_total"), "{stats:?}");
    assert_eq!(
        get("memory_limit"),
        64 << 20,
        "the default budget: {stats:?}"
    );
    assert!(get("memory_used") <= get("memory_peak"), "{stats:?}");
}

#[test]
fn cmd_tcp_every_command() {
    let server = Server::start(&["-l", "tcp://127.0.0.1:0=cmd"]);
    let mut c = Client::tcp(server.addr("tcp", "cmd"));
    check_every_command(&mut |line| c.request(line), false);
    // STATS sees this connection.
    let stats = c.request("STATS");
    assert!(stats.contains("conns_active=1 conns_total=1 "), "{stats:?}");
    assert_eq!(c.request("COUNT"), "Client number: 1");
    assert_eq!(c.request("BOGUS"), "ERR unknown command 'BOGUS'; try HELP");
    assert_eq!(
        c.request("ADD 1 1"),
        "2",
        "the connection goes on after ERR"
    );
}

#[test]
fn cmd_unix_every_command() {
    let unix = UnixSpec::new("cmd_unix", "cmd");
    let (path, spec) = (&unix.path, &unix.spec);
    let _server = Server::start(&["-l", spec]);
    let mut c = Client::unix(path);
    check_every_command(&mut |line| c.request(line), false);
    assert_eq!(c.request("COUNT"), "Client number: 1");
}

#[test]
fn cmd_udp_every_command() {
    let server = Server::start(&["-l", "udp://127.0.0.1:0=cmd", "-l", "tcp://127.0.0.1:0=cmd"]);
    let udp = Udp::new(server.addr("udp", "cmd"));
    let mut with_newline = true;
    check_every_command(
        &mut |line| {
            // Alternate: the trailing newline of a datagram is optional.
            with_newline = !with_newline;
            let request = if with_newline {
                format!("{line}\n")
            } else {
                line.to_string()
            };
            let reply = udp.request_str(&request);
            reply
                .strip_suffix('\n')
                .unwrap_or_else(|| panic!("UDP reply without newline: {reply:?}"))
                .to_string()
        },
        true,
    );
    // What UDP refused, TCP answers; and STATS counts the refusals.
    let mut tcp = Client::tcp(server.addr("tcp", "cmd"));
    assert_eq!(tcp.request("HELP"), HELP);
    let stats = tcp.request("STATS");
    check_stats(&stats, 30);
    assert!(stats.contains(" udp_too_big=4 udp_dropped=0"), "{stats:?}");
    assert_eq!(udp.request_str("ADD 2 3\r\n"), "5\n");
    // No connection to close: STOP and QUIT just say BYE, and the socket goes on.
    assert_eq!(udp.request_str("STOP\n"), "BYE\n");
    assert_eq!(udp.request_str("quit"), "BYE\n");
    assert_eq!(udp.request_str("ECHO after"), "after\n");
    // A datagram holding two lines is one (bad) request.
    assert_eq!(
        udp.request_str("ADD 1 1\nADD 2 2\n"),
        "ERR a request is one line; this one has a line break\n"
    );
    // A burst of datagrams: one reply each.
    for i in 0..50 {
        udp.send(format!("ADD {i} 1000").as_bytes());
    }
    let mut replies: Vec<String> = (0..50)
        .map(|_| String::from_utf8(udp.recv()).unwrap())
        .collect();
    replies.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("{}\n", i + 1000)).collect();
    expected.sort();
    assert_eq!(replies, expected);
    // Each client gets its own replies.
    let other = Udp::new(server.addr("udp", "cmd"));
    for i in 0..10 {
        other.send(format!("ECHO other {i}").as_bytes());
        assert_eq!(
            udp.request_str(&format!("ECHO mine {i}")),
            format!("mine {i}\n")
        );
        assert_eq!(
            String::from_utf8(other.recv()).unwrap(),
            format!("other {i}\n")
        );
    }
    // Over --max-line.
    let long = format!("ECHO {}\n", "x".repeat(2000));
    assert_eq!(
        udp.request_str(&long),
        "ERR line too long (max 1024 bytes)\n"
    );
}

#[test]
fn cmd_pipelining_and_crlf() {
    let both = TcpAndUnix::start("cmd_pipe", "cmd", &[]);

    for mut c in both.clients() {
        // 100 requests in one write, 100 replies in order.
        let mut batch = String::new();
        for i in 0..100 {
            batch.push_str(&format!("ADD {i} {}\n", i * 1000));
        }
        c.send(batch.as_bytes());
        for i in 0..100 {
            assert_eq!(c.read_line(), (i * 1001).to_string(), "reply {i}");
        }
        // Mixed requests, CRLF and LF, in one write.
        c.send(b"ECHO a\r\nADD 2 3\r\nSUB 2 3\nECHO b\r\n");
        assert_eq!(
            c.read_line_bytes().unwrap(),
            b"a\n",
            "CR is not echoed back"
        );
        assert_eq!(c.read_line_bytes().unwrap(), b"5\n");
        assert_eq!(c.read_line_bytes().unwrap(), b"-1\n");
        assert_eq!(c.read_line_bytes().unwrap(), b"b\n");
        // ECHO gives its text back byte for byte, even bytes that are not UTF-8.
        c.send(b"ECHO \xff\x00 \x01bin\xc3\r\n");
        assert_eq!(c.read_line_bytes().unwrap(), b"\xff\x00 \x01bin\xc3\n");
        // One request split across many writes, byte by byte.
        for b in b"ADD 40 2\r\n" {
            c.send(&[*b]);
        }
        assert_eq!(c.read_line(), "42");
    }
}

#[test]
fn cmd_stop_and_quit_say_bye_then_close() {
    let both = TcpAndUnix::start("cmd_bye", "cmd", &[]);
    let (server, path) = (&both.server, &both.unix.path);
    let addr = server.addr("tcp", "cmd");
    let mut bystander = Client::tcp(addr);
    assert_eq!(bystander.request("ECHO hi"), "hi");

    for verb in ["STOP", "QUIT", "quit", "  Stop\t"] {
        let mut c = Client::tcp(addr);
        assert_eq!(c.request("ADD 1 1"), "2");
        // Requests after the closing one in the same write are not served.
        c.send(format!("{verb}\nECHO not served\n").as_bytes());
        let (got, err) = c.read_to_eof();
        assert_eq!(String::from_utf8_lossy(&got), "BYE\n", "after {verb:?}");
        assert!(
            err.is_none(),
            "{verb:?}: expected a clean close, got {err:?}"
        );
    }
    let mut c = Client::unix(path);
    c.send(b"QUIT\r\n");
    let (got, err) = c.read_to_eof();
    assert_eq!(got, b"BYE\n");
    assert!(err.is_none(), "{err:?}");

    assert_eq!(bystander.request("ECHO still"), "still");
}
