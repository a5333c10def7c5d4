use serde_json::json;

use super::*;
use crate::event::{ErrorKind, NodeState};

fn ev(seq: u64, kind: EventKind) -> Event {
    Event {
        seq,
        ts: seq * 1_000,
        session: "s".into(),
        kind,
    }
}

fn created(task: &str, title: &str) -> EventKind {
    EventKind::TaskCreated {
        task: task.into(),
        node: "n".into(),
        parent: None,
        title: title.into(),
        agent: None,
        capability: None,
        priority: 2,
        input: json!({"x": 1}),
    }
}

fn assigned(task: &str, agent: &str, attempt: u32) -> EventKind {
    EventKind::TaskAssigned {
        task: task.into(),
        agent: agent.into(),
        attempt,
    }
}

fn usage(p: u64, c: u64) -> Usage {
    Usage {
        prompt_tokens: p,
        completion_tokens: c,
        estimated: false,
    }
}

fn fold(kinds: Vec<EventKind>) -> RunState {
    let mut s = RunState::default();
    for (i, k) in kinds.into_iter().enumerate() {
        s.apply(&ev(i as u64 + 1, k));
    }
    s
}

#[test]
fn a_repeated_task_created_is_ignored_and_the_first_task_kept() {
    let s = fold(vec![
        created("t", "first"),
        assigned("t", "w", 1),
        EventKind::TaskCompleted {
            task: "t".into(),
            agent: Some("w".into()),
            from: TaskState::InProgress,
            output: json!("done"),
            attempt: 1,
            usage: usage(3, 4),
            duration_ms: 1.0,
        },
        created("t", "second"),
    ]);
    assert_eq!(s.tasks.len(), 1);
    let t = s.task("t").unwrap();
    assert_eq!((t.title.as_str(), t.state), ("first", TaskState::Completed));
    assert_eq!(t.output.as_deref(), Some(&json!("done")));
    assert_eq!((s.completed, s.nodes[0].tasks), (1, 1));
}

#[test]
fn assignment_moves_the_task_to_in_progress_and_hand_offs_move_its_agent() {
    let s = fold(vec![
        created("t", "t"),
        assigned("t", "a", 1),
        EventKind::TaskHandoff {
            task: "t".into(),
            from_agent: "a".into(),
            to_agent: "b".into(),
            capability: "c".into(),
            reason: "busy".into(),
            hop: 1,
        },
    ]);
    let t = s.task("t").unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::InProgress, 1));
    assert_eq!(t.agent.as_deref(), Some("b"));
    assert_eq!(
        (s.agent("a").unwrap().active, s.agent("b").unwrap().active),
        (0, 1)
    );
    assert_eq!((s.in_progress, s.nodes[0].active), (1, 1));
    // The node shows who has its work now (issue #16: a reroute or a
    // hand-off did not change the agent shown).
    assert_eq!(s.nodes[0].last_agent.as_deref(), Some("b"));
}

#[test]
fn a_held_failure_counts_on_its_node_until_retried_or_cancelled() {
    let failed = |attempt| EventKind::TaskFailed {
        task: "t".into(),
        agent: Some("a".into()),
        from: TaskState::InProgress,
        kind: crate::event::ErrorKind::Timeout,
        error: "slow".into(),
        attempt,
        held: true,
    };
    let mut s = fold(vec![created("t", "t"), assigned("t", "a", 1), failed(1)]);
    assert_eq!((s.nodes[0].held, s.nodes[0].active), (1, 0));
    // Rerouted while held: the node shows the new agent and still waits.
    s.apply(&ev(
        10,
        EventKind::TaskRerouted {
            task: "t".into(),
            from_agent: Some("a".into()),
            to_agent: "b".into(),
        },
    ));
    assert_eq!(s.nodes[0].last_agent.as_deref(), Some("b"));
    assert_eq!(s.nodes[0].held, 1);
    s.apply(&ev(11, assigned("t", "b", 2)));
    assert_eq!((s.nodes[0].held, s.nodes[0].active), (0, 1));
    s.apply(&ev(12, failed(2)));
    assert_eq!(s.nodes[0].held, 1);
    s.apply(&ev(
        13,
        EventKind::TaskStateChanged {
            task: "t".into(),
            from: TaskState::Failed,
            to: TaskState::Cancelled,
            reason: None,
        },
    ));
    assert_eq!(s.nodes[0].held, 0, "a cancelled task waits for nobody");
    s.recount();
    assert_eq!(s.nodes[0].held, 0);
}

#[test]
fn a_retried_failure_is_counted_once_and_attempts_rise() {
    let s = fold(vec![
        created("t", "t"),
        assigned("t", "w", 1),
        EventKind::TaskFailed {
            task: "t".into(),
            agent: None,
            from: TaskState::InProgress,
            kind: ErrorKind::Server,
            error: "502".into(),
            attempt: 2,
            held: true,
        },
    ]);
    let t = s.task("t").unwrap();
    assert_eq!((t.state, t.attempts, t.held), (TaskState::Failed, 2, true));
    assert_eq!(t.error.as_deref(), Some("502"));
    assert_eq!(s.agent("w").unwrap().failed, 1, "the task's agent");
    let mut s = s;
    s.apply(&ev(9, assigned("t", "w", 3)));
    assert_eq!((s.failed, s.in_progress), (0, 1));
    assert!(!s.task("t").unwrap().held);
}

