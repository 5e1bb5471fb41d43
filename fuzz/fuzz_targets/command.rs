//! Fuzz target `command`: the `cmd` line protocol parser (src/proto/command.rs) and
//! reply formatter (src/proto/command/answer.rs), with a deterministic `Env`.
//!
//! Input: a fixed header — clock (i64), two numbers `a` and `b` (i64), a format byte, a
//! count (u16) and a random seed (u64), all little-endian — then a raw request line.
//! Checks:
//! - `respond` never panics and every reply is exactly one line: one `\n`, at the end;
//! - the reply is what `parse` says the request is: `ERR <reason>` for a parse error,
//!   the text for `ECHO`, `BYE` and close for `STOP`/`QUIT`, checked `i64` arithmetic
//!   for `ADD`/`SUB`, and so on; for `RANDOM`/`RANDOMS`, exactly the numbers the `Env`
//!   handed out (as many as asked for, each within the request's range), in order,
//!   written as `i64`'s `Display` writes them and separated by single spaces;
//! - `ADD a b` and `SUB a b`, written in the many ways a client may (verb case, spaces
//!   and tabs, `+` signs, leading zeros, a trailing CR), agree with `checked_add` /
//!   `checked_sub`, with the exact overflow error when they do not fit;
//! - `RANDOM a b` and `RANDOMS n a b` ask the `Env` only for ranges with min <= max;
//! - `parse_range_request` never panics and never gives an inverted range;
//! - `respond` appends: what the buffer held before the reply stays as it was.
//!
//! Speed: a `RANDOMS 10000` reply is 70 KB, and in a fuzz build every byte the oracle
//! touches costs (see `check_drawn`). So the numbers are compared as a whole: the target
//! writes the numbers the `Env` drew into a second buffer and compares the two with one
//! `memcmp`, instead of splitting the reply and parsing each number (which took 40% of
//! the time, more than `respond` itself); the buffers are reused from one input to the
//! next, and the `Env` divides in `u64`, not `u128`.
#![no_main]

use std::cell::RefCell;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sockloop::proto::command::{
    After, CommandError, Env, HELP, MAX_RANDOMS, Request, Stats, parse, parse_range_request,
    respond,
};

/// A clock, a counter and a random source that the input fixes; it records what it
/// draws, so the reply can be compared with it.
struct FixedEnv<'a> {
    time: i64,
    seed: u64,
    drawn: &'a mut Vec<i64>,
}

impl Env for FixedEnv<'_> {
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
        // seed % (max - min + 1) in u64: the span fits unless the range is all of i64
        // (then every seed is an offset). A RANDOMS reply asks up to 10,000 times, and
        // u128 division was a visible part of the target's time.
        let offset = match max.abs_diff(min).checked_add(1) {
            Some(span) => self.seed % span,
            None => self.seed,
        };
        let r = min.wrapping_add_unsigned(offset); // min + offset <= max: no wrap
        self.drawn.push(r);
        r
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

/// Buffers reused from one input to the next (a `RANDOMS` reply grows them to 70 KB).
#[derive(Default)]
struct Scratch {
    reply: Vec<u8>,
    drawn: Vec<i64>,
    expected: Vec<u8>,
}

/// What the reply buffer holds before `respond` appends to it; it must stay as it was.
const PREVIOUS: &[u8] = b"previous reply\n";

/// The reply to `line` (checked to be exactly one line) and what comes after it; the
/// numbers the env drew for it are in `env.drawn`.
fn reply<'a>(line: &[u8], env: &mut FixedEnv, buf: &'a mut Vec<u8>) -> (&'a [u8], After) {
    env.drawn.clear();
    buf.clear();
    buf.extend_from_slice(PREVIOUS);
    let after = respond(line, env, buf);
    let (previous, out) = buf.split_at(PREVIOUS.len());
    assert_eq!(
        previous, PREVIOUS,
        "respond changed what was already in the buffer"
    );
    // `contains` on bytes is std's memchr: a 200 KB RANDOMS reply stays cheap to check.
    let one_line = matches!(out.split_last(), Some((b'\n', body)) if !body.contains(&b'\n'));
    assert!(
        one_line,
        "reply {:?} to {:?} is not exactly one line",
        String::from_utf8_lossy(out),
        String::from_utf8_lossy(line)
    );
    (out, after)
}

