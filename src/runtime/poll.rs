//! Registration with the poller: the one `unsafe` block in sockloop.
//!
//! polling 3 makes `add` unsafe because epoll keys registrations by descriptor: a
//! descriptor closed while still registered could be reused by a new socket that would
//! then receive the old registration's events. Every caller keeps the registered
//! source alive while it is registered and calls `poller.delete` before dropping it
//! (the server's `close` and `begin_shutdown`, each client's exit path); the only
//! exception is process exit, where the poller is dropped too.

use polling::{Event, PollMode, Poller};
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// Adds `source` to `poller` under `key`, level-triggered, with the given interest
/// (readable, writable).
#[allow(unsafe_code)]
pub fn register(
    poller: &Poller,
    source: &impl AsFd,
    key: usize,
    (readable, writable): (bool, bool),
) -> io::Result<()> {
    let fd = source.as_fd().as_raw_fd();
    // SAFETY: see the module comment — the caller keeps the source open while it is
    // registered and deletes it from the poller before closing it.
    unsafe { poller.add_with_mode(fd, Event::new(key, readable, writable), PollMode::Level) }
}

/// Changes the interest of a registered source.
pub fn set_interest(
    poller: &Poller,
    source: &impl AsFd,
    key: usize,
    (readable, writable): (bool, bool),
) -> io::Result<()> {
    poller.modify_with_mode(
        source.as_fd(),
        Event::new(key, readable, writable),
        PollMode::Level,
    )
}
