//! Times into a recording as people write them (`1:05`, `1:02:03.5`,
//! `90s`, `1.5s`, `250ms`, `2m`, `1h`), for `fork --at` and the replay's
//! seek: one parser, so both read a time the same way.

/// `s` as µs. A bare number (`90`) is seconds when `bare_seconds`, and no
/// time otherwise (where it means something else, e.g. a seq).
pub fn duration_us(s: &str, bare_seconds: bool) -> Option<u64> {
    let secs = if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let (last, whole) = parts.split_last()?;
        let mut total = 0.0;
        for p in whole {
            total = total * 60.0 + p.parse::<u32>().ok()? as f64;
        }
        total * 60.0 + number(last)?
    } else if let Some(n) = s.strip_suffix("ms") {
        number(n)? / 1000.0
    } else if let Some(n) = s.strip_suffix('s') {
        number(n)?
    } else if let Some(n) = s.strip_suffix('m') {
        number(n)? * 60.0
    } else if let Some(n) = s.strip_suffix('h') {
        number(n)? * 3600.0
    } else if bare_seconds {
        number(s)?
    } else {
        return None;
    };
    let us = secs * 1e6;
    (us.is_finite() && us < u64::MAX as f64 / 2.0).then_some(us.round() as u64)
}

/// A non-negative decimal number.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_unit_forms_read_alike() {
        assert_eq!(duration_us("1:05", false), Some(65_000_000));
        assert_eq!(duration_us("1:02:03.5", false), Some(3_723_500_000));
        assert_eq!(duration_us("250ms", false), Some(250_000));
        assert_eq!(duration_us("1.5s", false), Some(1_500_000));
        assert_eq!(duration_us("2m", false), Some(120_000_000));
        assert_eq!(duration_us("1h", false), Some(3_600_000_000));
        assert_eq!(duration_us("90", true), Some(90_000_000));
        assert_eq!(duration_us("90", false), None);
        assert_eq!(duration_us("1::2", true), None);
        assert_eq!(duration_us("-3s", true), None);
    }
}
