//! permessage-deflate (RFC 7692): `params` negotiates it in the opening handshake,
//! `codec` compresses and inflates message payloads, and `send` frames a message
//! compressed or not. The session (`../session/inflate.rs`) inflates what arrives.
//!
//! The design keeps nothing per idle connection: by default a server imposes
//! `server_no_context_takeover` and `client_no_context_takeover`, so every message is
//! compressed on its own by the one [`Deflater`] of the loop, and an [`Inflater`]
//! exists only while a compressed message is arriving.

pub mod params;
pub mod send;

#[cfg_attr(not(feature = "deflate"), path = "codec_off.rs")]
pub mod codec;

pub use codec::{Deflater, Inflater};
pub use params::Agreed;

/// The bytes of the empty stored block a sync flush ends with (§7.2.1): removed from
/// every compressed message we send, put back after every one we receive (§7.2.2).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What one step of inflation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub consumed: usize,
    pub produced: usize,
    /// The stream ended (a block with BFINAL set): nothing more will come out of it.
    pub ended: bool,
    /// The data is not valid deflate; `produced` bytes came out before the fault.
    pub corrupt: bool,
}

/// Whether this build can compress at all (the `deflate` feature).
pub const AVAILABLE: bool = cfg!(feature = "deflate");
