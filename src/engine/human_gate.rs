//! A one-shot question to a person, asked on a task: the escalations of
//! `resolve` and `vote`, and every `shell` tool call. (The `gate` node has
//! its own loop: it sends work back for revision and asks again.)

use serde_json::Value;

use super::run::{TaskControl, TaskHandle};
use crate::event::{EventKind, Id};

impl TaskHandle {
    /// Opens a gate on this task for `node` with `artifact` under review,
    /// waits for the decision and reports it: `Some((approved, comment))`,
    /// or `None` when the gate was cancelled (the task is cancelled then).
    pub(crate) async fn ask_human(
        &mut self,
        node: &Id,
        artifact: Value,
    ) -> Option<(bool, Option<String>)> {
        self.run.emit(EventKind::GateOpened {
            gate: self.id.clone(),
            node: node.clone(),
            artifact,
            revision: 0,
        });
        let (approve, comment) = loop {
            match self.control.recv().await {
                Some(TaskControl::Decide { approve, comment }) => break (approve, comment),
                Some(TaskControl::Cancel) | None => {
                    self.cancel("cancelled by the user");
                    return None;
                }
                // Pause, retry, reroute: not meaningful for a question.
                Some(_) => continue,
            }
        };
        self.run.emit(EventKind::GateDecided {
            gate: self.id.clone(),
            approved: approve,
            comment: comment.clone(),
        });
        Some((approve, comment))
    }
}
