//! Fuzz target `command`: the `cmd` line protocol parser (src/proto/command.rs) and
//! reply formatter (src/proto/command/answer.rs), with a deterministic `Env`.
//!
//! Input: a fixed header — clock (i64), two numbers `a` and `b` (i64), a format byte, a
//! count (u16) and a random seed (u64), all little-endian — then a raw request line.
//! Checks:
//! - `respond` never panics and every reply is exactly one line: one `\n`, at the end;
//! - the reply is what `parse` says the request is: `ERR <reason>` for a parse error,
//!   the text for `ECHO`, `BYE` and close for `STOP`/`QUIT`, checked `i64` arithmetic
//!   for `ADD`/`SUB`, numbers within the range for `RANDOM`/`RANDOMS`, and so on;
//! - `ADD a b` and `SUB a b`, written in the many ways a client may (verb case, spaces
//!   and tabs, `+` signs, leading zeros, a trailing CR), agree with `checked_add` /
//!   `checked_sub`, with the exact overflow error when they do not fit;
//! - `RANDOM a b` and `RANDOMS n a b` ask the `Env` only for ranges with min <= max;
//! - `parse_range_request` never panics and never gives an inverted range.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sockloop::proto::command::{
    After, CommandError, Env, HELP, MAX_RANDOMS, Request, Stats, parse, parse_range_request,
    respond,
};

/// A clock, a counter and a random source that the input fixes.
struct FixedEnv {
    time: i64,
    seed: u64,
}

impl Env for FixedEnv {
    fn unix_time(&mut self) -> i64 {
        self.time
    }

    fn random(&mut self, min: i64, max: i64) -> i64 {
        assert!(
            min <= max,
            "Env::random({min}, {max}): the caller must order the range"
        );
        // xorshift64*: deterministic, and lands anywhere in the range.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let span = (i128::from(max) - i128::from(min) + 1) as u128;
        let r = i128::from(min) + (u128::from(self.seed) % span) as i128;
        i64::try_from(r).expect("in range")
    }

    fn client_number(&mut self) -> u64 {
        42
    }

    fn stats(&mut self) -> Stats {
        Stats {
            uptime_secs: self.seed,
            conns_active: 1,
            conns_total: u64::MAX,
            bytes_in: 0,
            bytes_out: 7,
            requests: 3,
            ..Stats::default()
        }
    }
}

fn reply(line: &[u8], env: &mut FixedEnv) -> (Vec<u8>, After) {
    let mut out = b"previous reply\n".to_vec();
    let after = respond(line, env, &mut out);
    let out = out.split_off(b"previous reply\n".len());
    // `contains` on bytes is std's memchr: a 200 KB RANDOMS reply stays cheap to check.
    let one_line = matches!(out.split_last(), Some((b'\n', body)) if !body.contains(&b'\n'));
    assert!(
        one_line,
        "reply {:?} to {:?} is not exactly one line",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(line)
    );
    (out, after)
}

fn numbers(body: &[u8]) -> Vec<i64> {
    std::str::from_utf8(body)
        .expect("numbers are ASCII")
        .split(' ')
        .map(|n| n.parse().expect("a number"))
        .collect()
}

/// The reply that the parsed request must get (for requests whose reply is fixed).
fn check_against_parse(line: &[u8], time: i64, seed: u64) {
    let env = &mut FixedEnv { time, seed };
    let (out, after) = reply(line, env);
    let body = &out[..out.len() - 1];
    let expect_continue = |after: After| assert_eq!(after, After::Continue);
    match parse(line) {
        Err(e) => {
            assert_eq!(body, format!("ERR {e}").as_bytes());
            expect_continue(after);
        }
        Ok(Request::Help) => assert_eq!(body, HELP.as_bytes()),
        Ok(Request::Echo(text)) => {
            assert_eq!(body, text);
            expect_continue(after);
        }
        Ok(Request::Time) => {
            let stamp = std::str::from_utf8(body).expect("ASCII time");
            assert!(
                stamp.ends_with('Z') && stamp.contains('T'),
                "TIME gave {stamp}"
            );
            if (0..253_402_300_800).contains(&time) {
                // Years 1970..=9999: exactly YYYY-MM-DDTHH:MM:SSZ.
                let b = stamp.as_bytes();
                assert_eq!(b.len(), 20, "TIME gave {stamp}");
                assert!([4, 7].iter().all(|&i| b[i] == b'-') && b[10] == b'T');
                assert!(b[13] == b':' && b[16] == b':');
            }
        }
        Ok(Request::Timestamp) => assert_eq!(body, time.to_string().as_bytes()),
        Ok(Request::Random { min, max }) => {
            assert!(min <= max);
            let n = numbers(body);
            assert!(n.len() == 1 && (min..=max).contains(&n[0]));
        }
        Ok(Request::Randoms { count, min, max }) => {
            assert!((1..=MAX_RANDOMS).contains(&count) && min <= max);
            let n = numbers(body);
            assert_eq!(n.len(), count as usize);
            assert!(n.iter().all(|x| (min..=max).contains(x)));
        }
        Ok(Request::Count) => assert_eq!(body, b"Client number: 42"),
        Ok(Request::Add(a, b)) => check_arith(body, '+', a, b, a.checked_add(b)),
        Ok(Request::Sub(a, b)) => check_arith(body, '-', a, b, a.checked_sub(b)),
        Ok(Request::Stats) => assert!(body.starts_with(b"uptime=")),
        Ok(Request::Quit) => {
            assert_eq!((body, after), (&b"BYE"[..], After::Close));
        }
    }
}

