//! The resilience gaps closed late in issue #3: `set_budget` per node,
//! endpoint circuit breakers, default time limits, deadlock detection and
//! batched `map` calls. Paused tokio clock throughout.

mod common;

use std::sync::Arc;
use std::time::Duration;

use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::{BreakerState, Command, EventKind, RunStatus};
use agentctl::llm::sim::SimProvider;
use common::*;

/// A node budget that runs out pauses the run; `set_budget` with `node`
/// raises that node's limit (and only that scope), and the run completes.
#[tokio::test(start_paused = true)]
async fn set_budget_raises_a_node_limit_and_resumes_the_run() {
    let w = wf(r#"
[workflow]
name = "nb"
[budget]
on_exhausted = "pause"
[[agents]]
id = "a"
max_tokens = 20
sim = { latency_ms = 10 }
[[nodes]]
id = "m"
kind = "map"
count = 6
body = "n"
concurrency = 1
[[nodes]]
id = "n"
kind = "agent"
agent = "a"
prompt = "item {{item}}"
budget = { tokens = 100 }
"#);
    let (h, mut rx) = start(w, RunOptions::default());
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::BudgetExhausted { scope, policy, .. } if scope == "node:n" && policy == "pause")
    })
    .await;
    wait_for(&mut rx, &mut seen, |k| matches!(k, EventKind::RunPaused)).await;
    // Unknown node, and agent + node together, are rejected.
    h.send(Command::SetBudget {
        agent: None,
        node: Some("nope".into()),
        tokens: Some(1),
        usd: None,
    });
    let e = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    assert!(format!("{e:?}").contains("no node `nope`"), "{e:?}");
    h.send(Command::SetBudget {
        agent: Some("a".into()),
        node: Some("n".into()),
        tokens: Some(1),
        usd: None,
    });
    let e = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    assert!(format!("{e:?}").contains("not both"), "{e:?}");
    tokio::time::sleep(Duration::from_secs(60)).await;
    h.send(Command::SetBudget {
        agent: None,
        node: Some("n".into()),
        tokens: Some(100_000),
        usd: None,
    });
    let out = h.wait().await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let updated = seen.iter().find_map(|e| match &e.kind {
        EventKind::BudgetUpdated {
            scope,
            limit_tokens: Some(100_000),
            ..
        } => Some(scope.clone()),
        _ => None,
    });
    assert_eq!(updated.as_deref(), Some("node:n"));
    assert!(count(&seen, |k| matches!(k, EventKind::RunResumed)) >= 1);
    // The node's spending is the run's (it is the only node calling).
    let last_node = seen.iter().rev().find_map(|e| match &e.kind {
        EventKind::BudgetUpdated {
            scope, used_tokens, ..
        } if scope == "node:n" => Some(*used_tokens),
        _ => None,
    });
    assert_eq!(last_node, Some(out.usage.total()));
}

fn breaker_changes(
    events: &[agentctl::event::Event],
    scope: &str,
) -> Vec<(BreakerState, BreakerState)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BreakerStateChanged {
                scope: s, from, to, ..
            } if &**s == scope => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

