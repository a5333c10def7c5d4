//! Every built-in example runs offline and produces what it promises (the
//! router, state machine and event-driven examples are checked in
//! engine_patterns.rs), and so does every library example in `examples/`
//! (each checks its own results and exits non-zero when one is wrong).

mod common;

use std::collections::HashSet;

use agentctl::engine::RunOptions;
use agentctl::event::{Command, EventKind, RunStatus, TaskState};
use common::*;
use serde_json::Value;

#[tokio::test(start_paused = true)]
async fn pipeline_feeds_each_step_the_last() {
    let (out, events) = run(builtin("pipeline")).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(completed_tasks(&events), ["research", "outline", "draft"]);
    let text = out.output.as_ref().and_then(Value::as_str).unwrap_or("");
    assert!(
        text.starts_with("Draft: The printing press changed Europe."),
        "{text}"
    );
    assert!(
        text.contains("Outline: 1. origins")
            && text.contains(
                "Facts about List three key facts about the history of the printing press"
            )
    );
}

#[tokio::test(start_paused = true)]
async fn parallel_joins_the_two_fastest_views_and_cancels_the_slow_one() {
    let (out, events) = run(builtin("parallel")).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let text = out.output.as_ref().and_then(Value::as_str).unwrap_or("");
    assert!(
        text.contains("Yes: fewer crashes") && text.contains("No: the team lacks Rust experience"),
        "{text}"
    );
    assert!(
        !text.contains("after a pilot"),
        "the slow branch must not be in the join: {text}"
    );
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::TaskStateChanged { task, to: TaskState::Cancelled, .. } if &**task == "cautious")));
}

#[tokio::test(start_paused = true)]
async fn scatter_gather_uses_both_pool_agents_three_at_a_time_and_keeps_item_order() {
    let (out, events) = run(builtin("scatter_gather")).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let mut live = HashSet::new();
    let mut peak = 0;
    let mut agents = HashSet::new();
    for e in &events {
        match &e.kind {
            EventKind::TaskAssigned { task, agent, .. } if task.ends_with("/summarise") => {
                live.insert(task.clone());
                agents.insert(agent.to_string());
                peak = peak.max(live.len());
            }
            EventKind::TaskCompleted { task, .. } => {
                live.remove(task);
            }
            _ => {}
        }
    }
    assert_eq!(peak, 3, "map concurrency is 3");
    assert_eq!(agents.len(), 2, "both summarisers took work: {agents:?}");
    let text = out.output.as_ref().and_then(Value::as_str).unwrap_or("");
    assert!(text.starts_with("Combined digest: "));
    let order: Vec<usize> = [
        "intro.md",
        "api.md",
        "cli.md",
        "tui.md",
        "bus.md",
        "budget.md",
        "faq.md",
        "changelog.md",
    ]
    .iter()
    .map(|d| text.find(d).unwrap_or(usize::MAX))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "summaries gathered in item order: {text}"
    );
}

#[tokio::test(start_paused = true)]
async fn hierarchical_plans_executes_by_capability_and_revises_once() {
    let (out, events) = run(builtin("hierarchical")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let plan = events.iter().find_map(|e| match &e.kind {
        EventKind::PlanCreated { subtasks, .. } => Some(subtasks.clone()),
        _ => None,
    });
    let plan = plan.expect("a plan");
    assert_eq!(plan.len(), 3);
    for s in &plan {
        let agent = events.iter().find_map(|e| match &e.kind {
            EventKind::TaskCompleted { task, agent, .. } if *task == s.task => agent.clone(),
            _ => None,
        });
        let agent = agent.expect("subtask completed");
        let expected: &[&str] = match s.capability.as_str() {
            "code" => &["coder-1", "coder-2"],
            "test" => &["tester"],
            "docs" => &["documenter"],
            other => panic!("unexpected capability {other}"),
        };
        assert!(expected.contains(&&*agent), "{} ran on {agent}", s.task);
    }
    let verdicts: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ReviewVerdict { approved, .. } => Some(*approved),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, [false, true]);
    assert_eq!(
        out.output.as_ref().and_then(|o| o["revisions"].as_u64()),
        Some(1)
    );
}