#[test]
fn usage_is_the_sum_of_replies_raised_to_the_engines_totals() {
    let reply = |task: &str| EventKind::LlmResponse {
        task: task.into(),
        agent: "w".into(),
        provider: "sim".into(),
        model: "m".into(),
        usage: usage(10, 5),
        latency_ms: 2.0,
    };
    let mut s = fold(vec![created("t", "t"), reply("t"), reply("ghost")]);
    assert_eq!(s.task("t").unwrap().usage.total(), 15);
    assert_eq!(s.total_usage.total(), 30, "every reply counts for the run");
    assert_eq!(s.agent("w").unwrap().latency_ms, 4.0);
    s.apply(&ev(
        4,
        EventKind::TaskCompleted {
            task: "t".into(),
            agent: None,
            from: TaskState::InProgress,
            output: json!(null),
            attempt: 1,
            usage: usage(40, 10),
            duration_ms: 1.0,
        },
    ));
    assert_eq!(s.task("t").unwrap().usage.total(), 50);
    s.apply(&ev(
        5,
        EventKind::SessionEnded {
            status: RunStatus::Interrupted,
            output: None,
            error: None,
            usage: usage(100, 0),
            wall_ms: 1.0,
        },
    ));
    assert_eq!(s.total_usage.total(), 100);
    s.apply(&ev(
        6,
        EventKind::SessionStarted {
            workflow: "w".into(),
            seed: 1,
            entry: "n".into(),
            agents: Vec::new(),
        },
    ));
    assert_eq!((s.ended, s.runs), (None, 1), "a resume is live again");
}

#[test]
fn a_streamed_reply_counts_on_its_node_until_the_call_settles() {
    let delta = EventKind::LlmDelta {
        task: "t".into(),
        agent: "w".into(),
        text: "he".into(),
    };
    let mut s = fold(vec![
        created("t", "t"),
        assigned("t", "w", 1),
        delta.clone(),
        delta,
    ]);
    assert!(s.task("t").unwrap().streaming);
    assert_eq!(s.nodes[0].typing, 1);
    s.apply(&ev(
        5,
        EventKind::TaskStateChanged {
            task: "t".into(),
            from: TaskState::InProgress,
            to: TaskState::Paused,
            reason: None,
        },
    ));
    assert!(!s.task("t").unwrap().streaming);
    assert_eq!(s.nodes[0].typing, 0);
}

#[test]
fn the_layout_fixes_node_and_agent_order_and_strangers_come_after() {
    let mut s: RunState = RunState::with_layout(["a".into(), "b".into()], ["w".into()]);
    s.apply(&ev(
        1,
        EventKind::NodeStateChanged {
            node: "z".into(),
            state: NodeState::Running,
            progress: Some([1, 2]),
        },
    ));
    let ids: Vec<&str> = s.nodes.iter().map(|n| &*n.id).collect();
    assert_eq!(ids, ["a", "b", "z"]);
    assert_eq!(s.nodes[2].progress, Some([1, 2]));
    assert_eq!(s.agents[0].id.as_ref(), "w");
}

#[test]
fn recount_after_records_are_put_back_gives_the_folded_counts() {
    let s = fold(vec![
        created("a", "a"),
        created("b", "b"),
        assigned("a", "w", 1),
        assigned("b", "w", 1),
        EventKind::TaskStateChanged {
            task: "b".into(),
            from: TaskState::InProgress,
            to: TaskState::Completed,
            reason: None,
        },
    ]);
    let mut back = RunState::<()>::default();
    for (i, t) in s.tasks.iter().enumerate() {
        back.put_task(i, t.clone());
    }
    back.recount();
    assert_eq!(
        (
            back.completed,
            back.in_progress,
            back.nodes[0].active,
            back.nodes[0].tasks
        ),
        (s.completed, s.in_progress, 1, 2)
    );
    assert_eq!(back.agent("w").unwrap().active, 1);
}

#[test]
fn held_failures_are_counted_until_retried_or_cancelled() {
    let failed = |task: &str, held: bool| EventKind::TaskFailed {
        task: task.into(),
        agent: None,
        from: TaskState::InProgress,
        kind: ErrorKind::Server,
        error: "502".into(),
        attempt: 1,
        held,
    };
    let mut s = fold(vec![
        created("a", "a"),
        created("b", "b"),
        assigned("a", "w", 1),
        assigned("b", "w", 1),
        failed("a", true),
        failed("b", true),
    ]);
    assert_eq!(s.held, 2);
    s.apply(&ev(10, assigned("a", "w", 2)));
    assert_eq!(s.held, 1, "a retried task is not held");
    s.apply(&ev(
        11,
        EventKind::TaskStateChanged {
            task: "b".into(),
            from: TaskState::Failed,
            to: TaskState::Cancelled,
            reason: None,
        },
    ));
    assert_eq!(s.held, 0, "a cancelled task is not held");
    s.apply(&ev(12, failed("a", false)));
    assert_eq!(s.held, 0, "a failure that is not held");
    s.recount();
    assert_eq!(s.held, 0);
}

