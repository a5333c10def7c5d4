//! The seek prompt's language: where to go in a recording.

/// Where a typed seek goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeekTarget {
    /// Recorded time from the first event (µs): `1:05`, `90s`, `1.5`, `250ms`, `2m`.
    At(u64),
    /// Recorded time from where the replay is (µs): `+10s`, `-2`.
    By(i64),
    /// After this many events: `#120`.
    Event(usize),
    /// This fraction of the events: `50%`.
    Fraction(f64),
    /// The end of the recording: `end` (`start` is `#0`).
    End,
}

/// What the prompt says when it cannot read the input.
pub const SEEK_HELP: &str = "type a time (1:05, 90s, 250ms, 2m), +10s / -5s, an event (#120), a fraction (50%), start or end";

/// Parses the seek prompt's input.
pub fn parse_seek(text: &str) -> Result<SeekTarget, String> {
    let t = text.trim();
    let bad = || format!("cannot read `{t}`: {SEEK_HELP}");
    if t.is_empty() {
        return Err(SEEK_HELP.to_owned());
    }
    if t.eq_ignore_ascii_case("end") || t == "$" {
        return Ok(SeekTarget::End);
    }
    if t.eq_ignore_ascii_case("start") {
        return Ok(SeekTarget::Event(0));
    }
    if let Some(n) = t.strip_prefix('#') {
        return n.trim().parse().map(SeekTarget::Event).map_err(|_| bad());
    }
    if let Some(p) = t.strip_suffix('%') {
        return match p.trim().parse::<f64>() {
            Ok(f) if (0.0..=100.0).contains(&f) => Ok(SeekTarget::Fraction(f / 100.0)),
            _ => Err(format!("`{t}`: a fraction goes from 0% to 100%")),
        };
    }
    let (sign, rest) = match t.as_bytes()[0] {
        b'+' => (Some(1i64), &t[1..]),
        b'-' => (Some(-1i64), &t[1..]),
        _ => (None, t),
    };
    let us = duration_us(rest.trim()).ok_or_else(bad)?;
    Ok(match sign {
        Some(s) => SeekTarget::By(s * i64::try_from(us).map_err(|_| bad())?),
        None => SeekTarget::At(us),
    })
}

/// `1:05`, `1:02:03.5`, `90`, `90s`, `1.5s`, `250ms`, `2m`, `1h` → µs.
fn duration_us(s: &str) -> Option<u64> {
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
    } else {
        number(s)?
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
