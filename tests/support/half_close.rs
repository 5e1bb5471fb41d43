//! Half-close over a [`Client`]: our FIN, while the reading side stays open.

use super::line_client::{Client, Sock};
use std::net::Shutdown;

impl Client {
    pub fn shutdown_write(&self) {
        let _ = match &self.sock {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}
