//! What a resumed run takes over from its recorded session: the outputs of
//! completed tasks, how far in-flight tasks got, the tokens already spent,
//! the gate decisions already made, and the pattern-level events that only
//! restate restored work. The session module folds a recorded file into a
//! [`Restore`]; the engine only reads it.

use std::collections::HashMap;

use serde_json::Value;

use crate::event::{EventKind, TaskState, Usage};

/// The folded state of an interrupted session (see `RunOptions::resume`).
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// The last `seq` written; the resumed run continues after it.
    pub last_seq: u64,
    /// Tokens spent before the interruption (budgets continue from here).
    pub usage: Usage,
    /// Every task the session created, by id.
    pub tasks: HashMap<String, RestoredTask>,
    /// Recorded gate decisions per gate id, in revision order.
    pub gate_decisions: HashMap<String, Vec<(bool, Option<String>)>>,
    /// Pattern-level events already recorded (plans, verdicts, routes, loop
    /// transitions, trigger firings, node states). Re-running restored work
    /// produces them again, identically; the emitter drops one recorded copy
    /// per re-emission instead of writing it twice.
    pub replayed: Vec<EventKind>,
    /// What the recorded run learned about its endpoints (`endpoint_adapted`
    /// events, oldest first), by endpoint: the providers take it over.
    pub adaptations: Vec<(String, crate::llm::Adaptation)>,
    /// Tasks submitted to the running run (`task_submitted` events), in
    /// order: the resumed run runs them again.
    pub submitted: Vec<RestoredSubmission>,
}

/// One recorded submission.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSubmission {
    /// Task id.
    pub task: String,
    /// Agent id.
    pub agent: String,
    /// Prompt.
    pub prompt: String,
    /// Priority.
    pub priority: u8,
}

/// One recorded task.
#[derive(Debug, Clone)]
pub struct RestoredTask {
    /// Last recorded state.
    pub state: TaskState,
    /// The output of a COMPLETED task: it is not run again.
    pub output: Option<Value>,
    /// Attempts made so far: an in-flight task continues with the next one.
    pub attempts: u32,
    /// Tokens its calls spent so far.
    pub usage: Usage,
    /// The agent that worked on it last.
    pub agent: Option<String>,
}

impl Restore {
    /// Whether an event kind is one the emitter may drop as a restatement of
    /// restored work (see [`Restore::replayed`]).
    pub fn is_restatement(kind: &EventKind) -> bool {
        matches!(
            kind,
            EventKind::PlanCreated { .. }
                | EventKind::PlanBudgetChecked { .. }
                | EventKind::PlanStepReady { .. }
                | EventKind::ReviewVerdict { .. }
                | EventKind::RouteChosen { .. }
                | EventKind::LoopTransition { .. }
                | EventKind::TriggerFired { .. }
                | EventKind::NodeStateChanged { .. }
                // The transcripts: a re-run debate, vote, swarm or chat
                // restates the turns, ballots and claims it restores.
                | EventKind::DebateRoundStarted { .. }
                | EventKind::DebateTurn { .. }
                | EventKind::DebateTurnFailed { .. }
                | EventKind::DebateRoundEnded { .. }
                | EventKind::DebateEnded { .. }
                | EventKind::VoteCast { .. }
                | EventKind::VoteFailed { .. }
                | EventKind::ConsensusReached { .. }
                | EventKind::ConsensusFailed { .. }
                | EventKind::AgentFlagged { .. }
                | EventKind::SwarmItemAdded { .. }
                | EventKind::SwarmClaimed { .. }
                | EventKind::SwarmLeaseExpired { .. }
                | EventKind::SwarmFinding { .. }
                | EventKind::SwarmWorkFailed { .. }
                | EventKind::SwarmItemDone { .. }
                | EventKind::SwarmRoundEnded { .. }
                | EventKind::SwarmConverged { .. }
                | EventKind::ChatTurn { .. }
                | EventKind::ChatTurnFailed { .. }
                | EventKind::ChatEnded { .. }
        )
    }

    /// The decision recorded for a gate's `revision`-th opening.
    pub(crate) fn gate_decision(
        &self,
        gate: &str,
        revision: u32,
    ) -> Option<&(bool, Option<String>)> {
        self.gate_decisions.get(gate)?.get(revision as usize)
    }
}

/// Key of a restatable event in the emitter's multiset.
pub(crate) fn restatement_key(kind: &EventKind) -> Option<String> {
    if Restore::is_restatement(kind) {
        serde_json::to_string(kind).ok()
    } else {
        None
    }
}
