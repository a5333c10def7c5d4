//! What the engine waits on the human for, when it does: the WAITING FOR
//! YOU badge says it, and the hints offer the keys that answer it.

use super::ViewModel;
use crate::event::{Id, TaskState};

/// Why the run waits for the user (the first that holds, in this order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// Human gates wait for a decision: how many, the first one's node title.
    Gate {
        /// Open gates.
        count: usize,
        /// Title of the oldest open gate's node.
        title: String,
    },
    /// Failed tasks are held for retry, reroute or cancel.
    HeldFailure {
        /// Held tasks.
        count: u32,
        /// The newest held task.
        task: Option<Id>,
    },
    /// A budget ran out and paused the run.
    Budget {
        /// Scope that ran out (`run`, `agent:<id>`, `node:<id>`).
        scope: String,
    },
    /// A debate or vote in step mode waits for `n`.
    Step {
        /// Debate or vote node.
        node: Id,
        /// `turn` or `ballot`.
        what: String,
    },
}

impl Waiting {
    /// What it waits for, in a few words (after "WAITING FOR YOU · ").
    pub fn label(&self) -> String {
        match self {
            Waiting::Gate { count: 1, title } => format!("gate: {title}"),
            Waiting::Gate { count, .. } => format!("{count} gates"),
            Waiting::HeldFailure {
                count: 1,
                task: Some(t),
            } => format!("held failure: {t}"),
            Waiting::HeldFailure { count, .. } => format!("{count} held failures"),
            Waiting::Budget { scope } => format!("{scope} out of budget"),
            Waiting::Step { node, what } => format!("step mode: {node} {what} (n)"),
        }
    }
}

impl ViewModel {
    /// What the run waits on the user for, while it is live.
    pub fn waiting_for(&self) -> Option<Waiting> {
        if self.ended.is_some() {
            return None;
        }
        if let Some(g) = self.gates.first() {
            return Some(Waiting::Gate {
                count: self.gates.len(),
                title: g.title.clone(),
            });
        }
        if self.held > 0 {
            // Held tasks are recent ones: look from the newest.
            let task = (0..self.tasks.len())
                .rev()
                .map(|i| &self.tasks[i])
                .find(|t| t.held && t.state == TaskState::Failed)
                .map(|t| t.id.clone());
            return Some(Waiting::HeldFailure {
                count: self.held,
                task,
            });
        }
        if self.paused_for_budget() {
            let scope = self
                .budget
                .paused_by
                .clone()
                .unwrap_or_else(|| "run".into());
            return Some(Waiting::Budget { scope });
        }
        self.debates.waiting.as_ref().map(|w| Waiting::Step {
            node: w.node.clone(),
            what: w.what.clone(),
        })
    }

    /// True when a task is held waiting for the user now (a held task of
    /// a run that ended waits for nothing).
    pub fn is_held(&self, t: &super::TaskView) -> bool {
        t.held && t.state == TaskState::Failed && self.ended.is_none()
    }
}
