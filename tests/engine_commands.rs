//! Steering a live run through the Command channel: pause/resume (run and
//! task), retry, reroute, cancel, gate decisions, and priority aging.

mod common;

use agentctl::engine::RunOptions;
use agentctl::event::{Command, EventKind, Id, RunStatus, TaskState};
use common::*;
use serde_json::json;
use tokio::time::{Duration, Instant, sleep};

fn t(id: &str) -> Id {
    Id::from(id)
}

const TWO_STEPS: &str = r#"
[workflow]
name = "two"
input = "x"
[[agents]]
id = "a"
capabilities = ["w"]
concurrency = 1
sim = { template = "A({{input}})", latency_ms = 100 }
[[agents]]
id = "b"
capabilities = ["w"]
concurrency = 1
sim = { template = "B({{input}})", latency_ms = 100 }
[[nodes]]
id = "main"
kind = "sequence"
steps = ["one", "two"]
[[nodes]]
id = "one"
kind = "agent"
agent = "a"
[[nodes]]
id = "two"
kind = "agent"
agent = "a"
"#;

#[tokio::test(start_paused = true)]
async fn pausing_the_run_holds_new_work_until_resume() {
    let (h, mut rx) = start(wf(TWO_STEPS), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "one"),
    )
    .await;
    h.send(Command::Pause { task: None });
    wait_for(&mut rx, &mut seen, |k| matches!(k, EventKind::RunPaused)).await;
    // "one" finishes (in-flight work continues) but "two" is not assigned.
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskCompleted { task, .. } if &**task == "one"),
    )
    .await;
    let paused_at = Instant::now();
    sleep(Duration::from_secs(10)).await;
    while let Ok(e) = rx.try_recv() {
        assert!(
            !matches!(e.kind, EventKind::TaskAssigned { .. }),
            "work was dispatched while paused: {e:?}"
        );
        seen.push(e);
    }
    h.send(Command::Resume { task: None });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.output, Some(json!("A(A(x))")));
    assert!(paused_at.elapsed() >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_task_can_be_paused_mid_call_resumed_and_it_runs_again() {
    let (h, mut rx) = start(wf(TWO_STEPS), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "one"),
    )
    .await;
    h.send(Command::Pause {
        task: Some(t("one")),
    });
    wait_for(&mut rx, &mut seen, |k| matches!(k, EventKind::TaskStateChanged { task, to: TaskState::Paused, .. } if &**task == "one")).await;
    // Resume is rejected for a task that is not paused; pause twice is rejected.
    h.send(Command::Resume {
        task: Some(t("two")),
    });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    h.send(Command::Resume {
        task: Some(t("one")),
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded);
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    let attempts: Vec<u32> = seen
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskAssigned { task, attempt, .. } if &**task == "one" => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [1, 2],
        "the paused call was abandoned and the task ran again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_queued_task_can_be_rerouted_to_another_agent() {
    let text = r#"
[workflow]
name = "reroute"
input = "x"
[[agents]]
id = "a"
concurrency = 1
sim = { template = "A({{input}})", latency_ms = 100 }
[[agents]]
id = "b"
sim = { template = "B({{input}})", latency_ms = 100 }
[[nodes]]
id = "fan"
kind = "parallel"
branches = ["one", "two"]
[[nodes]]
id = "one"
kind = "agent"
agent = "a"
[[nodes]]
id = "two"
kind = "agent"
agent = "a"
"#;
    let (h, mut rx) = start(wf(text), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "one"),
    )
    .await;
    // "two" waits for "a" (concurrency 1): send it to "b".
    h.send(Command::Reroute {
        task: t("two"),
        agent: t("b"),
    });
    let t0 = Instant::now();
    let out = h.wait().await;
    assert_eq!(out.output, Some(json!(["A(x)", "B(x)"])));
    assert_eq!(
        t0.elapsed().as_millis(),
        100,
        "the rerouted task ran at once on b"
    );
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert!(seen.iter().any(|e| matches!(&e.kind, EventKind::TaskRerouted { task, to_agent, .. } if &**task == "two" && &**to_agent == "b")));
}