/// Two agents share the `sim` endpoint. Failures of one open the endpoint's
/// breaker, so the other fails fast (no call) to its fallback on another
/// provider; after the cool-down a probe by the healthy agent closes it.
#[tokio::test(start_paused = true)]
async fn an_open_endpoint_breaker_fails_every_agent_on_it_fast_to_its_fallback() {
    let sim2 =
        agentctl::workflow::provider_catalog::ProviderCatalog::builtin().with("sim2", "sim-1");
    let w = wf_with(
        r#"
[workflow]
name = "endpoint"
[breakers.sim]
failures = 2
window_ms = 10000
open_ms = 1000
[[agents]]
id = "flaky"
fallbacks = ["other"]
sim = { error_rate = 1.0, latency_ms = 10 }
[[agents]]
id = "healthy"
fallbacks = ["other"]
sim = { template = "healthy answered", latency_ms = 10 }
[[agents]]
id = "other"
provider = "sim2"
sim = { template = "other answered", latency_ms = 100 }
[[agents]]
id = "slow"
provider = "sim2"
sim = { latency_ms = 1500 }
[[nodes]]
id = "main"
kind = "sequence"
steps = ["s1", "s2", "s3", "s4", "s5"]
[[nodes]]
id = "s1"
kind = "agent"
agent = "flaky"
[[nodes]]
id = "s2"
kind = "agent"
agent = "flaky"
[[nodes]]
id = "s3"
kind = "agent"
agent = "healthy"
[[nodes]]
id = "s4"
kind = "agent"
agent = "slow"
[[nodes]]
id = "s5"
kind = "agent"
agent = "healthy"
"#,
        &sim2,
    );
    let mut o = Orchestrator::new(w.clone(), RunOptions::default())
        // The workflow has no input: null on purpose.
        .input(serde_json::Value::Null);
    let scripts = w
        .agents
        .iter()
        .map(|a| (a.id.to_string(), a.sim.clone()))
        .collect();
    o = o.with_provider("sim2", Arc::new(SimProvider::new(0, scripts)));
    let sim = o.sim();
    let mut rx = o.subscribe();
    let out = o.start().expect("start").wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    use BreakerState::*;
    assert_eq!(
        breaker_changes(&events, "provider:sim"),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
    // s3: the healthy agent was never called while the endpoint was open;
    // its fallback answered, and the fallback names the endpoint.
    let s3 = events.iter().find_map(|e| match &e.kind {
        EventKind::FallbackUsed {
            task,
            from_agent,
            to_agent,
            reason,
            ..
        } if &**task == "s3" => {
            Some((from_agent.to_string(), to_agent.to_string(), reason.clone()))
        }
        _ => None,
    });
    let (from, to, reason) = s3.expect("s3 fell back");
    assert_eq!((from.as_str(), to.as_str()), ("healthy", "other"));
    assert!(reason.contains("provider:sim"), "{reason}");
    // The healthy agent's only call is s5's probe, which closed the breaker.
    assert_eq!(sim.calls_for("healthy"), 1);
    assert_eq!(sim.calls_for("flaky"), 2);
    let answered: Vec<(String, Option<String>)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskCompleted { task, agent, .. } => {
                Some((task.to_string(), agent.as_ref().map(|a| a.to_string())))
            }
            _ => None,
        })
        .collect();
    assert!(
        answered.contains(&("s5".into(), Some("healthy".into()))),
        "{answered:?}"
    );
    let m = out.metrics.expect("metrics");
    assert_eq!(m.endpoints.len(), 1);
    assert_eq!(&*m.endpoints[0].endpoint, "provider:sim");
    assert_eq!(m.endpoints[0].openings, 1);
    assert_eq!(m.endpoints[0].state, Closed);
    // The run's breaker openings stay the agents' own (none here).
    assert_eq!(m.run.breaker_openings, 0);
}

/// A call that never answers is cut by the built-in 300 s limit even when
/// the workflow sets no time limit at all.
#[tokio::test(start_paused = true)]
async fn a_hanging_agent_is_cut_by_the_built_in_call_limit() {
    struct Hangs;
    impl Agent for Hangs {
        async fn process(&self, _: AgentTask, _: AgentContext) -> Result<AgentOutput, AgentError> {
            std::future::pending().await
        }
    }
    let w = wf(r#"
[workflow]
name = "hang"
[[agents]]
id = "h"
kind = "custom"
[[nodes]]
id = "n"
kind = "agent"
agent = "h"
"#);
    let mut o = Orchestrator::new(w, RunOptions::default())
        // The workflow has no input: null on purpose.
        .input(serde_json::Value::Null);
    o.register("h", Hangs);
    let start = tokio::time::Instant::now();
    let out = o.start().expect("start").wait().await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(err.contains("no reply within 300000 ms"), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(300));
}

/// An `on` node waits for a topic that only the step after it publishes:
/// nothing else runs, so after `deadlock_ms` the watchdog fails the wait
/// with a located error instead of letting it hang (or idle 30 s).
#[tokio::test(start_paused = true)]
async fn agents_waiting_on_each_other_are_a_located_deadlock() {
    let w = wf(r#"
[workflow]
name = "stuck"
[defaults]
deadlock_ms = 2000
[[agents]]
id = "a"
sim = { latency_ms = 50 }
[[nodes]]
id = "main"
kind = "sequence"
steps = ["prepare", "wait", "announce"]
[[nodes]]
id = "prepare"
kind = "agent"
agent = "a"
[[nodes]]
id = "wait"
kind = "on"
topic = "go.*"
body = "handle"
[[nodes]]
id = "handle"
kind = "agent"
agent = "a"
[[nodes]]
id = "announce"
kind = "agent"
agent = "a"
emit = "go.now"
"#);
    let start = tokio::time::Instant::now();
    let (out, events) = run(w).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(err.contains("wait: deadlock"), "{err}");
    assert!(err.contains("`go.*`"), "{err}");
    let waiting = events.iter().find_map(|e| match &e.kind {
        EventKind::DeadlockDetected { waiting, idle_ms } => Some((waiting.clone(), *idle_ms)),
        _ => None,
    });
    let (waiting, idle_ms) = waiting.expect("deadlock_detected");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["node"], "wait");
    assert!(idle_ms >= 2000.0, "{idle_ms}");
    // Found within the bound plus one check period, long before the
    // trigger's own 30 s idle timeout.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2050) && took <= Duration::from_millis(2600),
        "{took:?}"
    );
}

