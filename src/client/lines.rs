//! Bytes that arrive in chunks, taken back a line at a time: standard input becomes
//! messages (`udp`, `ws`), a server's answer becomes prompt lines (`tcp --prompt`).
//!
//! Lines are handed out as slices of one buffer, with an offset moved past each; the
//! consumed part is dropped when the next chunk comes. No allocation per line.

use crate::proto::line::find_newline;

#[derive(Default)]
pub struct Lines {
    buf: Vec<u8>,
    /// Where the first line not yet taken starts.
    start: usize,
}

impl Lines {
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// No bytes left that were not taken.
    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// The next complete line, with its `\n`; once the input has `ended`, what follows
    /// its last newline counts as a line too.
    pub fn next_line(&mut self, ended: bool) -> Option<&[u8]> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        let len = match find_newline(rest) {
            Some(newline) => newline + 1,
            None if ended && !rest.is_empty() => rest.len(),
            None => return None,
        };
        let line = self.buf.get(self.start..self.start + len);
        self.start += len;
        line
    }
}

/// A line without its ending: `\n`, then a `\r` before it.
pub fn without_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::{Lines, without_ending};

    #[test]
    fn lines_across_chunks() {
        let mut lines = Lines::default();
        lines.push(b"one\ntw");
        assert_eq!(lines.next_line(false), Some(&b"one\n"[..]));
        assert_eq!(lines.next_line(false), None);
        lines.push(b"o\r\nthree");
        assert_eq!(
            lines.next_line(false).map(without_ending),
            Some(&b"two"[..])
        );
        assert_eq!(lines.next_line(false), None);
        assert!(!lines.is_empty());
    }

    #[test]
    fn the_last_line_without_a_newline() {
        let mut lines = Lines::default();
        lines.push(b"a\nb");
        assert_eq!(lines.next_line(true), Some(&b"a\n"[..]));
        assert_eq!(lines.next_line(true), Some(&b"b"[..]));
        assert_eq!(lines.next_line(true), None);
        assert!(lines.is_empty());
        lines.push(b"c");
        lines.clear();
        assert!(lines.is_empty());
    }
}
