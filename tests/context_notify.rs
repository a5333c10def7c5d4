//! Context-change notifications: a `context_put` with `notify = true`
//! publishes the new value on the bus (topic `context.<key>`), and an `on`
//! node subscribed to it reacts; without `notify` nothing is published.

mod common;

use agentctl::event::{EventKind, RunStatus};
use common::*;
use serde_json::json;

fn workflow(notify: bool) -> String {
    format!(
        r#"
[workflow]
name = "notify"
input = "x"

[[agents]]
id = "scout"
tools = ["context_put"]
sim = {{ template = "scouted", latency_ms = 20, tool_calls = [
  {{ tool = "context_put", arguments = {{ key = "finding", value = {{ severity = "high" }}, notify = {notify} }} }},
] }}

[[agents]]
id = "responder"
sim = {{ template = "responding to {{{{input}}}}", latency_ms = 5 }}

[[nodes]]
id = "main"
kind = "parallel"
branches = ["watch", "scout"]

[[nodes]]
id = "watch"
kind = "on"
topic = "context.*"
idle_timeout_ms = 2000
body = "respond"

[[nodes]]
id = "respond"
kind = "agent"
agent = "responder"
prompt = "new finding: {{{{message.key}}}} is {{{{message.value.severity}}}}"

[[nodes]]
id = "scout"
kind = "agent"
agent = "scout"
"#
    )
}

#[tokio::test(start_paused = true)]
async fn a_notifying_put_is_published_and_an_on_node_reacts() {
    let (out, events) = run(wf(&workflow(true))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let msg = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Bus { message } if &*message.topic == "context.finding" => {
                Some(message.clone())
            }
            _ => None,
        })
        .expect("the put was published");
    assert_eq!(&*msg.from, "scout");
    assert_eq!(msg.kind, "context");
    assert_eq!(
        msg.payload,
        json!({"key": "finding", "value": {"severity": "high"}})
    );
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::TriggerFired { node, topic, .. } if &**node == "watch" && topic == "context.finding")));
    let reply = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TaskCompleted { task, output, .. } if task.starts_with("watch@1") => {
                output.as_str().map(str::to_string)
            }
            _ => None,
        })
        .expect("the responder answered");
    assert!(reply.contains("new finding: finding is high"), "{reply}");
    // The tool told the model it was announced.
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::ToolResult { output, .. } if output.contains("announced on context.finding"))));
}

#[tokio::test(start_paused = true)]
async fn without_notify_nothing_is_published() {
    let (out, events) = run(wf(&workflow(false))).await;
    // The `on` node waits in vain and times out.
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        count(
            &events,
            |k| matches!(k, EventKind::Bus { message } if message.topic.starts_with("context."))
        ),
        0
    );
}