/// Waiting for a person is not a deadlock, and neither is a wait while
/// some task still runs: a gate open for an hour, then approved, and an
/// `on` node whose publisher takes 20 s, both complete.
#[tokio::test(start_paused = true)]
async fn people_and_slow_work_are_not_deadlocks() {
    let w = wf(r#"
[workflow]
name = "patient"
[defaults]
deadlock_ms = 1000
[[agents]]
id = "a"
sim = { latency_ms = 20000 }
[[agents]]
id = "b"
sim = { latency_ms = 10 }
[[nodes]]
id = "ship"
kind = "gate"
subject = "both"
[[nodes]]
id = "both"
kind = "parallel"
branches = ["listen", "slow"]
[[nodes]]
id = "listen"
kind = "on"
topic = "done"
body = "react"
[[nodes]]
id = "react"
kind = "agent"
agent = "b"
[[nodes]]
id = "slow"
kind = "agent"
agent = "a"
emit = "done"
"#);
    let (h, mut rx) = start(w, RunOptions::default());
    let mut seen = Vec::new();
    let opened = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::GateOpened { .. })
    })
    .await;
    let EventKind::GateOpened { gate, .. } = opened.kind else {
        unreachable!()
    };
    tokio::time::sleep(Duration::from_secs(3600)).await;
    h.send(Command::GateDecision {
        gate,
        approve: true,
        comment: None,
    });
    let out = h.wait().await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        count(&seen, |k| matches!(k, EventKind::DeadlockDetected { .. })),
        0
    );
}

const BATCH: &str = r#"
[workflow]
name = "batch"
[[agents]]
id = "w"
max_batch = 4
sim = { template = "did {{input}}", latency_ms = 30 MALFORMED }
[[nodes]]
id = "fan"
kind = "map"
count = 10
body = "work"
batch_size = 4
[[nodes]]
id = "work"
kind = "agent"
agent = "w"
prompt = "item {{item}}"
"#;

/// A `map` with `batch_size = 4` over a batch-capable agent makes one task
/// and one call per batch (4 + 4 + 2 items), splits each reply back per
/// item in order, and accounts per batch: totals stay exact.
#[tokio::test(start_paused = true)]
async fn a_map_hands_items_to_a_batch_capable_agent_in_one_call_per_batch() {
    let start = tokio::time::Instant::now();
    let (out, events) = run(wf(&BATCH.replace(" MALFORMED", ""))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let expected: Vec<serde_json::Value> =
        (0..10).map(|i| format!("did item {i}").into()).collect();
    assert_eq!(out.output, Some(serde_json::Value::Array(expected)));
    let batches: Vec<(String, u32, u32)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BatchDispatched {
                task, first, size, ..
            } => Some((task.to_string(), *first, *size)),
            _ => None,
        })
        .collect();
    assert_eq!(
        batches,
        [
            ("fan[0-3]/work".to_string(), 0, 4),
            ("fan[4-7]/work".to_string(), 4, 4),
            ("fan[8-9]/work".to_string(), 8, 2)
        ]
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::LlmRequest { .. })),
        3
    );
    // All batches ran side by side (no concurrency limit): one latency.
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    let m = out.metrics.expect("metrics");
    assert_eq!((m.run.batches, m.run.batch_items, m.run.calls), (3, 10, 3));
    assert_eq!(
        m.run.prompt_tokens + m.run.completion_tokens,
        out.usage.total()
    );
    let task_usage: u64 = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskCompleted { usage, .. } => Some(usage.total()),
            _ => None,
        })
        .sum();
    assert_eq!(task_usage, out.usage.total());
    // The same seed gives the same run.
    let (again, _) = run(wf(&BATCH.replace(" MALFORMED", ""))).await;
    assert_eq!(again.output, out.output);
    assert_eq!(again.usage, out.usage);
}

