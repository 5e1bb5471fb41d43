//! TLS for the loop and the clients, with rustls and its `ring` provider (TLS 1.3 and
//! 1.2, ALPN `http/1.1`). It attaches at the transport seam only: `stream` is the
//! TLS stream the loop reads and writes as it would a socket; services and protocol
//! cores never know. `server` loads (and on SIGHUP reloads) the certificate, or
//! makes a self-signed one; `client` decides whom a client trusts and says why a
//! handshake failed.

pub mod client;
pub mod server;
pub mod stream;

use rustls::crypto::CryptoProvider;
use std::sync::Arc;

/// The one crypto provider: ring (no cmake or assembler set-up beyond cc).
///
/// rustls 0.23.48 marks ring's `default_provider` deprecated because ring has no
/// post-quantum key exchange (X25519MLKEM768); the project chose ring for its build,
/// so the handshake offers X25519, P-256 and P-384 as before. Allowed here, once.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
