//! Writing a DNS message: names compressed by exact suffix match, TCP framing.

use super::{
    Class, DnsError, Flags, HEADER_LEN, MAX_POINTER_TARGET, Message, Name, Parsed, RData, RType,
};
use std::collections::HashMap;

/// Where each name suffix already written starts, keyed by its exact label bytes.
struct Compressor {
    /// Offset of the message's first byte in the output buffer.
    base: usize,
    seen: HashMap<Vec<u8>, u16>,
}

impl Compressor {
    /// Writes `name`, ending in a pointer to the longest suffix already written.
    fn put_name(&mut self, out: &mut Vec<u8>, name: &Name, compress: bool) {
        let labels = &name.labels;
        for i in 0..labels.len() {
            let suffix = labels.get(i..).unwrap_or_default();
            let key = suffix_key(suffix);
            if compress {
                if let Some(&offset) = self.seen.get(&key) {
                    out.extend_from_slice(&(0xc000 | offset).to_be_bytes());
                    return;
                }
            }
            let here = out.len() - self.base;
            if here <= MAX_POINTER_TARGET {
                self.seen.entry(key).or_insert(here as u16);
            }
            if let Some(label) = labels.get(i) {
                out.push(label.len() as u8);
                out.extend_from_slice(label);
            }
        }
        out.push(0);
    }
}

/// A suffix as its length-prefixed labels, a key that cannot be ambiguous.
fn suffix_key(labels: &[Vec<u8>]) -> Vec<u8> {
    let mut key = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum());
    for l in labels {
        key.push(l.len() as u8);
        key.extend_from_slice(l);
    }
    key
}

fn put_u16(out: &mut Vec<u8>, n: u16) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
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
    let mut c = Compressor {
        base,
        seen: HashMap::new(),
    };
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
        c.put_name(out, &record.name, true);
        put_u16(out, record.rtype().0);
        put_u16(out, record.class.0);
        put_u32(out, record.ttl);
        let length_at = out.len();
        put_u16(out, 0);
        match &record.data {
            RData::A(ip) => out.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => c.put_name(out, n, true),
            RData::Mx {
                preference,
                exchange,
            } => {
                put_u16(out, *preference);
                c.put_name(out, exchange, true);
            }
            RData::Soa(s) => {
                c.put_name(out, &s.mname, true);
                c.put_name(out, &s.rname, true);
                for n in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    put_u32(out, n);
                }
            }
            RData::Txt(strings) => {
                for s in strings {
                    out.push(u8::try_from(s.len()).map_err(|_| DnsError::TxtStringTooLong)?);
                    out.extend_from_slice(s);
                }
            }
            RData::Other { bytes, .. } => out.extend_from_slice(bytes),
        }
        let rdlength =
            u16::try_from(out.len() - length_at - 2).map_err(|_| DnsError::RdataTooLong)?;
        if let Some(slot) = out.get_mut(length_at..length_at + 2) {
            slot.copy_from_slice(&rdlength.to_be_bytes());
        }
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
    let mut c = Compressor {
        base: 0,
        seen: HashMap::new(),
    };
    c.put_name(&mut out, name, false);
    put_u16(&mut out, qtype.0);
    put_u16(&mut out, Class::IN.0);
    out
}

// ---------------------------------------------------------------------------------
// TCP framing
// ---------------------------------------------------------------------------------

/// Appends `msg` with its 2-byte length prefix (RFC 1035 §4.2.2).
pub fn frame_tcp(msg: &[u8], out: &mut Vec<u8>) -> Result<(), DnsError> {
    let len = u16::try_from(msg.len()).map_err(|_| DnsError::MessageTooLong)?;
    out.reserve(2 + msg.len());
    put_u16(out, len);
    out.extend_from_slice(msg);
    Ok(())
}

/// The first length-prefixed message in a TCP byte stream, or `Incomplete` until all of
/// it has arrived. The length is 16 bits, so at most 65537 bytes are ever waited for.
pub fn parse_tcp_frame(buf: &[u8]) -> Parsed<&[u8]> {
    let Some(len) = buf.first_chunk::<2>() else {
        return Parsed::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes(*len));
    match buf.get(2..2 + len) {
        Some(value) => Parsed::Complete {
            value,
            consumed: 2 + len,
        },
        None => Parsed::Incomplete,
    }
}
