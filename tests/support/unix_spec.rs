//! The preamble of every test with a Unix listener: a socket path in a temp dir of its
//! own, and the `-l` spec that serves a service there.

use super::temp::TempDir;
use std::path::PathBuf;

pub struct UnixSpec {
    /// Where the socket file will be.
    pub path: PathBuf,
    /// `unix:PATH=SERVICE`, for `-l`.
    pub spec: String,
    /// Keeps the directory (and so the path) until the test is done.
    _dir: TempDir,
}

impl UnixSpec {
    pub fn new(name: &str, service: &str) -> UnixSpec {
        let dir = TempDir::new(name);
        let path = dir.join(&format!("{service}.sock"));
        let spec = format!("unix:{}={service}", path.display());
        UnixSpec {
            path,
            spec,
            _dir: dir,
        }
    }
}
