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

use std::fmt;
// Addresses as plain values (A, AAAA, PTR names); `core::net` has no sockets.
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::Parsed;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Largest message a plain (non-EDNS) UDP exchange carries (RFC 1035 §4.2.1).
pub const MAX_UDP_LEN: usize = 512;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name on the wire, length octets and the final 0 included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Compression jumps allowed in one name: as many as a 255-byte name can have labels.
const MAX_POINTER_HOPS: usize = 127;
/// Pointers carry 14 bits of offset, so only names that start below this can be targets.
const MAX_POINTER_TARGET: usize = 0x3fff;
/// CNAME links followed by [`Message::answers_for`] before giving up.
pub const MAX_CNAME_CHAIN: usize = 16;

// ---------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------

/// A domain name as a list of labels (raw bytes; the root is the empty list).
///
/// Always valid: every constructor checks that labels are 1..=63 bytes and that the
/// name fits in 255 bytes on the wire. Comparison and hashing ignore ASCII case (RFC 4343);
/// [`Name::labels`] gives the exact bytes.
#[derive(Clone, Default)]
pub struct Name {
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name::default()
    }

    /// A name from its labels, checked.
    pub fn from_labels<I, L>(labels: I) -> Result<Name, DnsError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let mut name = Name::root();
        let mut wire = 1;
        for label in labels {
            let label = label.as_ref();
            if label.is_empty() {
                return Err(DnsError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(DnsError::LabelTooLong);
            }
            wire += 1 + label.len();
            if wire > MAX_NAME_LEN {
                return Err(DnsError::NameTooLong);
            }
            name.labels.push(label.to_vec());
        }
        Ok(name)
    }

    /// The labels, most specific first (`www`, `example`, `com`).
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.labels.iter().map(Vec::as_slice)
    }

    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes the name takes on the wire without compression.
    pub fn wire_len(&self) -> usize {
        1 + self.labels.iter().map(|l| 1 + l.len()).sum::<usize>()
    }

    /// Equality without regard to ASCII letter case (RFC 4343); also what `==` does.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.labels.len() == other.labels.len()
            && self
                .labels
                .iter()
                .zip(&other.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.eq_ignore_case(other)
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.labels.len());
        for label in &self.labels {
            state.write_usize(label.len());
            for b in label {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

/// Presentation format: `www.example.com.` (always absolute, root is `.`). A `.` or `\`
/// inside a label is escaped with `\`, other bytes outside printable ASCII as `\DDD`
/// (RFC 1035 §5.1), so the text parses back to the same labels.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for label in &self.labels {
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", char::from(b))?,
                    0x21..=0x7e => write!(f, "{}", char::from(b))?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Parses presentation format: labels separated by `.`, a final `.` optional, `\.`,
/// `\\` and `\DDD` escapes; `.` or the empty string is the root.
impl FromStr for Name {
    type Err = DnsError;

    fn from_str(text: &str) -> Result<Name, DnsError> {
        if text.is_empty() || text == "." {
            return Ok(Name::root());
        }
        let mut labels: Vec<Vec<u8>> = Vec::new();
        let mut label = Vec::new();
        let mut bytes = text.bytes();
        let mut ended_with_dot = false;
        while let Some(b) = bytes.next() {
            ended_with_dot = false;
            match b {
                b'.' => {
                    if label.is_empty() {
                        return Err(DnsError::EmptyLabel);
                    }
                    labels.push(std::mem::take(&mut label));
                    ended_with_dot = true;
                }
                b'\\' => match bytes.next() {
                    Some(d0 @ b'0'..=b'9') => {
                        let mut n = u32::from(d0 - b'0');
                        for _ in 0..2 {
                            match bytes.next() {
                                Some(d @ b'0'..=b'9') => n = n * 10 + u32::from(d - b'0'),
                                _ => return Err(DnsError::BadEscape),
                            }
                        }
                        label.push(u8::try_from(n).map_err(|_| DnsError::BadEscape)?);
                    }
                    Some(other) => label.push(other),
                    None => return Err(DnsError::BadEscape),
                },
                other => label.push(other),
            }
        }
        if !ended_with_dot {
            if label.is_empty() {
                return Err(DnsError::EmptyLabel);
            }
            labels.push(label);
        }
        Name::from_labels(labels)
    }
}

/// The name a PTR query for `ip` asks about: `4.3.2.1.in-addr.arpa.` for 1.2.3.4, and
/// 32 reversed nibbles under `ip6.arpa.` for an IPv6 address.
pub fn reverse_name(ip: IpAddr) -> Name {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut labels: Vec<Vec<u8>> = Vec::with_capacity(34);
    match ip {
        IpAddr::V4(v4) => {
            for octet in v4.octets().iter().rev() {
                labels.push(octet.to_string().into_bytes());
            }
            labels.push(b"in-addr".to_vec());
        }
        IpAddr::V6(v6) => {
            for octet in v6.octets().iter().rev() {
                for nibble in [octet & 0xf, octet >> 4] {
                    let digit = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
                    labels.push(vec![digit]);
                }
            }
            labels.push(b"ip6".to_vec());
        }
    }
    labels.push(b"arpa".to_vec());
    // At most 34 labels of at most 7 bytes: always within the limits.
    Name { labels }
}

// ---------------------------------------------------------------------------------
// Numbers with names
// ---------------------------------------------------------------------------------

/// A record type (RFC 1035 §3.2.2, RFC 3596, IANA registry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RType(pub u16);

impl RType {
    pub const A: RType = RType(1);
    pub const NS: RType = RType(2);
    pub const CNAME: RType = RType(5);
    pub const SOA: RType = RType(6);
    pub const PTR: RType = RType(12);
    pub const MX: RType = RType(15);
    pub const TXT: RType = RType(16);
    pub const AAAA: RType = RType(28);
    pub const OPT: RType = RType(41);
    pub const ANY: RType = RType(255);

    /// Types whose data [`parse`] decodes into their own [`RData`] variant.
    pub const DECODED: [RType; 8] = [
        RType::A,
        RType::NS,
        RType::CNAME,
        RType::SOA,
        RType::PTR,
        RType::MX,
        RType::TXT,
        RType::AAAA,
    ];

    fn mnemonic(self) -> Option<&'static str> {
        Some(match self {
            RType::A => "A",
            RType::NS => "NS",
            RType::CNAME => "CNAME",
            RType::SOA => "SOA",
            RType::PTR => "PTR",
            RType::MX => "MX",
            RType::TXT => "TXT",
            RType::AAAA => "AAAA",
            RType::OPT => "OPT",
            RType::ANY => "ANY",
            _ => return None,
        })
    }
}

/// Mnemonic, or `TYPE1234` for the others (RFC 3597 §5).
impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl fmt::Debug for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A record class (RFC 1035 §3.2.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u16);

impl Class {
    pub const IN: Class = Class(1);
    pub const CH: Class = Class(3);
    pub const HS: Class = Class(4);
    pub const ANY: Class = Class(255);
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Class::IN => f.write_str("IN"),
            Class::CH => f.write_str("CH"),
            Class::HS => f.write_str("HS"),
            Class::ANY => f.write_str("ANY"),
            Class(n) => write!(f, "CLASS{n}"),
        }
    }
}

