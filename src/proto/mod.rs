//! Pure protocol cores: bytes (and, where needed, time) in, events and bytes out.
//!
//! Nothing in here touches a socket, a clock, a file or a random source it was not
//! handed, which is what lets the fuzzers and property tests drive it with no network.
//! Input-derived values are never unwrapped or indexed unchecked: every bad input maps
//! to a typed error the caller turns into the protocol's answer.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod chat;
pub mod command;
pub mod dns;
pub mod http;
pub mod line;
pub mod pubsub;
pub mod resp;
pub mod rfc3339;
pub mod ws;

/// Outcome of an incremental parse, the one shape every parser here answers with
/// (HTTP heads, WebSocket frames, DNS over TCP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Not enough bytes yet: keep them and call again with more.
    Incomplete,
    /// A whole value; the first `consumed` bytes of the buffer belong to it.
    Complete { value: T, consumed: usize },
}

/// Appends the decimal digits of `n` (no sign, no leading zero) without going
/// through `fmt`: HTTP status lines and lengths, RESP lengths and integers.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let start = out.len();
    loop {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = out.get_mut(start..) {
        digits.reverse();
    }
}
