//! The two Closes of a session (RFC 6455 §5.5.1, §7.1.5), kept so that `ws -v` can say
//! who closed first and what each side's Close carried, rather than just the
//! server's: after our end of input or Ctrl-C the server's Close is only the answer.

use crate::proto::ws::codes;
use std::fmt;

/// One side's Close frame: its status code, if it had one, and its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    pub code: Option<u16>,
    pub reason: String,
}

/// Both Closes, in the order they happened.
#[derive(Debug, Default)]
pub struct Closes {
    ours: Option<CloseFrame>,
    theirs: Option<CloseFrame>,
    /// Ours went before theirs arrived.
    we_first: bool,
}

impl Closes {
    /// We sent our Close (the session ignores any after the first, and so do we).
    pub fn sent(&mut self, code: Option<u16>, reason: &str) {
        if self.ours.is_none() {
            self.we_first = self.theirs.is_none();
            self.ours = Some(CloseFrame {
                code,
                reason: reason.to_string(),
            });
        }
    }

    /// The server's Close arrived. If ours was not sent yet, the session has just
    /// answered with the same code and reason (it echoes them), and that is ours.
    pub fn received(&mut self, code: Option<u16>, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.to_string(),
        };
        if self.ours.is_none() {
            self.ours = Some(frame.clone());
        }
        self.theirs = Some(frame);
    }

    pub fn theirs(&self) -> Option<&CloseFrame> {
        self.theirs.as_ref()
    }

    /// `we closed first with 1000 (normal closure), no reason; ws://… answered …`, once
    /// the server's Close is here.
    pub fn describe(&self, url: &str) -> Option<String> {
        let theirs = Said(self.theirs.as_ref()?);
        let ours = Said(self.ours.as_ref()?);
        Some(if self.we_first {
            format!("we closed first with {ours}; {url} answered {theirs}")
        } else {
            format!("{url} closed first with {theirs}; we answered {ours}")
        })
    }
}

/// A Close as a person reads it: `1000 (normal closure), reason "bye"`.
struct Said<'a>(&'a CloseFrame);

impl fmt::Display for Said<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.code {
            Some(c) => write!(f, "{c} ({})", codes::close_code_name(c))?,
            None => f.write_str("no status code")?,
        }
        // The reason is the peer's text: quoted and escaped, so that control
        // characters in it cannot disturb the terminal.
        match self.0.reason.as_str() {
            "" => f.write_str(", no reason"),
            reason => write!(f, ", reason \"{}\"", reason.escape_debug()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const URL: &str = "ws://127.0.0.1:8080/ws";

    #[test]
    fn we_closed_first_and_the_server_answered() {
        let mut c = Closes::default();
        assert_eq!(c.describe(URL), None, "nothing to say before their Close");
        c.sent(Some(1000), "");
        assert_eq!(c.describe(URL), None);
        c.received(Some(1000), "bye");
        assert_eq!(
            c.describe(URL).unwrap(),
            "we closed first with 1000 (normal closure), no reason; \
             ws://127.0.0.1:8080/ws answered 1000 (normal closure), reason \"bye\""
        );
    }

    #[test]
    fn the_server_closed_first_and_we_echoed_it() {
        let mut c = Closes::default();
        c.received(Some(4000), "custom goodbye");
        // The session's echo has been sent; a later Close of ours is never sent.
        c.sent(Some(1000), "");
        assert_eq!(
            c.describe(URL).unwrap(),
            "ws://127.0.0.1:8080/ws closed first with 4000 (private use), \
             reason \"custom goodbye\"; we answered 4000 (private use), reason \"custom goodbye\""
        );
        assert_eq!(c.theirs().unwrap().code, Some(4000));
    }

    #[test]
    fn no_status_code_and_odd_reasons_are_said_plainly() {
        let mut c = Closes::default();
        c.received(None, "");
        assert_eq!(
            c.describe(URL).unwrap(),
            "ws://127.0.0.1:8080/ws closed first with no status code, no reason; \
             we answered no status code, no reason"
        );
        let mut c = Closes::default();
        c.sent(Some(1000), "");
        c.received(Some(1001), "line\none \"q\"");
        assert!(
            c.describe(URL)
                .unwrap()
                .ends_with("answered 1001 (going away), reason \"line\\none \\\"q\\\"\""),
            "{:?}",
            c.describe(URL)
        );
    }
}
