//! Peers that run on a thread of the test, written inline with `std::net`: joined
//! with a deadline, their panics raised in the test.

use super::finished::CHILD_TIMEOUT;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Timeout for the socket operations of the inline peers.
pub const PEER_IO_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PeerThread<T> {
    handle: JoinHandle<T>,
}

impl<T> From<JoinHandle<T>> for PeerThread<T> {
    fn from(handle: JoinHandle<T>) -> PeerThread<T> {
        PeerThread { handle }
    }
}

impl<T> PeerThread<T> {
    /// What the peer returned; waits at most [`CHILD_TIMEOUT`] and re-raises its panic.
    pub fn join(self) -> T {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        while !self.handle.is_finished() {
            assert!(
                Instant::now() < deadline,
                "peer thread still busy after {CHILD_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        match self.handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
