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
    let us = crate::session::time_offset::duration_us(rest.trim(), true).ok_or_else(bad)?;
    Ok(match sign {
        Some(s) => SeekTarget::By(s * i64::try_from(us).map_err(|_| bad())?),
        None => SeekTarget::At(us),
    })
}
