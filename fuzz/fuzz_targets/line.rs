//! Fuzz target `line`: the line splitter with its length cap and the `STOP` detector
//! (src/proto/line.rs), fed in arbitrary chunks.
//!
//! Input: one byte for the cap (`max`, 0..=255), the chunking header of `sockloop_fuzz`,
//! then the stream. Checks:
//! - the splitter never stalls (every step but `NeedMore` consumes at least one byte),
//!   never reports a line over the cap, and never asks the caller to keep more than
//!   `max + 1` bytes;
//! - the lines (and the over-long lines, each reported once) are the same for the
//!   whole stream, for the drawn chunks and byte by byte, and equal the documented rule
//!   written the obvious way (the `oracle` of the unit tests in src/proto/line.rs);
//! - `StopDetector` finds the same `STOP` line (same end offset) in the chunked and the
//!   whole scan, which is the first line that is exactly `STOP` once blanks are
//!   trimmed, and `pending_stop` agrees about an unterminated last line.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sockloop::proto::line::{LineSplitter, Step, StopDetector};
use sockloop_fuzz::{chunk_ends, draw_sizes};

type Lines = Vec<Result<Vec<u8>, ()>>;

/// How a server uses the splitter: keep the unconsumed tail, append the next chunk,
/// look again until it needs more.
fn split(max: usize, input: &[u8], ends: &[usize]) -> Lines {
    let mut s = LineSplitter::new(max);
    assert_eq!(s.max(), max);
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in ends {
        pending.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match s.next(&pending) {
                Step::Line { len, consumed } => {
                    assert!(len <= max, "line of {len} bytes over the cap {max}");
                    assert!(len < consumed && consumed <= pending.len());
                    assert_eq!(pending[consumed - 1], b'\n');
                    out.push(Ok(pending[..len].to_vec()));
                    pending.drain(..consumed);
                }
                Step::TooLong { consumed } => {
                    assert!(
                        consumed > 0 && consumed <= pending.len(),
                        "TooLong {consumed}"
                    );
                    out.push(Err(()));
                    pending.drain(..consumed);
                }
                Step::Skip { consumed } => {
                    assert!(consumed > 0 && consumed <= pending.len(), "Skip {consumed}");
                    pending.drain(..consumed);
                }
                Step::NeedMore => break,
            }
        }
        assert!(pending.len() <= max + 1, "kept {} bytes", pending.len());
    }
    if let Some(len) = s.finish(&pending) {
        assert!(len <= pending.len());
        out.push(Ok(pending[..len].to_vec()));
    }
    out
}

/// The documented rule over the whole input (mirrors the unit tests' oracle).
fn oracle(max: usize, input: &[u8]) -> Lines {
    let mut out = Vec::new();
    let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let last = parts.pop().unwrap_or_default();
    let judge = |p: &[u8]| {
        let p = p.strip_suffix(b"\r").unwrap_or(p);
        if p.len() > max {
            Err(())
        } else {
            Ok(p.to_vec())
        }
    };
    out.extend(parts.into_iter().map(judge));
    if !last.is_empty() {
        out.push(judge(last));
    }
    out
}

fn trimmed(line: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

/// Where the first `STOP` line ends, and whether an unterminated last line is `STOP`.
fn stop_oracle(input: &[u8]) -> (Option<usize>, bool) {
    let mut pos = 0;
    for line in input.split_inclusive(|&b| b == b'\n') {
        pos += line.len();
        if line.ends_with(b"\n") {
            if trimmed(line) == b"STOP" {
                return (Some(pos), false);
            }
        } else {
            return (None, trimmed(line) == b"STOP");
        }
    }
    (None, false)
}

fn scan(input: &[u8], ends: &[usize]) -> (Option<usize>, bool) {
    let mut d = StopDetector::default();
    let mut start = 0;
    for &end in ends {
        if let Some(n) = d.scan(&input[start..end]) {
            assert!(n > 0 && n <= end - start);
            return (Some(start + n), false);
        }
        start = end;
    }
    (None, d.pending_stop())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let max = usize::from(u8::arbitrary(&mut u).unwrap_or(0));
    let sizes = draw_sizes(&mut u);
    let input = u.take_rest();
    let len = input.len();
    let whole_ends: Vec<usize> = if len == 0 { vec![] } else { vec![len] };
    let chunked = chunk_ends(len, &sizes);

    let whole = split(max, input, &whole_ends);
    assert_eq!(
        whole,
        oracle(max, input),
        "whole input vs the documented rule"
    );
    assert_eq!(
        split(max, input, &chunked),
        whole,
        "chunks end at {chunked:?}"
    );
    if len <= 1024 {
        assert_eq!(
            split(max, input, &chunk_ends(len, &[1])),
            whole,
            "byte by byte"
        );
    }

    let want = stop_oracle(input);
    assert_eq!(scan(input, &whole_ends), want, "STOP in the whole input");
    assert_eq!(
        scan(input, &chunked),
        want,
        "STOP with chunks ending at {chunked:?}"
    );
});
