//! Sockets handed over at start (systemd socket activation, sd_listen_fds(3)): the
//! service manager opens and binds the listening sockets, and passes them as
//! descriptors 3, 4, … with `LISTEN_FDS` (how many), `LISTEN_PID` (for whom: a
//! child that inherits the variables must not take them) and `LISTEN_FDNAMES` (their
//! names, `:`-separated, from `FileDescriptorName=`).
//!
//! `-l fd:NAME=SERVICE` serves the socket named NAME (or numbered NAME: `fd:3`); a
//! socket no `-l` names is served by the service its name names (`web`, `echo`, …).
//! What a socket is — TCP, UDP or Unix, listening or not — is asked of the socket,
//! not assumed; it is made close-on-exec and non-blocking before it is used.

use super::listener::{BindError, ListenSocket};
use super::transport::Stream;
use socket2::{Domain, Socket, Type};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

/// The first descriptor passed (SD_LISTEN_FDS_START).
pub const FIRST_FD: RawFd = 3;

/// More than this many is not a service manager's doing.
const MAX_FDS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inherited {
    pub fd: RawFd,
    /// From `LISTEN_FDNAMES`; `unknown` when it names none (as systemd says).
    pub name: String,
}

/// The sockets passed to this process, from the environment's values. Nothing when
/// `LISTEN_FDS` is unset, or `LISTEN_PID` is another process's (they were meant for
/// our parent).
pub fn parse(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
    our_pid: u32,
) -> Result<Vec<Inherited>, String> {
    let Some(count) = listen_fds else {
        return Ok(Vec::new());
    };
    if listen_pid.and_then(|p| p.trim().parse::<u32>().ok()) != Some(our_pid) {
        return Ok(Vec::new());
    }
    let count: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|&n| n <= MAX_FDS)
        .ok_or_else(|| format!("LISTEN_FDS={count:?} is not a count of sockets"))?;
    let names: Vec<&str> = names.map(|n| n.split(':').collect()).unwrap_or_default();
    Ok((0..count)
        .map(|i| Inherited {
            fd: FIRST_FD + i as RawFd,
            name: names
                .get(i)
                .filter(|n| !n.is_empty())
                .unwrap_or(&"unknown")
                .to_string(),
        })
        .collect())
}

/// [`parse`] of this process's environment.
pub fn from_env() -> Result<Vec<Inherited>, String> {
    let var = |name| std::env::var(name).ok();
    parse(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )
}

