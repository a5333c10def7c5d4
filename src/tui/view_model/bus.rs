//! Bus traffic stored compactly: 100k+ messages must fit and filter fast.
//!
//! Agent, topic and kind strings repeat endlessly, so they are interned to
//! `u32` symbols; each row keeps a one-line summary (truncated) and the full
//! payloads live in a parallel `Vec` indexed by row. A filter keeps a list of
//! matching row indices that grows incrementally as messages arrive.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::event::BusMessage;
use crate::run_state::{ApproxBytes, ChunkVec};

/// Symbol meaning "no string" (e.g. a broadcast with no recipient).
pub const NONE_SYM: u32 = u32::MAX;
/// Longest summary kept per row, in characters.
const SUMMARY_CHARS: usize = 120;

/// Interns repeated strings.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    map: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    /// The symbol for `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let a: Arc<str> = Arc::from(s);
        let i = self.names.len() as u32;
        self.names.push(a.clone());
        self.map.insert(a, i);
        i
    }

    /// Number of distinct strings (tests check interning).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The string for a symbol (`""` for [`NONE_SYM`] or unknown).
    pub fn get(&self, sym: u32) -> &str {
        self.names.get(sym as usize).map(|s| &**s).unwrap_or("")
    }
}

/// One message, compactly.
#[derive(Debug, Clone, PartialEq)]
pub struct BusRow {
    /// Message id.
    pub id: u64,
    /// Microseconds since the session start.
    pub offset_us: u64,
    /// Sender symbol.
    pub from: u32,
    /// Recipient symbol or [`NONE_SYM`].
    pub to: u32,
    /// Topic symbol.
    pub topic: u32,
    /// Kind symbol.
    pub kind: u32,
    /// Correlation id symbol or [`NONE_SYM`].
    pub correlation: u32,
    /// Priority, 1 most urgent … 5.
    pub priority: u8,
    /// One-line payload summary, at most `SUMMARY_CHARS` characters.
    pub summary: Box<str>,
}

/// All bus messages of the run, with an incremental filter.
#[derive(Debug, Clone, Default)]
pub struct BusLog {
    /// Interned strings.
    pub strings: Interner,
    /// Rows, oldest first, in shared chunks (copies of the view model share them).
    pub rows: ChunkVec<BusRow, 256>,
    /// Full payloads, parallel to `rows`.
    pub payloads: ChunkVec<Value, 256>,
    filter: Option<String>,
    parsed: BusFilter,
    matches: Vec<u32>,
    /// A message with a priority other than the default arrived: the pane
    /// then shows the priority column (runs that never set one keep the
    /// room for the summary).
    pub prioritised: bool,
}

/// A bus filter: priority terms (`p:1`, `p<=2`, `p>3`...) and the rest of
/// the text, matched as one case-insensitive substring.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusFilter {
    /// Lower-cased text to find (empty: any).
    pub text: String,
    /// Inclusive priority range every term allows.
    pub priority: Option<(u8, u8)>,
}

impl BusFilter {
    /// Parses a lower-cased filter line.
    pub fn parse(line: &str) -> BusFilter {
        let mut words = Vec::new();
        let mut range: Option<(u8, u8)> = None;
        for w in line.split_whitespace() {
            match priority_term(w) {
                Some((lo, hi)) => {
                    let (a, b) = range.unwrap_or((1, 5));
                    range = Some((a.max(lo), b.min(hi)));
                }
                None => words.push(w),
            }
        }
        BusFilter {
            text: words.join(" "),
            priority: range,
        }
    }

    fn allows(&self, priority: u8) -> bool {
        self.priority
            .is_none_or(|(lo, hi)| (lo..=hi).contains(&priority))
    }
}

/// `p:N`, `p=N`, `p<N`, `p<=N`, `p>N`, `p>=N` (N from 1 to 5) as the
/// priorities they allow; anything else is text.
fn priority_term(w: &str) -> Option<(u8, u8)> {
    let rest = w.strip_prefix('p')?;
    let (op, n) = ["<=", ">=", ":", "=", "<", ">"]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|n| (*op, n)))?;
    let n: u8 = n.parse().ok().filter(|n| (1..=5).contains(n))?;
    Some(match op {
        "<=" => (1, n),
        ">=" => (n, 5),
        "<" => (1, n.checked_sub(1)?),
        ">" => (n + 1, 5),
        _ => (n, n),
    })
}

