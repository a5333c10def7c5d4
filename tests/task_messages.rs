//! The bus message that assigns a task carries the structured
//! `task_assignment` payload (the prompt as one field, the task's context
//! and constraints) at the task's priority, and a node's `emit` goes out at
//! the node's priority: checked in a real run's recorded events.

mod common;

use agentctl::event::{EventKind, RunStatus};
use common::*;

const FLOW: &str = r#"
[workflow]
name = "assign"
input = "the launch"

[[agents]]
id = "writer"
sim = { template = "notes on {{input}}" }

[[nodes]]
id = "main"
kind = "sequence"
steps = ["urgent", "later"]

[[nodes]]
id = "urgent"
kind = "agent"
agent = "writer"
priority = 1
prompt = "Summarise {{input}}."
emit = "notes.urgent"
timeout_ms = 9000

[[nodes]]
id = "later"
kind = "agent"
agent = "writer"
prompt = "Then file {{input}}."
"#;

#[tokio::test(start_paused = true)]
async fn the_task_message_is_a_structured_assignment_at_the_tasks_priority() {
    let (out, events) = run(wf(FLOW)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let bus: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Bus { message } => Some(message),
            _ => None,
        })
        .collect();
    let task_msg = |task: &str| {
        bus.iter()
            .find(|m| m.kind == "task" && m.correlation.as_deref() == Some(task))
            .unwrap_or_else(|| panic!("no task message for {task}: {bus:?}"))
    };
    let urgent = task_msg("urgent");
    assert_eq!(urgent.priority, 1, "{urgent:?}");
    assert_eq!(urgent.to.as_deref(), Some("writer"));
    let p = &urgent.payload;
    assert_eq!(p["message_type"], "task_assignment", "{p}");
    assert_eq!(p["payload"]["task_id"], "urgent", "{p}");
    assert_eq!(p["payload"]["description"], "Summarise the launch.", "{p}");
    assert_eq!(p["payload"]["context"]["agent"], "writer", "{p}");
    assert_eq!(p["payload"]["constraints"]["priority"], 1, "{p}");
    assert!(
        p["payload"]["constraints"]["time_limit_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0 && ms <= 9000),
        "{p}"
    );
    // The default priority, and no limit where none is set.
    let later = task_msg("later");
    assert_eq!(later.priority, 3);
    assert_eq!(later.payload["payload"]["constraints"]["priority"], 3);
    // The node's emit goes out at the node's priority.
    let emitted = bus
        .iter()
        .find(|m| &*m.topic == "notes.urgent")
        .expect("the emitted message");
    assert_eq!(emitted.priority, 1, "{emitted:?}");
}