/// Checks that `body` is exactly the numbers the env drew (`drawn`): `count` of them,
/// each in `min..=max`, written as `i64`'s `Display` writes them, one space apart.
///
/// Written for speed, since a `RANDOMS 10000` reply is 70 KB: the expected text is
/// built in `expected` (reused) with one `extend_from_slice` per number and compared
/// with one `memcmp`. In a fuzz build every load and store the target itself does is an
/// AddressSanitizer shadow check, and SanitizerCoverage traces that check as a
/// comparison, so touching the reply byte by byte (splitting it and parsing each number,
/// as this target did) cost more than `respond` writing it.
fn check_drawn(
    body: &[u8],
    drawn: &[i64],
    count: usize,
    (min, max): (i64, i64),
    expected: &mut Vec<u8>,
) {
    assert_eq!(
        drawn.len(),
        count,
        "the env was asked for {} numbers, not {count}",
        drawn.len()
    );
    // n in min..=max exactly when n - min <= max - min, as unsigned: one comparison.
    let span = max.abs_diff(min);
    expected.clear();
    for &n in drawn {
        assert!(
            n.wrapping_sub(min) as u64 <= span,
            "the env was asked for {n}, outside {min}..={max}"
        );
        let (text, start) = decimal(n);
        expected.extend_from_slice(&text.as_flattened()[start..]);
    }
    // The numbers were written with a space before each: the first one has none.
    let expected = expected.get(1..).unwrap_or_default();
    if body != expected {
        let at = body
            .iter()
            .zip(expected)
            .take_while(|(a, b)| a == b)
            .count();
        let around = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(20)..b.len().min(at + 20)]).into_owned()
        };
        panic!(
            "the reply differs from the {count} numbers drawn in {min}..={max} at byte {at}: \
             {:?}, not {:?}",
            around(body),
            around(expected)
        );
    }
}

/// Room for a space, a sign and the 20 digits of any `i64`'s magnitude, in pairs.
const NUMBER_TEXT: usize = 22;

/// "00", "01", ..., "99".
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// `n` as `Display` writes it, with a space before it, at the end of the array; the
/// second value is where that space is. Two digits a step, through whole pairs (no
/// bounds checks).
fn decimal(n: i64) -> ([[u8; 2]; NUMBER_TEXT / 2], usize) {
    let mut pairs = [[0; 2]; NUMBER_TEXT / 2];
    let mut m = n.unsigned_abs();
    let mut len = 0;
    for pair in pairs.iter_mut().rev() {
        *pair = DIGIT_PAIRS[(m % 100) as usize];
        len += 2;
        m /= 100;
        if m == 0 {
            break;
        }
    }
    let text = pairs.as_flattened_mut();
    let mut start = NUMBER_TEXT - len;
    // The first pair's leading zero is not written: "7", not "07" (and "0", not "00").
    start += usize::from(text[start] == b'0');
    if n < 0 {
        start -= 1;
        text[start] = b'-';
    }
    start -= 1;
    text[start] = b' ';
    (pairs, start)
}

/// The reply that the parsed request must get (for requests whose reply is fixed).
fn check_against_parse(line: &[u8], time: i64, seed: u64, scratch: &mut Scratch) {
    let env = &mut FixedEnv {
        time,
        seed,
        drawn: &mut scratch.drawn,
    };
    let (out, after) = reply(line, env, &mut scratch.reply);
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
            check_drawn(body, env.drawn, 1, (min, max), &mut scratch.expected);
        }
        Ok(Request::Randoms { count, min, max }) => {
            assert!((1..=MAX_RANDOMS).contains(&count) && min <= max);
            check_drawn(
                body,
                env.drawn,
                count as usize,
                (min, max),
                &mut scratch.expected,
            );
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

thread_local! {
    /// Buffers reused from one input to the next.
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

fuzz_target!(|data: &[u8]| SCRATCH.with_borrow_mut(|scratch| check(data, scratch)));

fn check(data: &[u8], scratch: &mut Scratch) {
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
    check_against_parse(line, time, seed, scratch);
    if let Ok((min, max)) = parse_range_request(line) {
        assert!(min <= max, "parse_range_request gave {min}..{max}");
    }

    // Arithmetic from fuzzer-drawn numbers, written in a fuzzer-drawn style.
    let plus = fmt & 0x40 != 0;
    let zeros = usize::from(fmt >> 7) * 3;
    let args = [number(a, plus, zeros), number(b, plus, zeros)];
    let env = &mut FixedEnv {
        time,
        seed,
        drawn: &mut scratch.drawn,
    };
    let buf = &mut scratch.reply;
    for (verb, op, want) in [
        ("ADD", '+', a.checked_add(b)),
        ("SUB", '-', a.checked_sub(b)),
    ] {
        let line = request(verb, &args, fmt);
        let (out, after) = reply(&line, env, buf);
        assert_eq!(after, After::Continue);
        check_arith(&out[..out.len() - 1], op, a, b, want);
        // One argument too many is a usage error, not a result.
        let mut three = args.to_vec();
        three.push("1".into());
        let (out, _) = reply(&request(verb, &three, fmt), env, buf);
        assert_eq!(out, format!("ERR usage: {verb} A B\n").as_bytes());
    }

    // RANDOM a b: an error exactly when the range is inverted.
    let (out, _) = reply(&request("RANDOM", &args, fmt), env, buf);
    if a > b {
        let err = CommandError::InvertedRange { min: a, max: b };
        assert_eq!(out, format!("ERR {err}\n").as_bytes());
    } else {
        check_drawn(
            &out[..out.len() - 1],
            env.drawn,
            1,
            (a, b),
            &mut scratch.expected,
        );
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
    check_against_parse(&line, time, seed, scratch);
}