#[test]
fn budget_events_are_folded_with_the_pause_and_its_reservation() {
    let mut s = RunState::<()> {
        budget: Budgets::with_limits(0.8, &[("run".to_owned(), Some(2_000), None)]),
        ..RunState::default()
    };
    let mut seq = 0;
    let mut push = |s: &mut RunState, kind| {
        seq += 1;
        s.apply(&ev(seq, kind));
    };
    push(
        &mut s,
        EventKind::BudgetUpdated {
            scope: "run".into(),
            used_tokens: 25,
            used_usd: 0.0,
            limit_tokens: Some(2_000),
            limit_usd: None,
        },
    );
    push(
        &mut s,
        EventKind::BudgetExhausted {
            scope: "run".into(),
            task: "t".into(),
            agent: "w".into(),
            needed_tokens: 600,
            remaining_tokens: Some(175),
            policy: "pause".into(),
        },
    );
    assert!(s.budget.run().unwrap().exhausted);
    assert_eq!(s.budget.paused_by.as_deref(), Some("run"));
    // 2000 limit − 25 used − 175 left: 1800 held by calls in flight.
    assert_eq!(s.budget.reserved_at_pause(), Some(1_800));
    push(&mut s, EventKind::RunResumed);
    assert_eq!(
        (s.budget.paused_by.as_ref(), s.budget.pause.as_ref()),
        (None, None)
    );
}

fn seen(worker: &str, host: &str) -> EventKind {
    EventKind::WorkerSeen {
        worker: worker.into(),
        host: host.into(),
        capabilities: vec!["rust".into()],
        agents: vec!["coder".into()],
        any: false,
        concurrency: 8,
    }
}

fn status(worker: &str, state: crate::event::WorkerState, in_flight: u32, done: u64) -> EventKind {
    EventKind::WorkerStatus {
        worker: worker.into(),
        state,
        in_flight,
        done,
        failures: 0,
    }
}

fn ran(task: &str, worker: &str, deliveries: u32) -> EventKind {
    EventKind::WorkerResult {
        task: task.into(),
        agent: "w".into(),
        attempt: 1,
        worker: worker.into(),
        deliveries,
        reused: false,
    }
}

#[test]
fn workers_are_folded_into_a_table_and_tasks_say_which_worker_ran_them() {
    use crate::event::WorkerState::{Live, Lost};
    let s = fold(vec![
        created("t", "t"),
        created("u", "u"),
        seen("w1", "alpha"),
        seen("w2", "beta"),
        assigned("t", "w", 1),
        status("w1", Live, 1, 0),
        ran("t", "w1", 1),
        status("w1", Lost, 1, 0),
        ran("u", "w2", 2),
        status("w2", Live, 0, 7),
    ]);
    assert!(s.task("u").is_some());
    let w: Vec<_> = s.workers.rows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(w, ["w1", "w2"], "in the order first seen");
    let w1 = s.workers.get("w1").unwrap();
    assert_eq!(
        (w1.host.as_str(), w1.serves(), w1.concurrency),
        ("alpha", "@coder,rust".to_string(), 8)
    );
    assert_eq!(
        (w1.state, w1.in_flight, w1.ran, w1.redelivered),
        (Lost, 1, 1, 0)
    );
    assert_eq!(w1.last_us, 8_000, "the time of the last event about it");
    let w2 = s.workers.get("w2").unwrap();
    assert_eq!((w2.state, w2.done, w2.ran, w2.redelivered), (Live, 7, 1, 1));
    assert_eq!(s.workers.live(), 1);
    assert_eq!(s.task("t").unwrap().worker.as_deref(), Some("w1"));
    assert_eq!(s.task("u").unwrap().worker.as_deref(), Some("w2"));
}

#[test]
fn an_in_process_run_has_no_workers_and_writes_none() {
    let s = fold(vec![created("t", "t"), assigned("t", "w", 1)]);
    assert!(s.workers.is_empty());
    assert!(s.task("t").unwrap().worker.is_none());
    let v = serde_json::to_value(&s).unwrap();
    assert!(v.get("workers").is_none(), "{v}");
    assert!(v["tasks"][0].get("worker").is_none(), "{v}");
}

#[test]
fn a_result_from_a_worker_never_announced_still_makes_its_row() {
    let s = fold(vec![created("t", "t"), ran("t", "w9", 1)]);
    let w = s.workers.get("w9").unwrap();
    assert_eq!((w.ran, w.host.as_str()), (1, ""));
}
