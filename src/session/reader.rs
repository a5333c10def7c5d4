//! Reads a session file back: the header, then an index of every complete
//! event line (offset, `seq`, `ts`), so events can be fetched by index and
//! found by time without parsing the whole file. A torn last line (a crash
//! mid-write) is reported and ignored; damaged lines in the middle are
//! reported and skipped; nothing panics.
//!
//! Seeking ([`SessionReader::state_at`]) starts from the snapshot lines the
//! recorder writes (see [`super::snapshot`]): the state at event `n` is the
//! chain of snapshot deltas up to `n`, then the few events after the last
//! one, folded. Files without snapshots (format 1) are folded from the
//! start, with in-memory checkpoints for later seeks.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use super::fold::{SessionState, StateDelta};
use super::snapshot;
use super::{FORMAT_NAME, FORMAT_VERSION, Header, SessionError};
use crate::event::{Event, EventKind, Id};

/// A session file, indexed.
pub struct SessionReader {
    path: PathBuf,
    header: Header,
    session: Id,
    data: Vec<u8>,
    /// Per event: byte range of its line (without the newline).
    lines: Vec<(usize, usize)>,
    /// Per event: its timestamp.
    ts: Vec<u64>,
    /// Byte length of the file up to the end of its last complete line.
    complete_len: u64,
    /// The torn last line, if the file ends in one.
    pub torn: Option<TornLine>,
    /// Damaged lines that were skipped (1-based line numbers and why).
    pub skipped: Vec<(usize, String)>,
    /// Events that contradict the others (duplicate or out-of-order `seq`,
    /// another session's events, completions of unknown tasks): the first
    /// ones, 1-based line and what is wrong. The events are still read.
    pub inconsistent: Vec<(usize, String)>,
    /// How many inconsistencies there are in all.
    pub inconsistent_total: usize,
    /// Snapshot lines, in file order.
    snapshots: Vec<SnapshotLine>,
    /// States already rebuilt, by event position (a few, for later seeks).
    cache: Mutex<Vec<(usize, SessionState)>>,
}

/// Where a snapshot line is and what it claims.
#[derive(Debug, Clone, Copy)]
struct SnapshotLine {
    /// Events before it.
    at: usize,
    /// The position whose state its delta applies to (`at` for a full one).
    base: usize,
    /// Byte range of the line.
    range: (usize, usize),
}

/// A last line without its newline: the write was cut off.
#[derive(Debug, Clone, PartialEq)]
pub struct TornLine {
    /// 1-based line number.
    pub line: usize,
    /// Bytes ignored.
    pub bytes: usize,
}

/// Without snapshots, seeking keeps in-memory checkpoints this many events
/// apart.
pub const CHECKPOINT_EVERY: usize = 65_536;

/// States kept in memory for later seeks, at most (the oldest goes
/// first): each is a whole folded state, tens of MiB in a 1M-event session.
const CACHED_STATES: usize = 8;

#[derive(Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    seq: u64,
    ts: u64,
}

#[derive(Deserialize)]
struct Version {
    format: Option<String>,
    version: Option<u32>,
}

impl SessionReader {
    /// Reads and indexes a session file.
    ///
    /// Only a regular file is read (a FIFO would block, a device never
    /// end), as a stream of lines up to the size it had when opened; a line
    /// longer than [`MAX_LINE_BYTES`] is skipped (reported in `skipped`)
    /// without being held in memory.
    pub fn open(path: &Path) -> Result<SessionReader, SessionError> {
        Self::open_capped(path, MAX_LINE_BYTES)
    }

