//! `sockloop lookup` against an independent DNS server (dnsmasq) on loopback, and
//! against sockets the tests hold themselves for the failure cases: a server that never
//! answers, a closed port, a server that answers SERVFAIL after stray datagrams.
//!
//! Nothing here sends a packet off the machine: every run gets a resolv.conf that
//! points at 127.0.0.1 (see `support::dns::Env`).

mod support {
    pub mod deps;
    pub mod dns;
    pub mod exit;
    pub mod finished;
    pub mod process;
    pub mod temp;
}

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};
use support::deps::skipped;
use support::dns::{Dnsmasq, Env, V6ONLY, WWW_V4, WWW_V6, big_addresses, dnsmasq_or_skip};

/// True if this machine has an IPv6 loopback to bind to.
fn ipv6_loopback_works() -> bool {
    UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

// ---------------------------------------------------------------------------------
// Hand-written wire bytes (independent of proto::dns)
// ---------------------------------------------------------------------------------

/// A query for `name`/`qtype`, class IN, RD off, written out by hand.
fn raw_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

/// Asks `server` over UDP with hand-written bytes and returns the raw reply.
fn raw_udp_exchange(server: SocketAddr, query: &[u8]) -> Vec<u8> {
    let bind: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().expect("addr")
    } else {
        "[::1]:0".parse().expect("addr")
    };
    let s = UdpSocket::bind(bind).expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.send_to(query, server).expect("send");
    let mut buf = [0u8; 2048];
    let n = s.recv(&mut buf).expect("reply from the DNS server");
    buf[..n].to_vec()
}

/// Asks `server` over TCP with hand-written bytes and returns the raw reply.
fn raw_tcp_exchange(server: SocketAddr, query: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).expect("send");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).expect("length");
    let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut reply).expect("reply");
    reply
}

/// A server for the test, or `None` (the test is skipped) when dnsmasq is missing.
fn dnsmasq(test: &str) -> Option<Dnsmasq> {
    let path = dnsmasq_or_skip(test)?;
    Some(Dnsmasq::start(&path, "127.0.0.1"))
}

fn sorted(mut lines: Vec<&str>) -> Vec<&str> {
    lines.sort_unstable();
    lines
}

