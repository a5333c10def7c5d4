//! Every node kind, composed, on the sim provider under a paused tokio clock
//! (simulated latencies cost no real time, and elapsed times are exact).

mod common;

use agentctl::event::{ErrorKind, EventKind, RunStatus, TaskState};
use common::*;
use serde_json::{Value, json};
use tokio::time::Instant;

const AGENTS: &str = r#"
[[agents]]
id = "a"
sim = { template = "A({{input}})", latency_ms = 100 }
[[agents]]
id = "b"
sim = { template = "B({{input}})", latency_ms = 50 }
[[agents]]
id = "slow"
sim = { template = "S({{input}})", latency_ms = 400 }
"#;

fn with_agents(nodes: &str) -> String {
    format!("[workflow]\nname = \"t\"\ninput = \"x\"\n{AGENTS}\n{nodes}")
}

#[tokio::test(start_paused = true)]
async fn a_sequence_feeds_each_step_the_previous_output_in_order() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "main"
kind = "sequence"
steps = ["one", "two", "three"]
[[nodes]]
id = "one"
kind = "agent"
agent = "a"
[[nodes]]
id = "two"
kind = "agent"
agent = "b"
[[nodes]]
id = "three"
kind = "agent"
agent = "a"
"#,
    ));
    let t0 = Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.output, Some(json!("A(B(A(x)))")));
    assert_eq!(completed_tasks(&events), ["one", "two", "three"]);
    // Steps do not overlap: 100 + 50 + 100 ms.
    assert_eq!(t0.elapsed().as_millis(), 250);
    assert_eq!(out.tasks_completed, 3);
    assert!(out.usage.total() > 0);
    // seq is strictly increasing from 1.
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert_eq!(events[0].seq, 1);
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_really_overlap_and_join_all_keeps_branch_order() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "fan"
kind = "parallel"
branches = ["p1", "p2", "p3"]
[[nodes]]
id = "p1"
kind = "agent"
agent = "a"
[[nodes]]
id = "p2"
kind = "agent"
agent = "b"
[[nodes]]
id = "p3"
kind = "agent"
agent = "slow"
"#,
    ));
    let t0 = Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(t0.elapsed().as_millis(), 400, "branches must run at once");
    assert_eq!(out.output, Some(json!(["A(x)", "B(x)", "S(x)"])));
    assert_eq!(
        completed_tasks(&events),
        ["p2", "p1", "p3"],
        "completion order follows latency"
    );
}

#[tokio::test(start_paused = true)]
async fn join_any_takes_the_first_success_and_cancels_the_rest() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "fan"
kind = "parallel"
join = "any"
branches = ["p1", "p2", "p3"]
[[nodes]]
id = "p1"
kind = "agent"
agent = "a"
[[nodes]]
id = "p2"
kind = "agent"
agent = "b"
[[nodes]]
id = "p3"
kind = "agent"
agent = "slow"
"#,
    ));
    let t0 = Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.output, Some(json!("B(x)")));
    assert_eq!(t0.elapsed().as_millis(), 50);
    let cancelled = count(&events, |k| {
        matches!(
            k,
            EventKind::TaskStateChanged {
                to: TaskState::Cancelled,
                ..
            }
        )
    });
    assert_eq!(cancelled, 2);
}

#[tokio::test(start_paused = true)]
async fn k_of_n_join_returns_k_results_in_branch_order() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "fan"
kind = "parallel"
join = "k_of_n"
k = 2
branches = ["p3", "p1", "p2"]
[[nodes]]
id = "p1"
kind = "agent"
agent = "a"
[[nodes]]
id = "p2"
kind = "agent"
agent = "b"
[[nodes]]
id = "p3"
kind = "agent"
agent = "slow"
"#,
    ));
    let t0 = Instant::now();
    let (out, _) = run(w).await;
    assert_eq!(out.output, Some(json!(["A(x)", "B(x)"])));
    assert_eq!(t0.elapsed().as_millis(), 100);
}

