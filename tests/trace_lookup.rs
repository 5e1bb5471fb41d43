//! `sockloop lookup --trace=dns` against an independent DNS server (dnsmasq) on
//! loopback: the queries sent, the responses received and their records appear on
//! stderr, and the addresses still go to stdout as without the trace.
//!
//! A build without the `trace` feature has no `--trace`: nothing to test then.
#![cfg(feature = "trace")]

mod support {
    pub mod deps;
    pub mod dns;
    pub mod exit;
    pub mod finished;
    pub mod process;
    pub mod temp;
}

use support::dns::{Dnsmasq, Env, WWW_V4, WWW_V6, dnsmasq_or_skip};

#[test]
fn trace_shows_queries_responses_and_records() {
    let Some(path) = dnsmasq_or_skip("trace_shows_queries_responses_and_records") else {
        return;
    };
    let dns = Dnsmasq::start(&path, "127.0.0.1");
    let server = dns.server_arg();
    let run = Env::new().run(&["--trace=dns", "--server", &server, "www.example.test"]);
    assert_eq!(run.code(), 0, "{run:?}\n{}", dns.log());

    // The output is the same as without --trace: IPv6 first, then both IPv4.
    let lines = run.lines();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert_eq!(lines[0], WWW_V6, "{run:?}");
    let mut v4 = lines[1..].to_vec();
    v4.sort_unstable();
    assert_eq!(v4, WWW_V4, "{run:?}");

    // Every trace line carries the server as its context.
    let context = format!("dns {server}  ");
    let events: Vec<&str> = run
        .stderr
        .lines()
        .map(|l| {
            l.split_once(&context)
                .map(|(_, event)| event)
                .unwrap_or_else(|| panic!("no '{context}' in {l:?}\n{}", run.stderr))
        })
        .collect();
    let has_all = |prefix: &str, parts: &[&str]| {
        events
            .iter()
            .any(|e| e.starts_with(prefix) && parts.iter().all(|p| e.contains(p)))
    };
    let has = |prefix: &str, rest: &str| has_all(prefix, &[rest]);
    // Both queries, with recursion desired, over UDP.
    assert!(
        has("dns < query id=", " rd AAAA www.example.test. (UDP)"),
        "{}",
        run.stderr
    );
    assert!(
        has("dns < query id=", " rd A www.example.test. (UDP)"),
        "{}",
        run.stderr
    );
    // Both responses: authoritative answers, with their section counts.
    for answers in ["1 answer,", "2 answers,"] {
        assert!(
            has_all(
                "dns > response id=",
                &[" qr aa rd", &format!(" NOERROR: 1 question, {answers} ")]
            ),
            "{}",
            run.stderr
        );
    }
    // Every answer record, in zone-file form.
    let record = |data: &str| format!(" IN {data}");
    assert!(
        has(
            "dns >   www.example.test. ",
            &record(&format!("AAAA {WWW_V6}"))
        ),
        "{}",
        run.stderr
    );
    for ip in WWW_V4 {
        assert!(
            has("dns >   www.example.test. ", &record(&format!("A {ip}"))),
            "{}",
            run.stderr
        );
    }
    // Only the dns layer was asked for.
    assert!(!has("udp ", ""), "{}", run.stderr);
    assert!(!has("tcp ", ""), "{}", run.stderr);
}
