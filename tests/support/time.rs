//! Checks of the times the services tell: RFC 3339 UTC, and close to now.

/// `YYYY-MM-DDTHH:MM:SSZ` with plausible field ranges.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z'
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
}

/// Now in Unix seconds, to compare against what TIME and TIMESTAMP return.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds (days-from-civil, Howard Hinnant).
fn parse_rfc3339_utc(s: &str) -> i64 {
    assert!(is_rfc3339_utc(s), "not RFC 3339 UTC: {s:?}");
    let y: i64 = s[0..4].parse().unwrap();
    let m: i64 = s[5..7].parse().unwrap();
    let d: i64 = s[8..10].parse().unwrap();
    let hh: i64 = s[11..13].parse().unwrap();
    let mm: i64 = s[14..16].parse().unwrap();
    let ss: i64 = s[17..19].parse().unwrap();
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

/// Asserts a time string is RFC 3339 UTC and within a few seconds of now.
pub fn assert_time_now(s: &str) {
    let t = parse_rfc3339_utc(s);
    let now = unix_now();
    assert!(
        (t - now).abs() <= 5,
        "time {s:?} ({t}) is not close to now ({now})"
    );
}
