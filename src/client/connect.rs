//! Connecting, with errors that say what to do about them: blocking with a timeout
//! (the interactive clients, which have nothing else to do meanwhile), or started
//! without waiting and finished in a poll loop (DNS over TCP, the load generator).

use super::ClientError;
use crate::hostport::{Host, HostPort};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A client's `HOST:PORT` argument, read as `serve` reads its listeners'
/// ([`HostPort`]: empty HOST is 127.0.0.1, IPv6 in brackets); a mistake in it is a
/// usage error, before anything is resolved or connected.
pub fn target(text: &str) -> Result<HostPort, ClientError> {
    HostPort::parse_target(text, None)
        .map_err(|e| ClientError::Usage(format!("bad address '{text}': {e}")))
}

/// The addresses of `target`: itself for an IP address, the system resolver's answer
/// for a name (`/etc/hosts` first).
pub fn resolve(target: &HostPort) -> Result<Vec<SocketAddr>, ClientError> {
    let name = match &target.host {
        Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, target.port)]),
        Host::Name(name) => name.as_str(),
    };
    let addrs: Vec<SocketAddr> = (name, target.port)
        .to_socket_addrs()
        .map_err(|e| ClientError::Failed(format!("cannot resolve {name}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(ClientError::Failed(format!(
            "{name} resolves to no address"
        )));
    }
    Ok(addrs)
}

/// Connects to the first address of `target` that answers, within `timeout` each.
pub fn tcp(target: &HostPort, timeout: Duration) -> Result<TcpStream, ClientError> {
    let mut last = None;
    for addr in resolve(target)? {
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| ClientError::io("cannot create a socket", e))?;
        match sock.connect_timeout(&addr.into(), timeout) {
            Ok(()) => {
                let stream = TcpStream::from(sock);
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = match last {
        Some(last) => last,
        None => return Err(ClientError::Failed(format!("cannot connect to {target}"))),
    };
    Err(ClientError::Failed(match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("connection refused: {addr} — is a server listening?")
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
            "no answer from {addr} within {} s — is the host up and the port open?",
            timeout.as_secs_f64()
        ),
        _ => format!("cannot connect to {addr}: {e}"),
    }))
}

/// Connects to a Unix stream socket at `path`.
pub fn unix(path: &Path) -> Result<UnixStream, ClientError> {
    let addr = SockAddr::unix(path)
        .map_err(|e| ClientError::Usage(format!("bad socket path {}: {e}", path.display())))?;
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(|e| ClientError::io("cannot create a socket", e))?;
    match sock.connect(&addr) {
        Ok(()) => Ok(UnixStream::from(std::os::fd::OwnedFd::from(sock))),
        Err(e) => Err(ClientError::Failed(match not_a_socket(path) {
            // Connecting to a file or a directory is refused as if a server were gone.
            Some(what) => format!("{} is {what}, not a socket", path.display()),
            None => unix_error(path, &e),
        })),
    }
}

/// What is at `path` when it is there and not a socket ("a regular file", ...).
fn not_a_socket(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path).ok()?.file_type();
    let what = if kind.is_socket() {
        return None;
    } else if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "something else"
    };
    Some(what)
}

/// Why connecting to the socket at `path` failed, in words.
fn unix_error(path: &Path, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("no such file: {}", path.display()),
        io::ErrorKind::PermissionDenied => format!(
            "permission denied: {} — check the socket's permissions (--unix-mode on the server)",
            path.display()
        ),
        io::ErrorKind::ConnectionRefused => format!(
            "connection refused: {} — the file is there but no server is listening (stale socket?)",
            path.display()
        ),
        _ => format!("cannot connect to {}: {e}", path.display()),
    }
}

/// Starts a TCP connect to `addr` without waiting for it: the stream is non-blocking,
/// the kernel goes on connecting, and the poller reports the stream writable once it
/// is done; [`finish_connect`] then says how it went.
pub fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if in_progress(&e) || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from(sock))
}

/// After the poller reported a stream from [`start_connect`] writable (or in error):
/// `Ok(true)` connected, `Ok(false)` not yet (a spurious wake-up: wait again), or the
/// reason it failed (refused, unreachable, ...).
pub fn finish_connect(stream: &TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// EINPROGRESS: a non-blocking connect has started. std cannot name it on stable Rust
/// (`ErrorKind::InProgress` is unstable), so the number is compared.
fn in_progress(e: &io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let einprogress = rustix::io::Errno::INPROGRESS.raw_os_error();
    // The BSDs and macOS.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let einprogress = 36;
    e.raw_os_error() == Some(einprogress)
}
