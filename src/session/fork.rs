//! Forks: a new session that shares its parent's history up to a point
//! and runs on live from there, perhaps with a changed workflow.
//!
//! A fork is a resume of a truncated copy: [`write()`] creates the new file
//! — a header naming the parent and the point ([`ForkOrigin`]), then the
//! parent's first events, re-addressed to the new session — and the
//! caller resumes that file as `agentctl resume` would. Completed tasks
//! keep their recorded outputs (no provider call, no token spent again),
//! decisions recorded before the point stand, and everything after it runs
//! anew. The fork is an ordinary session from then on: it replays, shows,
//! exports and resumes on its own, without its parent.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Header, SessionError, SessionReader, ensure_dir, session_path};

/// Where a session was forked from (the header's `fork`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForkOrigin {
    /// The parent session's id.
    pub parent: String,
    /// The fork point as it was asked for (`gate:ship`, `#120`, `90s`…).
    pub at: String,
    /// How many of the parent's events the fork shares.
    pub events: usize,
    /// `seq` of the last shared event (0 when none is shared).
    pub seq: u64,
    /// Paths changed with `--set`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// The workflow differs from the parent's (`--set` or `--workflow`):
    /// the text in this header is what runs, whatever file its origin
    /// names now.
    #[serde(default)]
    pub edited: bool,
    /// When the fork was made (µs since the epoch).
    pub forked_at: u64,
}

/// Creates `DIR/<header.session>.jsonl` (0600) holding `header` and the
/// first `keep` events of `parent`, synced, ready to be resumed.
pub fn write(
    dir: &Path,
    header: &Header,
    parent: &SessionReader,
    keep: usize,
) -> Result<PathBuf, SessionError> {
    ensure_dir(dir)?;
    let path = session_path(dir, &header.session);
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let file = open.open(&path).map_err(|e| SessionError::io(&path, e))?;
    let written = copy_history(file, header, parent, keep);
    if let Err(e) = written {
        // A half-written fork is no session: leave none behind.
        let _ = std::fs::remove_file(&path);
        return Err(SessionError::io(&path, e));
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(path)
}

fn copy_history(
    file: File,
    header: &Header,
    parent: &SessionReader,
    keep: usize,
) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, file);
    serde_json::to_writer(&mut w, header).map_err(std::io::Error::other)?;
    w.write_all(b"\n")?;
    let old = serde_json::to_string(&parent.header().session).map_err(std::io::Error::other)?;
    let new = serde_json::to_string(&header.session).map_err(std::io::Error::other)?;
    for i in 0..keep.min(parent.len()) {
        let Some(line) = parent.line(i) else { break };
        match readdressed(line, old.as_bytes()) {
            Some((head, tail)) => {
                w.write_all(head)?;
                w.write_all(new.as_bytes())?;
                w.write_all(tail)?;
            }
            // Not in the recorder's own layout: through the parser instead.
            None => match parent.event(i) {
                Some(Ok(mut ev)) => {
                    ev.session = header.session.as_str().into();
                    serde_json::to_writer(&mut w, &ev).map_err(std::io::Error::other)?;
                }
                // A damaged line is left out, as every reader skips it.
                _ => continue,
            },
        }
        w.write_all(b"\n")?;
    }
    w.flush()?;
    w.get_ref().sync_all()
}

/// Splits a recorder-written line `{"seq":N,"ts":T,"session":OLD,…}` around
/// `OLD` (its JSON string), so the copy names the fork instead; `None` for
/// any other layout.
fn readdressed<'a>(line: &'a [u8], old: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let digits = |s: &'a [u8]| -> Option<&'a [u8]> {
        let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
        (n > 0).then_some(&s[n..])
    };
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let rest = digits(rest)?.strip_prefix(b",\"ts\":")?;
    let rest = digits(rest)?.strip_prefix(b",\"session\":")?;
    let tail = rest.strip_prefix(old)?;
    let head = &line[..line.len() - rest.len()];
    Some((head, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_lines_are_readdressed_in_place_and_others_are_left_to_the_parser() {
        let line = br#"{"seq":12,"ts":345,"session":"p-1","type":"run_paused"}"#;
        let (head, tail) = readdressed(line, br#""p-1""#).unwrap();
        let mut out = head.to_vec();
        out.extend_from_slice(br#""f-2""#);
        out.extend_from_slice(tail);
        assert_eq!(
            out,
            br#"{"seq":12,"ts":345,"session":"f-2","type":"run_paused"}"#
        );
        // Another session's id, or another key order: not spliced.
        assert!(readdressed(line, br#""p-9""#).is_none());
        assert!(readdressed(br#"{"ts":1,"seq":2,"session":"p-1"}"#, br#""p-1""#).is_none());
    }
}
