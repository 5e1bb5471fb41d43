//! Listening sockets passed from one sockloop process to another: from the
//! `--workers` supervisor to its workers, and from a running server to the new
//! binary it starts on `kill -USR2`.
//!
//! The sockets themselves are inherited across `exec` (their close-on-exec flag is
//! cleared for the one spawn); one variable tells the child what it got:
//!
//! ```text
//! SOCKLOOP_HANDOVER="worker:2 4242 9 5=web 6=echo 7=cmd,own"
//!                    role     parent channel  fd=service[,tls][,own] ...
//! ```
//!
//! - role: `worker:N` (the supervisor's worker N) or `upgrade` (a new binary taking
//!   over from a running server);
//! - parent: the pid that set it; a process whose parent is another ignores it (a
//!   grandchild must not take descriptors meant for its parent — `LISTEN_PID`'s rule,
//!   with the parent's pid because the child's own is not known before the spawn);
//! - channel: one end of a socket pair to the parent. The child says `ready` on it
//!   once its listeners are set up and `served N M` when it ends; a worker hears
//!   `stop`, `exit` and `drain` on it, and its end reading EOF means the supervisor is
//!   gone;
//! - then each listener: its descriptor, the service that serves it, `tls` for TLS,
//!   `own` when the child is to remove a Unix socket's file at exit.
//!
//! The same socket — not a new SO_REUSEPORT sibling — goes on serving across the
//! change of process, which is what keeps its accept queue: closing the last
//! descriptor of a listening socket resets every connection queued on it.

use crate::service::Service;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

/// The variable's name.
pub const VAR: &str = "SOCKLOOP_HANDOVER";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Worker N of a `--workers` supervisor (numbered from 1).
    Worker(u32),
    /// A new binary started by `kill -USR2`, taking over from its parent.
    Upgrade,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passed {
    pub fd: RawFd,
    pub service: Service,
    pub tls: bool,
    /// A Unix socket whose file this process removes at exit.
    pub own: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    pub role: Role,
    pub channel: RawFd,
    pub listeners: Vec<Passed>,
}

/// The variable's value as written for a child of `parent`.
pub fn encode(role: Role, parent: u32, channel: RawFd, listeners: &[Passed]) -> String {
    let mut text = match role {
        Role::Worker(n) => format!("worker:{n} {parent} {channel}"),
        Role::Upgrade => format!("upgrade {parent} {channel}"),
    };
    for l in listeners {
        text.push_str(&format!(" {}={}", l.fd, l.service.name()));
        if l.tls {
            text.push_str(",tls");
        }
        if l.own {
            text.push_str(",own");
        }
    }
    text
}

/// What the variable says, if it was meant for a child of `our_parent`.
pub fn parse(value: &str, our_parent: u32) -> Result<Option<Handover>, String> {
    let bad = |why: &str| format!("{VAR}={value:?}: {why}");
    let mut words = value.split_ascii_whitespace();
    let role = match words.next() {
        Some("upgrade") => Role::Upgrade,
        Some(w) => match w.strip_prefix("worker:").and_then(|n| n.parse().ok()) {
            Some(n) => Role::Worker(n),
            None => return Err(bad("the role is not worker:N or upgrade")),
        },
        None => return Err(bad("empty")),
    };
    let parent: u32 = words
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| bad("no parent pid"))?;
    if parent != our_parent {
        return Ok(None);
    }
    let channel = words
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no channel descriptor"))?;
    let mut listeners = Vec::new();
    for word in words {
        let (fd, rest) = word
            .split_once('=')
            .ok_or_else(|| bad("a listener is not FD=SERVICE"))?;
        let mut parts = rest.split(',');
        let service = parts
            .next()
            .and_then(Service::from_name)
            .ok_or_else(|| bad("a listener's service is unknown"))?;
        let mut passed = Passed {
            fd: fd
                .parse()
                .map_err(|_| bad("a listener's descriptor is not a number"))?,
            service,
            tls: false,
            own: false,
        };
        for flag in parts {
            match flag {
                "tls" => passed.tls = true,
                "own" => passed.own = true,
                _ => return Err(bad("a listener's flag is not tls or own")),
            }
        }
        listeners.push(passed);
    }
    Ok(Some(Handover {
        role,
        channel,
        listeners,
    }))
}

/// [`parse`] of this process's environment.
pub fn from_env() -> Result<Option<Handover>, String> {
    match std::env::var(VAR) {
        Ok(value) => parse(&value, std::os::unix::process::parent_id()),
        Err(_) => Ok(None),
    }
}