#[tokio::test(start_paused = true)]
async fn a_branch_over_its_timeout_fails_the_join() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "fan"
kind = "parallel"
branch_timeout_ms = 200
branches = ["p1", "p3"]
[[nodes]]
id = "p1"
kind = "agent"
agent = "a"
[[nodes]]
id = "p3"
kind = "agent"
agent = "slow"
"#,
    ));
    let t0 = Instant::now();
    let (out, _) = run(w).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.error
            .as_deref()
            .unwrap_or("")
            .contains("200 ms branch timeout"),
        "{:?}",
        out.error
    );
    assert_eq!(t0.elapsed().as_millis(), 200);
}

#[tokio::test(start_paused = true)]
async fn map_respects_its_concurrency_limit_and_gathers_in_item_order() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "m"
kind = "map"
items = ["i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"]
concurrency = 3
body = "work"
aggregate = "agg"
[[nodes]]
id = "work"
kind = "agent"
agent = "a"
prompt = "{{index}}:{{item}}"
[[nodes]]
id = "agg"
kind = "agent"
agent = "b"
prompt = "{{input}}"
"#,
    ));
    let t0 = Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    // 10 items, 3 at a time, 100 ms each = 4 waves; then the 50 ms aggregate.
    assert_eq!(t0.elapsed().as_millis(), 450);
    let expected: Vec<String> = (0..10).map(|i| format!("A({i}:i{i})")).collect();
    assert_eq!(
        out.output,
        Some(json!(format!(
            "B({})",
            serde_json::to_string(&expected).unwrap()
        )))
    );
    assert!(completed_tasks(&events).contains(&"m[9]/work".to_string()));
    let mut progress = events.iter().filter_map(|e| match &e.kind {
        EventKind::NodeStateChanged {
            node,
            progress: Some(p),
            ..
        } if &**node == "m" => Some(*p),
        _ => None,
    });
    assert_eq!(progress.next_back(), Some([10, 10]));
}

#[tokio::test(start_paused = true)]
async fn map_batches_finish_before_the_next_batch_starts() {
    let w = wf(&with_agents(
        r#"
[[nodes]]
id = "m"
kind = "map"
count = 6
batch_size = 2
body = "work"
[[nodes]]
id = "work"
kind = "agent"
agent = "b"
"#,
    ));
    let t0 = Instant::now();
    let (out, _) = run(w).await;
    assert_eq!(
        out.output.as_ref().and_then(Value::as_array).map(Vec::len),
        Some(6)
    );
    assert_eq!(t0.elapsed().as_millis(), 150, "3 batches of 2 at 50 ms");
}

#[tokio::test(start_paused = true)]
async fn a_map_inside_a_sequence_feeds_a_plan() {
    let w = wf(r#"
[workflow]
name = "composed"
input = "topic"
[[agents]]
id = "lister"
sim = { replies = [{ items = ["alpha", "beta", "gamma"] }] }
[[agents]]
id = "worker"
sim = { template = "done {{input}}" }
[[agents]]
id = "planner"
role = "planner"
sim = { plan_size = 2 }
[[agents]]
id = "exec"
capabilities = ["code"]
sim = { template = "exec {{input}}" }
[[nodes]]
id = "main"
kind = "sequence"
steps = ["list", "each", "build"]
[[nodes]]
id = "list"
kind = "agent"
agent = "lister"
[[nodes]]
id = "each"
kind = "map"
over = "input.items"
body = "work"
[[nodes]]
id = "work"
kind = "agent"
agent = "worker"
prompt = "{{item}}"
[[nodes]]
id = "build"
kind = "plan"
planner = "planner"
"#);
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let done = completed_tasks(&events);
    for t in [
        "list",
        "each[0]/work",
        "each[1]/work",
        "each[2]/work",
        "build",
        "build/1",
        "build/2",
    ] {
        assert!(done.contains(&t.to_string()), "{t} not completed: {done:?}");
    }
    // The planner saw the gathered map output.
    let created = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskCreated { task, input, .. } if &**task == "build" => Some(input.clone()),
        _ => None,
    });
    assert_eq!(
        created,
        Some(json!(["done alpha", "done beta", "done gamma"]))
    );
    let results = out
        .output
        .as_ref()
        .and_then(|o| o.get("results"))
        .and_then(Value::as_array)
        .map(Vec::len);
    assert_eq!(results, Some(2));
}

