//! The poller: registration (the one `unsafe` block in sockloop) and waiting.
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
use std::time::{Duration, Instant};

/// What a registered source is watched for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub readable: bool,
    pub writable: bool,
}

impl Interest {
    /// Registered but not watched (a paused listener).
    pub const NONE: Interest = Interest::new(false, false);
    pub const READ: Interest = Interest::new(true, false);
    pub const WRITE: Interest = Interest::new(false, true);
    pub const BOTH: Interest = Interest::new(true, true);

    pub const fn new(readable: bool, writable: bool) -> Interest {
        Interest { readable, writable }
    }

    fn event(self, key: usize) -> Event {
        Event::new(key, self.readable, self.writable)
    }
}

/// A source's registration: the interest the poller holds for it, kept so that asking
/// again for what is already registered costs no system call. It does not hold the
/// key (the server's connections are keyed by their slot, which it knows anyway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    interest: Interest,
}

impl Registration {
    /// Adds `source` to `poller` under `key`, level-triggered.
    #[allow(unsafe_code)]
    pub fn add(
        poller: &Poller,
        source: &impl AsFd,
        key: usize,
        interest: Interest,
    ) -> io::Result<Registration> {
        let fd = source.as_fd().as_raw_fd();
        // SAFETY: see the module comment — the caller keeps the source open while it is
        // registered and deletes it from the poller before closing it.
        unsafe { poller.add_with_mode(fd, interest.event(key), PollMode::Level)? };
        Ok(Registration { interest })
    }

    /// Makes the poller watch `source` for `wanted`: one `epoll_ctl` if that differs
    /// from what it watches now, nothing otherwise.
    pub fn set(
        &mut self,
        poller: &Poller,
        source: &impl AsFd,
        key: usize,
        wanted: Interest,
    ) -> io::Result<()> {
        if wanted != self.interest {
            poller.modify_with_mode(source.as_fd(), wanted.event(key), PollMode::Level)?;
            self.interest = wanted;
        }
        Ok(())
    }

    pub fn interest(&self) -> Interest {
        self.interest
    }

    /// A registration as if `interest` had been registered, for tests that drive a
    /// connection's state without a poller.
    #[cfg(test)]
    pub fn assumed(interest: Interest) -> Registration {
        Registration { interest }
    }
}

/// Stops watching `source`; to be called before the source is closed (see the module
/// comment). A source the poller does not hold is not an error worth reporting.
pub fn remove(poller: &Poller, source: &impl AsFd) {
    let _ = poller.delete(source.as_fd());
}

/// The earliest of some deadlines (`None` ones do not count).
pub fn earliest<T: Ord>(deadlines: impl IntoIterator<Item = Option<T>>) -> Option<T> {
    deadlines.into_iter().flatten().min()
}

/// How long a wait may last to wake by `deadline`: zero once it has passed, no limit
/// without one.
pub fn timeout_until(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    deadline.map(|at| at.saturating_duration_since(now))
}

/// What one wait reported for one registered source.
#[derive(Clone, Copy, Debug)]
pub struct Ready {
    pub key: usize,
    pub readable: bool,
    pub writable: bool,
    /// The peer hung up or the socket has an error (epoll then also reports it as
    /// readable and writable, so a read or write finds out which).
    pub hangup: bool,
}

/// Where a wait puts its readiness reports; reused from one wait to the next.
pub struct Events {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    list: Vec<rustix::event::epoll::Event>,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    list: polling::Events,
}

/// Reports taken from the kernel per wait, at most.
const EVENTS_PER_WAIT: usize = 1024;

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Self {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let list = Vec::with_capacity(EVENTS_PER_WAIT);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let list = polling::Events::with_capacity(
            std::num::NonZeroUsize::new(EVENTS_PER_WAIT).unwrap_or(std::num::NonZeroUsize::MIN),
        );
        Self { list }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn iter(&self) -> impl Iterator<Item = Ready> + '_ {
        use rustix::event::epoll::EventFlags as F;
        self.list
            .iter()
            .map(|ev| {
                let flags = ev.flags;
                Ready {
                    key: ev.data.u64() as usize,
                    readable: flags.intersects(F::IN | F::HUP | F::ERR | F::PRI),
                    writable: flags.intersects(F::OUT | F::HUP | F::ERR),
                    hangup: flags.intersects(F::HUP | F::ERR),
                }
            })
            // polling's own wake-up descriptors carry this key; we never wake the
            // poller from outside, but a report for them is not ours to handle.
            .filter(|ready| ready.key != usize::MAX)
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn iter(&self) -> impl Iterator<Item = Ready> + '_ {
        self.list.iter().map(|ev| Ready {
            key: ev.key,
            readable: ev.readable,
            writable: ev.writable,
            hangup: ev.is_interrupt() || ev.is_err() == Some(true),
        })
    }
}

/// Waits until a registered source is ready or `timeout` passes, replacing what
/// `events` held. An interrupted wait (a signal arrived) is not an error: it returns
/// with no events, and the caller's loop goes round (every loop here reads the clock
/// for its deadlines, so an early return is harmless).
///
/// On Linux this is one `epoll_wait` on the poller's epoll descriptor. polling's own
/// `wait` costs four more system calls per call (it re-arms a timerfd for
/// sub-millisecond timeouts and re-registers and drains its wake-up eventfd), which
/// at one wait per echoed message is most of the loop's kernel time. Our deadlines
/// are milliseconds-coarse, and rustix rounds the timeout up so a wait never ends
/// before the deadline it was given.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn wait(poller: &Poller, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
    use rustix::event::{Timespec, epoll};
    events.list.clear();
    // A timeout too large for a timespec is as good as none.
    let timeout = timeout.and_then(|t| Timespec::try_from(t).ok());
    let spare = rustix::buffer::spare_capacity(&mut events.list);
    match epoll::wait(poller, spare, timeout.as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(events.list.len()),
        Err(e) => Err(e.into()),
    }
}

/// Waits until a registered source is ready or `timeout` passes (see the Linux
/// version above; elsewhere polling's own wait is used).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn wait(poller: &Poller, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
    events.list.clear();
    match poller.wait(&mut events.list, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        other => other,
    }
}
