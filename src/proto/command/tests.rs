//! Tests of `proto::command`: every command, the error lines, and property tests.

use super::*;
use proptest::prelude::*;

/// A fixed environment: the tests can predict every reply.
struct Fixed {
    time: i64,
}

impl Env for Fixed {
    fn unix_time(&mut self) -> i64 {
        self.time
    }
    fn random(&mut self, min: i64, max: i64) -> i64 {
        assert!(min <= max);
        min + (max - min) / 2
    }
    fn client_number(&mut self) -> u64 {
        7
    }
    fn stats(&mut self) -> Stats {
        Stats {
            uptime_secs: 3,
            conns_active: 1,
            conns_total: 2,
            bytes_in: 10,
            bytes_out: 20,
            requests: 4,
            refused_max_conns: 5,
            refused_per_ip: 6,
            tls_handshakes: 14,
            refused_tls_handshakes: 15,
            udp_too_big: 7,
            udp_dropped: 8,
            memory_limit: 9,
            memory_used: 10,
            memory_peak: 11,
            memory_refused: 12,
            refused_memory: 13,
            published: 16,
            delivered: 17,
            fanout_dropped: 18,
            publish_throttled: 19,
            pid: 20,
        }
    }
}

fn reply(line: &str) -> (String, After) {
    let mut out = Vec::new();
    let after = respond(
        line.as_bytes(),
        &mut Fixed {
            time: 1_795_356_309,
        },
        &mut out,
    );
    (String::from_utf8(out).unwrap(), after)
}

#[test]
fn each_command() {
    assert_eq!(reply("HELP").0, format!("{HELP}\n"));
    assert_eq!(reply("echo  two  spaces ").0, " two  spaces \n");
    assert_eq!(reply("ECHO").0, "\n");
    assert_eq!(reply("time").0, "2026-11-22T14:05:09Z\n");
    assert_eq!(reply("TIMESTAMP").0, "1795356309\n");
    assert_eq!(reply("RANDOM").0, "500\n");
    assert_eq!(reply("random 10 20").0, "15\n");
    assert_eq!(reply("RANDOMS 3 0 0").0, "0 0 0\n");
    assert_eq!(reply("COUNT").0, "Client number: 7\n");
    assert_eq!(reply("ADD -17 18").0, "1\n");
    assert_eq!(reply("sub -17 18").0, "-35\n");
    assert_eq!(
        reply("STATS").0,
        "uptime=3 conns_active=1 conns_total=2 bytes_in=10 bytes_out=20 requests=4 \
         refused_max_conns=5 refused_per_ip=6 tls_handshakes=14 refused_tls_handshakes=15 \
         udp_too_big=7 udp_dropped=8 \
         memory_limit=9 memory_used=10 memory_peak=11 memory_refused=12 refused_memory=13 \
         published=16 delivered=17 fanout_dropped=18 publish_throttled=19 pid=20\n"
    );
    assert_eq!(reply("QUIT"), ("BYE\n".into(), After::Close));
    assert_eq!(reply("  stop").1, After::Close);
}

#[test]
fn errors_are_one_clear_line() {
    assert_eq!(reply("").0, "ERR empty request; try HELP\n");
    assert_eq!(reply("FROB x").0, "ERR unknown command 'FROB'; try HELP\n");
    assert_eq!(reply("ADD 1").0, "ERR usage: ADD A B\n");
    assert_eq!(reply("ADD 1 2 3").0, "ERR usage: ADD A B\n");
    assert_eq!(reply("ADD x 2").0, "ERR 'x' is not a 64-bit whole number\n");
    assert_eq!(
        reply("ADD 9223372036854775807 1").0,
        "ERR 9223372036854775807 + 1 does not fit in a signed 64-bit integer\n"
    );
    assert_eq!(
        reply("SUB -9223372036854775808 1").0,
        "ERR -9223372036854775808 - 1 does not fit in a signed 64-bit integer\n"
    );
    assert_eq!(reply("RANDOM 5 1").0, "ERR MIN 5 is greater than MAX 1\n");
    assert_eq!(reply("RANDOM 5").0, "ERR usage: RANDOM [MIN MAX]\n");
    assert_eq!(
        reply("RANDOMS 10001").0,
        "ERR RANDOMS count 10001 is not between 1 and 10000\n"
    );
    assert_eq!(reply("HELP me").0, "ERR usage: HELP\n");
    assert_eq!(reply("QUIT now").1, After::Continue);
}

#[test]
fn range_requests() {
    assert_eq!(parse_range_request(b""), Ok(DEFAULT_RANGE));
    assert_eq!(parse_range_request(b"hello"), Ok(DEFAULT_RANGE));
    assert_eq!(parse_range_request(b"5 9\r\n"), Ok((5, 9)));
    assert_eq!(
        parse_range_request(b"9 5"),
        Err(CommandError::InvertedRange { min: 9, max: 5 })
    );
}

proptest! {
    #[test]
    fn every_reply_is_exactly_one_line(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut out = Vec::new();
        respond(&line, &mut Fixed { time: 0 }, &mut out);
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(out.last(), Some(&b'\n'));
    }

    #[test]
    fn replies_parse_back_to_what_was_written(
        value in proptest::collection::vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..80),
        error in any::<bool>(),
    ) {
        // A value never starts with "ERR " (the protocol reserves it for errors).
        prop_assume!(error || !value.starts_with(b"ERR "));
        let reply = if error { Reply::Error(&value) } else { Reply::Value(&value) };
        let mut line = Vec::new();
        write_reply(reply, &mut line);
        prop_assert_eq!(line.pop(), Some(b'\n'));
        prop_assert_eq!(parse_reply(&line), reply);
    }

    #[test]
    fn every_reply_of_respond_parses(line in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut out = Vec::new();
        respond(&line, &mut Fixed { time: 0 }, &mut out);
        out.pop();
        let mut again = Vec::new();
        write_reply(parse_reply(&out), &mut again);
        again.pop();
        prop_assert_eq!(again, out);
    }

    #[test]
    fn arithmetic_agrees_with_checked_i64(a in any::<i64>(), b in any::<i64>(), sub in any::<bool>()) {
        let (verb, expected) = if sub { ("SUB", a.checked_sub(b)) } else { ("ADD", a.checked_add(b)) };
        let (got, _) = reply(&format!("{verb} {a} {b}"));
        match expected {
            Some(r) => prop_assert_eq!(got, format!("{r}\n")),
            None => prop_assert!(got.starts_with("ERR ")),
        }
    }

    #[test]
    fn randoms_reply_has_count_numbers_in_range(n in 1u32..50, min in -5i64..5, span in 0i64..10) {
        let (got, _) = reply(&format!("RANDOMS {n} {min} {}", min + span));
        let nums: Vec<i64> = got.trim_end().split(' ').map(|s| s.parse().unwrap()).collect();
        prop_assert_eq!(nums.len(), n as usize);
        prop_assert!(nums.iter().all(|&x| x >= min && x <= min + span));
    }
}
