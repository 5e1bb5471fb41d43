//! Listening sockets, built with socket2 so every option is set before `bind`:
//! SO_REUSEADDR on TCP (restart without waiting out TIME_WAIT), optional SO_REUSEPORT,
//! IPV6_V6ONLY as asked, our own backlog, non-blocking from the start.
//!
//! UDP gets SO_REUSEADDR only with `--reuse-port`: UDP has no TIME_WAIT to wait out,
//! and on Linux SO_REUSEADDR on a datagram socket means "share this port" — a second
//! server would bind beside the first and silently take its datagrams.
//!
//! Unix socket paths get extra care: a live socket is never stolen, a stale one (its
//! server is gone, connecting is refused) is replaced, and anything that is not a
//! socket is never deleted.

use super::spec::Endpoint;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug)]
pub struct BindOptions {
    pub reuse_port: bool,
    /// IPV6_V6ONLY for IPv6 listeners: true keeps `[::]` to IPv6 only.
    pub v6_only: bool,
    pub backlog: i32,
    /// Permission bits for Unix socket files (e.g. 0o660).
    pub unix_mode: Option<u32>,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            reuse_port: false,
            v6_only: true,
            backlog: 1024,
            unix_mode: None,
        }
    }
}

pub enum ListenSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
    /// The path is ours to remove at exit, unless the socket was passed to us.
    Unix(UnixListener, Option<OwnedPath>),
}

/// A Unix socket file we created, remembered by inode so that on exit we remove it
/// only if it is still ours (not replaced by someone else meanwhile).
pub struct OwnedPath {
    pub path: PathBuf,
    dev: u64,
    ino: u64,
}

impl OwnedPath {
    /// The socket file at `path` as it is now, to be removed at exit (a listener
    /// handed over by the process that created it).
    pub fn existing(path: &Path) -> io::Result<OwnedPath> {
        let meta = std::fs::symlink_metadata(path)?;
        Ok(OwnedPath {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    pub fn remove(&self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.dev() == self.dev
            && meta.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[derive(Debug)]
pub enum BindError {
    InUse(String),
    Permission(String),
    UnixInUse(PathBuf),
    NotASocket(PathBuf),
    Other(String, io::Error),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::InUse(a) => write!(
                f,
                "address {a} already in use — is another sockloop (or other server) running?"
            ),
            BindError::Permission(a) => write!(
                f,
                "permission denied binding {a} — ports below 1024 need root or CAP_NET_BIND_SERVICE"
            ),
            BindError::UnixInUse(p) => write!(
                f,
                "{} is already in use by a running server (connecting to it works); \
                 stop that server or pick another path",
                p.display()
            ),
            BindError::NotASocket(p) => write!(
                f,
                "{} exists and is not a socket; refusing to delete it — pick another path",
                p.display()
            ),
            BindError::Other(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for BindError {}

/// Binds `endpoint`; returns the socket and the address it really got (port 0 resolved).
pub fn bind(endpoint: &Endpoint, opts: &BindOptions) -> Result<(ListenSocket, String), BindError> {
    match endpoint {
        Endpoint::Tcp(addr) => {
            let sock = ip_socket(*addr, Type::STREAM, Protocol::TCP, opts)?;
            sock.listen(opts.backlog)
                .map_err(|e| classify(&addr.to_string(), e))?;
            let listener = TcpListener::from(sock);
            let local = listener
                .local_addr()
                .map_or(addr.to_string(), |a| a.to_string());
            Ok((ListenSocket::Tcp(listener), local))
        }
        Endpoint::Udp(addr) => {
            let sock = ip_socket(*addr, Type::DGRAM, Protocol::UDP, opts)?;
            let udp = UdpSocket::from(sock);
            let local = udp.local_addr().map_or(addr.to_string(), |a| a.to_string());
            Ok((ListenSocket::Udp(udp), local))
        }
        Endpoint::Unix(path) => {
            let (listener, owned) = unix_socket(path, opts)?;
            Ok((
                ListenSocket::Unix(listener, Some(owned)),
                path.display().to_string(),
            ))
        }
        Endpoint::Fd(name) => Err(BindError::Other(
            format!("fd:{name}"),
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a passed socket is taken, not bound",
            ),
        )),
    }
}

fn ip_socket(
    addr: SocketAddr,
    ty: Type,
    proto: Protocol,
    opts: &BindOptions,
) -> Result<Socket, BindError> {
    let what = addr.to_string();
    let setup = || -> io::Result<Socket> {
        let sock = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
        // See the module comment: on UDP it would share the port.
        sock.set_reuse_address(ty == Type::STREAM || opts.reuse_port)?;
        if opts.reuse_port {
            sock.set_reuse_port(true)?;
        }
        if addr.is_ipv6() {
            sock.set_only_v6(opts.v6_only)?;
        }
        sock.set_nonblocking(true)?;
        Ok(sock)
    };
    let sock = setup().map_err(|e| BindError::Other(format!("socket for {what}"), e))?;
    sock.bind(&addr.into()).map_err(|e| classify(&what, e))?;
    Ok(sock)
}

fn classify(what: &str, e: io::Error) -> BindError {
    match e.kind() {
        io::ErrorKind::AddrInUse => BindError::InUse(what.to_string()),
        io::ErrorKind::PermissionDenied => BindError::Permission(what.to_string()),
        _ => BindError::Other(format!("cannot listen on {what}"), e),
    }
}

fn unix_socket(path: &Path, opts: &BindOptions) -> Result<(UnixListener, OwnedPath), BindError> {
    clear_stale(path)?;
    let what = path.display().to_string();
    let other = |e| BindError::Other(format!("cannot listen on {what}"), e);
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(other)?;
    let addr = SockAddr::unix(path).map_err(other)?;
    sock.bind(&addr).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => BindError::UnixInUse(path.to_path_buf()),
        _ => other(e),
    })?;
    let meta = std::fs::symlink_metadata(path).map_err(other)?;
    let owned = OwnedPath {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    let finish = || -> io::Result<UnixListener> {
        if let Some(mode) = opts.unix_mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        sock.listen(opts.backlog)?;
        sock.set_nonblocking(true)?;
        Ok(UnixListener::from(std::os::fd::OwnedFd::from(sock)))
    };
    match finish() {
        Ok(listener) => Ok((listener, owned)),
        Err(e) => {
            owned.remove();
            Err(other(e))
        }
    }
}

/// Makes way for a new socket at `path` only when what is there is a dead socket.
fn clear_stale(path: &Path) -> Result<(), BindError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(BindError::Other(
                format!("cannot inspect {}", path.display()),
                e,
            ));
        }
    };
    if !meta.file_type().is_socket() {
        return Err(BindError::NotASocket(path.to_path_buf()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(BindError::UnixInUse(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            crate::info!(
                "replacing stale socket {} (no server behind it)",
                path.display()
            );
            std::fs::remove_file(path)
                .map_err(|e| BindError::Other(format!("cannot remove stale {}", path.display()), e))
        }
        Err(e) => Err(BindError::Other(
            format!("{} exists and cannot be checked", path.display()),
            e,
        )),
    }
}