const PLAN: &str = r#"
[workflow]
name = "plan"
input = "build it"
[[agents]]
id = "planner"
role = "planner"
sim = { replies = [{ subtasks = [
  { title = "api", capability = "code" },
  { title = "ui", capability = "code" },
  { title = "tests", capability = "test" },
] }] }
[[agents]]
id = "coder-1"
capabilities = ["code"]
concurrency = 1
sim = { template = "c1 {{visit}}", latency_ms = 10 }
[[agents]]
id = "coder-2"
capabilities = ["code"]
concurrency = 1
sim = { template = "c2 {{visit}}", latency_ms = 10 }
[[agents]]
id = "tester"
capabilities = ["test"]
sim = { template = "t {{visit}}", latency_ms = 10 }
[[agents]]
id = "reviewer"
role = "reviewer"
sim = { reject_first = REJECT }
[[nodes]]
id = "work"
kind = "plan"
planner = "planner"
reviewer = "reviewer"
max_revisions = MAXREV
"#;

#[tokio::test(start_paused = true)]
async fn plan_dispatches_by_capability_to_the_least_loaded_executor_and_revises_once() {
    let w = wf(&PLAN.replace("REJECT", "1").replace("MAXREV", "2"));
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // The two code subtasks went to different coders.
    let assigned: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskAssigned {
                task,
                agent,
                attempt: 1,
            } => Some((task.to_string(), agent.to_string())),
            _ => None,
        })
        .collect();
    assert!(
        assigned.contains(&("work/1".into(), "coder-1".into())),
        "{assigned:?}"
    );
    assert!(
        assigned.contains(&("work/2".into(), "coder-2".into())),
        "{assigned:?}"
    );
    assert!(
        assigned.contains(&("work/3".into(), "tester".into())),
        "{assigned:?}"
    );
    let verdicts: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ReviewVerdict { approved, .. } => Some(*approved),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, [false, true]);
    // Subtasks went REVIEW → REVISION → IN_PROGRESS → REVIEW → COMPLETED.
    let states: Vec<TaskState> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskStateChanged { task, to, .. } if &**task == "work/3" => Some(*to),
            EventKind::TaskCompleted { task, .. } if &**task == "work/3" => {
                Some(TaskState::Completed)
            }
            _ => None,
        })
        .collect();
    use TaskState::*;
    assert_eq!(
        states,
        [InProgress, Review, Revision, InProgress, Review, Completed]
    );
    // The revision saw visit 1 (the sim template shows it).
    assert_eq!(
        out.output
            .as_ref()
            .and_then(|o| o["results"][2]["output"].as_str()),
        Some("t 1")
    );
    assert_eq!(
        out.output.as_ref().and_then(|o| o["revisions"].as_u64()),
        Some(1)
    );
    assert_eq!(
        count(
            &events,
            |k| matches!(k, EventKind::TaskCompleted { task, .. } if &**task == "work/3")
        ),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn plan_fails_clearly_at_the_revision_limit() {
    let w = wf(&PLAN.replace("REJECT", "5").replace("MAXREV", "1"));
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.error
            .as_deref()
            .unwrap_or("")
            .contains("revision limit"),
        "{:?}",
        out.error
    );
    assert_eq!(
        count(&events, |k| matches!(
            k,
            EventKind::ReviewVerdict {
                approved: false,
                ..
            }
        )),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_plan_is_repaired_and_a_hopeless_one_fails_clearly() {
    let good = r#"
[workflow]
name = "repair"
input = "x"
[[agents]]
id = "planner"
role = "planner"
sim = { malformed_first = 1 }
[[agents]]
id = "exec"
capabilities = ["code"]
[[nodes]]
id = "p"
kind = "plan"
planner = "planner"
"#;
    let (out, events) = run(wf(good)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::OutputRepair { .. })),
        1
    );

    let hopeless = good.replace("malformed_first = 1", "malformed_rate = 1.0");
    let (out, events) = run(wf(&hopeless)).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::OutputRepair { .. })),
        2
    );
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::TaskFailed {
            kind: ErrorKind::Malformed,
            ..
        }
    )));
    assert!(
        out.error
            .as_deref()
            .unwrap_or("")
            .contains("2 repair prompt(s)"),
        "{:?}",
        out.error
    );
}

