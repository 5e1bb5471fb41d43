//! Connecting to a server the way every test client does: with a timeout on the
//! connect and on each read and write after it.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Timeout for every socket operation in the tests.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP connection to `addr` with [`IO_TIMEOUT`] on connecting, reads and writes, and
/// Nagle off (requests are small and the tests wait for each answer).
pub fn connect_tcp(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
