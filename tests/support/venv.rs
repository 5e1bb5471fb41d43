//! The test venv (`target/test-venv`, made by `scripts/install-test-deps.sh`), whose
//! python has the independent PyPI `websockets` package for the WebSocket peer.

use super::deps;
use super::python::python_can;
use std::path::PathBuf;
use std::sync::OnceLock;

/// How to install what the WebSocket peer tests need, from the repository root.
const VENV_INSTALL: &str =
    "python3 -m venv target/test-venv && target/test-venv/bin/pip install websockets";

/// The test venv's python with `websockets` importable, or `None` after saying why the
/// test is skipped (see [`deps::missing`]).
pub fn websockets_python() -> Option<PathBuf> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    if *FOUND.get_or_init(|| python_can(&python, "import websockets.sync.server")) {
        return Some(python);
    }
    deps::missing(&format!(
        "{} cannot import websockets.sync.server; install it with: {VENV_INSTALL}",
        python.display()
    ))
}
