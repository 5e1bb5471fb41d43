//! Whole messages: the header and its flags (RFC 1035 §4.1.1; AD and CD RFC 4035
//! §3.2), the question (§4.1.2), the sections, and the message parsed and emitted as a
//! whole (§4.1), with a standard query built directly.

use super::DnsError;
use super::name::{Compressor, Name};
use super::record::{Class, RData, RType, Record, put_record};
use super::wire::{Reader, put_u16};
use std::fmt;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Largest message a plain (non-EDNS) UDP exchange carries (RFC 1035 §4.2.1).
pub const MAX_UDP_LEN: usize = 512;
/// CNAME links followed by [`Message::answers_for`] before giving up.
pub const MAX_CNAME_CHAIN: usize = 16;

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
// Wire form
// ---------------------------------------------------------------------------------

impl Reader<'_> {
    fn question(&mut self) -> Result<Question, DnsError> {
        Ok(Question {
            name: self.name()?,
            qtype: RType(self.u16("question")?),
            qclass: Class(self.u16("question")?),
        })
    }
}

/// Parses a whole message (one UDP datagram, or one TCP frame without its length).
pub fn parse(msg: &[u8]) -> Result<Message, DnsError> {
    let mut r = Reader { msg, pos: 0 };
    let id = r.u16("header")?;
    let flags = Flags::from_bits(r.u16("header")?);
    let qd = usize::from(r.u16("header")?);
    let an = usize::from(r.u16("header")?);
    let ns = usize::from(r.u16("header")?);
    let ar = usize::from(r.u16("header")?);
    // Smallest entries: a question is a root name and 4 bytes, a record a root name
    // and 10. Checking this first bounds every allocation below by the message size.
    let least = qd * 5 + (an + ns + ar) * 11;
    if least > msg.len().saturating_sub(HEADER_LEN) {
        return Err(DnsError::CountsOverrun);
    }
    let mut questions = Vec::with_capacity(qd);
    for _ in 0..qd {
        questions.push(r.question()?);
    }
    let mut section = |count: usize| -> Result<Vec<Record>, DnsError> {
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            records.push(r.record()?);
        }
        Ok(records)
    };
    let answers = section(an)?;
    let authorities = section(ns)?;
    let additionals = section(ar)?;
    Ok(Message {
        header: Header { id, flags },
        questions,
        answers,
        authorities,
        additionals,
    })
}

fn count(n: usize) -> Result<u16, DnsError> {
    u16::try_from(n).map_err(|_| DnsError::TooManyRecords)
}

/// Appends `msg` in wire format to `out`, compressing repeated names. On error `out` is
/// left as it was.
pub fn emit(msg: &Message, out: &mut Vec<u8>) -> Result<(), DnsError> {
    let base = out.len();
    let result = emit_inner(msg, out, base);
    if result.is_err() {
        out.truncate(base);
    }
    result
}

fn emit_inner(msg: &Message, out: &mut Vec<u8>, base: usize) -> Result<(), DnsError> {
    put_u16(out, msg.header.id);
    put_u16(out, msg.header.flags.bits());
    put_u16(out, count(msg.questions.len())?);
    put_u16(out, count(msg.answers.len())?);
    put_u16(out, count(msg.authorities.len())?);
    put_u16(out, count(msg.additionals.len())?);
    let mut c = Compressor::new(base);
    for q in &msg.questions {
        c.put_name(out, &q.name, true);
        put_u16(out, q.qtype.0);
        put_u16(out, q.qclass.0);
    }
    for record in msg
        .answers
        .iter()
        .chain(&msg.authorities)
        .chain(&msg.additionals)
    {
        put_record(&mut c, out, record)?;
    }
    Ok(())
}

/// The bytes of a standard query (one question, class IN, no compression needed).
pub fn query(id: u16, name: &Name, qtype: RType, rd: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + name.wire_len() + 4);
    put_u16(&mut out, id);
    put_u16(&mut out, Flags::query(rd).bits());
    for n in [1, 0, 0, 0] {
        put_u16(&mut out, n);
    }
    let mut c = Compressor::new(0);
    c.put_name(&mut out, name, false);
    put_u16(&mut out, qtype.0);
    put_u16(&mut out, Class::IN.0);
    out
}
