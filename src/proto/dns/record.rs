//! Resource records: TYPE and CLASS values (RFC 1035 §3.2.2, §3.2.4), the record
//! format and the data of the types a client reads (RFC 1035 §3.2.1, §3.3, §3.4.1, §4.1.3;
//! AAAA RFC 3596 §2), anything else kept as bytes (RFC 3597), parsed and emitted here.

use super::DnsError;
use super::name::{Compressor, Name, write_escaped};
use super::wire::{Reader, put_u16, put_u32};
// Addresses as plain values (A, AAAA); `core::net` has no sockets.
use core::net::{Ipv4Addr, Ipv6Addr};
use std::fmt;

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

    /// Types whose data [`parse`](super::parse) decodes into their own [`RData`] variant.
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
                    write_escaped(f, s, b"\"\\", 0x20..=0x7e)?;
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

// ---------------------------------------------------------------------------------
// Wire form
// ---------------------------------------------------------------------------------

impl Reader<'_> {
    pub(super) fn record(&mut self) -> Result<Record, DnsError> {
        const WHAT: &str = "record";
        let name = self.name()?;
        let rtype = RType(self.u16(WHAT)?);
        let class = Class(self.u16(WHAT)?);
        let ttl = self.u32(WHAT)?;
        let rdlength = usize::from(self.u16(WHAT)?);
        let rdata_start = self.pos;
        let rdata = self.bytes(rdlength, "record data")?;
        // Decode with a cursor over the whole message (names in the data may point
        // back into it) that must end exactly at the end of the data.
        let mut r = Reader {
            msg: self.msg.get(..self.pos).unwrap_or_default(),
            pos: rdata_start,
        };
        let data = r.rdata(rtype, rdata)?;
        Ok(Record {
            name,
            class,
            ttl,
            data,
        })
    }

    /// Decodes `rdata`, the data of a record of type `rtype`, which ends where the
    /// cursor's message does.
    fn rdata(&mut self, rtype: RType, rdata: &[u8]) -> Result<RData, DnsError> {
        const WHAT: &str = "record";
        let rdata_end = self.msg.len();
        let bad = |_| DnsError::BadRdata(rtype);
        let data = match rtype {
            RType::A => RData::A(Ipv4Addr::from(self.array::<4>(WHAT).map_err(bad)?)),
            RType::AAAA => RData::Aaaa(Ipv6Addr::from(self.array::<16>(WHAT).map_err(bad)?)),
            RType::NS => RData::Ns(self.rdata_name(rtype)?),
            RType::CNAME => RData::Cname(self.rdata_name(rtype)?),
            RType::PTR => RData::Ptr(self.rdata_name(rtype)?),
            RType::MX => RData::Mx {
                preference: self.u16(WHAT).map_err(bad)?,
                exchange: self.rdata_name(rtype)?,
            },
            RType::SOA => RData::Soa(Soa {
                mname: self.rdata_name(rtype)?,
                rname: self.rdata_name(rtype)?,
                serial: self.u32(WHAT).map_err(bad)?,
                refresh: self.u32(WHAT).map_err(bad)?,
                retry: self.u32(WHAT).map_err(bad)?,
                expire: self.u32(WHAT).map_err(bad)?,
                minimum: self.u32(WHAT).map_err(bad)?,
            }),
            RType::TXT => {
                let mut strings = Vec::new();
                while self.pos < rdata_end {
                    let n = usize::from(self.u8(WHAT).map_err(bad)?);
                    strings.push(self.bytes(n, WHAT).map_err(bad)?.to_vec());
                }
                RData::Txt(strings)
            }
            _ => {
                self.pos = rdata_end;
                RData::Other {
                    rtype,
                    bytes: rdata.to_vec(),
                }
            }
        };
        if self.pos != rdata_end {
            return Err(DnsError::BadRdata(rtype));
        }
        Ok(data)
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

/// Appends `record`, its owner name and the names in its data compressed by `c`.
pub(super) fn put_record(
    c: &mut Compressor,
    out: &mut Vec<u8>,
    record: &Record,
) -> Result<(), DnsError> {
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
    let rdlength = u16::try_from(out.len() - length_at - 2).map_err(|_| DnsError::RdataTooLong)?;
    if let Some(slot) = out.get_mut(length_at..length_at + 2) {
        slot.copy_from_slice(&rdlength.to_be_bytes());
    }
    Ok(())
}
