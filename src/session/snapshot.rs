//! Snapshot lines: the recorder writes the folded state's changes every
//! [`SNAPSHOT_EVERY`] events, so a reader can rebuild the state at any
//! event from the nearest snapshot instead of folding the whole file.
//!
//! A snapshot line is not an event:
//!
//! ```text
//! {"snapshot":AT,"base":BASE,"check":"HEX16","delta":{...}}
//! ```
//!
//! `AT` is the number of event lines before it in the file; `delta` holds
//! the records that changed between event `BASE` (the previous snapshot's
//! `AT`) and `AT`, or every record when `BASE` equals `AT` (a full
//! snapshot: the first after a resume); `check` is the FNV-1a 64 hash of
//! the `delta` bytes. Deltas chain, so the state at a snapshot is the state
//! at its base with the delta applied (a reader folds the events up to the
//! base when it did not get there by the previous delta); a snapshot
//! whose hash, position or records do not check out is not used — the
//! reader folds the events instead, so a damaged snapshot costs time, never
//! a wrong state.

use serde::de::DeserializeOwned;

use super::fnv1a64;

/// Events between two snapshot lines written by the recorder.
pub const SNAPSHOT_EVERY: usize = 16_384;

const PREFIX: &[u8] = b"{\"snapshot\":";

/// Whether a line is a snapshot line (well formed or not).
pub(crate) fn is_snapshot(line: &[u8]) -> bool {
    line.starts_with(PREFIX)
}

/// Appends a snapshot line (with its newline) for position `at` whose
/// delta (JSON) applies to the state at `base` (`at` for a full one).
pub(crate) fn encode(at: usize, base: usize, delta: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(at.to_string().as_bytes());
    out.extend_from_slice(b",\"base\":");
    out.extend_from_slice(base.to_string().as_bytes());
    out.extend_from_slice(b",\"check\":\"");
    out.extend_from_slice(format!("{:016x}", fnv1a64(delta)).as_bytes());
    out.extend_from_slice(b"\",\"delta\":");
    out.extend_from_slice(delta);
    out.extend_from_slice(b"}\n");
}

fn number(s: &[u8]) -> Option<(usize, &[u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    Some((n, &s[digits..]))
}

/// The position and base a snapshot line claims (`None`: not a readable
/// snapshot line).
pub(crate) fn position(line: &[u8]) -> Option<(usize, usize)> {
    let (at, rest) = number(line.strip_prefix(PREFIX)?)?;
    let (base, _) = number(rest.strip_prefix(b",\"base\":")?)?;
    Some((at, base))
}

/// The delta of a snapshot line, if its layout and hash check out, read
/// as `T` (the session state's delta type).
pub(crate) fn decode<T: DeserializeOwned>(line: &[u8]) -> Result<T, String> {
    let rest = line.strip_prefix(PREFIX).ok_or("not a snapshot line")?;
    let (_, rest) = number(rest).ok_or("no position")?;
    let (_, rest) = rest
        .strip_prefix(b",\"base\":")
        .and_then(number)
        .ok_or("no base")?;
    let rest = rest.strip_prefix(b",\"check\":\"").ok_or("no check")?;
    let (hex, rest) = rest.split_at_checked(16).ok_or("short check")?;
    let want = std::str::from_utf8(hex)
        .ok()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or("bad check")?;
    let delta = rest
        .strip_prefix(b"\",\"delta\":")
        .and_then(|r| r.strip_suffix(b"}"))
        .ok_or("bad layout")?;
    if fnv1a64(delta) != want {
        return Err("the check does not match: the snapshot is damaged".into());
    }
    serde_json::from_slice(delta).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_line_round_trips_and_damage_is_caught() {
        let delta = br#"{"full":true,"last_us":5,"last_seq":2,"events":2,"runs":1,"status":null,"output":null,"error":null,"usage":{"prompt_tokens":0,"completion_tokens":0},"tasks":[],"agents":[],"gates":[],"commands":[],"debates":[],"votes":[]}"#;
        let mut line = Vec::new();
        encode(7, 7, delta, &mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        line.pop();
        assert!(is_snapshot(&line));
        assert_eq!(position(&line), Some((7, 7)));
        let d: serde_json::Value = decode(&line).unwrap();
        assert_eq!(d["full"], true);
        // Any single changed byte in the delta is caught by the check.
        let at = line.len() - 20;
        line[at] ^= 0x01;
        assert!(decode::<serde_json::Value>(&line).is_err());
        assert!(decode::<serde_json::Value>(b"{\"snapshot\":1}").is_err());
        assert_eq!(position(b"{\"snapshot\":x"), None);
    }
}
