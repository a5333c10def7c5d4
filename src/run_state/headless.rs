//! The headless progress of `agentctl run`: the run state (for the task
//! counts its bar shows) and the line to print for the events worth one.

use super::RunState;
use crate::event::{Event, EventKind};

/// Settled tasks kept before they are dropped (see [`HeadlessProgress`]).
const KEEP_SETTLED: usize = 256;

/// What `agentctl run` shows without the cockpit. It keeps the live tasks
/// and the counts only: settled tasks are dropped about every
/// 256 tasks done (`KEEP_SETTLED`), so a long or runaway run without a
/// recording keeps its memory flat (the cockpit and the session summary
/// keep every task; this prints lines).
#[derive(Debug, Clone)]
pub struct HeadlessProgress {
    state: RunState,
    /// Settled tasks dropped so far.
    forgotten: u64,
    keep_settled: usize,
    /// `done()` at which the next drop scans the tasks.
    next_scan: u64,
}

impl Default for HeadlessProgress {
    fn default() -> Self {
        HeadlessProgress::keeping(KEEP_SETTLED)
    }
}

impl HeadlessProgress {
    /// A progress that drops settled tasks past `keep_settled` of them.
    pub fn keeping(keep_settled: usize) -> Self {
        HeadlessProgress {
            state: RunState::default(),
            forgotten: 0,
            keep_settled: keep_settled.max(1),
            next_scan: keep_settled.max(1) as u64,
        }
    }

    /// Folds one event in; returns its line when the progress prints one.
    pub fn apply(&mut self, ev: &Event) -> Option<String> {
        self.state.apply(ev);
        // A scan costs the tasks held; the next one waits for as many more
        // tasks done as it scanned (plus the allowance), so dropping costs
        // O(1) per task however many held failures stay.
        let done = u64::from(self.state.done());
        if done >= self.next_scan {
            self.forgotten += self.state.forget_settled();
            self.next_scan = done + (self.keep_settled + self.state.tasks.len()) as u64;
        }
        shows(&ev.kind).then(|| ev.kind.describe())
    }

    /// The folded run: its live tasks, and every settled one not dropped yet.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// Tasks created so far (the bar's length).
    pub fn total(&self) -> u64 {
        self.state.tasks.len() as u64 + self.forgotten
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
            | K::PlanBudgetChecked { .. }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Usage};
    use serde_json::json;

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            ts: seq,
            session: "s".into(),
            kind,
        }
    }

    #[test]
    fn settled_tasks_are_dropped_and_the_counts_stay_those_of_the_whole_fold() {
        let mut progress = HeadlessProgress::keeping(100);
        let mut whole = RunState::<()>::default();
        let mut seq = 0;
        let mut feed = |kind: EventKind, p: &mut HeadlessProgress| {
            seq += 1;
            let e = ev(seq, kind);
            whole.apply(&e);
            p.apply(&e);
        };
        for i in 0..10_000u32 {
            let task: crate::event::Id = format!("t{i}").into();
            feed(
                EventKind::TaskCreated {
                    task: task.clone(),
                    node: "n".into(),
                    parent: None,
                    title: "spin".into(),
                    agent: None,
                    capability: None,
                    priority: 3,
                    input: json!(i),
                },
                &mut progress,
            );
            if i % 10 != 0 {
                feed(
                    EventKind::TaskCompleted {
                        task,
                        agent: Some("a".into()),
                        from: crate::event::TaskState::Pending,
                        output: json!("ok"),
                        attempt: 1,
                        usage: Usage::default(),
                        duration_ms: 1.0,
                    },
                    &mut progress,
                );
            }
        }
        assert_eq!(progress.total(), 10_000);
        assert_eq!(progress.total(), whole.tasks.len() as u64);
        assert_eq!(progress.done(), u64::from(whole.done()));
        // Held: the 1,000 live ones, and settled ones of the last two
        // allowances at most (each scan waits for allowance + held more
        // done), not the 9,000 settled of the whole run.
        let held = progress.state().tasks.len();
        assert!(held <= 1_000 + 2 * (100 + 1_000), "{held} tasks held");
        let pending = progress
            .state()
            .tasks
            .iter()
            .filter(|t| t.state == crate::event::TaskState::Pending)
            .count();
        assert_eq!(pending, 1_000, "every live task is kept");
    }
}
