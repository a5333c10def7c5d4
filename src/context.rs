//! The shared context store: global facts, per-agent summaries and history,
//! and named artifacts from earlier nodes, with windowing to fit an
//! agent's prompt.
//!
//! Every update happens under one lock, so parallel writers never lose an
//! update; readers get a consistent copy. A [`ContextStore`] is a handle:
//! clones share one store, which is how the engine, the `context_get` /
//! `context_put` tools and code agents ([`crate::agent::AgentContext`])
//! all see the same facts, summaries and artifacts. Windowing fills an agent's token
//! limit in a fixed order of importance: its own history (newest first),
//! then global facts, then other agents' summaries, then artifacts (newest
//! first), measured by the real tokenizer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::event::Id;
use crate::llm::tokens::TokenCounter;

/// Entries of an agent's own history kept (between this and twice as
/// many): far more than any prompt window holds.
const HISTORY_KEPT: usize = 4096;

#[derive(Debug, Default)]
struct Inner {
    facts: Vec<String>,
    summaries: HashMap<Id, String>,
    /// Summary order, so windows are deterministic.
    summary_order: Vec<Id>,
    history: HashMap<Id, Vec<String>>,
    /// Artifacts in the order they were produced (a rewrite moves it last).
    artifacts: Vec<(String, Value)>,
    version: u64,
    /// Where announced changes go (the engine publishes them on the bus).
    notifier: Option<tokio::sync::mpsc::UnboundedSender<ContextChange>>,
}

/// A write its writer asked to announce (`context_put` with `notify =
/// true`): the engine publishes it on the bus, topic `context.<key>`, so
/// `on` nodes and other subscribers react.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextChange {
    /// The artifact's key.
    pub key: String,
    /// Its value after the write (the whole list after an append).
    pub value: Value,
    /// The agent that wrote it.
    pub by: Id,
    /// The task it wrote it in.
    pub task: Id,
}

/// The run's shared context. Cloning gives another handle on the same
/// store.
#[derive(Debug, Default, Clone)]
pub struct ContextStore {
    inner: Arc<Mutex<Inner>>,
}

/// A copy of everything in a store except agents' histories.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ContextSnapshot {
    /// Global facts, oldest first.
    pub facts: Vec<String>,
    /// Each agent's latest summary, in the order agents first wrote one.
    pub summaries: Vec<(Id, String)>,
    /// Names of the artifacts, oldest first.
    pub artifacts: Vec<String>,
    /// Number of updates so far.
    pub version: u64,
}

/// A window: the text for the prompt and what it kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The text, sections in order, empty when nothing fits.
    pub text: String,
    /// Tokens of `text`.
    pub tokens: u64,
    /// Entries kept / offered.
    pub kept: usize,
    /// Entries that did not fit.
    pub dropped: usize,
}

