//! Line framing for the text services: a splitter with a length cap, and the `STOP`
//! detector the echo service uses.
//!
//! A line ends at LF; a CR right before the LF is dropped too, so `nc` (LF) and telnet
//! style clients (CRLF) look the same. The cap counts the line's content (without the
//! terminator). An over-long line is reported once, as soon as it is known to be too
//! long, and the rest of it is skipped as it streams past: it is never buffered.

/// What the splitter found at the front of the buffer it was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A whole line: its content is `buf[..len]`; drop `consumed` bytes (content + terminator).
    Line { len: usize, consumed: usize },
    /// The current line is longer than the cap: answer it once, drop `consumed` bytes.
    TooLong { consumed: usize },
    /// More of an over-long line that was already answered: drop `consumed` bytes silently.
    Skip { consumed: usize },
    /// No complete line yet: keep the bytes (at most `max + 1` of them) and read more.
    NeedMore,
}

/// Incremental line splitter. It keeps no bytes itself, only whether it is skipping the
/// tail of an over-long line, so the caller owns (and can release) any partial line.
#[derive(Clone, Copy, Debug)]
pub struct LineSplitter {
    /// Kept in 32 bits, so that a connection's state stays small; a limit beyond
    /// 4 GiB is clamped to it (a line that long is not a request).
    max: u32,
    skipping: bool,
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        Self {
            max: u32::try_from(max).unwrap_or(u32::MAX),
            skipping: false,
        }
    }

    pub fn max(&self) -> usize {
        self.max as usize
    }

    /// Looks at the unconsumed bytes `buf` and says what is at their front.
    pub fn next(&mut self, buf: &[u8]) -> Step {
        if buf.is_empty() {
            return Step::NeedMore;
        }
        let newline = find_newline(buf);
        if self.skipping {
            return match newline {
                Some(i) => {
                    self.skipping = false;
                    Step::Skip { consumed: i + 1 }
                }
                None => Step::Skip {
                    consumed: buf.len(),
                },
            };
        }
        match newline {
            Some(i) => {
                let len = content_len(buf, i);
                if len > self.max() {
                    Step::TooLong { consumed: i + 1 }
                } else {
                    Step::Line {
                        len,
                        consumed: i + 1,
                    }
                }
            }
            // Without a newline the line can still fit while it is at most `max` bytes,
            // or `max + 1` when the last one is a CR that a LF may follow.
            None if buf.len() <= self.max() => Step::NeedMore,
            None if buf.len() == self.max() + 1 && buf.last() == Some(&b'\r') => Step::NeedMore,
            None => {
                self.skipping = true;
                Step::TooLong {
                    consumed: buf.len(),
                }
            }
        }
    }

    /// The stream ended: an unterminated last line still counts as a line, unless it
    /// was the tail of an over-long one. Returns the content length of that last line.
    pub fn finish(&mut self, rest: &[u8]) -> Option<usize> {
        let skipping = std::mem::replace(&mut self.skipping, false);
        if skipping || rest.is_empty() {
            return None;
        }
        Some(content_len(rest, rest.len()))
    }
}

/// Length of the line ending at `end` (exclusive), without a CR right before it.
fn content_len(buf: &[u8], end: usize) -> usize {
    match buf.get(..end) {
        Some([.., b'\r']) => end - 1,
        _ => end,
    }
}

/// The position of the first `\n` in `bytes`, looked for eight bytes at a time: a
/// word without one is passed with a few arithmetic instructions instead of eight
/// compare-and-branch steps (the echo and line services call this on every byte they
/// serve).
pub fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let Some(&w) = word.first_chunk::<8>() else {
            break;
        };
        // A byte of `x` is zero where `w` has a newline. `(x - ONES) & !x & HIGHS` sets
        // the high bit of every zero byte (and possibly of bytes above one, through the
        // borrow), so its lowest set bit marks the first newline. Little-endian
        // loading makes "lowest" mean "first in memory" on every machine.
        let x = u64::from_le_bytes(w) ^ NEWLINES;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == b'\n').map(|i| offset + i)
}

