//! Submitting work to a running run (`RunHandle::submit`, `Command::Submit`):
//! the task is recorded like any other (`task_submitted`, then a task of the
//! `submitted` node), its output is in `RunOutcome::submitted`, the run waits
//! for it, bad submissions are refused, and a resumed run finishes a
//! submitted task cut off mid-run without redoing one that completed.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentctl::engine::{RunOptions, Submission, SubmitError};
use agentctl::event::{Command, Event, EventKind, RunStatus, TaskState};
use agentctl::session::{Header, SessionReader};
use agentctl::workflow::model::Workflow;
use common::*;
use serde_json::json;

const FOREVER: &str = r#"
[workflow]
name = "forever"
input = "x"

[[agents]]
id = "handler"
sim = { template = "handled {{input}}", latency_ms = 5 }

[[agents]]
id = "slow"
sim = { template = "slowly {{input}}", latency_ms = 5000 }

[[nodes]]
id = "loop"
kind = "on"
topic = "jobs.*"
forever = true
body = "handle"

[[nodes]]
id = "handle"
kind = "agent"
agent = "handler"
"#;

/// A run that ends at once unless something else keeps it going.
const SHORT: &str = r#"
[workflow]
name = "short"
input = "x"

[[agents]]
id = "fast"
sim = { template = "fast {{input}}", latency_ms = 1 }

[[agents]]
id = "slow"
sim = { template = "slowly {{input}}", latency_ms = 5000 }

[[nodes]]
id = "main"
kind = "agent"
agent = "fast"
"#;

fn submitted_ended(task: &str) -> impl Fn(&EventKind) -> bool + '_ {
    move |k| match k {
        EventKind::TaskCompleted { task: t, .. } | EventKind::TaskFailed { task: t, .. } => {
            &**t == task
        }
        _ => false,
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_submitted_to_a_running_loop_runs_is_recorded_and_reported() {
    let (h, mut rx) = start(wf(FOREVER), RunOptions::default());
    let id = h
        .submit(Submission::new("handler", "write a haiku").priority(1))
        .expect("submit");
    assert_eq!(&*id, "submitted#1");
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, submitted_ended("submitted#1")).await;
    // The cockpit's form: no id, the engine picks the next one.
    h.send(Command::Submit {
        agent: "handler".into(),
        prompt: "and a limerick".into(),
        priority: None,
        task: None,
    });
    wait_for(&mut rx, &mut seen, submitted_ended("submitted#2")).await;
    h.interrupt();
    let out = h.wait().await;
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    assert_eq!(out.status, RunStatus::Interrupted);
    // Submitted, then created as a task of the `submitted` node, at its priority.
    let at = |f: &dyn Fn(&EventKind) -> bool| seen.iter().position(|e| f(&e.kind));
    let sub = at(&|k| {
        matches!(k, EventKind::TaskSubmitted { task, agent, prompt, priority: 1 }
            if &**task == "submitted#1" && &**agent == "handler" && prompt == "write a haiku")
    })
    .expect("task_submitted");
    let created = at(&|k| {
        matches!(k, EventKind::TaskCreated { task, node, priority: 1, agent: Some(a), .. }
            if &**task == "submitted#1" && &**node == "submitted" && &**a == "handler")
    })
    .expect("task_created of the submitted node");
    assert!(sub < created);
    assert_eq!(out.submitted.len(), 2, "{:?}", out.submitted);
    let first = &out.submitted[0];
    assert_eq!(
        (first.task.as_str(), first.state, &first.output),
        (
            "submitted#1",
            TaskState::Completed,
            &Some(json!("handled write a haiku"))
        )
    );
    assert_eq!(out.submitted[1].task, "submitted#2");
    assert_eq!(
        out.submitted[1].output,
        Some(json!("handled and a limerick"))
    );
    // The outcome serialises them under `submitted` (`--json` prints
    // this list as it is).
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["submitted"][0]["output"], json!("handled write a haiku"));
    assert_eq!(v["submitted"][0]["state"], json!("COMPLETED"));
}