    /// [`SessionReader::open`] with lines capped at `max_line` bytes.
    fn open_capped(path: &Path, max_line: usize) -> Result<SessionReader, SessionError> {
        let invalid = |message: String| SessionError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let file = crate::workflow::source_file::open_regular(path).map_err(|e| match e {
            crate::workflow::source_file::SourceError::Io(e) => SessionError::io(path, e),
            other => invalid(format!("{other}: not a session file")),
        })?;
        let size = file
            .metadata()
            .map_err(|e| SessionError::io(path, e))?
            .len();
        let mut input = std::io::BufReader::with_capacity(1 << 16, file.take(size));
        let mut data = Vec::new();
        let mut long = LongLines::default();
        for line_no in 1.. {
            let start = data.len();
            let n = (&mut input)
                .take(max_line as u64 + 1)
                .read_until(b'\n', &mut data)
                .map_err(|e| SessionError::io(path, e))?;
            if n == 0 {
                break;
            }
            let ended = data.last() == Some(&b'\n');
            if n > max_line && !ended {
                data.truncate(start);
                let (rest, newline) =
                    skip_line(&mut input).map_err(|e| SessionError::io(path, e))?;
                let bytes = n + rest;
                if line_no == 1 {
                    return Err(invalid(format!(
                        "line 1 is longer than {max_line} bytes: not a session header"
                    )));
                }
                if !newline {
                    long.torn = Some(TornLine {
                        line: line_no,
                        bytes,
                    });
                    break;
                }
                // An empty line keeps the line numbers; the bytes it stands
                // for still count where appends go.
                data.push(b'\n');
                long.removed += bytes as u64;
                long.skipped.push((
                    line_no,
                    format!("a line of {bytes} bytes, longer than the limit of {max_line}"),
                ));
                continue;
            }
            if !ended {
                break;
            }
        }
        let mut reader = Self::from_bytes(path, data)?;
        reader.complete_len += long.removed;
        if long.torn.is_some() {
            reader.torn = long.torn;
        }
        reader.skipped.extend(long.skipped);
        reader.skipped.sort_by_key(|(line, _)| *line);
        Ok(reader)
    }

