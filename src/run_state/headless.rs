//! The headless progress of `agentctl run`: the run state (for the task
//! counts its bar shows) and the line to print for the events worth one.

use super::RunState;
use crate::event::{Event, EventKind};

/// What `agentctl run` shows without the cockpit.
#[derive(Debug, Clone, Default)]
pub struct HeadlessProgress {
    state: RunState,
}

impl HeadlessProgress {
    /// Folds one event in; returns its line when the progress prints one.
    pub fn apply(&mut self, ev: &Event) -> Option<String> {
        self.state.apply(ev);
        shows(&ev.kind).then(|| ev.kind.describe())
    }

    /// The folded run.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Tasks created so far (the bar's length).
    pub fn total(&self) -> u64 {
        self.state.tasks.len() as u64
    }

    /// Tasks completed or failed now (the bar's position).
    pub fn done(&self) -> u64 {
        u64::from(self.state.done())
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
