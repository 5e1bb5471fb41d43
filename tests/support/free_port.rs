//! A port for the connect errors: nothing listens there.

use std::net::{SocketAddr, TcpListener};

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn free_tcp_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}