#[test]
fn a_name_gives_ipv6_then_ipv4_addresses() {
    let Some(dns) = dnsmasq("a_name_gives_ipv6_then_ipv4_addresses") else {
        return;
    };
    let run = Env::new().run(&["www.example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    assert_eq!(run.stderr, "");
    let lines = run.lines();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert_eq!(lines[0], WWW_V6, "IPv6 first: {run:?}");
    assert_eq!(sorted(lines[1..].to_vec()), WWW_V4, "{run:?}");
}

#[test]
fn cname_chains_are_followed() {
    let Some(dns) = dnsmasq("cname_chains_are_followed") else {
        return;
    };
    let run = Env::new().run(&["alias.example.test", "--server", &dns.server_arg(), "-v"]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    let lines = run.lines();
    assert_eq!(lines[0], WWW_V6, "{run:?}");
    assert_eq!(sorted(lines[1..].to_vec()), WWW_V4, "{run:?}");
    assert!(
        run.stderr
            .contains("alias.example.test. is an alias for www.example.test."),
        "{run:?}"
    );
}

#[test]
fn a_name_with_only_ipv6() {
    let Some(dns) = dnsmasq("a_name_with_only_ipv6") else {
        return;
    };
    let run = Env::new().run(&["v6only.example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.stdout, format!("{V6ONLY}\n"));
}

#[test]
fn ipv4_address_gives_its_ptr_name() {
    let Some(dns) = dnsmasq("ipv4_address_gives_its_ptr_name") else {
        return;
    };
    let run = Env::new().run(&[WWW_V4[0], "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    assert_eq!(run.stdout, "www.example.test.\n");
    assert!(
        dns.log().contains("10.2.0.192.in-addr.arpa"),
        "asked the reverse name: {}",
        dns.log()
    );
}

#[test]
fn ipv6_address_gives_its_ptr_name() {
    let Some(dns) = dnsmasq("ipv6_address_gives_its_ptr_name") else {
        return;
    };
    let run = Env::new().run(&[WWW_V6, "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    assert_eq!(run.stdout, "www.example.test.\n");
}

#[test]
fn address_without_a_name() {
    let Some(dns) = dnsmasq("address_without_a_name") else {
        return;
    };
    let run = Env::new().run(&["192.0.2.99", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("no such host: 192.0.2.99"), "{run:?}");
}

#[test]
fn ns_gives_the_name_servers() {
    let Some(dns) = dnsmasq("ns_gives_the_name_servers") else {
        return;
    };
    let run = Env::new().run(&["--ns", "example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    assert_eq!(
        sorted(run.lines()),
        ["ns1.example.test.", "ns2.example.test."]
    );
}

#[test]
fn no_ns_records() {
    let Some(dns) = dnsmasq("no_ns_records") else {
        return;
    };
    let run = Env::new().run(&["--ns", "www.example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "sockloop lookup: no NS records for www.example.test\n"
    );
}

#[test]
fn nxdomain_is_no_such_host() {
    let Some(dns) = dnsmasq("nxdomain_is_no_such_host") else {
        return;
    };
    let run = Env::new().run(&["nope.example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "sockloop lookup: no such host: nope.example.test\n"
    );
}

#[test]
fn a_name_with_no_addresses() {
    let Some(dns) = dnsmasq("a_name_with_no_addresses") else {
        return;
    };
    let run = Env::new().run(&["txtonly.example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "sockloop lookup: txtonly.example.test has no A or AAAA records\n"
    );
}

#[test]
fn refused_gets_its_own_message() {
    let Some(dns) = dnsmasq("refused_gets_its_own_message") else {
        return;
    };
    // Outside the zone dnsmasq serves authoritatively: it answers REFUSED.
    let run = Env::new().run(&["www.elsewhere.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(
        run.stderr.starts_with(&format!(
            "sockloop lookup: server {} refused to answer (REFUSED)",
            dns.addr
        )),
        "{run:?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
}

#[test]
fn truncated_answer_is_asked_again_over_tcp() {
    let Some(dns) = dnsmasq("truncated_answer_is_asked_again_over_tcp") else {
        return;
    };
    // First check, with bytes written by hand, that the server really truncates over
    // UDP (TC bit, 0x02 in the third byte) and gives the whole answer over TCP.
    let query = raw_query(0x4242, "big.example.test", 1);
    let udp = raw_udp_exchange(dns.addr, &query);
    assert!(udp.len() <= 512 && udp[2] & 0x02 != 0, "UDP answer has TC");
    let tcp = raw_tcp_exchange(dns.addr, &query);
    assert_eq!(
        u16::from_be_bytes([tcp[6], tcp[7]]),
        40,
        "40 answers over TCP"
    );
    assert_eq!(tcp[2] & 0x02, 0);

    let run = Env::new().run(&["big.example.test", "--server", &dns.server_arg(), "-v"]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    let mut want = big_addresses();
    want.sort_unstable();
    assert_eq!(sorted(run.lines()), want, "{run:?}");
    assert!(run.stderr.contains("truncated (TC)"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "A big.example.test.: NOERROR from {} over TCP, 40 answers",
            dns.addr
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn ipv6_server() {
    if !ipv6_loopback_works() {
        skipped("ipv6_server: no IPv6 loopback on this machine");
        return;
    }
    let Some(path) = dnsmasq_or_skip("ipv6_server") else {
        return;
    };
    let dns = Dnsmasq::start(&path, "::1");
    let server = dns.server_arg();
    assert!(server.starts_with("[::1]:"), "{server}");
    let run = Env::new().run(&["www.example.test", "--server", &server, "-v"]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    assert_eq!(run.lines()[0], WWW_V6);
    assert!(
        run.stderr.contains(&format!("asking {server} over UDP")),
        "{run:?}"
    );
    // And the big answer, so TCP over IPv6 is used too.
    let run = Env::new().run(&["big.example.test", "--server", &server]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());
    assert_eq!(run.lines().len(), 40);
}

#[test]
fn server_that_never_answers_times_out_after_two_tries() {
    // A UDP socket we hold and never answer from.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let run = Env::new().run(&[
        "www.example.test",
        "--server",
        &addr.to_string(),
        "--timeout",
        "0.5",
    ]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!("sockloop lookup: no answer from {addr} within 0.5 s (tried 2 times)\n")
    );
    assert!(
        run.elapsed >= Duration::from_millis(950) && run.elapsed < Duration::from_secs(3),
        "two tries of 0.5 s took {:?}",
        run.elapsed
    );
    // Two queries (AAAA and A), each sent twice.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 600];
    let mut datagrams = 0;
    while silent.recv(&mut buf).is_ok() {
        datagrams += 1;
    }
    assert_eq!(datagrams, 4);
}

#[test]
fn closed_port_is_connection_refused() {
    let addr = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    }; // closed again here
    let run = Env::new().run(&["www.example.test", "--server", &addr.to_string()]);
    assert_eq!(run.code(), 1, "{run:?}");
    assert_eq!(
        run.stderr,
        format!("sockloop lookup: connection refused by {addr} — is a DNS server listening?\n")
    );
    assert!(run.elapsed < Duration::from_secs(2), "{:?}", run.elapsed);
}

#[test]
fn invalid_ip_is_a_usage_error() {
    let run = Env::new().run(&["288.8.8.8"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert_eq!(run.stdout, "");
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("sockloop lookup: '288.8.8.8' is not a valid IP address"),
        "{run:?}"
    );
    let run = Env::new().run(&["--ns", "192.0.2.1"]);
    assert_eq!(run.code(), 2, "{run:?}");
    let run = Env::new().run(&[]);
    assert_eq!(run.code(), 2, "{run:?}");
    let run = Env::new().run(&["x.test", "--server", "dns.example"]);
    assert_eq!(run.code(), 2, "{run:?}");
}

#[test]
fn help_documents_exit_codes_and_invalid_ips() {
    let run = Env::new().run(&["--help"]);
    assert_eq!(run.code(), 0);
    for needle in [
        "exit codes: 0 ok, 1",
        "2 bad command line",
        "288.8.8.8",
        "--server",
        "--ns",
        "--timeout",
    ] {
        assert!(
            run.stdout.contains(needle),
            "--help lacks {needle}: {}",
            run.stdout
        );
    }
}

#[test]
fn localhost_comes_from_etc_hosts_without_a_server() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let listed = hosts.lines().any(|l| {
        let l = l.split('#').next().unwrap_or_default();
        let mut f = l.split_whitespace();
        f.next() == Some("127.0.0.1") && f.any(|n| n.eq_ignore_ascii_case("localhost"))
    });
    if !listed {
        skipped(
            "localhost_comes_from_etc_hosts_without_a_server: /etc/hosts has no 127.0.0.1 localhost",
        );
        return;
    }
    // The resolv.conf points at 127.0.0.1:53, where nothing is expected to answer; the
    // hosts file must be enough.
    let run = Env::new().run(&["localhost", "-v"]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert!(run.lines().contains(&"127.0.0.1"), "{run:?}");
    assert!(
        run.stderr.contains("found in /etc/hosts; no server asked"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("asking"), "{run:?}");
    assert!(run.elapsed < Duration::from_secs(1), "{:?}", run.elapsed);
    let run = Env::new().run(&["LocalHost"]);
    assert!(run.lines().contains(&"127.0.0.1"), "case ignored: {run:?}");
}

#[test]
fn hosts_file_first_unless_a_server_is_named() {
    let env = Env::new().file(
        "SOCKLOOP_HOSTS",
        "hosts",
        "# test hosts\n\
         192.0.2.250  www.example.test  www   # a local override\n\
         2001:db8::250 WWW.EXAMPLE.TEST\n\
         192.0.2.251  other.example.test\n",
    );
    let run = env.run(&["www.example.test"]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.stdout, "2001:db8::250\n192.0.2.250\n");
    let run = env.run(&["192.0.2.250"]);
    assert_eq!(run.stdout, "www.example.test.\nwww.\n", "{run:?}");
    // With --server, the named server is asked and the hosts file is not read.
    let Some(dns) = dnsmasq("hosts_file_first_unless_a_server_is_named") else {
        return;
    };
    let run = env.run(&["www.example.test", "--server", &dns.server_arg()]);
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(run.lines()[0], WWW_V6);
    assert!(!run.stdout.contains("250"), "{run:?}");
}

#[test]
fn default_server_comes_from_resolv_conf() {
    // A resolv.conf naming a loopback address: the port is always 53, so this only
    // checks which server was asked, whatever (if anything) answers there.
    let env = Env::new().file(
        "SOCKLOOP_RESOLV_CONF",
        "resolv.conf",
        "# comment\nsearch example.test\nnameserver 127.0.0.1\nnameserver 127.0.0.2\n",
    );
    let run = env.run(&["nothing.invalid", "-v", "--timeout", "0.2"]);
    assert!(
        run.stderr.contains("asking 127.0.0.1:53 over UDP"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("127.0.0.2"), "{run:?}");
}

/// A server the test writes by hand: it receives the two queries, sends a stray
/// datagram of garbage, an answer with the wrong id, then SERVFAIL for each query
/// (the query's own bytes with QR, RD, RA and rcode 2 set).
#[test]
fn stray_datagrams_are_ignored_and_servfail_is_reported() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr: SocketAddr = server.local_addr().unwrap();
    let responder = thread::spawn(move || {
        let mut buf = [0u8; 600];
        for _ in 0..2 {
            let (n, from) = server.recv_from(&mut buf).expect("a query");
            let query = buf[..n].to_vec();
            server.send_to(b"\x00\x01garbage", from).unwrap();
            let mut wrong = query.clone();
            wrong[0] ^= 0xff;
            wrong[2] = 0x81;
            wrong[3] = 0x80;
            server.send_to(&wrong, from).unwrap();
            let mut fail = query;
            fail[2] = 0x81; // QR, RD
            fail[3] = 0x82; // RA, SERVFAIL
            server.send_to(&fail, from).unwrap();
        }
    });
    let started = Instant::now();
    let run = Env::new().run(&["www.example.test", "--server", &addr.to_string(), "-v"]);
    responder.join().unwrap();
    assert_eq!(run.code(), 1, "{run:?}");
    assert!(
        run.stderr.ends_with(&format!(
            "sockloop lookup: server {addr} failed to answer (SERVFAIL)\n"
        )),
        "{run:?}"
    );
    assert!(run.stderr.contains("ignored a datagram"), "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no waiting for a timeout"
    );
}

#[test]
fn the_client_runs_in_one_thread() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let env = Env::new();
    let client = env.start(&["www.example.test", "--server", &addr, "--timeout", "1"]);
    // Wait until the queries are out, so the loop is running.
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 600];
    silent.recv(&mut buf).expect("a query");
    let status = std::fs::read_to_string(format!("/proc/{}/status", client.pid()));
    drop(client);
    if let Ok(status) = status {
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .map(str::trim);
        assert_eq!(threads, Some("1"), "{status}");
    }
}