/// Watches an echoed byte stream for a line that is exactly `STOP` once blanks
/// (space, tab, CR) around it are trimmed — the classic examples' way to hang up.
///
/// It keeps four bits of state instead of the line, so echo stays byte-exact and
/// allocation-free however long the lines are.
#[derive(Clone, Copy, Debug, Default)]
pub struct StopDetector {
    phase: StopPhase,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum StopPhase {
    /// Only blanks on this line so far.
    #[default]
    Leading,
    /// This many bytes of `STOP` matched, nothing else yet.
    Word(u8),
    /// `STOP` followed by blanks.
    Trailing,
    /// This line cannot be `STOP`.
    Other,
}

const STOP: &[u8; 4] = b"STOP";

impl StopDetector {
    /// Scans `data`; returns the length of the prefix that ends with the terminator of
    /// the first `STOP` line, if there is one. Bytes after it should not be served.
    pub fn scan(&mut self, data: &[u8]) -> Option<usize> {
        let mut i = 0;
        while let Some(&b) = data.get(i) {
            if self.phase == StopPhase::Other {
                // Fast path: nothing matters until the next line.
                match data.get(i..).and_then(find_newline) {
                    Some(nl) => {
                        i += nl + 1;
                        self.phase = StopPhase::Leading;
                        continue;
                    }
                    None => return None,
                }
            }
            if b == b'\n' {
                let was_stop = matches!(self.phase, StopPhase::Word(4) | StopPhase::Trailing);
                self.phase = StopPhase::Leading;
                if was_stop {
                    return Some(i + 1);
                }
            } else {
                self.phase = self.step(b);
            }
            i += 1;
        }
        None
    }

    /// True when the bytes seen since the last newline are `STOP` (for a stream that
    /// ends without a final newline).
    pub fn pending_stop(&self) -> bool {
        matches!(self.phase, StopPhase::Word(4) | StopPhase::Trailing)
    }

    fn step(&self, b: u8) -> StopPhase {
        let blank = matches!(b, b' ' | b'\t' | b'\r');
        match (self.phase, blank) {
            (StopPhase::Leading, true) => StopPhase::Leading,
            (StopPhase::Word(4) | StopPhase::Trailing, true) => StopPhase::Trailing,
            (StopPhase::Leading, false) => Self::matched(0, b),
            (StopPhase::Word(k), false) => Self::matched(k, b),
            _ => StopPhase::Other,
        }
    }

