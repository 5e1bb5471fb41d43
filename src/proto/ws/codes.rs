//! The numbers of RFC 6455 in one place: frame opcodes (§5.2, §11.8) and close
//! status codes (§7.4, §11.7), with the rules for which may appear on the wire and
//! the names the trace and the client print.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    /// `None` for the reserved opcodes 3–7 and 0xB–0xF (§5.2).
    pub fn from_u8(n: u8) -> Option<Opcode> {
        match n {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xa => Some(Opcode::Pong),
            _ => None,
        }
    }

    pub fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xa,
        }
    }

    /// Control frames (opcode high bit set) carry no message data (§5.5).
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

impl Opcode {
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        }
    }
}

/// Whether `code` may appear in a Close frame (§7.4.1, §7.4.2, IANA registry): 1004 is
/// reserved, 1005, 1006 and 1015 must never be sent, 1016–2999 are for future RFCs, and
/// 3000–4999 belong to libraries and applications.
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether a peer closing with `code` reports a failure rather than an ordinary end:
/// the protocol, data, policy, size, extension and server errors of §7.4.1.
pub fn is_error_close_code(code: u16) -> bool {
    matches!(code, 1002 | 1003 | 1007..=1011)
}

/// The §7.4.1 and IANA registry names of the close codes.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received",
        1006 => "abnormal closure",
        1007 => "invalid frame payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake",
        3000..=3999 => "registered by a library or framework",
        4000..=4999 => "private use",
        _ => "unknown",
    }
}