/// A batch reply that does not split (cut-off JSON) is malformed: it gets
/// a repair prompt naming the problem, and the repaired reply is split.
#[tokio::test(start_paused = true)]
async fn a_batch_reply_that_does_not_split_is_repaired() {
    let (out, events) = run(wf(&BATCH.replace(" MALFORMED", ", malformed_first = 1"))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let repairs: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OutputRepair { task, error, .. } => Some(format!("{task}: {error}")),
            _ => None,
        })
        .collect();
    assert_eq!(repairs.len(), 3, "{repairs:?}");
    assert!(
        repairs[0].contains("expected a JSON array of"),
        "{repairs:?}"
    );
    let m = out.metrics.expect("metrics");
    assert_eq!((m.run.malformed, m.run.repairs, m.run.calls), (3, 3, 6));
    let out_items = out.output.and_then(|v| v.as_array().map(Vec::len));
    assert_eq!(out_items, Some(10));
    // Without repairs left, the batch task fails as malformed (retryable),
    // with an error that says why.
    let text = BATCH
        .replace(" MALFORMED", ", malformed_first = 2")
        .replace(
            "prompt = \"item {{item}}\"",
            "prompt = \"item {{item}}\"\nrepair_attempts = 0",
        );
    let (out, _) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("fan: the batch from item") && err.contains("invalid reply"),
        "{err}"
    );
}

/// Agents that are code get a batch through `Agent::process_batch`: an
/// override sees the whole batch; the default answers item by item.
#[tokio::test(start_paused = true)]
async fn code_agents_get_batches_through_process_batch() {
    use std::sync::Mutex;
    struct Whole(Arc<Mutex<Vec<usize>>>);
    impl Agent for Whole {
        async fn process(&self, t: AgentTask, _: AgentContext) -> Result<AgentOutput, AgentError> {
            Ok(AgentOutput::new(serde_json::json!(format!(
                "one {}",
                t.input
            ))))
        }
        async fn process_batch(
            &self,
            tasks: Vec<AgentTask>,
            _: AgentContext,
        ) -> Result<Vec<AgentOutput>, AgentError> {
            self.0.lock().unwrap().push(tasks.len());
            Ok(tasks
                .iter()
                .map(|t| AgentOutput::new(serde_json::json!({"id": &*t.id, "n": t.input})))
                .collect())
        }
    }
    struct ByOne;
    impl Agent for ByOne {
        async fn process(&self, t: AgentTask, _: AgentContext) -> Result<AgentOutput, AgentError> {
            Ok(AgentOutput::new(serde_json::json!(format!(
                "{} × 2",
                t.prompt
            ))))
        }
    }
    let text = |agent: &str| {
        format!(
            r#"
[workflow]
name = "code-batch"
[[agents]]
id = "{agent}"
kind = "custom"
max_batch = 3
[[nodes]]
id = "fan"
kind = "map"
items = [1, 2, 3, 4, 5]
body = "work"
batch_size = 3
[[nodes]]
id = "work"
kind = "agent"
agent = "{agent}"
prompt = "n={{{{item}}}}"
"#
        )
    };
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let mut o = Orchestrator::new(wf(&text("whole")), RunOptions::default())
        // The workflow has no input: null on purpose.
        .input(serde_json::Value::Null);
    o.register("whole", Whole(sizes.clone()));
    let out = o.start().expect("start").wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let mut got = sizes.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, [2, 3]);
    let first = out.output.as_ref().and_then(|v| v.get(0)).cloned();
    assert_eq!(
        first,
        Some(serde_json::json!({"id": "fan[0]/work", "n": 1}))
    );
    let mut o = Orchestrator::new(wf(&text("byone")), RunOptions::default())
        // The workflow has no input: null on purpose.
        .input(serde_json::Value::Null);
    o.register("byone", ByOne);
    let out = o.start().expect("start").wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output,
        Some(serde_json::json!([
            "n=1 × 2", "n=2 × 2", "n=3 × 2", "n=4 × 2", "n=5 × 2"
        ]))
    );
}

