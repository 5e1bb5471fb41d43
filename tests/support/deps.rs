//! Test dependencies from outside cargo (dnsmasq, Python and its `websockets`): a test
//! that lacks one is skipped, unless CI has installed them all and says so.

use std::io::Write;

/// Set (CI sets it to 1) to make a missing test dependency a failure instead of a skip.
pub const REQUIRE_DEPS_VAR: &str = "SOCKLOOP_REQUIRE_TEST_DEPS";

/// `None` after saying why the test is skipped, or a panic if [`REQUIRE_DEPS_VAR`] is
/// set.
pub fn missing<T>(why: &str) -> Option<T> {
    if std::env::var_os(REQUIRE_DEPS_VAR).is_some_and(|v| !v.is_empty()) {
        panic!("{REQUIRE_DEPS_VAR} is set but {why}");
    }
    skipped(&format!(
        "{why} (set {REQUIRE_DEPS_VAR}=1 to make this a failure)"
    ));
    None
}

/// Says a test is skipped on the real stderr: `eprintln!` would be captured by the test
/// harness and never shown for a test that returns normally.
pub fn skipped(why: &str) {
    let line = format!("SKIPPED {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
