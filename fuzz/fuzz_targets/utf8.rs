//! Fuzz target `utf8`: the incremental UTF-8 validator (src/proto/ws/utf8.rs) against
//! `std::str::from_utf8` as the oracle.
//!
//! Input: the chunking header of `sockloop_fuzz` (chunk sizes), then the bytes.
//! Checks, for the whole input fed at once, fed in the drawn chunks, fed one byte at a
//! time and (for inputs up to 256 bytes) split in two at every point:
//! - valid exactly when `from_utf8` says so;
//! - fail fast: an invalid input is reported by `feed` at a byte no earlier than
//!   `valid_up_to` and no later than `valid_up_to + error_len` (the byte that makes the
//!   sequence impossible; exactly where the unit tests' `std_error` says), and an input
//!   that only stops inside a sequence is accepted by every `feed` and refused by
//!   `finish` with `Incomplete`;
//! - `at` is an index into the chunk that was fed, and `is_boundary` after each chunk
//!   agrees with `from_utf8` on the prefix;
//! - `reset` makes a used validator behave like a new one.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use sockloop::proto::ws::utf8::{Utf8Error, Utf8Validator};
use sockloop_fuzz::{chunk_ends, draw_sizes};

/// Where a validator reports the first error: `Some(index)` of the failing byte, or
/// `Some(len)` for `Incomplete` at `finish`; `None` when the input is valid.
fn first_error(v: &mut Utf8Validator, bytes: &[u8], ends: &[usize]) -> Option<usize> {
    let valid_up_to = std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), str::len);
    let valid = std::str::from_utf8(&bytes[..valid_up_to]).expect("valid_up_to is valid");
    let mut start = 0;
    for &end in ends {
        let chunk = &bytes[start..end];
        match v.feed(chunk) {
            Ok(()) => {
                // The prefix is whole UTF-8 exactly when it ends on a char boundary of
                // the input's valid part.
                let prefix_ok = end <= valid.len() && valid.is_char_boundary(end);
                assert_eq!(v.is_boundary(), prefix_ok, "is_boundary after {end} bytes");
            }
            Err(Utf8Error::Invalid { at }) => {
                assert!(
                    at < chunk.len(),
                    "at {at} outside a {}-byte chunk",
                    chunk.len()
                );
                return Some(start + at);
            }
            Err(Utf8Error::Incomplete) => panic!("feed returned Incomplete"),
        }
        start = end;
    }
    match v.finish() {
        Ok(()) => None,
        Err(Utf8Error::Incomplete) => Some(bytes.len()),
        Err(e) => panic!("finish returned {e:?}"),
    }
}

/// The oracle: `(valid_up_to, end of the error)` from `from_utf8`, where the end is
/// `valid_up_to + error_len`, or the input's length for a sequence cut off at the end.
fn std_error(bytes: &[u8]) -> Option<(usize, usize, bool)> {
    let e = std::str::from_utf8(bytes).err()?;
    let start = e.valid_up_to();
    Some(match e.error_len() {
        None => (start, bytes.len(), true),
        Some(len) => (start, start + len, false),
    })
}

/// The exact byte the unit tests expect: the lead byte if it can never start a
/// sequence, else the byte right after the sequence's valid prefix.
fn exact_error(bytes: &[u8]) -> Option<usize> {
    let e = std::str::from_utf8(bytes).err()?;
    let start = e.valid_up_to();
    Some(match e.error_len() {
        None => bytes.len(),
        Some(len) if matches!(bytes[start], 0xc2..=0xf4) => start + len,
        Some(_) => start,
    })
}

fn check(bytes: &[u8], ends: &[usize], v: &mut Utf8Validator) {
    let got = first_error(v, bytes, ends);
    match std_error(bytes) {
        None => assert_eq!(got, None, "valid input refused (chunks end at {ends:?})"),
        Some((valid_up_to, error_end, cut_off)) => {
            let at = got.unwrap_or_else(|| panic!("invalid input accepted (chunks {ends:?})"));
            if cut_off {
                assert_eq!(at, bytes.len(), "a cut-off sequence must fail at finish");
            } else {
                assert!(
                    (valid_up_to..=error_end).contains(&at) && at < bytes.len(),
                    "error at {at}, from_utf8 says {valid_up_to}..{error_end}"
                );
            }
            assert_eq!(Some(at), exact_error(bytes), "chunks end at {ends:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let sizes = draw_sizes(&mut u);
    let bytes = u.take_rest();
    let len = bytes.len();

    let mut v = Utf8Validator::new();
    let whole: Vec<usize> = if len == 0 { vec![] } else { vec![len] };
    check(bytes, &whole, &mut v);
    // A validator that has seen (and maybe failed on) input is as good as new after reset.
    v.reset();
    check(bytes, &chunk_ends(len, &sizes), &mut v);
    v.reset();
    check(bytes, &chunk_ends(len, &[1]), &mut v);
    if len <= 256 {
        for cut in 1..len {
            check(bytes, &[cut, len], &mut Utf8Validator::new());
        }
    }
});