#[tokio::test(start_paused = true)]
async fn routers_follow_expressions_labels_and_defaults() {
    let (out, events) = run(builtin("router")).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert!(
        out.output
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .starts_with("Refund issued")
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::RouteChosen { to, .. } if &**to == "billing"))
    );

    let mut urgent = (*builtin("router")).clone();
    urgent.input = json!({"text": "site down", "priority": "urgent"});
    let (out, _) = run(std::sync::Arc::new(urgent)).await;
    assert!(
        out.output
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .starts_with("Paged on-call")
    );

    let src = agentctl::workflow::builtins::get("router")
        .unwrap()
        .text
        .replace("label = \"billing\", latency", "label = \"legal\", latency");
    let (out, events) = run(wf(&src)).await;
    assert!(
        out.output
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .starts_with("Answered from the FAQ")
    );
    assert!(
        events.iter().any(
            |e| matches!(&e.kind, EventKind::RouteChosen { reason, .. } if reason == "default")
        )
    );
}

#[tokio::test(start_paused = true)]
async fn the_state_machine_loops_back_until_confident_then_ends() {
    let (out, events) = run(builtin("state_machine")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let path: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LoopTransition { to, .. } => Some(to.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        path,
        [
            "analyse", "research", "analyse", "research", "analyse", "write", "$end"
        ]
    );
    assert!(
        out.output
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .contains("the EU price change caused most")
    );
    assert!(completed_tasks(&events).contains(&"investigate#6/analyse".to_string()));
}

#[tokio::test(start_paused = true)]
async fn loop_bounds_fail_or_end_as_configured() {
    let text = r#"
[workflow]
name = "spin"
[[agents]]
id = "a"
[[nodes]]
id = "l"
kind = "loop"
states = ["s"]
max_iterations = 4
ON_MAX
transitions = [{ from = "s", to = "s" }]
[[nodes]]
id = "s"
kind = "agent"
agent = "a"
"#;
    let (out, events) = run(wf(&text.replace("ON_MAX", ""))).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.error
            .as_deref()
            .unwrap_or("")
            .contains("max_iterations = 4")
    );
    assert_eq!(completed_tasks(&events).len(), 4);
    let (out, events) = run(wf(&text.replace("ON_MAX", "on_max_iterations = \"end\""))).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(completed_tasks(&events).len(), 4);
}

#[tokio::test(start_paused = true)]
async fn an_on_node_reacts_to_a_message_another_node_emits() {
    let (out, events) = run(builtin("event_driven")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::TriggerFired { topic, .. } if topic == "alerts.disk")
    ));
    let handled = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskCompleted { task, output, .. } if task.ends_with("handle") => {
            Some(output.clone())
        }
        _ => None,
    });
    assert_eq!(
        handled,
        Some(json!(
            "Runbook started for: Alert (high) on db-3: disk 93% full. What do you do first?"
        ))
    );
}

#[tokio::test(start_paused = true)]
async fn timers_fire_on_schedule_and_idle_triggers_time_out() {
    let text = r#"
[workflow]
name = "tick"
[[agents]]
id = "a"
sim = { template = "tick {{input}}" }
[[nodes]]
id = "t"
kind = "on"
every_ms = 250
max_events = 3
body = "s"
[[nodes]]
id = "s"
kind = "agent"
agent = "a"
prompt = "{{message.tick}}"
"#;
    let t0 = Instant::now();
    let (out, _) = run(wf(text)).await;
    assert_eq!(out.output, Some(json!(["tick 1", "tick 2", "tick 3"])));
    assert_eq!(t0.elapsed().as_millis(), 750);

    let idle = text.replace(
        "every_ms = 250",
        "topic = \"never\"\nidle_timeout_ms = 1000",
    );
    let t0 = Instant::now();
    let (out, _) = run(wf(&idle)).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.error.as_deref().unwrap_or("").contains("nothing fired"));
    assert_eq!(t0.elapsed().as_millis(), 1000);
}