    fn matched(k: u8, b: u8) -> StopPhase {
        match STOP.get(usize::from(k)) {
            Some(&want) if want == b => StopPhase::Word(k + 1),
            _ => StopPhase::Other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a splitter reports for `input` fed in the given chunks, the way a server
    /// uses it: keep the unconsumed tail, append the next chunk, look again.
    fn run(max: usize, input: &[u8], cuts: &[usize]) -> Vec<Result<Vec<u8>, ()>> {
        let mut s = LineSplitter::new(max);
        let mut pending: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut start = 0;
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        bounds.sort_unstable();
        bounds.push(input.len());
        for end in bounds {
            pending.extend_from_slice(&input[start..end.max(start)]);
            start = start.max(end);
            loop {
                match s.next(&pending) {
                    Step::Line { len, consumed } => {
                        out.push(Ok(pending[..len].to_vec()));
                        pending.drain(..consumed);
                    }
                    Step::TooLong { consumed } => {
                        out.push(Err(()));
                        pending.drain(..consumed);
                    }
                    Step::Skip { consumed } => {
                        pending.drain(..consumed);
                    }
                    Step::NeedMore => break,
                }
            }
            assert!(pending.len() <= max + 1, "kept {} bytes", pending.len());
        }
        if let Some(len) = s.finish(&pending) {
            out.push(Ok(pending[..len].to_vec()));
        }
        out
    }

    /// The documented rule, written the obvious way over the whole input.
    fn oracle(max: usize, input: &[u8]) -> Vec<Result<Vec<u8>, ()>> {
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let last = parts.pop().unwrap();
        for p in parts {
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            out.push(if p.len() > max {
                Err(())
            } else {
                Ok(p.to_vec())
            });
        }
        if !last.is_empty() {
            let l = last.strip_suffix(b"\r").unwrap_or(last);
            out.push(if l.len() > max {
                Err(())
            } else {
                Ok(l.to_vec())
            });
        }
        out
    }

    #[test]
    fn lf_and_crlf() {
        assert_eq!(
            run(10, b"a\r\nbc\nd", &[]),
            vec![Ok(b"a".to_vec()), Ok(b"bc".to_vec()), Ok(b"d".to_vec())]
        );
    }

    #[test]
    fn long_line_reported_once_and_not_buffered() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\nok\n");
        let got = run(16, &input, &[3, 100, 2000, 4999, 5000]);
        assert_eq!(got, vec![Err(()), Ok(b"ok".to_vec())]);
    }

    #[test]
    fn cap_is_exact() {
        assert_eq!(run(3, b"abc\n", &[]), vec![Ok(b"abc".to_vec())]);
        assert_eq!(run(3, b"abc\r\n", &[4]), vec![Ok(b"abc".to_vec())]);
        assert_eq!(run(3, b"abcd\n", &[]), vec![Err(())]);
        assert_eq!(run(3, b"abcd", &[]), vec![Err(())]);
    }

    #[test]
    fn stop_detector() {
        let mut d = StopDetector::default();
        assert_eq!(d.scan(b"hello\nSTOPX\nxSTOP\n"), None);
        assert_eq!(d.scan(b"  ST"), None);
        assert_eq!(d.scan(b"OP \r\nafter"), Some(5));
        let mut d = StopDetector::default();
        assert_eq!(d.scan(b"STOP\n"), Some(5));
        let mut d = StopDetector::default();
        assert_eq!(
            d.scan(b"stop\n"),
            None,
            "case-sensitive like the classic server"
        );
        assert_eq!(d.scan(b"STOP"), None);
        assert!(d.pending_stop());
    }

    proptest! {
        #[test]
        fn find_newline_is_the_first_newline(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(0x0b), Just(0x8a), Just(0x09), any::<u8>()], 0..80),
        ) {
            // Near-misses (0x0b, 0x8a, 0x09 differ from '\n' by one bit or one) and
            // newlines at every offset within and across words.
            let expected = input.iter().position(|&b| b == b'\n');
            prop_assert_eq!(find_newline(&input), expected);
        }

        #[test]
        fn any_chunking_matches_the_whole(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            max in 0usize..40,
        ) {
            let whole = run(max, &input, &[]);
            prop_assert_eq!(&whole, &oracle(max, &input));
            prop_assert_eq!(run(max, &input, &cuts), whole);
        }

        #[test]
        fn stop_detector_agrees_with_trimmed_lines(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b' '), Just(b'S'), Just(b'T'), Just(b'O'),
                            Just(b'P'), Just(b'\r'), any::<u8>()], 0..200),
            cut in any::<usize>(),
        ) {
            let expected = {
                let mut pos = 0;
                let mut found = None;
                for line in input.split_inclusive(|&b| b == b'\n') {
                    pos += line.len();
                    if line.ends_with(b"\n") && trimmed(line) == b"STOP" {
                        found = Some(pos);
                        break;
                    }
                }
                found
            };
            let cut = cut % (input.len() + 1);
            let mut d = StopDetector::default();
            let got = match d.scan(&input[..cut]) {
                Some(n) => Some(n),
                None => d.scan(&input[cut..]).map(|n| n + cut),
            };
            prop_assert_eq!(got, expected);
        }
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
}
