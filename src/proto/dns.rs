//! DNS messages: parse and emit (RFC 1035 §4.1, name compression §4.1.4; AAAA RFC 3596;
//! unknown types RFC 3597), TCP framing (RFC 1035 §4.2.2, RFC 7766 §8) and reverse
//! names (in-addr.arpa RFC 1035 §3.5, ip6.arpa RFC 3596 §2.5).
//!
//! ```text
//!  header (12 bytes): ID | QR Opcode(4) AA TC RD RA Z AD CD Rcode(4) | QDCOUNT ANCOUNT
//!                     NSCOUNT ARCOUNT
//!  question:          NAME TYPE CLASS
//!  record:            NAME TYPE CLASS TTL(32) RDLENGTH RDATA
//!  name:              labels (length octet 1..=63, then bytes) ending in a 0 octet, or
//!                     ending in a 2-byte pointer 0b11xxxxxx xxxxxxxx to an earlier name
//! ```
//!
//! A whole message is parsed into a [`Message`] that keeps everything a `--trace` could
//! want to show: every header bit (including Z, AD and CD), every question and every
//! record of all three sections. Record data of the types a client reads (A, AAAA, NS,
//! CNAME, PTR, SOA, MX, TXT) is decoded; anything else is kept as bytes.
//!
//! Hostile input is the normal case for a parser on a UDP port, so: every read is bounds
//! checked; section counts are checked against the message length before anything is
//! allocated; compression pointers must point strictly backwards — below the start of
//! the name, then below the previous target — so a pointer loop cannot be built, and
//! the number of jumps is capped too; labels are at most 63 bytes and names at most 255
//! on the wire. Bytes after the last record are ignored (some middleboxes pad).
//!
//! [`emit`] compresses names (owner names and the names inside NS, CNAME, PTR, SOA and
//! MX data, the types RFC 3597 §4 allows) by exact byte match, so `parse(emit(m))`
//! gives back `m` label for label, letter case included.
//!
//! One file per wire element, each holding that element's parse beside its emit:
//! `wire` (the cursor and integer writers), `name`, `record`, `message`, `tcp`.

use std::fmt;

mod message;
mod name;
mod record;
mod tcp;
mod wire;

pub use message::{
    Chain, Flags, HEADER_LEN, Header, MAX_CNAME_CHAIN, MAX_UDP_LEN, Message, Opcode, Question,
    Rcode, emit, parse, query,
};
pub use name::{MAX_LABEL_LEN, MAX_NAME_LEN, Name, reverse_name};
pub use record::{Class, RData, RType, Record, Soa};
pub use tcp::{frame_tcp, parse_tcp_frame};
#[cfg(test)]
use wire::Reader;

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DnsError {
    /// The message ends inside the named part.
    Truncated(&'static str),
    /// The section counts announce more entries than the message has bytes for.
    CountsOverrun,
    /// Label type 01 or 10 (RFC 6891 §5 retired extended labels).
    BadLabelType(u8),
    /// A compression pointer to its own name or to a later position.
    PointerForward,
    /// A compression pointer not below the previous one's target: it would loop.
    PointerLoop,
    TooManyPointers,
    LabelTooLong,
    NameTooLong,
    EmptyLabel,
    BadEscape,
    /// Record data whose length does not fit its type.
    BadRdata(RType),
    /// More than 65535 entries in a section.
    TooManyRecords,
    /// Record data longer than 65535 bytes.
    RdataTooLong,
    /// A TXT character-string longer than 255 bytes.
    TxtStringTooLong,
    /// A message longer than 65535 bytes cannot be framed for TCP.
    MessageTooLong,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated(what) => write!(f, "message ends inside the {what}"),
            DnsError::CountsOverrun => {
                f.write_str("section counts announce more than the message holds")
            }
            DnsError::BadLabelType(b) => write!(f, "unknown label type {:#04x}", b & 0xc0),
            DnsError::PointerForward => f.write_str("compression pointer points forward"),
            DnsError::PointerLoop => f.write_str("compression pointers form a loop"),
            DnsError::TooManyPointers => f.write_str("too many compression pointers in a name"),
            DnsError::LabelTooLong => f.write_str("label longer than 63 bytes"),
            DnsError::NameTooLong => f.write_str("name longer than 255 bytes"),
            DnsError::EmptyLabel => f.write_str("empty label (two dots in a row?)"),
            DnsError::BadEscape => f.write_str("bad \\ escape in a name"),
            DnsError::BadRdata(t) => write!(f, "{t} record data has the wrong length"),
            DnsError::TooManyRecords => f.write_str("more than 65535 entries in a section"),
            DnsError::RdataTooLong => f.write_str("record data longer than 65535 bytes"),
            DnsError::TxtStringTooLong => f.write_str("TXT string longer than 255 bytes"),
            DnsError::MessageTooLong => f.write_str("message longer than 65535 bytes"),
        }
    }
}

impl std::error::Error for DnsError {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests;