impl fmt::Debug for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The 4-bit response code of the header (RFC 1035 §4.1.1, RFC 2136 §2.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rcode(pub u8);

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rcode::NOERROR => f.write_str("NOERROR"),
            Rcode::FORMERR => f.write_str("FORMERR"),
            Rcode::SERVFAIL => f.write_str("SERVFAIL"),
            Rcode::NXDOMAIN => f.write_str("NXDOMAIN"),
            Rcode::NOTIMP => f.write_str("NOTIMP"),
            Rcode::REFUSED => f.write_str("REFUSED"),
            Rcode(n) => write!(f, "RCODE{n}"),
        }
    }
}

impl fmt::Debug for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The 4-bit operation code of the header (RFC 1035 §4.1.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const QUERY: Opcode = Opcode(0);
    pub const STATUS: Opcode = Opcode(2);
    pub const NOTIFY: Opcode = Opcode(4);
    pub const UPDATE: Opcode = Opcode(5);
}

// ---------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------

/// The second 16 bits of the header, every bit kept. `opcode` and `rcode` are 4-bit
/// fields: [`Flags::bits`] keeps their low 4 bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Flags {
    /// A response (set) or a query.
    pub qr: bool,
    pub opcode: Opcode,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated: the answer did not fit; ask again over TCP.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// The reserved bit; must be 0, kept so a trace shows what arrived.
    pub z: bool,
    /// Authentic data (RFC 4035 §3.2.3).
    pub ad: bool,
    /// Checking disabled (RFC 4035 §3.2.2).
    pub cd: bool,
    pub rcode: Rcode,
}

impl Flags {
    /// The flags of a standard query.
    pub fn query(rd: bool) -> Flags {
        Flags {
            rd,
            ..Flags::from_bits(0)
        }
    }

    pub fn from_bits(bits: u16) -> Flags {
        let bit = |n: u16| bits & (1 << n) != 0;
        Flags {
            qr: bit(15),
            opcode: Opcode(((bits >> 11) & 0xf) as u8),
            aa: bit(10),
            tc: bit(9),
            rd: bit(8),
            ra: bit(7),
            z: bit(6),
            ad: bit(5),
            cd: bit(4),
            rcode: Rcode((bits & 0xf) as u8),
        }
    }

    pub fn bits(&self) -> u16 {
        let bit = |on: bool, n: u16| if on { 1 << n } else { 0 };
        bit(self.qr, 15)
            | (u16::from(self.opcode.0 & 0xf) << 11)
            | bit(self.aa, 10)
            | bit(self.tc, 9)
            | bit(self.rd, 8)
            | bit(self.ra, 7)
            | bit(self.z, 6)
            | bit(self.ad, 5)
            | bit(self.cd, 4)
            | u16::from(self.rcode.0 & 0xf)
    }
}

