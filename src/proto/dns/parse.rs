//! Reading a DNS message from the wire: bounds-checked, compression pointers only
//! backwards, section counts checked before anything is allocated.

use super::{
    Class, DnsError, Flags, HEADER_LEN, Header, MAX_NAME_LEN, MAX_POINTER_HOPS, Message, Name,
    Question, RData, RType, Record, Soa,
};
use core::net::{Ipv4Addr, Ipv6Addr};

/// A cursor over a whole message (names may point anywhere before them).
pub(super) struct Reader<'a> {
    pub(super) msg: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Truncated(what))?;
        let b = self
            .msg
            .get(self.pos..end)
            .ok_or(DnsError::Truncated(what))?;
        self.pos = end;
        Ok(b)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DnsError> {
        let b = self.bytes(N, what)?;
        b.try_into().map_err(|_| DnsError::Truncated(what))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DnsError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DnsError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DnsError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// Reads a possibly compressed name; the cursor moves past its in-place part.
    pub(super) fn name(&mut self) -> Result<Name, DnsError> {
        const WHAT: &str = "name";
        let msg = self.msg;
        let start = self.pos;
        let mut pos = start;
        // Pointers must go below this: first the start of the name, then each target.
        let mut floor = start;
        let mut end = None;
        let mut hops = 0;
        let mut wire = 1;
        let mut labels = Vec::new();
        loop {
            let len = *msg.get(pos).ok_or(DnsError::Truncated(WHAT))?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    self.pos = end.unwrap_or(pos + 1);
                    return Ok(Name { labels });
                }
                0x00 => {
                    let n = usize::from(len);
                    wire += 1 + n;
                    if wire > MAX_NAME_LEN {
                        return Err(DnsError::NameTooLong);
                    }
                    let label = msg
                        .get(pos + 1..pos + 1 + n)
                        .ok_or(DnsError::Truncated(WHAT))?;
                    labels.push(label.to_vec());
                    pos += 1 + n;
                }
                0xc0 => {
                    let low = *msg.get(pos + 1).ok_or(DnsError::Truncated(WHAT))?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    if end.is_none() {
                        end = Some(pos + 2);
                    }
                    if target >= pos {
                        return Err(DnsError::PointerForward);
                    }
                    if target >= floor {
                        return Err(DnsError::PointerLoop);
                    }
                    hops += 1;
                    if hops > MAX_POINTER_HOPS {
                        return Err(DnsError::TooManyPointers);
                    }
                    floor = target;
                    pos = target;
                }
                _ => return Err(DnsError::BadLabelType(len)),
            }
        }
    }

    fn question(&mut self) -> Result<Question, DnsError> {
        Ok(Question {
            name: self.name()?,
            qtype: RType(self.u16("question")?),
            qclass: Class(self.u16("question")?),
        })
    }

    fn record(&mut self) -> Result<Record, DnsError> {
        const WHAT: &str = "record";
        let name = self.name()?;
        let rtype = RType(self.u16(WHAT)?);
        let class = Class(self.u16(WHAT)?);
        let ttl = self.u32(WHAT)?;
        let rdlength = usize::from(self.u16(WHAT)?);
        let rdata_start = self.pos;
        let rdata = self.bytes(rdlength, "record data")?;
        let rdata_end = self.pos;
        // Decode with a cursor over the whole message (names in the data may point
        // back into it) that must end exactly at the end of the data.
        let mut r = Reader {
            msg: self.msg.get(..rdata_end).unwrap_or_default(),
            pos: rdata_start,
        };
        let bad = |_| DnsError::BadRdata(rtype);
        let data = match rtype {
            RType::A => RData::A(Ipv4Addr::from(r.array::<4>(WHAT).map_err(bad)?)),
            RType::AAAA => RData::Aaaa(Ipv6Addr::from(r.array::<16>(WHAT).map_err(bad)?)),
            RType::NS => RData::Ns(r.rdata_name(rtype)?),
            RType::CNAME => RData::Cname(r.rdata_name(rtype)?),
            RType::PTR => RData::Ptr(r.rdata_name(rtype)?),
            RType::MX => RData::Mx {
                preference: r.u16(WHAT).map_err(bad)?,
                exchange: r.rdata_name(rtype)?,
            },
            RType::SOA => RData::Soa(Soa {
                mname: r.rdata_name(rtype)?,
                rname: r.rdata_name(rtype)?,
                serial: r.u32(WHAT).map_err(bad)?,
                refresh: r.u32(WHAT).map_err(bad)?,
                retry: r.u32(WHAT).map_err(bad)?,
                expire: r.u32(WHAT).map_err(bad)?,
                minimum: r.u32(WHAT).map_err(bad)?,
            }),
            RType::TXT => {
                let mut strings = Vec::new();
                while r.pos < rdata_end {
                    let n = usize::from(r.u8(WHAT).map_err(bad)?);
                    strings.push(r.bytes(n, WHAT).map_err(bad)?.to_vec());
                }
                RData::Txt(strings)
            }
            _ => {
                r.pos = rdata_end;
                RData::Other {
                    rtype,
                    bytes: rdata.to_vec(),
                }
            }
        };
        if r.pos != rdata_end {
            return Err(DnsError::BadRdata(rtype));
        }
        Ok(Record {
            name,
            class,
            ttl,
            data,
        })
    }

    /// A name inside record data: running past the data is a bad record, any other
    /// fault in the name is reported as it is.
    fn rdata_name(&mut self, rtype: RType) -> Result<Name, DnsError> {
        self.name().map_err(|e| match e {
            DnsError::Truncated(_) => DnsError::BadRdata(rtype),
            other => other,
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
