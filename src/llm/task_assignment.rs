//! The structured message that assigns a task to an agent: the payload of
//! the bus message `kind = "task"` on `agent.<id>`, the `message_type` and
//! `payload` fields of a command agent's stdin object, and
//! `AgentTask::assignment` for agents written in Rust.
//!
//! ```json
//! {"message_type": "task_assignment",
//!  "payload": {"task_id": "fan[3]/collect", "description": "<the prompt>",
//!              "context": {"node": "collect", "agent": "writer", "attempt": 1, "visit": 3},
//!              "constraints": {"time_limit_ms": 300000, "priority": 3}}}
//! ```

use serde::{Deserialize, Serialize};

use crate::event::Id;

/// What a message is; only task assignments so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// A task handed to an agent.
    #[default]
    TaskAssignment,
}

/// A task handed to an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskAssignment {
    /// Always `task_assignment`.
    pub message_type: MessageType,
    /// The task.
    pub payload: AssignmentPayload,
}

/// The task of a [`TaskAssignment`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssignmentPayload {
    /// Task id (a stable path such as `fan[3]/collect`).
    pub task_id: Id,
    /// What to do: the rendered prompt. Agents receive it whole; the
    /// recorded bus message keeps its first [`RECORDED_DESCRIPTION`] bytes.
    pub description: String,
    /// Where the task comes from.
    pub context: AssignmentContext,
    /// Limits the agent works under.
    pub constraints: Constraints,
}

/// Where a task comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssignmentContext {
    /// The node the task belongs to.
    pub node: Id,
    /// The agent assigned.
    pub agent: Id,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Visit of the node: loop iteration, revision or item index, from 0.
    pub visit: u32,
}

/// Limits a task is worked under.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Time this attempt has, in milliseconds: the call's time limit or
    /// what is left of the task's, whichever ends first (`None`: no limit).
    pub time_limit_ms: Option<u64>,
    /// The task's priority, 1 most urgent … 5.
    pub priority: u8,
}

/// Longest description the recorded bus message keeps, in bytes: prompts
/// can be long and every call publishes one.
pub const RECORDED_DESCRIPTION: usize = 4096;

impl TaskAssignment {
    /// The assignment of `task_id` to `agent` with this prompt.
    pub fn new(task_id: Id, description: String, context: AssignmentContext) -> Self {
        TaskAssignment {
            message_type: MessageType::TaskAssignment,
            payload: AssignmentPayload {
                task_id,
                description,
                context,
                constraints: Constraints {
                    time_limit_ms: None,
                    priority: 3,
                },
            },
        }
    }

    /// The form recorded on the bus: the description cut to
    /// [`RECORDED_DESCRIPTION`] bytes (with `…`), the rest as it is.
    pub fn recorded(&self) -> serde_json::Value {
        let text = &self.payload.description;
        let end = crate::text::floor_char_boundary(text, RECORDED_DESCRIPTION);
        let description = if end == text.len() {
            text.clone()
        } else {
            format!("{}…", &text[..end])
        };
        serde_json::json!({
            "message_type": self.message_type,
            "payload": {
                "task_id": &*self.payload.task_id,
                "description": description,
                "context": self.payload.context,
                "constraints": self.payload.constraints,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_form_has_the_guide_shape_and_a_bounded_description() {
        let mut a = TaskAssignment::new(
            "t1".into(),
            "é".repeat(RECORDED_DESCRIPTION),
            AssignmentContext {
                node: "n".into(),
                agent: "w".into(),
                attempt: 1,
                visit: 0,
            },
        );
        a.payload.constraints.time_limit_ms = Some(500);
        let v = a.recorded();
        assert_eq!(v["message_type"], "task_assignment");
        assert_eq!(v["payload"]["task_id"], "t1");
        assert_eq!(v["payload"]["constraints"]["time_limit_ms"], 500);
        assert_eq!(v["payload"]["constraints"]["priority"], 3);
        assert_eq!(v["payload"]["context"]["node"], "n");
        let d = v["payload"]["description"].as_str().unwrap();
        assert!(d.len() <= RECORDED_DESCRIPTION + '…'.len_utf8() && d.ends_with('…'));
        // The full form round-trips through JSON (a command agent's stdin).
        let full: TaskAssignment =
            serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(full, a);
        let short = TaskAssignment::new("t".into(), "hi".into(), AssignmentContext::default());
        assert_eq!(short.recorded()["payload"]["description"], "hi");
    }
}
