//! Standard input for the clients, whatever it is.
//!
//! Pipes and terminals are watched by the poller like sockets. epoll refuses regular
//! files and some devices (`/dev/null`), which are always "ready": those are read
//! directly whenever the client wants input. Stdin is never switched to non-blocking
//! mode (that flag would be shared with the shell that owns the terminal); a read
//! after the poller says readable returns what is there without waiting.

use crate::runtime::poll::{self, Interest, Registration};
use polling::Poller;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The poller key of standard input in every client loop.
pub const STDIN_KEY: usize = 0;

pub struct Input {
    stdin: io::Stdin,
    /// `Some` while the poller watches stdin; `None` when it is read directly.
    registration: Option<Registration>,
    pub open: bool,
}

impl Input {
    /// Registers stdin with `poller` under [`STDIN_KEY`] if epoll accepts it.
    pub fn open(poller: &Poller) -> Input {
        let stdin = io::stdin();
        let registration =
            Registration::add(poller, &stdin.as_fd(), STDIN_KEY, Interest::READ).ok();
        Input {
            stdin,
            registration,
            open: true,
        }
    }

    /// A stdin that is never read (one-shot `-e` mode, `--echo`).
    pub fn closed() -> Input {
        Input {
            stdin: io::stdin(),
            registration: None,
            open: false,
        }
    }

    /// True for a regular file or device: the loop must not wait for it.
    pub fn always_ready(&self) -> bool {
        self.open && self.registration.is_none()
    }

    pub fn is_polled(&self) -> bool {
        self.registration.is_some()
    }

    /// Whether the loop wants input now (backpressure, one request at a time): a
    /// watched stdin is watched only then.
    pub fn want(&mut self, poller: &Poller, wanted: bool) -> io::Result<()> {
        let interest = Interest::new(wanted, false);
        match &mut self.registration {
            Some(r) => r.set(poller, &self.stdin.as_fd(), STDIN_KEY, interest),
            None => Ok(()),
        }
    }

    /// Whether input the loop wants can be read without waiting for the poller (a
    /// regular file): then the loop's wait must not sleep.
    pub fn ready_now(&self, wanted: bool) -> bool {
        wanted && self.always_ready()
    }

    /// How long the loop's wait may last: not at all when input it wants can be read
    /// without the poller, else until `deadline` (no limit without one).
    pub fn wait_limit(
        &self,
        wanted: bool,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Option<Duration> {
        if self.ready_now(wanted) {
            Some(Duration::ZERO)
        } else {
            poll::timeout_until(deadline, now)
        }
    }

    /// Reads what is available; `Ok(0)` is end of input (and closes it).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stdin.lock().read(buf) {
                Ok(0) => {
                    self.open = false;
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.open = false;
                    return Err(e);
                }
            }
        }
    }

    /// Stops watching stdin.
    pub fn close(&mut self, poller: &Poller) {
        if self.registration.take().is_some() {
            poll::remove(poller, &self.stdin.as_fd());
        }
        self.open = false;
    }
}