impl BusLog {
    /// Appends a message.
    pub fn push(&mut self, m: &BusMessage, session_start_us: u64) {
        let row = BusRow {
            id: m.id,
            offset_us: m.ts.saturating_sub(session_start_us),
            from: self.strings.intern(&m.from),
            to: m.to.as_deref().map_or(NONE_SYM, |t| self.strings.intern(t)),
            topic: self.strings.intern(&m.topic),
            kind: self.strings.intern(&m.kind),
            correlation: m
                .correlation
                .as_deref()
                .map_or(NONE_SYM, |c| self.strings.intern(c)),
            priority: m.priority,
            summary: summarize(&m.payload).into_boxed_str(),
        };
        self.prioritised |= m.priority != BusMessage::DEFAULT_PRIORITY;
        if self.filter.is_some() && self.row_matches(&row, &m.payload, &self.parsed) {
            self.matches.push(self.rows.len() as u32);
        }
        self.rows.push(row);
        self.payloads.push(m.payload.clone());
    }

    /// Sets (or, with an empty needle, clears) the case-insensitive filter.
    /// Text matches sender, recipient, topic, kind, correlation id and the
    /// whole payload (every string, key and number in it, not only the
    /// summary); priority terms (`p:1`, `p<=2`, `p>=4`) keep the messages
    /// of those priorities.
    pub fn set_filter(&mut self, needle: &str) {
        let needle = needle.trim().to_lowercase();
        if needle.is_empty() {
            self.filter = None;
            self.parsed = BusFilter::default();
            self.matches = Vec::new();
            return;
        }
        if self.filter.as_deref() == Some(needle.as_str()) {
            return;
        }
        let parsed = BusFilter::parse(&needle);
        let matches = self
            .rows
            .iter()
            .zip(self.payloads.iter())
            .enumerate()
            .filter(|(_, (r, p))| self.row_matches(r, p, &parsed))
            .map(|(i, _)| i as u32)
            .collect();
        self.matches = matches;
        self.filter = Some(needle);
        self.parsed = parsed;
    }

    /// The active filter, lower-cased.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// Number of visible rows (all rows, or the filter's matches).
    pub fn visible_len(&self) -> usize {
        if self.filter.is_some() {
            self.matches.len()
        } else {
            self.rows.len()
        }
    }

    /// Row index of the `n`th visible row.
    pub fn visible_row(&self, n: usize) -> Option<usize> {
        if self.filter.is_some() {
            self.matches.get(n).map(|&i| i as usize)
        } else if n < self.rows.len() {
            Some(n)
        } else {
            None
        }
    }

    fn row_matches(&self, row: &BusRow, payload: &Value, filter: &BusFilter) -> bool {
        if !filter.allows(row.priority) {
            return false;
        }
        let needle = filter.text.as_str();
        if needle.is_empty() {
            return true;
        }
        let s = &self.strings;
        contains_ci(s.get(row.from), needle)
            || (row.to != NONE_SYM && contains_ci(s.get(row.to), needle))
            || contains_ci(s.get(row.topic), needle)
            || contains_ci(s.get(row.kind), needle)
            || (row.correlation != NONE_SYM && contains_ci(s.get(row.correlation), needle))
            || contains_ci(&row.summary, needle)
            || value_contains(payload, needle)
    }
}

impl BusLog {
    /// Bytes held by `self` that `other` does not share (the replay
    /// player's checkpoint accounting): unshared row and payload chunks,
    /// the interner and the filter's matches.
    pub fn unshared_bytes(&self, other: &BusLog) -> usize {
        self.rows.unshared_bytes(&other.rows)
            + self.payloads.unshared_bytes(&other.payloads)
            + self.strings.names.len() * 64
            + self.matches.capacity() * 4
    }
}

impl ApproxBytes for BusRow {
    fn approx_bytes(&self) -> usize {
        size_of::<BusRow>() + self.summary.len()
    }
}

impl ApproxBytes for Value {
    fn approx_bytes(&self) -> usize {
        value_bytes(self)
    }
}

/// Bytes a JSON value holds, roughly (inline size plus its heap).
pub(crate) fn value_bytes(v: &Value) -> usize {
    size_of::<Value>()
        + match v {
            Value::String(s) => s.capacity(),
            Value::Array(a) => a.iter().map(value_bytes).sum(),
            Value::Object(m) => m.iter().map(|(k, v)| 32 + k.len() + value_bytes(v)).sum(),
            _ => 0,
        }
}

/// Case-insensitive substring test without allocating; `needle` is lower-case.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let h = hay.as_bytes();
        let n = needle.as_bytes();
        return h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

