//! An independent TCP peer written inline in a test: one connection served on a
//! thread, for a client under test to talk to.

use super::finished::CHILD_TIMEOUT;
use super::peer_thread::{PEER_IO_TIMEOUT, PeerThread};
use std::io::{self, BufRead};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Binds 127.0.0.1:0 and serves one connection with `serve` on a thread; the
/// accepted stream has [`PEER_IO_TIMEOUT`] on reads and writes, and accepting gives up
/// after [`CHILD_TIMEOUT`].
pub fn tcp_peer<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, PeerThread<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind peer");
    let addr = listener.local_addr().expect("peer address");
    let handle = std::thread::spawn(move || serve(accept_within(&listener, CHILD_TIMEOUT)));
    (addr, PeerThread::from(handle))
}

fn accept_within(listener: &TcpListener, timeout: Duration) -> TcpStream {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                stream
                    .set_read_timeout(Some(PEER_IO_TIMEOUT))
                    .expect("timeout");
                stream
                    .set_write_timeout(Some(PEER_IO_TIMEOUT))
                    .expect("timeout");
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "peer: no connection within {timeout:?}"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("peer accept: {e}"),
        }
    }
}

/// Reads one `\n`-terminated line (without it); panics on EOF or timeout.
pub fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    let n = reader
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("peer: read line: {e}"));
    assert!(n > 0 && line.ends_with('\n'), "peer: EOF in {line:?}");
    line.pop();
    line
}