#[tokio::test(start_paused = true)]
async fn a_held_failure_is_retried_by_command_and_the_run_succeeds() {
    let text = r#"
[workflow]
name = "retry"
input = "x"
[[agents]]
id = "flaky"
sim = { fail_first = 1, template = "ok {{input}}" }
[[nodes]]
id = "job"
kind = "agent"
agent = "flaky"
"#;
    let (h, mut rx) = start(
        wf(text),
        RunOptions {
            hold_failed: true,
            ..Default::default()
        },
    );
    let mut seen = Vec::new();
    let failed = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::TaskFailed { .. })
    })
    .await;
    assert!(matches!(
        failed.kind,
        EventKind::TaskFailed { held: true, .. }
    ));
    h.send(Command::Retry { task: t("job") });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.output, Some(json!("ok x")));
    assert_eq!((out.tasks_completed, out.tasks_failed), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn without_holding_a_failure_fails_the_run_and_retry_is_rejected() {
    let text = r#"
[workflow]
name = "fail"
[[agents]]
id = "flaky"
sim = { fail_first = 1 }
[[nodes]]
id = "job"
kind = "agent"
agent = "flaky"
"#;
    let (out, events) = run(wf(text)).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.tasks_failed, 1);
    assert!(
        out.error
            .as_deref()
            .unwrap_or("")
            .contains("injected server error"),
        "{:?}",
        out.error
    );
    assert_eq!(
        count(&events, |k| matches!(
            k,
            EventKind::TaskFailed { held: false, .. }
        )),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_task_or_the_run_is_recorded() {
    let (h, mut rx) = start(wf(TWO_STEPS), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(
        &mut rx,
        &mut seen,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == "one"),
    )
    .await;
    h.send(Command::Cancel {
        task: Some(t("one")),
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Cancelled);
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert!(seen.iter().any(|e| matches!(&e.kind, EventKind::TaskStateChanged { task, to: TaskState::Cancelled, .. } if &**task == "one")));
    assert!(
        !seen
            .iter()
            .any(|e| matches!(&e.kind, EventKind::TaskCreated { task, .. } if &**task == "two"))
    );

    let (h, mut rx) = start(wf(TWO_STEPS), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::TaskAssigned { .. })
    })
    .await;
    h.send(Command::Cancel { task: None });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Cancelled);
    assert_eq!(out.status.exit_code(), 3);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_held_failure_in_a_join_all_fan_records_cancelled_not_failed() {
    let text = r#"
[workflow]
name = "fan"
input = "x"
[[agents]]
id = "flaky"
sim = { fail_first = 1, template = "ok {{input}}" }
[[agents]]
id = "slow"
sim = { template = "slow {{input}}", latency_ms = 60000 }
[[nodes]]
id = "fan"
kind = "parallel"
join = "all"
branches = ["a", "b"]
[[nodes]]
id = "a"
kind = "agent"
agent = "slow"
[[nodes]]
id = "b"
kind = "agent"
agent = "flaky"
"#;
    let (h, mut rx) = start(
        wf(text),
        RunOptions {
            hold_failed: true,
            ..Default::default()
        },
    );
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::TaskFailed { held: true, .. })
    })
    .await;
    h.send(Command::Cancel { task: Some(t("b")) });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Cancelled);
    assert_eq!(out.status.exit_code(), 3);
    assert_eq!(
        out.error.as_deref(),
        Some("cancelled by you: task b (fan joins all)")
    );
    // The held failure does not count as a failure once cancelled.
    assert_eq!(out.tasks_failed, 0, "{out:?}");
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert!(seen.iter().any(|e| matches!(&e.kind,
        EventKind::TaskStateChanged { task, from: TaskState::Failed, to: TaskState::Cancelled, .. } if &**task == "b")));
    // The sibling the join no longer needs is cancelled too.
    assert!(seen.iter().any(|e| matches!(&e.kind,
        EventKind::TaskStateChanged { task, to: TaskState::Cancelled, .. } if &**task == "a")));
}

