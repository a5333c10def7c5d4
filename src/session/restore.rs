//! What a resumed run takes over from a recorded session: the folded
//! state's tasks, usage and gate decisions, plus the restatements and
//! endpoint adaptations only the recorded events hold.

use std::collections::HashMap;

use super::fold::SessionState;
use super::reader::SessionReader;
use crate::engine::{Restore, RestoredSubmission, RestoredTask};
use crate::event::{EventKind, TaskState};

impl SessionState {
    /// What a resumed run takes over (see [`Restore`]). `reader` supplies
    /// the recorded restatements the run will produce again.
    pub fn restore(&self, reader: &SessionReader) -> Restore {
        let tasks = self
            .tasks
            .iter()
            .map(|t| {
                (
                    t.id.to_string(),
                    RestoredTask {
                        state: t.state,
                        output: (t.state == TaskState::Completed)
                            .then(|| t.output.as_deref().cloned())
                            .flatten(),
                        attempts: t.attempts,
                        usage: t.usage,
                        agent: t.agent.as_deref().map(str::to_string),
                    },
                )
            })
            .collect();
        let mut gate_decisions: HashMap<String, Vec<(bool, Option<String>)>> = HashMap::new();
        for g in self.gate_openings.iter() {
            if let Some(d) = &g.decision {
                let list = gate_decisions.entry(g.gate.clone()).or_default();
                // Revisions are recorded in order; a gate re-opened by an
                // earlier resume repeats its revision, keep the first.
                if list.len() == g.revision as usize {
                    list.push(d.clone());
                }
            }
        }
        let mut replayed = Vec::new();
        let mut adaptations = Vec::new();
        let mut submitted = Vec::new();
        for e in reader.events() {
            match e.kind {
                EventKind::TaskSubmitted {
                    task,
                    agent,
                    prompt,
                    priority,
                } => submitted.push(RestoredSubmission {
                    task: task.to_string(),
                    agent: agent.to_string(),
                    prompt,
                    priority,
                }),
                EventKind::EndpointAdapted {
                    endpoint,
                    setting,
                    from,
                    to,
                    reason,
                } => adaptations.push((
                    endpoint,
                    crate::llm::Adaptation {
                        setting,
                        from,
                        to,
                        reason,
                    },
                )),
                k if Restore::is_restatement(&k) => replayed.push(k),
                _ => {}
            }
        }
        Restore {
            last_seq: self.last_seq,
            usage: self.total_usage,
            tasks,
            gate_decisions,
            replayed,
            adaptations,
            submitted,
        }
    }
}
