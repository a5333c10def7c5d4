//! Who talks to whom: agents' traffic as weighted edges (hand-offs, bus
//! messages, debate critiques), folded from the stream for the graph's
//! agent view.

use std::collections::HashMap;

use crate::event::{EventKind, Id};

/// Name of the receiver of a broadcast bus message.
pub const EVERYONE: &str = "*";

/// Traffic from one agent to another, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficEdge {
    /// Sender (an agent, or the orchestrator).
    pub from: Id,
    /// Receiver ([`EVERYONE`] for a broadcast).
    pub to: Id,
    /// Tasks handed off.
    pub handoffs: u64,
    /// Bus messages.
    pub messages: u64,
    /// Debate turns critiquing the receiver's turn.
    pub critiques: u64,
}

impl TrafficEdge {
    /// All of it.
    pub fn total(&self) -> u64 {
        self.handoffs + self.messages + self.critiques
    }
}

/// Every edge of the agents' traffic, in order of first contact.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// Edges, in order of first contact.
    pub edges: Vec<TrafficEdge>,
    /// Edge index by sender, then receiver (looked up by `&str`: no
    /// allocation for a known pair).
    index: HashMap<Id, HashMap<Id, usize>>,
}

impl Traffic {
    /// Folds the traffic an event carries, if any.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Bus { message } => {
                let to = message.to.as_deref().unwrap_or(EVERYONE);
                self.edge(&message.from, to).messages += 1;
            }
            EventKind::TaskHandoff {
                from_agent,
                to_agent,
                ..
            } => self.edge(from_agent, to_agent).handoffs += 1,
            EventKind::DebateTurn {
                speaker, critiques, ..
            } => {
                for c in critiques {
                    self.edge(speaker, &c.speaker).critiques += 1;
                }
            }
            _ => {}
        }
    }

    fn edge(&mut self, from: &str, to: &str) -> &mut TrafficEdge {
        let i = match self.index.get(from).and_then(|m| m.get(to)) {
            Some(&i) => i,
            None => {
                let (from, to): (Id, Id) = (from.into(), to.into());
                let i = self.edges.len();
                self.edges.push(TrafficEdge {
                    from: from.clone(),
                    to: to.clone(),
                    handoffs: 0,
                    messages: 0,
                    critiques: 0,
                });
                self.index.entry(from).or_default().insert(to, i);
                i
            }
        };
        &mut self.edges[i]
    }

    /// The heaviest edge's total (1 when there is none: a bar's scale).
    pub fn max_total(&self) -> u64 {
        self.edges
            .iter()
            .map(TrafficEdge::total)
            .max()
            .unwrap_or(0)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{BusMessage, Critique};

    fn bus(from: &str, to: Option<&str>) -> EventKind {
        EventKind::Bus {
            message: BusMessage {
                id: 1,
                topic: "t".into(),
                from: from.into(),
                to: to.map(Into::into),
                kind: "task".into(),
                payload: serde_json::json!({}),
                correlation: None,
                ts: 0,
                priority: 3,
            },
        }
    }

    #[test]
    fn counts_messages_handoffs_and_critiques_per_pair() {
        let mut t = Traffic::default();
        t.apply(&bus("orchestrator", Some("a")));
        t.apply(&bus("orchestrator", Some("a")));
        t.apply(&bus("a", None));
        t.apply(&EventKind::TaskHandoff {
            task: "x".into(),
            from_agent: "a".into(),
            to_agent: "b".into(),
            capability: "c".into(),
            reason: "r".into(),
            hop: 1,
        });
        t.apply(&EventKind::DebateTurn {
            node: "d".into(),
            task: "d/r2/b".into(),
            round: 2,
            turn: 4,
            speaker: "b".into(),
            position: "p".into(),
            confidence: 0.5,
            argument: "x".into(),
            critiques: vec![Critique {
                turn: 1,
                speaker: "a".into(),
                text: "no".into(),
            }],
            changed: false,
        });
        let pairs: Vec<(&str, &str, u64, u64, u64)> = t
            .edges
            .iter()
            .map(|e| (&*e.from, &*e.to, e.messages, e.handoffs, e.critiques))
            .collect();
        assert_eq!(
            pairs,
            [
                ("orchestrator", "a", 2, 0, 0),
                ("a", EVERYONE, 1, 0, 0),
                ("a", "b", 0, 1, 0),
                ("b", "a", 0, 0, 1),
            ]
        );
        assert_eq!(t.max_total(), 2);
    }
}