/// Which inherited socket `-l fd:WHAT` means: by name, or by number.
pub fn find<'a>(inherited: &'a [Inherited], what: &str) -> Result<&'a Inherited, String> {
    let by_number = what.parse::<RawFd>().ok();
    inherited
        .iter()
        .find(|s| s.name == what || Some(s.fd) == by_number)
        .ok_or_else(|| match inherited.is_empty() {
            true => format!(
                "-l fd:{what}: no sockets were passed to sockloop (LISTEN_FDS and \
                 LISTEN_PID are not set for it: run it under systemd socket activation)"
            ),
            false => format!(
                "-l fd:{what}: no socket of that name or number was passed; there are: {}",
                inherited
                    .iter()
                    .map(|s| format!("{} (fd {})", s.name, s.fd))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Takes the passed descriptor `s` as a listener: a listening TCP or Unix stream
/// socket, or a UDP socket. Anything else (a connected socket, as `Accept=yes`
/// passes: that is `--inetd`'s) is refused, with why.
pub fn adopt(s: &Inherited) -> Result<ListenSocket, BindError> {
    let what = || format!("inherited socket {} (fd {})", s.name, s.fd);
    let socket = take(s.fd).map_err(|e| BindError::Other(what(), e))?;
    let fail = |e| BindError::Other(what(), e);
    socket.set_cloexec(true).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    let kind = (
        socket.domain().map_err(fail)?,
        socket.r#type().map_err(fail)?,
    );
    let listening = socket.is_listener().unwrap_or(false);
    match kind {
        (Domain::IPV4 | Domain::IPV6, Type::STREAM) if listening => {
            Ok(ListenSocket::Tcp(TcpListener::from(socket)))
        }
        (Domain::IPV4 | Domain::IPV6, Type::DGRAM) => {
            Ok(ListenSocket::Udp(UdpSocket::from(socket)))
        }
        (Domain::UNIX, Type::STREAM) if listening => {
            // The file is the service manager's: never removed by us.
            Ok(ListenSocket::Unix(
                UnixListener::from(OwnedFd::from(socket)),
                None,
            ))
        }
        (_, Type::STREAM) => Err(refused(
            what(),
            "a connected socket, not a listening one (Accept=yes? serve it with --inetd)",
        )),
        _ => Err(refused(what(), "not a TCP, UDP or Unix stream socket")),
    }
}

/// The connection `--inetd` serves: standard input, which inetd (`nowait`) and
/// systemd (`Accept=yes`, `StandardInput=socket`) make a connected stream socket.
pub fn stdin_connection() -> Result<(Stream, Option<SocketAddr>), BindError> {
    let what = || "standard input".to_string();
    let socket = take(0).map_err(|e| BindError::Other(what(), e))?;
    let fail = |e| BindError::Other(what(), e);
    socket.set_cloexec(true).map_err(fail)?;
    let kind = (
        socket.domain().map_err(fail)?,
        socket.r#type().map_err(fail)?,
    );
    if socket.is_listener().unwrap_or(false) {
        return Err(refused(
            what(),
            "a listening socket: serve it with -l fd:0=SERVICE",
        ));
    }
    let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
    match kind {
        (Domain::IPV4 | Domain::IPV6, Type::STREAM) => {
            Ok((Stream::Tcp(TcpStream::from(socket)), peer))
        }
        (Domain::UNIX, Type::STREAM) => {
            Ok((Stream::Unix(UnixStream::from(OwnedFd::from(socket))), None))
        }
        _ => Err(refused(
            what(),
            "not a connected TCP or Unix stream socket (--inetd serves one connection)",
        )),
    }
}

fn refused(what: String, why: &str) -> BindError {
    BindError::Other(
        what,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
    )
}

/// Ownership of a descriptor we did not open: checked to be an open socket first
/// (`/proc/self/fd`), since owning a closed or foreign descriptor would close it
/// under whoever has it.
pub(crate) fn take(fd: RawFd) -> std::io::Result<Socket> {
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))?;
    if !target.to_string_lossy().starts_with("socket:") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("fd {fd} is {}, not a socket", target.display()),
        ));
    }
    // Standard output is the same socket under inetd: writes go through fd 0 only.
    // SAFETY: the descriptor is open and is a socket (checked just above); the
    // service manager (LISTEN_PID) or our parent sockloop (handover.rs) passed it to
    // this process for it to own, and nothing else in sockloop uses descriptors it
    // did not open.
    #[allow(unsafe_code)]
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Socket::from(owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_as_sd_listen_fds_reads_it() {
        let two = parse(Some("42"), Some("2"), Some("web:echo"), 42).unwrap();
        assert_eq!(
            two,
            [
                Inherited {
                    fd: 3,
                    name: "web".into()
                },
                Inherited {
                    fd: 4,
                    name: "echo".into()
                }
            ]
        );
        assert!(
            parse(Some("41"), Some("2"), None, 42).unwrap().is_empty(),
            "our parent's"
        );
        assert!(parse(None, Some("2"), None, 42).unwrap().is_empty());
        assert!(parse(Some("42"), None, None, 42).unwrap().is_empty());
        let unnamed = parse(Some("42"), Some("2"), Some("web"), 42).unwrap();
        assert_eq!(unnamed[1].name, "unknown");
        assert!(parse(Some("42"), Some("lots"), None, 42).is_err());
        assert!(parse(Some("42"), Some("100000"), None, 42).is_err());
    }

    #[test]
    fn fd_names_and_numbers() {
        let s = parse(Some("1"), Some("2"), Some("web:raw"), 1).unwrap();
        assert_eq!(find(&s, "raw").unwrap().fd, 4);
        assert_eq!(find(&s, "3").unwrap().name, "web");
        let missing = find(&s, "nope").unwrap_err();
        assert!(
            missing.contains("there are: web (fd 3), raw (fd 4)"),
            "{missing}"
        );
        assert!(find(&[], "web").unwrap_err().contains("LISTEN_FDS"));
    }
}
