//! The headless progress of `agentctl run`: the line to print for the
//! events worth one (worded by [`crate::event::EventKind::describe`]) and
//! the two counts its bar shows.
//!
//! It keeps no task: a headless run without a recording must stay flat in
//! memory however long a loop spins (a [`super::RunState`] keeps every task
//! it has seen), so its counts come from the events alone.

use crate::event::{Event, EventKind};

/// What `agentctl run` shows without the cockpit.
#[derive(Debug, Clone, Default)]
pub struct HeadlessProgress {
    created: u64,
    settled: u64,
}

impl HeadlessProgress {
    /// Counts one event; returns its line when the progress prints one.
    pub fn apply(&mut self, ev: &Event) -> Option<String> {
        match ev.kind {
            EventKind::TaskCreated { .. } => self.created += 1,
            EventKind::TaskCompleted { .. } | EventKind::TaskFailed { .. } => self.settled += 1,
            _ => {}
        }
        shows(&ev.kind).then(|| ev.kind.describe())
    }

    /// Tasks created so far (the bar's length).
    pub fn total(&self) -> u64 {
        self.created
    }

    /// Completions and failures so far (the bar's position; a task that
    /// failed and was retried counts each time it settled).
    pub fn done(&self) -> u64 {
        self.settled
    }
}

/// Whether the progress prints a line for this kind: outcomes and
/// decisions, not the calls and state moves in between.
fn shows(kind: &EventKind) -> bool {
    use EventKind as K;
    matches!(
        kind,
        K::TaskCompleted { .. }
            | K::TaskFailed { .. }
            | K::TaskHandoff { .. }
            | K::PlanCreated { .. }
            | K::OutputRepair { .. }
            | K::ReviewVerdict { .. }
            | K::RouteChosen { .. }
            | K::LoopTransition { .. }
            | K::TriggerFired { .. }
            | K::GateDecided { .. }
            | K::ToolCall { .. }
            | K::ToolResult { .. }
            | K::Notice { .. }
            | K::DebateTurn { .. }
            | K::DebateTurnFailed { .. }
            | K::DebateEnded { .. }
            | K::VoteCast { .. }
            | K::ConsensusReached { .. }
            | K::ConsensusFailed { .. }
            | K::AgentFlagged { .. }
    )
}