#[tokio::test(start_paused = true)]
async fn bad_submissions_are_refused_with_the_reason() {
    let (h, mut rx) = start(wf(FOREVER), RunOptions::default());
    let err = h.submit(Submission::new("nobody", "hi")).unwrap_err();
    assert_eq!(
        err,
        SubmitError::UnknownAgent {
            agent: "nobody".into(),
            known: "handler, slow".into()
        }
    );
    assert_eq!(
        h.submit(Submission::new("handler", "  ")).unwrap_err(),
        SubmitError::EmptyPrompt
    );
    assert_eq!(
        h.submit(Submission::new("handler", "hi").priority(9))
            .unwrap_err(),
        SubmitError::BadPriority(9)
    );
    // A command naming an unknown agent, or an id nobody reserved, is
    // rejected with an event.
    h.send(Command::Submit {
        agent: "nobody".into(),
        prompt: "hi".into(),
        priority: None,
        task: None,
    });
    h.send(Command::Submit {
        agent: "handler".into(),
        prompt: "hi".into(),
        priority: None,
        task: Some("main".into()),
    });
    let mut seen = Vec::new();
    let first = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    let second = wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::CommandRejected { .. })
    })
    .await;
    let reason = |e: &Event| match &e.kind {
        EventKind::CommandRejected { reason, .. } => reason.clone(),
        _ => unreachable!(),
    };
    assert!(
        reason(&first).contains("there is no agent `nobody`"),
        "{first:?}"
    );
    assert!(
        reason(&second).contains("not an id this run reserved"),
        "{second:?}"
    );
    h.interrupt();
    let out = h.wait().await;
    assert!(out.submitted.is_empty(), "{:?}", out.submitted);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e.kind, EventKind::TaskSubmitted { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn the_run_waits_for_its_submitted_tasks_before_it_ends() {
    let (h, mut rx) = start(
        wf(SHORT),
        RunOptions {
            start_paused: true,
            ..Default::default()
        },
    );
    h.submit(Submission::new("slow", "think hard")).unwrap();
    h.send(Command::Resume { task: None });
    let out = h.wait().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.output, Some(json!("fast x")));
    assert_eq!(out.submitted[0].state, TaskState::Completed);
    assert_eq!(out.submitted[0].output, Some(json!("slowly think hard")));
    // The entry node finished long before; the run ended after the task.
    let pos = |task: &str| {
        events
            .iter()
            .position(
                |e| matches!(&e.kind, EventKind::TaskCompleted { task: t, .. } if &**t == task),
            )
            .unwrap()
    };
    assert!(pos("main") < pos("submitted#1"));
    assert!(matches!(
        events.last().map(|e| &e.kind),
        Some(EventKind::SessionEnded { .. })
    ));
}

/// The bytes of a session file holding `events`.
fn session_bytes(w: &Workflow, events: &[Event]) -> Vec<u8> {
    let h = Header::new("s-1", w, "# text", "test.toml", 0, 1);
    let mut out = serde_json::to_vec(&h).unwrap();
    out.push(b'\n');
    for e in events {
        out.extend(serde_json::to_vec(e).unwrap());
        out.push(b'\n');
    }
    out
}

#[tokio::test(start_paused = true)]
async fn resume_finishes_a_submitted_task_cut_off_and_keeps_a_completed_one() {
    let w: Arc<Workflow> = wf(FOREVER);
    let opts = || RunOptions {
        session_id: Some("s-1".into()),
        ..Default::default()
    };
    let (h, mut rx) = start(w.clone(), opts());
    h.submit(Submission::new("handler", "quick one")).unwrap();
    h.submit(Submission::new("slow", "long one")).unwrap();
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, submitted_ended("submitted#1")).await;
    // The slow one has asked its model (both started at once) and is not
    // done; then the process dies.
    assert!(seen.iter().any(
        |e| matches!(&e.kind, EventKind::LlmRequest { task, .. } if &**task == "submitted#2")
    ));
    assert!(!seen.iter().any(|e| submitted_ended("submitted#2")(&e.kind)));
    h.interrupt();
    let _ = h.wait().await;
    let reader =
        SessionReader::from_bytes(Path::new("cut.jsonl"), session_bytes(&w, &seen)).unwrap();
    let restore = Arc::new(reader.fold().restore(&reader));
    assert_eq!(restore.submitted.len(), 2);
    let (h, mut rx) = start(
        w.clone(),
        RunOptions {
            resume: Some(restore),
            ..opts()
        },
    );
    let mut after = Vec::new();
    wait_for(&mut rx, &mut after, submitted_ended("submitted#2")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A new submission continues the numbering.
    assert_eq!(
        &*h.submit(Submission::new("handler", "third")).unwrap(),
        "submitted#3"
    );
    wait_for(&mut rx, &mut after, submitted_ended("submitted#3")).await;
    h.interrupt();
    let out = h.wait().await;
    while let Ok(e) = rx.try_recv() {
        after.push(e);
    }
    // The completed one was not touched again; the cut-off one completed.
    for e in &after {
        match &e.kind {
            EventKind::TaskCreated { task, .. }
            | EventKind::LlmRequest { task, .. }
            | EventKind::TaskCompleted { task, .. }
            | EventKind::TaskSubmitted { task, .. } => {
                assert_ne!(&**task, "submitted#1", "redone: {:?}", e.kind);
            }
            _ => {}
        }
    }
    assert!(
        !after.iter().any(
            |e| matches!(&e.kind, EventKind::TaskSubmitted { task, .. } if &**task == "submitted#2")
        ),
        "a recorded submission is not recorded twice"
    );
    let states: Vec<_> = out
        .submitted
        .iter()
        .map(|s| (s.task.as_str(), s.state, s.output.clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            (
                "submitted#1",
                TaskState::Completed,
                Some(json!("handled quick one"))
            ),
            (
                "submitted#2",
                TaskState::Completed,
                Some(json!("slowly long one"))
            ),
            (
                "submitted#3",
                TaskState::Completed,
                Some(json!("handled third"))
            ),
        ]
    );
}
