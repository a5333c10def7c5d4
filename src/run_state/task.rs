//! One task as the stream tells it: where it is, who has it, what it cost.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{ErrorKind, Id, TaskState, Usage};

/// One task. `X` is what a single consumer keeps beside it (the cockpit's
/// history lines); the rest is folded by [`super::RunState`] alone.
///
/// Serialised (in session snapshots and exports) under the names the
/// session summary always used; fields added later read as their default
/// from older snapshots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "", deserialize = "X: Default"))]
pub struct Task<X = ()> {
    /// Task id.
    pub id: Id,
    /// Owning node id.
    #[serde(rename = "node")]
    pub node_id: Id,
    /// Parent task (plan subtasks).
    pub parent: Option<Id>,
    /// Title.
    pub title: String,
    /// Input (shared by copies).
    pub input: Arc<Value>,
    /// Current state.
    pub state: TaskState,
    /// Attempts so far (the highest attempt number seen).
    pub attempts: u32,
    /// Current (or last) agent.
    pub agent: Option<Id>,
    /// Output, once completed (shared by copies).
    pub output: Option<Arc<Value>>,
    /// Last error.
    pub error: Option<String>,
    /// Tokens spent: the sum of its replies, or the engine's total at
    /// completion when that is larger (it counts calls made before a resume).
    pub usage: Usage,
    /// Provider calls made for it.
    pub calls: u32,
    /// `task_completed` events seen (1 at most in a sound session).
    pub completions: u32,
    /// Capability it was dispatched by.
    #[serde(default)]
    pub capability: Option<String>,
    /// Priority 1–5.
    #[serde(default)]
    pub priority: u8,
    /// Creation time, µs since the epoch.
    #[serde(default)]
    pub created_us: u64,
    /// First assignment time.
    #[serde(default)]
    pub started_us: Option<u64>,
    /// Completion or failure time.
    #[serde(default)]
    pub finished_us: Option<u64>,
    /// Engine-reported duration, once completed.
    #[serde(default)]
    pub duration_ms: Option<f64>,
    /// True while a failed task waits for retry/reroute/cancel.
    #[serde(default)]
    pub held: bool,
    /// Failed attempts, oldest first.
    #[serde(default)]
    pub errors: Vec<TaskError>,
    /// The worker that ran its last call (scale-out on NATS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// True while a reply to it is being streamed (`llm_delta` seen, call
    /// not settled).
    #[serde(skip)]
    pub streaming: bool,
    /// Index of its node in [`super::RunState::nodes`].
    #[serde(skip)]
    pub(crate) slot: usize,
    /// What one consumer keeps beside the task.
    #[serde(skip)]
    pub ext: X,
}

impl<X> std::ops::Deref for Task<X> {
    type Target = X;
    /// A consumer's own fields read as the task's (`view.history`).
    fn deref(&self) -> &X {
        &self.ext
    }
}

impl<X> Task<X> {
    /// Index of its node in [`super::RunState::nodes`].
    pub fn node_slot(&self) -> usize {
        self.slot
    }

    /// Run time in ms: engine-reported when done, else measured up to `now_us`.
    pub fn elapsed_ms(&self, now_us: u64) -> Option<f64> {
        if let Some(d) = self.duration_ms {
            return Some(d);
        }
        let start = self.started_us?;
        let end = self.finished_us.unwrap_or(now_us);
        Some(end.saturating_sub(start) as f64 / 1000.0)
    }
}

/// One failed attempt of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    /// Attempt number.
    pub attempt: u32,
    /// Error class.
    pub kind: ErrorKind,
    /// Message.
    pub message: String,
}