/// True when a string, key or number anywhere in `v` contains `needle`
/// (lower-case): the filter finds text past the summary's cut.
fn value_contains(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => contains_ci(s, needle),
        Value::Array(a) => a.iter().any(|x| value_contains(x, needle)),
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| contains_ci(k, needle) || value_contains(x, needle)),
        Value::Number(n) => contains_ci(&n.to_string(), needle),
        Value::Bool(b) => contains_ci(if *b { "true" } else { "false" }, needle),
        Value::Null => false,
    }
}

/// A one-line summary of a payload: strings as they are, objects as their
/// most telling field or compact JSON, whitespace collapsed, truncated.
pub fn summarize(v: &Value) -> String {
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => {
            let pick = ["summary", "text", "content", "message", "output", "title"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str))
                // A task assignment reads as its description (the prompt).
                .or_else(|| m.get("payload")?.get("description")?.as_str());
            match pick {
                Some(s) => s.to_owned(),
                None => v.to_string(),
            }
        }
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out = String::with_capacity(raw.len().min(SUMMARY_CHARS * 4));
    let mut n = 0;
    let mut last_space = false;
    for c in raw.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if n == SUMMARY_CHARS - 1 {
            out.push('…');
            return out;
        }
        out.push(c);
        n += 1;
    }
    out
}

#[cfg(test)]
mod filter_tests {
    use serde_json::json;

    use super::*;

    fn msg(id: u64, payload: Value) -> BusMessage {
        BusMessage {
            id,
            topic: "agent.writer".into(),
            from: "writer".into(),
            to: Some("orchestrator".into()),
            kind: "result".into(),
            payload,
            correlation: Some(format!("task-{id}").into()),
            ts: 1_000 + id,
            priority: 3,
        }
    }

    #[test]
    fn the_filter_finds_a_marker_past_the_summary_and_keeps_only_matches() {
        let far = format!("{} ZEBRA-220 tail", "x".repeat(220));
        let mut log = BusLog::default();
        log.push(&msg(1, json!("nothing here")), 0);
        log.push(&msg(2, json!(far)), 0);
        log.push(
            &msg(
                3,
                json!({"text": "short", "deep": {"list": ["a", "zebra-220 too"]}}),
            ),
            0,
        );
        assert!(
            !log.rows[1].summary.contains("ZEBRA"),
            "the marker is past the summary's cut"
        );
        log.set_filter("zebra-220");
        let kept: Vec<usize> = (0..log.visible_len())
            .filter_map(|n| log.visible_row(n))
            .collect();
        assert_eq!(kept, [1, 2], "the rows kept are the matches");
        // New messages are matched on their whole payload too.
        log.push(&msg(4, json!(format!("{} zebra-220", "y".repeat(300)))), 0);
        assert_eq!(log.visible_len(), 3);
        // The correlation id is searchable.
        log.set_filter("task-1");
        assert_eq!(log.visible_row(0), Some(0));
    }

    #[test]
    fn priority_terms_select_by_priority_and_combine_with_text() {
        let mut log = BusLog::default();
        for (id, p, text) in [
            (1, 1, "urgent"),
            (2, 3, "plain"),
            (3, 2, "soon"),
            (4, 5, "later"),
        ] {
            let mut m = msg(id, json!(text));
            m.priority = p;
            log.push(&m, 0);
        }
        assert!(log.prioritised);
        let kept = |log: &BusLog| -> Vec<u64> {
            (0..log.visible_len())
                .filter_map(|n| log.visible_row(n))
                .map(|r| log.rows[r].id)
                .collect()
        };
        log.set_filter("p:1");
        assert_eq!(kept(&log), [1]);
        log.set_filter("p<=2");
        assert_eq!(kept(&log), [1, 3]);
        log.set_filter("P>3");
        assert_eq!(kept(&log), [4]);
        log.set_filter("p>=2 later");
        assert_eq!(kept(&log), [4], "priority and text both apply");
        log.set_filter("p<3 p>1");
        assert_eq!(kept(&log), [3], "terms intersect");
        // New messages are matched as they arrive.
        let mut m = msg(5, json!("new"));
        m.priority = 2;
        log.push(&m, 0);
        assert_eq!(kept(&log), [3, 5]);
        // Not a priority term: plain text, as before.
        log.set_filter("p:9");
        assert_eq!(kept(&log), Vec::<u64>::new());
        assert_eq!(BusFilter::parse("p9 x").text, "p9 x");
        let mut plain = BusLog::default();
        plain.push(&msg(1, json!("x")), 0);
        assert!(!plain.prioritised, "default priorities keep the column off");
    }

    #[test]
    fn a_task_assignment_reads_as_its_description() {
        let v = json!({"message_type": "task_assignment",
            "payload": {"task_id": "t", "description": "Summarise the report", "context": {}}});
        assert_eq!(summarize(&v), "Summarise the report");
    }
}