#[tokio::test(start_paused = true)]
async fn an_agent_hands_its_task_to_a_capable_peer_within_the_hop_limit() {
    let text = r#"
[workflow]
name = "handoff"
input = "what is 2+2?"
max_handoffs = HOPS
[[agents]]
id = "generalist"
sim = { replies = [{ handoff = { capability = "math", reason = "needs arithmetic" } }] }
[[agents]]
id = "mathematician"
capabilities = ["math"]
sim = { replies = ["4"] }
[[nodes]]
id = "ask"
kind = "agent"
agent = "generalist"
"#;
    let (out, events) = run(wf(&text.replace("HOPS", "3"))).await;
    assert_eq!(out.output, Some(json!("4")));
    let hop = events.iter().find_map(|e| match &e.kind {
        EventKind::TaskHandoff {
            from_agent,
            to_agent,
            reason,
            hop,
            ..
        } => Some((
            from_agent.to_string(),
            to_agent.to_string(),
            reason.clone(),
            *hop,
        )),
        _ => None,
    });
    assert_eq!(
        hop,
        Some((
            "generalist".into(),
            "mathematician".into(),
            "needs arithmetic".into(),
            1
        ))
    );
    let (out, _) = run(wf(&text.replace("HOPS", "0"))).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(out.error.as_deref().unwrap_or("").contains("max_handoffs"));
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_run() {
    let strip = |events: Vec<agentctl::event::Event>| -> Vec<String> {
        events
            .into_iter()
            .filter(|e| {
                !matches!(
                    e.kind,
                    EventKind::SessionEnded { .. }
                        | EventKind::LlmResponse { .. }
                        | EventKind::TaskCompleted { .. }
                )
            })
            .map(|e| {
                let mut v = serde_json::to_value(&e.kind).unwrap();
                // Bus messages carry their own wall-clock stamp.
                if let Some(m) = v.get_mut("message").and_then(|m| m.as_object_mut()) {
                    m.remove("ts");
                }
                v.to_string()
            })
            .collect()
    };
    let opts = || agentctl::engine::RunOptions {
        seed: 42,
        session_id: Some("s".into()),
        ..Default::default()
    };
    let (o1, e1) = run_with(builtin("hierarchical"), opts()).await;
    let (o2, e2) = run_with(builtin("hierarchical"), opts()).await;
    assert_eq!(o1.output, o2.output);
    assert_eq!(o1.usage, o2.usage);
    assert_eq!(strip(e1), strip(e2));
}

const SETTLED_AGENTS: &str = r#"
[[agents]]
id = "broken"
sim = { fail_first = 1000, latency_ms = 20 }
"#;

#[tokio::test(start_paused = true)]
async fn an_all_settled_join_keeps_every_branch_in_order_and_cancels_none() {
    let nodes = r#"
[[nodes]]
id = "fan"
kind = "parallel"
join = "all_settled"
min_success = 2
branches = ["p1", "p2", "p3"]
[[nodes]]
id = "p1"
kind = "agent"
agent = "slow"
[[nodes]]
id = "p2"
kind = "agent"
agent = "broken"
[[nodes]]
id = "p3"
kind = "agent"
agent = "b"
"#;
    let w = wf(&format!("{}{SETTLED_AGENTS}{nodes}", with_agents("")));
    let t0 = Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let entries = out.output.expect("an output").as_array().cloned().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0], json!({"ok": true, "output": "S(x)"}));
    assert_eq!(entries[1]["ok"], json!(false));
    assert!(
        entries[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("injected server error")),
        "{entries:?}"
    );
    assert_eq!(entries[2], json!({"ok": true, "output": "B(x)"}));
    // The slow branch ran to its end: nothing was cancelled.
    assert_eq!(t0.elapsed().as_millis(), 400);
    let cancelled = count(&events, |k| {
        matches!(
            k,
            EventKind::TaskStateChanged {
                to: TaskState::Cancelled,
                ..
            }
        )
    });
    assert_eq!(cancelled, 0);
}