#[tokio::test(start_paused = true)]
async fn research_report_writes_a_report_through_three_capabilities() {
    let (out, events) = run(builtin("research_report")).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(
        completed_tasks(&events),
        ["research", "analysis", "writing"]
    );
    let text = out.output.as_ref().and_then(Value::as_str).unwrap_or("");
    assert!(
        text.starts_with("# Report") && text.contains("Conclusion:") && text.contains("Trends:"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn demo_plans_reviews_checks_and_waits_for_a_human_who_can_send_it_back() {
    let (h, mut rx) = start(builtin("demo"), RunOptions::default());
    let mut seen = Vec::new();
    let opened = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::GateOpened { .. })
    })
    .await;
    let EventKind::GateOpened {
        gate,
        artifact,
        revision,
        ..
    } = opened.kind
    else {
        unreachable!()
    };
    assert_eq!(revision, 0);
    // The artifact is the per-item checks of the plan's results.
    let checks = artifact.as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(checks, 4, "{artifact}");
    h.send(Command::GateDecision {
        gate: gate.clone(),
        approve: false,
        comment: Some("add a rollback plan".into()),
    });
    let opened = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::GateOpened { .. })
    })
    .await;
    let EventKind::GateOpened {
        artifact, revision, ..
    } = opened.kind
    else {
        unreachable!()
    };
    assert_eq!(revision, 1);
    assert!(
        artifact.to_string().contains("add a rollback plan"),
        "feedback reached the rebuilt work: {artifact}"
    );
    h.send(Command::GateDecision {
        gate,
        approve: true,
        comment: None,
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    let reviews = count(&seen, |k| matches!(k, EventKind::ReviewVerdict { .. }));
    assert_eq!(reviews, 4, "the reviewer agent sent each build back once");
    assert!(completed_tasks(&seen).contains(&"ship~r1/checks[3]/check".to_string()));
    // The build starts with a debate whose decision feeds a vote, whose
    // choice feeds the planner, all before the gate (on both builds).
    let order: Vec<&str> = seen
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DebateEnded { .. } => Some("debate"),
            EventKind::ConsensusReached { .. } => Some("vote"),
            EventKind::PlanCreated { .. } => Some("plan"),
            EventKind::GateOpened { .. } => Some("gate"),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "debate", "vote", "plan", "gate", "debate", "vote", "plan", "gate"
        ]
    );
    let chosen = seen.iter().find_map(|e| match &e.kind {
        EventKind::ConsensusReached { choice, .. } => Some(choice.clone()),
        _ => None,
    });
    assert_eq!(chosen.as_deref(), Some("streaming"));
    assert!(seen.iter().any(|e| matches!(&e.kind,
        EventKind::TaskCreated { task, input, .. } if &**task == "work" && input["choice"] == "streaming")));
}

/// Builds the `examples/` programs (the library's: a pipeline, a fan-out,
/// a debate, Rust agents, command agents, watching events, a headless
/// recorded run) and runs each; every one asserts what it promises.
#[test]
fn the_library_examples_run_and_check_their_results() {
    let build = std::process::Command::new(env!("CARGO"))
        .args(["build", "--locked", "--quiet", "--examples"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(build.success(), "the examples build");
    // target/debug/deps/examples-HASH → target/debug/examples/NAME
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples");
    let examples = [
        ("pipeline_api", "3 tasks"),
        ("custom_agent", "rows"),
        ("watch_events", "ended: Succeeded"),
        ("fan_out", "Report: "),
        ("debate", "decision: "),
        ("command_agent", "DRAFT: AGENTS CAN BE PROGRAMS TOO"),
        ("headless", "recorded"),
    ];
    for (name, promise) in examples {
        let out = std::process::Command::new(dir.join(name))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap_or_else(|e| panic!("examples/{name}.rs: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "examples/{name}.rs failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(promise),
            "examples/{name}.rs printed:\n{stdout}"
        );
    }
}