    /// Indexes the bytes of a session file (`path` names it in messages).
    pub fn from_bytes(path: &Path, data: Vec<u8>) -> Result<SessionReader, SessionError> {
        let invalid = |message: String| SessionError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let Some(header_end) = data.iter().position(|b| *b == b'\n') else {
            return Err(invalid(if data.is_empty() {
                "the file is empty: not a session (it was cut before its header was written)".into()
            } else {
                "the header line is incomplete: the file was cut while it was created".into()
            }));
        };
        let head = &data[..header_end];
        let v: Version = serde_json::from_slice(head).map_err(|e| {
            invalid(format!(
                "line 1 is not a session header ({e}); is this an agentctl session file?"
            ))
        })?;
        if v.format.as_deref() != Some(FORMAT_NAME) {
            return Err(invalid(format!(
                "line 1 is not a session header (no \"format\": \"{FORMAT_NAME}\"); is this an agentctl session file?"
            )));
        }
        match v.version {
            Some(n) if n > FORMAT_VERSION => {
                return Err(invalid(format!(
                    "the session was written in format version {n} by a newer agentctl; this agentctl ({}) reads versions up to {FORMAT_VERSION}\n  = hint: upgrade agentctl to read it",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            Some(_) => {}
            None => return Err(invalid("the header has no `version`".into())),
        }
        let header: Header = serde_json::from_slice(head)
            .map_err(|e| invalid(format!("line 1: the session header is damaged ({e})")))?;

        let mut lines = Vec::new();
        let mut ts = Vec::new();
        let mut snapshots = Vec::new();
        let mut skipped = Vec::new();
        let mut torn = None;
        let mut consistency = super::consistency::Consistency::new(&header.session);
        let mut start = header_end + 1;
        let mut complete_len = start as u64;
        let mut line_no = 1;
        while start < data.len() {
            line_no += 1;
            let Some(len) = memchr::memchr(b'\n', &data[start..]) else {
                torn = Some(TornLine {
                    line: line_no,
                    bytes: data.len() - start,
                });
                break;
            };
            let line = &data[start..start + len];
            if snapshot::is_snapshot(line) {
                // A snapshot claiming another position than where it sits
                // is not used (it may be damaged): seeking folds instead.
                if let Some((at, base)) = snapshot::position(line)
                    && at == lines.len()
                    && base <= at
                {
                    snapshots.push(SnapshotLine {
                        at,
                        base,
                        range: (start, start + len),
                    });
                }
                start += len + 1;
                complete_len = start as u64;
                continue;
            }
            match envelope(line) {
                Some((seq, t)) => {
                    consistency.observe(line_no, line, seq);
                    lines.push((start, start + len));
                    ts.push(t);
                }
                None if line.iter().all(u8::is_ascii_whitespace) => {}
                None => skipped.push((line_no, "not an event".to_string())),
            }
            start += len + 1;
            complete_len = start as u64;
        }
        Ok(SessionReader {
            path: path.to_path_buf(),
            session: Id::from(header.session.as_str()),
            header,
            data,
            lines,
            ts,
            complete_len,
            torn,
            skipped,
            inconsistent: consistency.found,
            inconsistent_total: consistency.total,
            snapshots,
            cache: Mutex::new(Vec::new()),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the session has no events.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bytes up to the end of the last complete line (where appends go).
    pub fn complete_len(&self) -> u64 {
        self.complete_len
    }

    /// Timestamp of event `i` (microseconds since the epoch).
    pub fn ts(&self, i: usize) -> Option<u64> {
        self.ts.get(i).copied()
    }

    /// Event `i` (0-based). `None` past the end; an error names the line
    /// when it is damaged.
    pub fn event(&self, i: usize) -> Option<Result<Event, SessionError>> {
        let (a, b) = *self.lines.get(i)?;
        let line = &self.data[a..b];
        let err = |message: String| SessionError::Invalid {
            path: self.path.display().to_string(),
            message: format!("event {i}: {message}"),
        };
        // The envelope was checked by the index; parsing the kind straight
        // from the line (its extra fields ignored) skips the buffering that
        // `#[serde(flatten)]` costs, which dominates folding large sessions.
        Some(
            match (envelope(line), serde_json::from_slice::<EventKind>(line)) {
                (Some((seq, ts)), Ok(kind)) => Ok(Event {
                    seq,
                    ts,
                    session: self.session.clone(),
                    kind,
                }),
                (_, Err(e)) => Err(err(e.to_string())),
                (None, Ok(_)) => Err(err("no `seq`/`ts`".into())),
            },
        )
    }

    /// The raw line of event `i`, without its newline (a fork copies it).
    pub fn line(&self, i: usize) -> Option<&[u8]> {
        let (a, b) = *self.lines.get(i)?;
        Some(&self.data[a..b])
    }

    /// Every event that parses, in order (damaged ones are skipped).
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.len()).filter_map(|i| self.event(i).and_then(Result::ok))
    }

    /// Index of the first event at or after `ts` (`len()` when none).
    pub fn index_at_time(&self, ts: u64) -> usize {
        // Timestamps never go back within a run; a resumed run starts later.
        self.ts.partition_point(|t| *t < ts)
    }

    /// The state after the whole session (from its last snapshot, if any).
    pub fn state(&self) -> SessionState {
        self.state_at(self.len())
    }

    /// The folded state after the first `n` events (all of them when `n`
    /// is past the end): from the nearest state already rebuilt or snapshot
    /// written by the recorder, then folding the events after it.
    pub fn state_at(&self, n: usize) -> SessionState {
        let n = n.min(self.len());
        let (mut pos, mut state) = self.cached_before(n);
        // Snapshots after `pos` up to `n`; a full one resets the chain, so
        // start at the last full one if there is one.
        let from = self.snapshots.partition_point(|s| s.at <= pos);
        let to = self.snapshots.partition_point(|s| s.at <= n);
        let from = (from..to)
            .rev()
            .find(|&j| self.snapshots[j].base == self.snapshots[j].at)
            .unwrap_or(from);
        let mut reached = None;
        for s in &self.snapshots[from..to] {
            let full = s.base == s.at;
            if s.at <= pos || (!full && s.base < pos) {
                continue;
            }
            let Ok(delta) = snapshot::decode::<StateDelta>(&self.data[s.range.0..s.range.1]) else {
                continue;
            };
            if delta.full != full {
                continue;
            }
            if !full {
                self.fold_into(&mut state, pos, s.base, false);
                pos = s.base;
            }
            if state.apply_delta(delta).is_ok() {
                pos = s.at;
                reached = Some(pos);
            }
        }
        if let Some(p) = reached {
            self.remember(p, &state);
        }
        // Without snapshots (an older file, or damaged ones), remember
        // checkpoints on the way so later seeks need not fold it all again.
        let checkpoints = self.snapshots.is_empty();
        self.fold_into(&mut state, pos, n, checkpoints);
        state
    }

    /// The folded state after every event.
    pub fn fold(&self) -> SessionState {
        let mut state = SessionState::new(&self.header);
        for ev in self.events() {
            state.apply(&ev);
        }
        state
    }

    /// Folds events `from..to` into `state`, remembering a checkpoint at
    /// every multiple of [`CHECKPOINT_EVERY`] when `checkpoints`.
    fn fold_into(&self, state: &mut SessionState, from: usize, to: usize, checkpoints: bool) {
        for i in from..to {
            if let Some(Ok(ev)) = self.event(i) {
                state.apply(&ev);
            }
            if checkpoints && (i + 1) % CHECKPOINT_EVERY == 0 && i + 1 < to {
                self.remember(i + 1, state);
            }
        }
    }

    /// The latest state already rebuilt at or before `n` (the start if none).
    fn cached_before(&self, n: usize) -> (usize, SessionState) {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .iter()
            .filter(|(p, _)| *p <= n)
            .max_by_key(|(p, _)| *p)
            .map(|(p, s)| (*p, s.clone()))
            .unwrap_or_else(|| (0, SessionState::new(&self.header)))
    }

    fn remember(&self, at: usize, state: &SessionState) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.iter().any(|(p, _)| *p == at) {
            return;
        }
        if cache.len() >= CACHED_STATES {
            cache.remove(0);
        }
        cache.push((at, state.clone()));
    }

    /// Snapshot lines in the file.
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }
}

/// Longest line a session file may hold; a longer one is skipped. Far
/// beyond a real event (a reply is capped well below) or snapshot line.
pub const MAX_LINE_BYTES: usize = 256 << 20;

/// What reading line by line left out of the bytes it kept.
#[derive(Default)]
struct LongLines {
    /// Bytes of over-long lines (newlines excluded), not kept.
    removed: u64,
    /// Over-long lines, by line number.
    skipped: Vec<(usize, String)>,
    /// An over-long last line without its newline.
    torn: Option<TornLine>,
}

/// Consumes the rest of a line: (bytes, whether a newline ended it).
fn skip_line(input: &mut impl BufRead) -> std::io::Result<(usize, bool)> {
    let mut bytes = 0;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((bytes, false));
        }
        if let Some(i) = memchr::memchr(b'\n', buf) {
            input.consume(i + 1);
            return Ok((bytes + i, true));
        }
        let n = buf.len();
        bytes += n;
        input.consume(n);
    }
}

/// `seq` and `ts` of an event line: a fast path for the recorder's own
/// layout (`{"seq":N,"ts":N,...`), else a lenient parse.
fn envelope(line: &[u8]) -> Option<(u64, u64)> {
    fn number(s: &[u8]) -> Option<(u64, &[u8])> {
        let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 19 {
            return None;
        }
        let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
        Some((n, &s[digits..]))
    }
    let fast = || {
        let rest = line.strip_prefix(b"{\"seq\":")?;
        let (seq, rest) = number(rest)?;
        let rest = rest.strip_prefix(b",\"ts\":")?;
        let (ts, rest) = number(rest)?;
        rest.starts_with(b",").then_some((seq, ts))
    };
    // The fast path only reads the envelope: the line must still end the
    // object, or it is a damaged line that happens to start well.
    if line.last() == Some(&b'}')
        && let Some(r) = fast()
    {
        return Some(r);
    }
    serde_json::from_slice::<Envelope>(line)
        .ok()
        .map(|e| (e.seq, e.ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"format":"agentctl-session","version":2,"agentctl":"0.1.0","session":"s-1","started_at":1,"workflow":{"name":"w","origin":"builtin:w","hash":"h","text":""},"seed":0,"input":null,"providers":[]}"#;

    fn event(seq: u64, session: &str) -> String {
        format!(
            r#"{{"seq":{seq},"ts":{seq},"session":"{session}","type":"node_state_changed","node":"n","state":"running"}}"#
        )
    }

    #[test]
    fn special_files_are_refused_with_a_clear_message() {
        let e = SessionReader::open(Path::new("/dev/zero"))
            .err()
            .expect("refused");
        assert!(
            e.to_string()
                .contains("a character device, not a regular file"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("s.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = SessionReader::open(&fifo)
            .err()
            .expect("refused without blocking");
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn an_over_long_line_is_skipped_and_appends_still_go_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        let long = format!("{{\"seq\":2,\"pad\":\"{}\"}}", "x".repeat(5000));
        let text = format!(
            "{HEADER}\n{}\n{long}\n{}\n",
            event(1, "s-1"),
            event(3, "s-1")
        );
        std::fs::write(&p, &text).unwrap();
        let r = SessionReader::open_capped(&p, 4096).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
        assert_eq!(r.skipped[0].0, 3);
        assert!(r.skipped[0].1.contains("longer than the limit of 4096"));
        assert_eq!(r.complete_len(), text.len() as u64);
        assert_eq!(r.event(1).unwrap().unwrap().seq, 3);
        // An over-long torn tail (no newline, e.g. zeros) is cut, not held.
        let torn = format!("{HEADER}\n{}\n{}", event(1, "s-1"), "\0".repeat(10_000));
        std::fs::write(&p, &torn).unwrap();
        let r = SessionReader::open_capped(&p, 4096).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.torn,
            Some(TornLine {
                line: 3,
                bytes: 10_000
            })
        );
        assert_eq!(r.complete_len(), (torn.len() - 10_000) as u64);
        // A header past the cap is not a session.
        std::fs::write(&p, "y".repeat(10_000)).unwrap();
        let e = SessionReader::open_capped(&p, 4096).err().expect("refused");
        assert!(
            e.to_string().contains("line 1 is longer than 4096 bytes"),
            "{e}"
        );
    }
}
