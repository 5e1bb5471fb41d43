//! Counts in words: `1 client`, `2 clients`, `0 connections`. Every message that
//! prints a count of things goes through [`count`], so the grammar is right once
//! for all of them rather than `client(s)` here and `1 clients` there.

use std::fmt;

/// `n` and `noun`, the noun in the plural unless `n` is 1. Only regular nouns (an
/// `s` added) are needed so far.
pub fn count(n: u64, noun: &str) -> Count<'_> {
    Count(n, noun)
}

/// What [`count`] gives: formats without allocating.
pub struct Count<'a>(u64, &'a str);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.0 == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(count(1, "client").to_string(), "1 client");
        assert_eq!(count(0, "client").to_string(), "0 clients");
        assert_eq!(count(2, "connection").to_string(), "2 connections");
    }
}
