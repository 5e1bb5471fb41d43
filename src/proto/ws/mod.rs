//! WebSocket (RFC 6455): opening handshake, frames, UTF-8 validation, sessions.

pub mod codes;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod session;
pub mod utf8;
