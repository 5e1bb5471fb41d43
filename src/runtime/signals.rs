//! SIGINT and SIGTERM delivered into the loop through a self-pipe.
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

pub struct SignalPipe {
    reader: UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl SignalPipe {
    pub fn install() -> io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut ids = Vec::new();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
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
