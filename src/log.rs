//! Log lines on stderr: `2026-11-22T14:05:09.042Z sockloop: message`.
//!
//! Three levels, set once at start-up: `-q` keeps only errors, the default adds
//! notable events, `-v` adds one line per connection opened and closed. The level is
//! checked before anything is formatted, so a quiet server pays nothing for logging.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Info = 1,
    Debug = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
/// Who speaks, when not plain `sockloop` (a worker: `sockloop worker 2`).
static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn set_name(name: String) {
    let _ = NAME.set(name);
}

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line; use the `error!`, `info!` and `debug!` macros instead.
pub fn write(args: std::fmt::Arguments<'_>) {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut line = String::with_capacity(96);
    crate::proto::rfc3339::write_utc_millis(&mut line, millis);
    line.push(' ');
    line.push_str(NAME.get().map_or("sockloop", String::as_str));
    line.push_str(": ");
    let _ = std::fmt::write(&mut line, args);
    line.push('\n');
    // One write per line so lines from a server and its tests do not interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Level::Info) {
            $crate::log::write(format_args!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Level::Debug) {
            $crate::log::write(format_args!($($arg)*))
        }
    };
}
