//! Domain names: the [`Name`] type and its text form (RFC 1035 §2.3.1, §5.1; case
//! RFC 4343), its wire form with compression pointers read on parse and written by the
//! compressor on emit (RFC 1035 §3.1, §4.1.4), and reverse names (in-addr.arpa
//! RFC 1035 §3.5, ip6.arpa RFC 3596 §2.5).

use super::DnsError;
use super::wire::Reader;
// Addresses as plain values (PTR names); `core::net` has no sockets.
use core::net::IpAddr;
use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name on the wire, length octets and the final 0 included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Compression jumps allowed in one name: as many as a 255-byte name can have labels.
const MAX_POINTER_HOPS: usize = 127;
/// Pointers carry 14 bits of offset, so only names that start below this can be targets.
const MAX_POINTER_TARGET: usize = 0x3fff;

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
            write_escaped(f, label, b".\\", 0x21..=0x7e)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// Writes `bytes` in presentation format (RFC 1035 §5.1): a byte of `special` after a
/// `\`, the other bytes of `plain` as they are, anything else as `\DDD`.
pub(super) fn write_escaped(
    f: &mut fmt::Formatter<'_>,
    bytes: &[u8],
    special: &[u8],
    plain: RangeInclusive<u8>,
) -> fmt::Result {
    for &b in bytes {
        if special.contains(&b) {
            write!(f, "\\{}", char::from(b))?;
        } else if plain.contains(&b) {
            write!(f, "{}", char::from(b))?;
        } else {
            write!(f, "\\{b:03}")?;
        }
    }
    Ok(())
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
// Wire form
// ---------------------------------------------------------------------------------

impl Reader<'_> {
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
}

/// Where each name suffix already written starts, keyed by its exact label bytes.
pub(super) struct Compressor {
    /// Offset of the message's first byte in the output buffer.
    base: usize,
    seen: HashMap<Vec<u8>, u16>,
}

impl Compressor {
    /// A compressor for a message that starts at `base` in the output buffer.
    pub(super) fn new(base: usize) -> Compressor {
        Compressor {
            base,
            seen: HashMap::new(),
        }
    }

    /// Writes `name`, ending in a pointer to the longest suffix already written.
    pub(super) fn put_name(&mut self, out: &mut Vec<u8>, name: &Name, compress: bool) {
        let labels = &name.labels;
        for i in 0..labels.len() {
            let suffix = labels.get(i..).unwrap_or_default();
            let key = suffix_key(suffix);
            if compress && let Some(&offset) = self.seen.get(&key) {
                out.extend_from_slice(&(0xc000 | offset).to_be_bytes());
                return;
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
