//! UDP sockets that send from a chosen source port, to pose as another datagram
//! service (echo on 7, DNS on 53, ...). A port below 1024 needs root: without it the
//! test is skipped (see [`deps::missing`]).

use super::deps;
use super::net::IO_TIMEOUT;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

/// A socket bound to `port` on a loopback address (127.0.0.1, or another of 127/8 if
/// something already holds the port there), or None if this user may not bind it.
pub fn bind_port(port: u16) -> Option<UdpSocket> {
    let mut last = None;
    for ip in [Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 77)] {
        match UdpSocket::bind(SocketAddr::from((ip, port))) {
            Ok(sock) => {
                sock.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
                return Some(sock);
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return deps::missing(&format!(
                    "binding UDP source port {port} needs root (or CAP_NET_BIND_SERVICE): {e}"
                ));
            }
            Err(e) => last = Some(e),
        }
    }
    panic!("cannot bind UDP source port {port} on 127.0.0.1 or 127.0.0.77: {last:?}");
}

/// Sends `payload` from `sock` to `to` and returns the reply, or None when nothing
/// came back within `wait`.
pub fn ask(sock: &UdpSocket, to: SocketAddr, payload: &[u8], wait: Duration) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(wait)).expect("timeout");
    sock.send_to(payload, to).expect("udp send");
    let mut buf = vec![0u8; 65536];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("udp recv: {e}"),
    }
}
