//! SIGINT and SIGTERM (and, for a server with a certificate to reload, SIGHUP; and
//! SIGUSR2, the binary upgrade) delivered into the loop through self-pipes.
//!
//! The signal handler (installed by signal-hook) only writes a byte to a socket pair;
//! the loop watches the other end like any socket. No threads, no flags to poll, and
//! the loop wakes at once when a signal arrives.

use super::poll::{Interest, Registration};
use polling::Poller;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;

/// The poller key of the signal pipe in every loop: the top of the key space (polling
/// keeps `usize::MAX` for itself), so it never meets the small keys of connections.
pub const SIGNAL_KEY: usize = usize::MAX - 1;
/// The poller key of the SIGHUP pipe, just below.
pub const HANGUP_KEY: usize = SIGNAL_KEY - 1;
/// The poller key of the SIGUSR2 pipe (start the new binary and hand over).
pub const UPGRADE_KEY: usize = HANGUP_KEY - 1;

pub struct SignalPipe {
    reader: UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl SignalPipe {
    pub fn install() -> io::Result<Self> {
        Self::install_for(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
    }

    fn install_for(signals: &[std::ffi::c_int]) -> io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut ids = Vec::new();
        for &signal in signals {
            ids.push(signal_hook::low_level::pipe::register(
                signal,
                writer.try_clone()?,
            )?);
        }
        Ok(Self { reader, ids })
    }

    /// Installs the handlers and has `poller` report arriving signals under
    /// [`SIGNAL_KEY`].
    pub fn watch(poller: &Poller) -> io::Result<Self> {
        let pipe = Self::install()?;
        Registration::add(poller, &pipe.reader, SIGNAL_KEY, Interest::READ)?;
        Ok(pipe)
    }

    /// SIGHUP, reported under [`HANGUP_KEY`]. Only a server with something to reload
    /// installs it; elsewhere SIGHUP keeps its default (the process ends).
    pub fn watch_hangup(poller: &Poller) -> io::Result<Self> {
        let pipe = Self::install_for(&[signal_hook::consts::SIGHUP])?;
        Registration::add(poller, &pipe.reader, HANGUP_KEY, Interest::READ)?;
        Ok(pipe)
    }

    /// SIGUSR2, reported under [`UPGRADE_KEY`]: start the binary again, hand the
    /// listeners over, drain (nginx's binary upgrade).
    pub fn watch_upgrade(poller: &Poller) -> io::Result<Self> {
        let pipe = Self::install_for(&[signal_hook::consts::SIGUSR2])?;
        Registration::add(poller, &pipe.reader, UPGRADE_KEY, Interest::READ)?;
        Ok(pipe)
    }

    /// Empties the pipe; returns how many signals arrived since the last call.
    pub fn drain(&mut self) -> usize {
        let mut buf = [0u8; 16];
        let mut count = 0;
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return count,
                Ok(n) => count += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return count,
            }
        }
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
