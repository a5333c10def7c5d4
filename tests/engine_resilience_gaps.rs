//! The resilience gaps closed late in issue #3: `set_budget` per node,
//! endpoint circuit breakers, default time limits, deadlock detection and
//! batched `map` calls. Paused tokio clock throughout.

mod common;

use std::time::Duration;

use agentctl::engine::RunOptions;
use agentctl::event::{Command, EventKind, RunStatus};
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
