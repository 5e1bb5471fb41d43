//! Sizes on the command line (`--max-message 1M`, `--max-line 4k`, `bench --size 16KiB`):
//! one parser, so every size option takes the same spellings.
//!
//! A unit is a power of 1024, whichever way it is written: `k`, `K` and `KiB` are 1024
//! bytes, `M` and `MiB` 1024², `G` and `GiB` 1024³. Buffers and limits are counted in
//! binary units, and accepting `k` as 1000 in one place and 1024 in another is exactly
//! the disagreement this module exists to end. `kB`/`MB` are refused rather than
//! guessed at, since they usually mean powers of 1000.

use std::fmt;

/// What the help texts say about sizes, so that each says it the same way.
pub const SPELLINGS: &str = "bytes, or with k/KiB (1024), M/MiB (1024*1024), G/GiB";

/// A size that could not be read; `Display` names the option and the accepted forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeError {
    /// Not a number with a known unit.
    Malformed { option: String, text: String },
    /// A number too large for this machine's sizes.
    TooLarge { option: String, text: String },
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::Malformed { option, text } => write!(
                f,
                "{option} '{text}' is not a size: give {SPELLINGS} (e.g. 64, 16k, 1MiB)"
            ),
            SizeError::TooLarge { option, text } => {
                write!(
                    f,
                    "{option} '{text}' is larger than any size this machine has"
                )
            }
        }
    }
}

/// The number of bytes `text` says; `option` (`--max-line`) is only for the error.
pub fn parse(option: &str, text: &str) -> Result<usize, SizeError> {
    let malformed = || SizeError::Malformed {
        option: option.to_string(),
        text: text.to_string(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err(malformed());
    }
    let shift = match unit.trim_start() {
        "" => 0,
        "k" | "K" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        u if u.eq_ignore_ascii_case("kib") => 10,
        u if u.eq_ignore_ascii_case("mib") => 20,
        u if u.eq_ignore_ascii_case("gib") => 30,
        _ => return Err(malformed()),
    };
    let too_large = || SizeError::TooLarge {
        option: option.to_string(),
        text: text.to_string(),
    };
    let number: usize = digits.parse().map_err(|_| too_large())?;
    number.checked_mul(1 << shift).ok_or_else(too_large)
}

/// `--NAME SIZE` from parsed options: `default` when absent, and at least `min`.
pub fn option(
    m: &getopts::Matches,
    name: &str,
    default: usize,
    min: usize,
) -> Result<usize, String> {
    let Some(text) = m.opt_str(name) else {
        return Ok(default);
    };
    let option = format!("--{name}");
    let size = parse(&option, &text).map_err(|e| e.to_string())?;
    if size < min {
        return Err(format!("{option} '{text}' is too small: at least {min}"));
    }
    Ok(size)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Result<usize, SizeError> {
        parse("--size", text)
    }

    #[test]
    fn plain_bytes_and_every_unit_spelling() {
        assert_eq!(bytes("0"), Ok(0));
        assert_eq!(bytes("64"), Ok(64));
        for k in ["1k", "1K", "1KiB", "1kib", "1 KiB", " 1k "] {
            assert_eq!(bytes(k), Ok(1024), "{k}");
        }
        for m in ["1M", "1m", "1MiB", "1mib"] {
            assert_eq!(bytes(m), Ok(1 << 20), "{m}");
        }
        assert_eq!(bytes("16k"), Ok(16 * 1024));
        assert_eq!(bytes("64MiB"), Ok(64 << 20));
        assert_eq!(bytes("2G"), Ok(2 << 30));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        for bad in [
            "", "k", "-1", "1.5M", "1kB", "1KB", "1MB", "1 k b", "0x10", "ten", "1e3", "+5",
        ] {
            assert!(
                matches!(bytes(bad), Err(SizeError::Malformed { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let huge = format!("{}", usize::MAX);
        assert_eq!(bytes(&huge), Ok(usize::MAX));
        assert!(matches!(
            bytes(&format!("{huge}k")),
            Err(SizeError::TooLarge { .. })
        ));
        assert!(matches!(
            bytes("99999999999999999999999"),
            Err(SizeError::TooLarge { .. })
        ));
    }

    #[test]
    fn the_message_names_the_option_and_the_units() {
        let e = parse("--max-message", "1kB").unwrap_err().to_string();
        assert_eq!(
            e,
            "--max-message '1kB' is not a size: give bytes, or with k/KiB (1024), \
             M/MiB (1024*1024), G/GiB (e.g. 64, 16k, 1MiB)"
        );
    }

    #[test]
    fn option_applies_the_default_and_the_minimum() {
        let mut o = getopts::Options::new();
        o.optopt("", "max-line", "", "SIZE");
        let args = |a: &[&str]| o.parse(a.iter().map(|s| s.to_string())).unwrap();
        assert_eq!(option(&args(&[]), "max-line", 1024, 1), Ok(1024));
        assert_eq!(
            option(&args(&["--max-line", "4k"]), "max-line", 1024, 1),
            Ok(4096)
        );
        assert_eq!(
            option(&args(&["--max-line", "0"]), "max-line", 1024, 1),
            Err("--max-line '0' is too small: at least 1".into())
        );
    }
}