#[tokio::test(start_paused = true)]
async fn a_gate_comment_reaches_each_revised_item_of_the_demo_once() {
    let (h, mut rx) = start(builtin("demo"), RunOptions::default());
    let mut seen = Vec::new();
    let opened = |k: &EventKind| matches!(k, EventKind::GateOpened { .. });
    wait_for(&mut rx, &mut seen, opened).await;
    h.send(Command::GateDecision {
        gate: t("ship"),
        approve: false,
        comment: Some("MARKER-COMMENT".into()),
    });
    let again = wait_for(&mut rx, &mut seen, opened).await;
    let EventKind::GateOpened {
        artifact, revision, ..
    } = &again.kind
    else {
        unreachable!("waited for a gate_opened")
    };
    assert_eq!(*revision, 1);
    let items = artifact
        .as_array()
        .expect("the demo's artifact is its checks");
    assert_eq!(items.len(), 4);
    for item in items {
        let text = item.as_str().unwrap_or_default();
        assert_eq!(text.matches("MARKER-COMMENT").count(), 1, "{text}");
    }
    h.send(Command::GateDecision {
        gate: t("ship"),
        approve: true,
        comment: None,
    });
    assert_eq!(h.wait().await.status, RunStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn gates_wait_for_a_decision_and_a_denial_sends_the_subject_back_with_the_comment() {
    let text = r#"
[workflow]
name = "gated"
input = "draft the release notes"
[[agents]]
id = "writer"
sim = { template = "NOTES<{{input}}>" }
[[nodes]]
id = "review"
kind = "gate"
subject = "write"
max_revisions = 2
[[nodes]]
id = "write"
kind = "agent"
agent = "writer"
"#;
    let (h, mut rx) = start(wf(text), RunOptions::default());
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
    assert_eq!((gate.as_ref(), revision), ("review", 0));
    assert_eq!(artifact, json!("NOTES<draft the release notes>"));
    // Commands that do not apply to a gate are rejected with a reason.
    h.send(Command::Retry { task: gate.clone() });
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    h.send(Command::GateDecision {
        gate: gate.clone(),
        approve: false,
        comment: Some("mention the CSV export".into()),
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
        artifact
            .as_str()
            .unwrap_or("")
            .contains("mention the CSV export"),
        "feedback reached the writer: {artifact}"
    );
    h.send(Command::GateDecision {
        gate,
        approve: true,
        comment: None,
    });
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded);
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert!(seen.iter().any(|e| matches!(&e.kind, EventKind::TaskStateChanged { task, to: TaskState::Revision, .. } if &**task == "review")));
    assert!(completed_tasks(&seen).contains(&"review~r1/write".to_string()));
}

#[tokio::test(start_paused = true)]
async fn urgent_tasks_go_first_and_aging_keeps_low_priorities_from_starving() {
    // One slot; nine priority-1 tasks and one priority-5 task all wait.
    let mut text = String::from(
        r#"
[workflow]
name = "prio"
aging_step = 2
[[agents]]
id = "a"
concurrency = 1
sim = { latency_ms = 10 }
[[nodes]]
id = "fan"
kind = "parallel"
branches = ["blocker", "low", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"]
[[nodes]]
id = "blocker"
kind = "agent"
agent = "a"
[[nodes]]
id = "low"
kind = "agent"
agent = "a"
priority = 5
"#,
    );
    for i in 1..=9 {
        text.push_str(&format!(
            "[[nodes]]\nid = \"h{i}\"\nkind = \"agent\"\nagent = \"a\"\npriority = 1\n"
        ));
    }
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let order: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskAssigned { task, .. } => Some(task.to_string()),
            _ => None,
        })
        .collect();
    // The blocker takes the slot; then keys are low = 2 + (5-1)*2 = 10 and
    // h_i = 2 + i. Urgent tasks go first, but aging lets "low" in before h8
    // (same key, queued later) and h9: it does not wait for every urgent task.
    let expected = [
        "blocker", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "low", "h8", "h9",
    ];
    assert_eq!(order, expected);
}