/// Starts `exe` with `args`, passing it `listeners` (which must stay open in this
/// process until the spawn returns) and one end of a new channel; returns the child
/// and our end of the channel (non-blocking).
pub fn spawn(
    exe: &std::path::Path,
    args: &[String],
    role: Role,
    listeners: &[(std::os::fd::BorrowedFd<'_>, Passed)],
) -> io::Result<(Child, UnixStream)> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    let passed: Vec<Passed> = listeners.iter().map(|(_, p)| p.clone()).collect();
    let value = encode(role, std::process::id(), theirs.as_raw_fd(), &passed);
    let mut command = Command::new(exe);
    command
        .args(args)
        .env(VAR, value)
        // The child is handed these sockets by us, not by systemd.
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_FDNAMES")
        .stdin(Stdio::null());
    if let Role::Worker(_) = role {
        // Its own process group: Ctrl-C in a terminal reaches the supervisor only,
        // which passes the stop on once (twice would mean "exit now").
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let inherit =
        |fd: std::os::fd::BorrowedFd<'_>, on: bool| socket2::SockRef::from(&fd).set_cloexec(!on);
    inherit(theirs.as_fd(), true)?;
    for (fd, _) in listeners {
        inherit(*fd, true)?;
    }
    let spawned = command.spawn();
    // Back to close-on-exec at once: the next child gets only its own.
    for (fd, _) in listeners {
        inherit(*fd, false)?;
    }
    drop(theirs);
    Ok((spawned?, ours))
}

/// A child's end of the channel, taken from the descriptor the variable names.
pub fn take_channel(fd: RawFd) -> io::Result<UnixStream> {
    let socket = super::activation::take(fd)?;
    socket.set_cloexec(true)?;
    socket.set_nonblocking(true)?;
    Ok(UnixStream::from(std::os::fd::OwnedFd::from(socket)))
}

/// One end of a channel, read line by line without blocking.
pub struct Channel {
    pub stream: UnixStream,
    partial: Vec<u8>,
}

/// What a read of the channel found.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    Line(String),
    /// Nothing more for now.
    Nothing,
    /// The other end is closed (its process is gone).
    Closed,
}

impl Channel {
    pub fn new(stream: UnixStream) -> Channel {
        Channel {
            stream,
            partial: Vec::new(),
        }
    }

    /// Says one line; a channel is tiny and rarely used, so a full socket buffer
    /// (the other side stopped reading) just loses the line.
    pub fn say(&mut self, line: &str) {
        let _ = (&self.stream).write_all(format!("{line}\n").as_bytes());
    }

    /// The next whole line, reading more if there is none yet.
    pub fn hear(&mut self) -> Heard {
        loop {
            if let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line[..end]).into_owned();
                return Heard::Line(text);
            }
            let mut buf = [0u8; 256];
            match (&self.stream).read(&mut buf) {
                Ok(0) => return Heard::Closed,
                Ok(n) if self.partial.len() < 4096 => self.partial.extend_from_slice(&buf[..n]),
                Ok(_) => return Heard::Closed, // no line is this long: not a sockloop
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Heard::Nothing,
                Err(_) => return Heard::Closed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_round_trips() {
        let listeners = vec![
            Passed {
                fd: 5,
                service: Service::Web,
                tls: true,
                own: false,
            },
            Passed {
                fd: 7,
                service: Service::Cmd,
                tls: false,
                own: true,
            },
        ];
        let text = encode(Role::Worker(2), 4242, 9, &listeners);
        assert_eq!(text, "worker:2 4242 9 5=web,tls 7=cmd,own");
        let back = parse(&text, 4242).unwrap().unwrap();
        assert_eq!(back.role, Role::Worker(2));
        assert_eq!(back.channel, 9);
        assert_eq!(back.listeners, listeners);
        let upgrade = parse(&encode(Role::Upgrade, 1, 3, &[]), 1)
            .unwrap()
            .unwrap();
        assert_eq!(upgrade.role, Role::Upgrade);
        assert!(upgrade.listeners.is_empty());
    }

    #[test]
    fn meant_for_another_process_or_malformed() {
        assert_eq!(parse("upgrade 41 3 4=echo", 42), Ok(None), "our parent's");
        for bad in [
            "",
            "boss 42 3",
            "worker:x 42 3",
            "upgrade 42",
            "upgrade 42 3 4",
            "upgrade 42 3 4=nosuch",
            "upgrade 42 3 x=echo",
            "upgrade 42 3 4=echo,loud",
        ] {
            assert!(parse(bad, 42).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_channel_hears_lines_and_the_end() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut ours = Channel::new(a);
        let mut theirs = Channel::new(b);
        assert_eq!(theirs.hear(), Heard::Nothing);
        ours.say("ready");
        ours.say("served 3 1");
        assert_eq!(theirs.hear(), Heard::Line("ready".into()));
        assert_eq!(theirs.hear(), Heard::Line("served 3 1".into()));
        drop(ours);
        assert_eq!(theirs.hear(), Heard::Closed);
    }
}
