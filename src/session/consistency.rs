//! Checks that a session's events hang together: `seq` strictly rising
//! (no duplicates, no going back, never `u64::MAX`), every event of this
//! session, no completion of a task that was never created. A damaged file
//! still reads (the reader skips nothing for these); it is reported, with
//! the line, so nobody trusts its numbers unawares.

use std::collections::HashSet;

use serde::Deserialize;

/// Inconsistencies kept with their text; more are only counted.
const KEPT: usize = 100;

/// What an event line says about itself.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    session: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    task: Option<std::borrow::Cow<'a, str>>,
}

/// The inconsistencies found in one pass over a session's event lines.
#[derive(Debug, Default)]
pub(crate) struct Consistency {
    session: String,
    last_seq: Option<u64>,
    created: HashSet<String>,
    /// The first [`KEPT`] found: 1-based line and what is wrong.
    pub(crate) found: Vec<(usize, String)>,
    /// How many were found in all.
    pub(crate) total: usize,
}

impl Consistency {
    pub(crate) fn new(session: &str) -> Self {
        Consistency {
            session: session.to_string(),
            ..Default::default()
        }
    }

    fn report(&mut self, line: usize, message: String) {
        self.total += 1;
        if self.found.len() < KEPT {
            self.found.push((line, message));
        }
    }

    /// Checks one event line whose envelope gave `seq`.
    pub(crate) fn observe(&mut self, line_no: usize, line: &[u8], seq: u64) {
        if seq == u64::MAX {
            self.report(
                line_no,
                "`seq` is 18446744073709551615 (u64::MAX): not a real event number".into(),
            );
        } else if let Some(last) = self.last_seq
            && seq <= last
        {
            let what = if seq == last {
                "duplicate"
            } else {
                "out-of-order"
            };
            self.report(line_no, format!("{what} `seq` {seq} after {last}"));
        }
        if seq != u64::MAX {
            // A bogus u64::MAX must not make every later event look late.
            self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        }
        // Only the few lines that matter are parsed beyond the envelope.
        let names_session = !self.session_matches(line);
        let task_line = memchr::memmem::find(line, b"\"task_c").is_some();
        if !names_session && !task_line {
            return;
        }
        let Ok(e) = serde_json::from_slice::<Envelope>(line) else {
            return;
        };
        if let Some(s) = &e.session
            && *s != *self.session
        {
            let shown: String = s
                .chars()
                .take(80)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            self.report(
                line_no,
                format!("the event names another session, `{shown}`"),
            );
        }
        match (e.kind.as_deref(), e.task) {
            (Some("task_created"), Some(t)) => {
                self.created.insert(t.into_owned());
            }
            (Some("task_completed"), Some(t)) if !self.created.contains(t.as_ref()) => {
                let shown: String = t
                    .chars()
                    .take(80)
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                self.report(
                    line_no,
                    format!("completion of task `{shown}`, which was never created"),
                );
            }
            _ => {}
        }
    }

    /// The recorder's layout puts `"session":"ID"` right after `ts`; a
    /// line in that layout naming this session needs no parse.
    fn session_matches(&self, line: &[u8]) -> bool {
        let Some(at) = memchr::memmem::find(line, b",\"session\":\"") else {
            return true; // no session field: nothing to contradict
        };
        let rest = &line[at + 12..];
        rest.strip_prefix(self.session.as_bytes())
            .is_some_and(|r| r.first() == Some(&b'"'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, session: &str, rest: &str) -> String {
        format!(r#"{{"seq":{seq},"ts":1,"session":"{session}",{rest}}}"#)
    }

    #[test]
    fn finds_each_kind_of_damage_once_with_its_line() {
        let mut c = Consistency::new("s-1");
        let lines = [
            line(1, "s-1", r#""type":"task_created","task":"t1","node":"n""#),
            line(2, "s-1", r#""type":"task_completed","task":"t1""#),
            line(2, "s-1", r#""type":"node_state_changed""#),
            line(1, "s-1", r#""type":"node_state_changed""#),
            line(u64::MAX, "s-1", r#""type":"node_state_changed""#),
            line(7, "other", r#""type":"node_state_changed""#),
            line(8, "s-1", r#""type":"task_completed","task":"ghost""#),
            line(9, "s-1", r#""type":"node_state_changed""#),
        ];
        for (i, l) in lines.iter().enumerate() {
            let seq = serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap();
            c.observe(i + 2, l.as_bytes(), seq);
        }
        let lines: Vec<usize> = c.found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [4, 5, 6, 7, 8], "{:?}", c.found);
        assert!(c.found[0].1.contains("duplicate `seq` 2 after 2"));
        assert!(c.found[1].1.contains("out-of-order `seq` 1 after 2"));
        assert!(c.found[2].1.contains("u64::MAX"));
        assert!(c.found[3].1.contains("another session, `other`"));
        assert!(
            c.found[4]
                .1
                .contains("task `ghost`, which was never created")
        );
        assert_eq!(c.total, 5);
    }

    #[test]
    fn a_clean_session_has_nothing_to_say() {
        let mut c = Consistency::new("s-1");
        c.observe(
            2,
            line(1, "s-1", r#""type":"task_created","task":"a""#).as_bytes(),
            1,
        );
        c.observe(
            3,
            line(2, "s-1", r#""type":"task_completed","task":"a""#).as_bytes(),
            2,
        );
        c.observe(4, br#"{"seq":3,"ts":1,"type":"session_ended"}"#, 3);
        assert!(c.found.is_empty(), "{:?}", c.found);
    }
}
