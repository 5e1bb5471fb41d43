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

/// Whether this build can compress at all (the `deflate` feature).
pub const AVAILABLE: bool = cfg!(feature = "deflate");