fn check_arith(body: &[u8], op: char, a: i64, b: i64, want: Option<i64>) {
    match want {
        Some(r) => assert_eq!(body, r.to_string().as_bytes(), "{a} {op} {b}"),
        None => {
            let err = CommandError::Overflow { op, a, b };
            assert_eq!(body, format!("ERR {err}").as_bytes(), "{a} {op} {b}");
        }
    }
}

/// Writes `n` the way the format bits ask: maybe a `+` on a non-negative number,
/// maybe leading zeros.
fn number(n: i64, plus: bool, zeros: usize) -> String {
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 {
        "-"
    } else if plus {
        "+"
    } else {
        ""
    };
    format!("{sign}{}{digits}", "0".repeat(zeros))
}

/// `VERB a b` (or `VERB a b c` ...) spelled as the format byte says.
fn request(verb: &str, args: &[String], fmt: u8) -> Vec<u8> {
    let verb = match fmt & 3 {
        0 => verb.to_string(),
        1 => verb.to_lowercase(),
        _ => {
            let mut v = verb.to_lowercase();
            v.replace_range(..1, &verb[..1]);
            v
        }
    };
    let sep = match (fmt >> 2) & 3 {
        0 => " ",
        1 => "\t",
        2 => "  ",
        _ => " \t ",
    };
    let lead = if fmt & 0x10 != 0 { " \t" } else { "" };
    let trail = if fmt & 0x20 != 0 { "\r" } else { "" };
    let mut line = format!("{lead}{verb}");
    for arg in args {
        line.push_str(sep);
        line.push_str(arg);
    }
    line.push_str(trail);
    line.into_bytes()
}

/// The fixed-size front of the input (fields in order, integers little-endian; missing
/// bytes read as zero).
#[derive(Arbitrary, Debug)]
struct Header {
    time: i64,
    a: i64,
    b: i64,
    fmt: u8,
    count: u16,
    seed: u64,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(Header {
        time,
        a,
        b,
        fmt,
        count,
        seed,
    }) = Header::arbitrary(&mut u)
    else {
        return;
    };
    let seed = seed | 1; // xorshift needs a non-zero state
    let line = u.take_rest();

    // Arbitrary bytes.
    check_against_parse(line, time, seed);
    if let Ok((min, max)) = parse_range_request(line) {
        assert!(min <= max, "parse_range_request gave {min}..{max}");
    }

    // Arithmetic from fuzzer-drawn numbers, written in a fuzzer-drawn style.
    let plus = fmt & 0x40 != 0;
    let zeros = usize::from(fmt >> 7) * 3;
    let args = [number(a, plus, zeros), number(b, plus, zeros)];
    let env = &mut FixedEnv { time, seed };
    for (verb, op, want) in [
        ("ADD", '+', a.checked_add(b)),
        ("SUB", '-', a.checked_sub(b)),
    ] {
        let line = request(verb, &args, fmt);
        let (out, after) = reply(&line, env);
        assert_eq!(after, After::Continue);
        check_arith(&out[..out.len() - 1], op, a, b, want);
        // One argument too many is a usage error, not a result.
        let mut three = args.to_vec();
        three.push("1".into());
        let (out, _) = reply(&request(verb, &three, fmt), env);
        assert_eq!(out, format!("ERR usage: {verb} A B\n").as_bytes());
    }

    // RANDOM a b: an error exactly when the range is inverted.
    let (out, _) = reply(&request("RANDOM", &args, fmt), env);
    if a > b {
        let err = CommandError::InvertedRange { min: a, max: b };
        assert_eq!(out, format!("ERR {err}\n").as_bytes());
    } else {
        let n = numbers(&out[..out.len() - 1]);
        assert!(n.len() == 1 && (a..=b).contains(&n[0]));
    }
    // RANDOMS n a b with n around the limits (0 and MAX_RANDOMS + 1 are errors).
    // Mostly small counts (each number costs time), sometimes right at the limit.
    let count = u32::from(count);
    let count = match count >> 12 {
        0..=14 => count % 4,
        _ if count & 1 == 0 => MAX_RANDOMS - 2 + (count >> 1) % 4,
        _ => count % (MAX_RANDOMS + 2),
    };
    let mut with_count = vec![count.to_string()];
    with_count.extend(args.iter().cloned());
    let line = request("RANDOMS", &with_count, fmt);
    match parse(&line) {
        Ok(Request::Randoms { count: c, min, max }) => assert_eq!((c, min, max), (count, a, b)),
        Err(_) => assert!(
            count == 0 || count > MAX_RANDOMS || a > b,
            "{line:?} refused"
        ),
        Ok(other) => panic!("{line:?} parsed as {other:?}"),
    }
    check_against_parse(&line, time, seed);
});