#[test]
fn batch_and_reply_settings_are_validated_with_locations() {
    use agentctl::workflow::load::{Format, load_str};
    let bad = r#"[workflow]
name = "v"
[breakers.sym]
failures = 2
[[agents]]
id = "a"
max_batch = 2
capabilities = ["x"]
[[agents]]
id = "b"
capabilities = ["x"]
max_batch = 0
[[agents]]
id = "c"
capabilities = ["y"]
[[agents]]
id = "d"
capabilities = ["y"]
max_batch = 5
[[nodes]]
id = "m1"
kind = "map"
count = 3
body = "one"
batch_size = 3
[[nodes]]
id = "one"
kind = "agent"
agent = "a"
expect = "yaml"
[[nodes]]
id = "m2"
kind = "map"
count = 3
body = "mixed"
batch_size = 2
[[nodes]]
id = "mixed"
kind = "agent"
capability = "y"
"#;
    let err = load_str(bad, "v.toml", Format::Toml)
        .unwrap_err()
        .to_string();
    for needle in [
        "v.toml:3:",
        "circuit breaker for unknown provider `sym`",
        "did you mean `sim`",
        "v.toml:12:",
        "`max_batch` must be at least 1",
        "v.toml:25:",
        "`batch_size` = 3 but agent `a` accepts at most 2 items per call",
        "v.toml:30:",
        "unknown reply format `yaml` in `expect`",
        "v.toml:36:",
        "not every agent it can run on accepts batches: no `max_batch` on `c`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

/// `validate` on the body of a batched `map` judges each item's answer on
/// its own: a rejected answer leaves the batch and is asked again alone,
/// with the reason, by the next capable agent; the other items keep their
/// batched answers. With no attempts left the item fails the map (or, when
/// settled, only its own entry).
#[tokio::test(start_paused = true)]
async fn a_batched_items_answer_that_fails_validate_is_asked_again_alone() {
    let text = |rule: &str, join: &str| {
        format!(
            r#"
[workflow]
name = "batch-validate"
[[agents]]
id = "w1"
capabilities = ["x"]
max_batch = 4
sim = {{ template = "w1 did {{{{input}}}}", latency_ms = 30 }}
[[agents]]
id = "w2"
capabilities = ["x"]
max_batch = 4
sim = {{ template = "w2 did {{{{input}}}}", latency_ms = 30 }}
[[nodes]]
id = "fan"
kind = "map"
count = 4
body = "work"
batch_size = 4
{join}
[[nodes]]
id = "work"
kind = "agent"
capability = "x"
prompt = "item {{{{item}}}}"
validate = {{ when = "{rule}", max_attempts = 3 }}
"#
        )
    };
    let rejections = |events: &[agentctl::event::Event]| -> Vec<(String, String, u32)> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ReplyRejected {
                    task,
                    agent,
                    attempt,
                    ..
                } => Some((task.to_string(), agent.to_string(), *attempt)),
                _ => None,
            })
            .collect()
    };
    let one_bad = "output != 'w1 did item 2'";
    let (out, events) = run(wf(&text(one_bad, ""))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let outputs = out.output.expect("outputs");
    assert_eq!(outputs[0], "w1 did item 0");
    assert_eq!(outputs[3], "w1 did item 3");
    // w2 answered item 2 alone, told why (the sim echoes its prompt).
    let again = outputs[2].as_str().unwrap_or_default();
    assert!(
        again.starts_with("w2 did item 2")
            && again.contains("A previous reply was rejected: the reply does not pass")
            && again.contains("Rejected reply: w1 did item 2"),
        "{again}"
    );
    assert_eq!(
        rejections(&events),
        [("fan[2]/work".to_string(), "w1".to_string(), 1)]
    );
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::TaskRerouted { task, from_agent, to_agent }
            if &**task == "fan[2]/work" && from_agent.as_deref() == Some("w1") && &**to_agent == "w2")));
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::BatchDispatched { .. })),
        1
    );
    // When every reply to item 2 fails, the item fails after three.
    let none_good = "output != 'w1 did item 2' && !starts_with(output, 'w2')";
    let (out, events) = run(wf(&text(none_good, ""))).await;
    assert_eq!(out.status, RunStatus::Failed, "{:?}", out.output);
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("fan: item 2 failed") && err.contains("3 replies failed validation"),
        "{err}"
    );
    assert_eq!(
        rejections(&events),
        [
            ("fan[2]/work".to_string(), "w1".to_string(), 1),
            ("fan[2]/work".to_string(), "w2".to_string(), 2),
            ("fan[2]/work".to_string(), "w2".to_string(), 3),
        ]
    );
    // Settled, the map keeps the three good answers and item 2's failure.
    let (out, _) = run(wf(&text(none_good, "join = \"all_settled\""))).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let entries = out.output.expect("entries");
    let ok: Vec<bool> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ok"] == true)
        .collect();
    assert_eq!(ok, [true, true, false, true], "{entries}");
}