/// The header without its four counts, which are the lengths of the sections.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Header {
    pub id: u16,
    pub flags: Flags,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Question {
    pub name: Name,
    pub qtype: RType,
    pub qclass: Class,
}

/// SOA data (RFC 1035 §3.3.13).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// Record data. The variant fixes the record type (see [`RData::rtype`]); `Other` holds
/// any type not decoded here, as raw bytes (RFC 3597).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    Soa(Soa),
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// One or more character-strings of up to 255 bytes each.
    Txt(Vec<Vec<u8>>),
    /// `rtype` must not be one of [`RType::DECODED`]: those parse into their own variant.
    Other {
        rtype: RType,
        bytes: Vec<u8>,
    },
}

impl RData {
    pub fn rtype(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::AAAA,
            RData::Ns(_) => RType::NS,
            RData::Cname(_) => RType::CNAME,
            RData::Ptr(_) => RType::PTR,
            RData::Soa(_) => RType::SOA,
            RData::Mx { .. } => RType::MX,
            RData::Txt(_) => RType::TXT,
            RData::Other { rtype, .. } => *rtype,
        }
    }
}

/// Presentation format of the data alone, as in a zone file.
impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(ip) => write!(f, "{ip}"),
            RData::Aaaa(ip) => write!(f, "{ip}"),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => write!(f, "{n}"),
            RData::Soa(s) => write!(
                f,
                "{} {} {} {} {} {} {}",
                s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum
            ),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Txt(strings) => {
                for (i, s) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str("\"")?;
                    for &b in s {
                        match b {
                            b'"' | b'\\' => write!(f, "\\{}", char::from(b))?,
                            0x20..=0x7e => write!(f, "{}", char::from(b))?,
                            _ => write!(f, "\\{b:03}")?,
                        }
                    }
                    f.write_str("\"")?;
                }
                Ok(())
            }
            // RFC 3597 §5: \# LENGTH HEX
            RData::Other { bytes, .. } => {
                write!(f, "\\# {}", bytes.len())?;
                if !bytes.is_empty() {
                    f.write_str(" ")?;
                }
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    pub name: Name,
    pub class: Class,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    /// The record type, which the data determines.
    pub fn rtype(&self) -> RType {
        self.data.rtype()
    }
}

/// One line as in a zone file: `www.example.com. 3600 IN A 192.0.2.1`.
impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            self.name,
            self.ttl,
            self.class,
            self.rtype(),
            self.data
        )
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

/// What a chain of CNAMEs in an answer section led to (see [`Message::answers_for`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Chain<'a> {
    /// The names the chain went through after the asked one, in order; the last is
    /// the canonical name when there is at least one.
    pub aliases: Vec<&'a Name>,
    /// The records of the asked type owned by the last name of the chain.
    pub records: Vec<&'a Record>,
}

impl Message {
    /// A query with one question of class IN.
    pub fn query(id: u16, name: Name, qtype: RType, rd: bool) -> Message {
        Message {
            header: Header {
                id,
                flags: Flags::query(rd),
            },
            questions: vec![Question {
                name,
                qtype,
                qclass: Class::IN,
            }],
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }

    pub fn rcode(&self) -> Rcode {
        self.header.flags.rcode
    }

    /// Whether this message is the response to a query with this id and question: the
    /// QR bit is set, the id is the same and the question section repeats the question
    /// (names compared without regard to case). Anything else is a stray datagram.
    pub fn is_response_to(&self, id: u16, question: &Question) -> bool {
        self.header.flags.qr
            && self.header.id == id
            && matches!(self.questions.as_slice(), [q] if q == question)
    }

    /// The answer records of type `rtype` for `name`, following the CNAMEs the answer
    /// section holds (at most [`MAX_CNAME_CHAIN`] links; a loop ends the chain).
    pub fn answers_for<'a>(&'a self, name: &'a Name, rtype: RType) -> Chain<'a> {
        let mut current = name;
        let mut chain = Chain {
            aliases: Vec::new(),
            records: Vec::new(),
        };
        for _ in 0..=MAX_CNAME_CHAIN {
            chain.records = self
                .answers
                .iter()
                .filter(|r| r.rtype() == rtype && r.name == *current)
                .collect();
            if !chain.records.is_empty() || rtype == RType::CNAME {
                break;
            }
            let next = self.answers.iter().find_map(|r| match &r.data {
                RData::Cname(target) if r.name == *current => Some(target),
                _ => None,
            });
            match next {
                Some(target) if target != name && !chain.aliases.contains(&target) => {
                    chain.aliases.push(target);
                    current = target;
                }
                _ => break,
            }
        }
        chain
    }
}

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

mod emit;
mod parse;

pub use emit::{emit, frame_tcp, parse_tcp_frame, query};
#[cfg(test)]
use parse::Reader;
pub use parse::parse;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests;
