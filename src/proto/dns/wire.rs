//! The cursor every element reads with and the big-endian writers every element emits
//! with (RFC 1035 §2.3.2: integers on the wire are in network order).

use super::DnsError;

/// A cursor over a whole message (names may point anywhere before them).
pub(super) struct Reader<'a> {
    pub(super) msg: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Truncated(what))?;
        let b = self
            .msg
            .get(self.pos..end)
            .ok_or(DnsError::Truncated(what))?;
        self.pos = end;
        Ok(b)
    }

    pub(super) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DnsError> {
        let b = self.bytes(N, what)?;
        b.try_into().map_err(|_| DnsError::Truncated(what))
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, DnsError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, DnsError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, DnsError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
}

pub(super) fn put_u16(out: &mut Vec<u8>, n: u16) {
    out.extend_from_slice(&n.to_be_bytes());
}

pub(super) fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}
