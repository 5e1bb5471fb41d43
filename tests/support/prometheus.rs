//! The test venv's python with the PyPI `prometheus_client` package (the reference
//! parser of the Prometheus text format) and `websockets`, for tests/metrics.rs.

use super::deps;
use super::python::python_can;
use std::path::PathBuf;

/// The venv's python, or `None` after saying why the test is skipped.
pub fn prometheus_python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    if python_can(
        &python,
        "import prometheus_client.parser, websockets.sync.client",
    ) {
        return Some(python);
    }
    deps::missing(&format!(
        "{} cannot import prometheus_client and websockets; run scripts/install-test-deps.sh",
        python.display()
    ))
}
