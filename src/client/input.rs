//! Standard input for the clients, whatever it is.
//!
//! Pipes and terminals are watched by the poller like sockets. epoll refuses regular
//! files and some devices (`/dev/null`), which are always "ready": those are read
//! directly whenever the client wants input. Stdin is never switched to non-blocking
//! mode (that flag would be shared with the shell that owns the terminal); a read
//! after the poller says readable returns what is there without waiting.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};

pub struct Input {
    stdin: io::Stdin,
    /// True when the poller watches stdin; false when it is read directly.
    polled: bool,
    pub open: bool,
}

impl Input {
    /// Registers stdin with `poller` under `key` if epoll accepts it.
    pub fn open(poller: &polling::Poller, key: usize) -> Input {
        let stdin = io::stdin();
        let polled =
            crate::runtime::poll::register(poller, &stdin.as_fd(), key, (true, false)).is_ok();
        Input {
            stdin,
            polled,
            open: true,
        }
    }

    /// A stdin that is never read (one-shot `-e` mode, `--echo`).
    pub fn closed() -> Input {
        Input {
            stdin: io::stdin(),
            polled: false,
            open: false,
        }
    }

    /// True for a regular file or device: the loop must not wait for it.
    pub fn always_ready(&self) -> bool {
        self.open && !self.polled
    }

    pub fn is_polled(&self) -> bool {
        self.polled
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stdin.as_fd()
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
    pub fn close(&mut self, poller: &polling::Poller) {
        if self.polled {
            let _ = poller.delete(self.stdin.as_fd());
            self.polled = false;
        }
        self.open = false;
    }
}