impl ContextStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose first fact is the run's input (nothing for `null`).
    pub fn seeded(input: &Value) -> Self {
        let c = Self::new();
        match input {
            Value::Null => {}
            Value::String(s) => c.add_fact(format!("the run's input: {s}")),
            v => c.add_fact(format!("the run's input: {v}")),
        }
        c
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a global fact (duplicates are kept once).
    pub fn add_fact(&self, fact: impl Into<String>) {
        let fact = fact.into();
        let mut g = self.lock();
        if !g.facts.contains(&fact) {
            g.facts.push(fact);
            g.version += 1;
        }
    }

    /// Sets an agent's summary of its own work.
    pub fn set_summary(&self, agent: &Id, summary: impl Into<String>) {
        let mut g = self.lock();
        if g.summaries.insert(agent.clone(), summary.into()).is_none() {
            g.summary_order.push(agent.clone());
        }
        g.version += 1;
    }

    /// Appends to an agent's own history.
    pub fn push_history(&self, agent: &Id, entry: impl Into<String>) {
        let mut g = self.lock();
        let h = g.history.entry(agent.clone()).or_default();
        h.push(entry.into());
        // Windows read the newest entries first: a long run (a loop of a
        // million iterations) keeps the newest few thousand, not all.
        if h.len() >= 2 * HISTORY_KEPT {
            h.drain(..h.len() - HISTORY_KEPT);
        }
        g.version += 1;
    }

    /// Sends the changes announced from now on to `tx`.
    pub fn notify_to(&self, tx: tokio::sync::mpsc::UnboundedSender<ContextChange>) {
        self.lock().notifier = Some(tx);
    }

    /// Announces a change, in the order of the writes (it is sent under the
    /// store's lock). False when nothing listens.
    pub fn announce(&self, change: ContextChange) -> bool {
        let g = self.lock();
        g.notifier
            .as_ref()
            .is_some_and(|tx| tx.send(change).is_ok())
    }

    /// Stores a named artifact (a node's output).
    pub fn put_artifact(&self, name: &str, value: Value) {
        let mut g = self.lock();
        g.artifacts.retain(|(n, _)| n != name);
        g.artifacts.push((name.to_string(), value));
        g.version += 1;
    }

    /// A named artifact.
    pub fn artifact(&self, name: &str) -> Option<Value> {
        self.lock()
            .artifacts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Read-modify-write of an artifact under the lock: concurrent updates
    /// all land. Returns the new value.
    pub fn update_artifact(&self, name: &str, f: impl FnOnce(Option<&Value>) -> Value) -> Value {
        let mut g = self.lock();
        let pos = g.artifacts.iter().position(|(n, _)| n == name);
        let new = f(pos.map(|i| &g.artifacts[i].1));
        match pos {
            Some(i) => g.artifacts[i].1 = new.clone(),
            None => g.artifacts.push((name.to_string(), new.clone())),
        }
        g.version += 1;
        new
    }

    /// Appends `value` to the list artifact `name`, atomically: a missing
    /// artifact becomes `[value]`, a non-list one `[old, value]`. Returns the
    /// list's new length.
    pub fn append_artifact(&self, name: &str, value: Value) -> usize {
        let list = self.update_artifact(name, |old| match old {
            None | Some(Value::Null) => Value::Array(vec![value]),
            Some(Value::Array(items)) => {
                let mut items = items.clone();
                items.push(value);
                Value::Array(items)
            }
            Some(other) => Value::Array(vec![other.clone(), value]),
        });
        list.as_array().map_or(0, Vec::len)
    }

    /// The global facts, oldest first.
    pub fn facts(&self) -> Vec<String> {
        self.lock().facts.clone()
    }

    /// An agent's latest summary.
    pub fn summary(&self, agent: &str) -> Option<String> {
        self.lock().summaries.get(agent).cloned()
    }

    /// An agent's history, oldest first.
    pub fn history(&self, agent: &str) -> Vec<String> {
        self.lock().history.get(agent).cloned().unwrap_or_default()
    }

    /// Facts, summaries and artifact names, copied under one lock.
    pub fn snapshot(&self) -> ContextSnapshot {
        let g = self.lock();
        ContextSnapshot {
            facts: g.facts.clone(),
            summaries: g
                .summary_order
                .iter()
                .filter_map(|a| g.summaries.get(a).map(|s| (a.clone(), s.clone())))
                .collect(),
            artifacts: g.artifacts.iter().map(|(n, _)| n.clone()).collect(),
            version: g.version,
        }
    }

    /// Number of updates so far.
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    /// The context for `agent`, within `limit` tokens.
    pub fn window(&self, agent: &Id, limit: u64, counter: &TokenCounter) -> Window {
        // Copy under the lock, measure outside it.
        let (own, facts, others, artifacts) = {
            let g = self.lock();
            let own: Vec<String> = g
                .history
                .get(agent)
                .map(|h| h.iter().rev().cloned().collect())
                .unwrap_or_default();
            let others: Vec<String> = g
                .summary_order
                .iter()
                .filter(|a| *a != agent)
                .filter_map(|a| g.summaries.get(a).map(|s| format!("{a}: {s}")))
                .collect();
            let artifacts: Vec<String> = g
                .artifacts
                .iter()
                .rev()
                .map(|(n, v)| match v {
                    Value::String(s) => format!("{n}: {s}"),
                    v => format!("{n}: {v}"),
                })
                .collect();
            (own, g.facts.clone(), others, artifacts)
        };
        let sections = [
            ("Your earlier work", own),
            ("Facts", facts),
            ("Other agents", others),
            ("Earlier results", artifacts),
        ];
        let mut text = String::new();
        let mut used = 0u64;
        let (mut kept, mut dropped) = (0, 0);
        let mut full = false;
        for (title, entries) in sections {
            let mut header_done = false;
            for e in entries {
                if full {
                    dropped += 1;
                    continue;
                }
                let mut piece = String::new();
                if !header_done {
                    if !text.is_empty() {
                        piece.push('\n');
                    }
                    piece.push_str(title);
                    piece.push_str(":\n");
                }
                piece.push_str("- ");
                piece.push_str(&e);
                piece.push('\n');
                let t = counter.count(&piece);
                if used + t > limit {
                    // Lower-priority sections never jump ahead of a
                    // higher one that did not fit.
                    full = true;
                    dropped += 1;
                    continue;
                }
                used += t;
                kept += 1;
                header_done = true;
                text.push_str(&piece);
            }
        }
        Window {
            tokens: counter.count(&text),
            text,
            kept,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn an_agents_history_keeps_the_newest_entries_not_all() {
        let c = ContextStore::new();
        let me: Id = "a".into();
        for i in 0..5 * HISTORY_KEPT {
            c.push_history(&me, format!("entry {i}"));
        }
        let h = c.history("a");
        assert!(h.len() < 2 * HISTORY_KEPT, "{} entries", h.len());
        assert_eq!(
            h.last().map(String::as_str),
            Some(format!("entry {}", 5 * HISTORY_KEPT - 1).as_str())
        );
    }

    #[test]
    fn windows_fill_in_priority_order_within_the_limit() {
        let c = ContextStore::new();
        let me: Id = "writer".into();
        let other: Id = "critic".into();
        c.push_history(&me, "drafted the intro");
        c.push_history(&me, "drafted the API section");
        c.add_fact("the deadline is Friday");
        c.set_summary(&other, "wants shorter sentences");
        c.set_summary(&me, "my own summary is not repeated");
        c.put_artifact("outline", Value::String("1. intro 2. api".into()));
        let counter = TokenCounter::global();
        let all = c.window(&me, 10_000, counter);
        let order: Vec<usize> = [
            "drafted the API section",
            "drafted the intro",
            "deadline is Friday",
            "critic: wants shorter",
            "outline: 1. intro",
        ]
        .iter()
        .map(|s| {
            all.text
                .find(s)
                .unwrap_or_else(|| panic!("{s} missing: {}", all.text))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", all.text);
        assert!(!all.text.contains("my own summary"));
        assert_eq!((all.kept, all.dropped), (5, 0));
        // A tight limit keeps the newest own history first and stops there.
        let tight = c.window(&me, 12, counter);
        assert!(tight.tokens <= 12, "{}", tight.tokens);
        assert!(tight.text.contains("API section"));
        assert!(!tight.text.contains("Friday"));
        assert_eq!(tight.kept + tight.dropped, 5);
        assert_eq!(c.window(&me, 0, counter).text, "");
    }

    #[test]
    fn parallel_writers_lose_no_update() {
        let c = Arc::new(ContextStore::new());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        c.update_artifact("counter", |v| {
                            Value::from(v.and_then(Value::as_u64).unwrap_or(0) + 1)
                        });
                        c.add_fact(format!("fact {t}-{i}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.artifact("counter"), Some(Value::from(4000u64)));
        assert_eq!(c.version(), 8000);
    }

    #[test]
    fn clones_share_one_store_and_appends_all_land() {
        let c = ContextStore::seeded(&Value::from("a topic"));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        c.append_artifact("found", Value::from(t * 1000 + i));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let list = c.artifact("found").unwrap();
        let mut got: Vec<u64> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        got.sort_unstable();
        let mut want: Vec<u64> = (0..4)
            .flat_map(|t| (0..250).map(move |i| t * 1000 + i))
            .collect();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(c.facts(), ["the run's input: a topic"]);
        c.put_artifact("scalar", Value::from(1));
        assert_eq!(c.append_artifact("scalar", Value::from(2)), 2);
        let snap = c.snapshot();
        assert_eq!(snap.artifacts, ["found", "scalar"]);
        assert!(snap.summaries.is_empty());
    }
}
