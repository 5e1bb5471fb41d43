//! Standard output of the clients: everything a loop turn prints is gathered here and
//! written at once, so a reply is never interleaved with the prompt that follows it.

use std::io::{self, Write};

/// What `--prompt` shows when the client is ready for the next input.
const PROMPT: &[u8] = b">> ";

/// Standard output, buffered per loop turn. A closed stdout (`| head`) is not an
/// error worth a message: output just stops.
#[derive(Default)]
pub struct Output {
    buf: Vec<u8>,
}

impl Output {
    pub fn raw(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// `text` and a newline.
    pub fn line(&mut self, text: &[u8]) {
        self.buf.extend_from_slice(text);
        self.buf.push(b'\n');
    }

    /// One reply line in the classic style: `->: 3`, `Reply: 3`.
    pub fn labelled(&mut self, label: &[u8], text: &[u8]) {
        self.raw(label);
        self.line(text);
    }

    /// Bytes as lowercase hex pairs separated by spaces, and a newline.
    pub fn hex_line(&mut self, data: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, &b) in data.iter().enumerate() {
            if i > 0 {
                self.buf.push(b' ');
            }
            self.buf.push(DIGITS[usize::from(b >> 4)]);
            self.buf.push(DIGITS[usize::from(b & 0x0f)]);
        }
        self.buf.push(b'\n');
    }

    pub fn prompt(&mut self) {
        self.raw(PROMPT);
    }

    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(&self.buf);
        let _ = stdout.flush();
        self.buf.clear();
    }

    #[cfg(test)]
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn hex_lines_match_the_joined_pairs() {
        let mut out = Output::default();
        out.hex_line(&[0x00, 0x7f, 0xff, 0x0a]);
        out.hex_line(&[]);
        assert_eq!(out.take(), b"00 7f ff 0a\n\n");
    }

    #[test]
    fn labelled_lines_and_prompts() {
        let mut out = Output::default();
        out.labelled(b"->: ", b"3");
        out.prompt();
        assert_eq!(out.take(), b"->: 3\n>> ");
    }
}