#[tokio::test(start_paused = true)]
async fn fewer_successes_than_min_success_fail_a_settled_join() {
    let nodes = r#"
[[nodes]]
id = "fan"
kind = "parallel"
join = "all_settled"
min_success = 2
branches = ["p1", "p2"]
[[nodes]]
id = "p1"
kind = "agent"
agent = "a"
[[nodes]]
id = "p2"
kind = "agent"
agent = "broken"
"#;
    let (out, _) = run(wf(&format!("{}{SETTLED_AGENTS}{nodes}", with_agents("")))).await;
    assert_eq!(out.status, RunStatus::Failed);
    let error = out.error.unwrap_or_default();
    assert!(
        error.contains("fan: only 1 of 2 branches succeeded, below min_success = 2"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_settled_map_keeps_each_items_result_or_error() {
    let nodes = r#"
[[nodes]]
id = "each"
kind = "map"
items = ["one", "two", "three"]
body = "pick"
concurrency = 1
join = "all_settled"
[[nodes]]
id = "pick"
kind = "router"
routes = [{ when = "input == 'two'", to = "fails" }]
default = "works"
[[nodes]]
id = "works"
kind = "agent"
agent = "a"
[[nodes]]
id = "fails"
kind = "agent"
agent = "broken"
"#;
    let (out, _) = run(wf(&format!("{}{SETTLED_AGENTS}{nodes}", with_agents("")))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let entries = out.output.expect("an output");
    assert_eq!(entries[0], json!({"ok": true, "output": "A(one)"}));
    assert_eq!(entries[1]["ok"], json!(false));
    assert_eq!(entries[2], json!({"ok": true, "output": "A(three)"}));
}

const HANDLED: &str = r#"
[[nodes]]
id = "main"
kind = "sequence"
steps = ["first", "second", "third"]
on_error = "recover"
[[nodes]]
id = "first"
kind = "agent"
agent = "a"
[[nodes]]
id = "second"
kind = "agent"
agent = "broken"
[[nodes]]
id = "third"
kind = "agent"
agent = "b"
[[nodes]]
id = "recover"
kind = "agent"
agent = "fixer"
prompt = "{{input.node}} failed: {{input.error}}. Done so far: {{input.partial.first}}"
"#;

#[tokio::test(start_paused = true)]
async fn an_error_handler_gets_the_error_and_the_partial_results_and_answers_for_the_node() {
    let fixer = "[[agents]]\nid = \"fixer\"\nsim = { template = \"R[{{input}}]\" }\n";
    let w = wf(&format!(
        "{}{SETTLED_AGENTS}{fixer}{HANDLED}",
        with_agents("")
    ));
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let text = out
        .output
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    assert!(text.starts_with("R[main failed: "), "{text}");
    assert!(text.contains("injected server error"), "{text}");
    assert!(text.ends_with("Done so far: A(x)]"), "{text}");
    // The hand-over is an event, with what completed before the failure.
    let handed: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ErrorHandled {
                node,
                handler,
                partial,
                ..
            } => Some((node.to_string(), handler.to_string(), *partial)),
            _ => None,
        })
        .collect();
    assert_eq!(handed, vec![("main".into(), "recover".into(), 1)]);
    // `third` never ran: the sequence stopped at the failure.
    assert!(!completed_tasks(&events).iter().any(|t| t == "third"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_error_handler_fails_the_node_naming_both_errors() {
    let fixer = "[[agents]]\nid = \"fixer\"\nsim = { fail_first = 1000 }\n";
    let w = wf(&format!(
        "{}{SETTLED_AGENTS}{fixer}{HANDLED}",
        with_agents("")
    ));
    let (out, _) = run(w).await;
    assert_eq!(out.status, RunStatus::Failed);
    let e = out.error.unwrap_or_default();
    assert!(
        e.contains("main failed (") && e.contains("and its handler recover failed too"),
        "{e}"
    );
}
