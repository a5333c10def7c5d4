//! A swarm's pool as the stream tells it: items, who holds what, findings,
//! expired leases and how it converged.

use serde::{Deserialize, Serialize};

use crate::event::EventKind;

/// A swarm node's pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Swarm {
    /// Swarm node.
    pub node: String,
    /// Items in the order they joined the pool.
    pub items: Vec<PoolItem>,
    /// Latest round that started work (claims) or ended.
    pub round: u32,
    /// Findings posted.
    pub findings: u32,
    /// Leases that expired.
    pub expired: u32,
    /// Calls that failed on a claimed item.
    pub failures: u32,
    /// How it stopped, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<SwarmOutcome>,
}

/// One item of a swarm's pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolItem {
    /// Item id (`i1`, …).
    pub id: String,
    /// What it asks.
    pub title: String,
    /// The agent that added it (none for first items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Who holds it now, and through which round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<(String, u32)>,
    /// The holder's last call on it failed (it may be dead).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failing: bool,
    /// It has the findings it needs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
    /// Findings: (agent, round, text).
    pub findings: Vec<(String, u32, String)>,
    /// Agents whose lease on it expired, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<String>,
}

/// How a swarm stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmOutcome {
    /// Rounds held.
    pub rounds: u32,
    /// `covered`, `quality`, `quiet` or `max_steps`.
    pub reason: String,
}

impl Swarm {
    /// Folds one swarm event for this node in.
    pub(super) fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::SwarmItemAdded {
                item,
                title,
                by,
                round,
                ..
            } => {
                // A node that runs again (in a loop) starts a fresh pool.
                if *round == 0 && self.items.iter().any(|it| it.id == **item) {
                    *self = Swarm {
                        node: std::mem::take(&mut self.node),
                        ..Swarm::default()
                    };
                }
                self.items.push(PoolItem {
                    id: item.to_string(),
                    title: title.clone(),
                    by: by.as_deref().map(str::to_owned),
                    ..PoolItem::default()
                })
            }
            EventKind::SwarmClaimed {
                item,
                agent,
                round,
                until,
                ..
            } => {
                self.round = self.round.max(*round);
                if let Some(it) = self.item(item) {
                    it.holder = Some((agent.to_string(), *until));
                    it.failing = false;
                }
            }
            EventKind::SwarmLeaseExpired { item, agent, .. } => {
                self.expired += 1;
                if let Some(it) = self.item(item) {
                    it.holder = None;
                    it.failing = false;
                    it.expired.push(agent.to_string());
                }
            }
            EventKind::SwarmFinding {
                item,
                agent,
                round,
                text,
                ..
            } => {
                self.findings += 1;
                if let Some(it) = self.item(item) {
                    it.holder = None;
                    it.failing = false;
                    it.findings.push((agent.to_string(), *round, text.clone()));
                }
            }
            EventKind::SwarmWorkFailed { item, .. } => {
                self.failures += 1;
                if let Some(it) = self.item(item) {
                    it.failing = true;
                }
            }
            EventKind::SwarmItemDone { item, .. } => {
                if let Some(it) = self.item(item) {
                    it.done = true;
                    it.holder = None;
                }
            }
            EventKind::SwarmRoundEnded { round, .. } => self.round = self.round.max(*round),
            EventKind::SwarmConverged { rounds, reason, .. } => {
                self.outcome = Some(SwarmOutcome {
                    rounds: *rounds,
                    reason: reason.clone(),
                });
            }
            _ => {}
        }
    }

    fn item(&mut self, id: &str) -> Option<&mut PoolItem> {
        self.items.iter_mut().find(|it| it.id == id)
    }

    /// Items not done and held by nobody.
    pub fn open(&self) -> usize {
        self.items
            .iter()
            .filter(|it| !it.done && it.holder.is_none())
            .count()
    }

    /// Items held under a lease now.
    pub fn claimed(&self) -> usize {
        self.items.iter().filter(|it| it.holder.is_some()).count()
    }

    /// Items done.
    pub fn done(&self) -> usize {
        self.items.iter().filter(|it| it.done).count()
    }
}
