//! Headless Chromium, driven by `tests/peers/chromium_eval.py` over the DevTools
//! protocol: `scripts/install-test-deps.sh` installs Debian's `chromium`.

use super::deps;
use super::python::Peer;
use super::venv::websockets_python;
use std::path::PathBuf;

/// Opens `url` in headless Chromium (with `flags` on its command line) and evaluates
/// the JavaScript `expression` until it gives a non-empty string, which is returned
/// (`TIMEOUT` after 20 s). `None` (test skipped) without Chromium or the venv.
pub fn eval_in_page(url: &str, expression: &str, flags: &[&str]) -> Option<String> {
    let chromium = find_chromium()?;
    let python = websockets_python()?;
    let chromium = chromium.to_string_lossy().into_owned();
    let mut args = vec![chromium.as_str(), url, expression];
    args.extend_from_slice(flags);
    let mut peer = Peer::start(&python, "chromium_eval.py", &args);
    let lines = peer.lines_to_exit();
    let result = lines.iter().find_map(|l| l.strip_prefix("RESULT "));
    Some(result.unwrap_or("NO RESULT").to_string())
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    deps::missing("Chromium is not on PATH (scripts/install-test-deps.sh installs it)")
}
