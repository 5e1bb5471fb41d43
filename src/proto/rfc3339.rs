//! RFC 3339 timestamps in UTC (`2026-11-22T14:05:09Z`), from Unix seconds.
//!
//! The daytime service (RFC 867 asks for "the date and time" in any readable form; we
//! pick RFC 3339 like the classic Go examples) and the log lines use this. The caller
//! passes the time in; nothing here reads a clock.

/// Splits days since 1970-01-01 into a proleptic Gregorian (year, month, day).
///
/// Works in 400-year eras (146,097 days each) so it is exact for any `i64` day count a
/// clock can produce, without loops or tables.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01: leap day falls at year end
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `secs` (Unix time, UTC) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn write_utc(out: &mut String, secs: i64) {
    use std::fmt::Write;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    );
}

/// The same with milliseconds, for log lines: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn write_utc_millis(out: &mut String, millis: i64) {
    write_utc(out, millis.div_euclid(1000));
    out.pop(); // the 'Z'
    use std::fmt::Write;
    let _ = write!(out, ".{:03}Z", millis.rem_euclid(1000));
}

/// Convenience: `secs` as an owned RFC 3339 string.
pub fn utc(secs: i64) -> String {
    let mut s = String::with_capacity(20);
    write_utc(&mut s, secs);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z"); // leap day of a century year
        assert_eq!(utc(1_795_356_309), "2026-11-22T14:05:09Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn millis() {
        let mut s = String::new();
        write_utc_millis(&mut s, 1_795_356_309_042);
        assert_eq!(s, "2026-11-22T14:05:09.042Z");
    }

    #[test]
    fn every_day_for_a_few_centuries_is_consecutive() {
        // Each day must follow the previous one: catches any off-by-one at month,
        // leap-year and century boundaries.
        let mut prev = civil_from_days(-50_000);
        for d in -49_999..100_000 {
            let cur = civil_from_days(d);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = if prev.1 == 12 {
                (prev.0 + 1, 1, 1)
            } else {
                (prev.0, prev.1 + 1, 1)
            };
            assert!(cur == next_day || cur == next_month, "{prev:?} -> {cur:?}");
            prev = cur;
        }
    }
}
