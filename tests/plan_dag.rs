//! Plans with dependencies and estimates: the plan runs as a DAG (each step
//! after the steps it depends on, fed their outputs; independent steps at
//! once), a bad plan gets a repair prompt, and estimates are checked against
//! the budget before any step starts.

mod common;

use agentctl::engine::RunOptions;
use agentctl::event::{Command, Event, EventKind, RunStatus};
use common::*;
use serde_json::Value;

const BUILTIN: &str = include_str!("../assets/workflows/dependent_plan.toml");

fn position(events: &[Event], f: impl Fn(&EventKind) -> bool) -> usize {
    events
        .iter()
        .position(|e| f(&e.kind))
        .expect("the event happened")
}

fn assigned(events: &[Event], id: &str) -> usize {
    position(
        events,
        |k| matches!(k, EventKind::TaskAssigned { task, .. } if &**task == id),
    )
}

fn completed(events: &[Event], id: &str) -> (usize, Value) {
    let i = position(
        events,
        |k| matches!(k, EventKind::TaskCompleted { task, .. } if &**task == id),
    );
    match &events[i].kind {
        EventKind::TaskCompleted { output, .. } => (i, output.clone()),
        _ => unreachable!(),
    }
}

fn step_ready(events: &[Event], id: &str) -> (Vec<String>, Value) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PlanStepReady { task, after, input } if &**task == id => {
                Some((after.iter().map(|a| a.to_string()).collect(), input.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{id} became ready"))
}

#[tokio::test(start_paused = true)]
async fn the_dependent_plan_runs_as_a_dag_fed_its_inputs() {
    let (out, events) = run(builtin("dependent_plan")).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let plan = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PlanCreated { subtasks, .. } => Some(subtasks.clone()),
            _ => None,
        })
        .expect("a plan");
    let deps: Vec<Vec<&str>> = plan
        .iter()
        .map(|s| s.depends_on.iter().map(|d| &**d).collect())
        .collect();
    assert_eq!(
        deps,
        vec![vec![], vec![], vec!["write/1", "write/2"], vec!["write/3"]]
    );
    assert_eq!(plan[2].step.as_deref(), Some("summary"));
    assert_eq!(plan[0].estimate_tokens, Some(400));

    // The two research steps run at once; summary after both; format last.
    let (done1, out1) = completed(&events, "write/1");
    let (done2, out2) = completed(&events, "write/2");
    let (done3, out3) = completed(&events, "write/3");
    assert!(assigned(&events, "write/2") < done1 && assigned(&events, "write/1") < done2);
    assert!(assigned(&events, "write/3") > done1.max(done2));
    assert!(assigned(&events, "write/4") > done3);

    // Each dependent step is fed its dependencies' outputs, by plan id.
    let (after, input) = step_ready(&events, "write/3");
    assert_eq!(after, ["write/1", "write/2"]);
    assert_eq!(input["inputs"]["origins"], out1);
    assert_eq!(input["inputs"]["impact"], out2);
    let (after, input) = step_ready(&events, "write/4");
    assert_eq!(after, ["write/3"]);
    assert_eq!(input["inputs"]["summary"], out3);
    assert!(step_ready(&events, "write/1").1.get("inputs").is_none());
    // ...and its prompt says so: the summary's reply quotes both notes.
    let text = out3.as_str().unwrap_or("");
    assert!(
        text.contains("Results of the steps this one builds on")
            && text.contains("Facts from researcher-1")
            && text.contains("Facts from researcher-2"),
        "{text}"
    );

    // The estimate was checked before any step started, and fits.
    let check = position(&events, |k| {
        matches!(
            k,
            EventKind::PlanBudgetChecked {
                needed_tokens: 1300,
                over: false,
                ..
            }
        )
    });
    assert!(check < assigned(&events, "write/1"));
    let o = out.output.expect("an output");
    assert_eq!(o["estimate"]["tokens"], 1300);
    assert_eq!(o["estimate"]["minutes"], 6.0);
    assert_eq!(o["results"].as_array().map(Vec::len), Some(4));
}

#[tokio::test(start_paused = true)]
async fn a_plan_over_budget_does_not_start() {
    let text = BUILTIN.replace("tokens = 20000", "tokens = 1000");
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("this plan needs ~1.3k tokens; the budget run has 628")
            && err.contains("does not start"),
        "{err}"
    );
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::PlanBudgetChecked { over: true, policy: Some(p), remaining_tokens: Some(628), .. } if p == "fail")));
    // No step was created, let alone run.
    assert_eq!(
        count(
            &events,
            |k| matches!(k, EventKind::TaskCreated { task, .. } if task.starts_with("write/"))
        ),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn degrade_runs_the_steps_that_fit_in_dependency_order() {
    let text = BUILTIN
        .replace("tokens = 20000", "tokens = 1600")
        .replace("on_exhausted = \"fail\"", "on_exhausted = \"degrade\"");
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    // 1228 left after planning: origins, impact and summary fit (1100), format does not.
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::PlanBudgetChecked { over: true, dropped, .. } if dropped.len() == 1 && &*dropped[0] == "write/4")));
    assert_eq!(
        completed_tasks(&events),
        ["write", "write/1", "write/2", "write/3"]
    );
    let o = out.output.expect("an output");
    assert_eq!(o["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(o["estimate"]["dropped"][0], "write/4");
}

#[tokio::test(start_paused = true)]
async fn pause_waits_for_a_bigger_budget_then_runs_the_plan() {
    let text = BUILTIN
        .replace("tokens = 20000", "tokens = 1000")
        .replace("on_exhausted = \"fail\"", "on_exhausted = \"pause\"");
    let (h, mut rx) = start(wf(&text), RunOptions::default());
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, |k| {
        matches!(k, EventKind::BudgetExhausted { policy, needed_tokens: 1300, .. } if policy == "pause")
    })
    .await;
    wait_for(&mut rx, &mut seen, |k| matches!(k, EventKind::RunPaused)).await;
    assert!(
        !seen.iter().any(
            |e| matches!(&e.kind, EventKind::TaskCreated { task, .. } if &**task == "write/1")
        )
    );
    h.send(Command::SetBudget {
        agent: None,
        node: None,
        tokens: Some(20_000),
        usd: None,
    });
    h.send(Command::Resume { task: None });
    let rest = events_until_end(&h, &mut rx, None).await;
    let out = h.wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    assert!(completed_tasks(&rest).contains(&"write/4".to_string()));
    assert!(
        rest.iter()
            .any(|e| matches!(&e.kind, EventKind::PlanBudgetChecked { over: false, .. }))
    );
}

const REPAIRED: &str = r#"
[workflow]
name = "repaired"
input = "x"

[[agents]]
id = "planner"
role = "planner"
# The first plan has a cycle (a1 depends on itself); the repaired one does not.
sim = { template = '{"subtasks": [{"id": "a1", "title": "A", "capability": "w", "depends_on": ["a{{attempt}}"]}, {"id": "a2", "title": "B", "capability": "w"}]}' }

[[agents]]
id = "writer"
capabilities = ["w"]
sim = { template = "done: {{input}}" }

[[nodes]]
id = "p"
kind = "plan"
planner = "planner"
"#;

#[tokio::test(start_paused = true)]
async fn a_bad_plan_gets_a_repair_prompt_naming_the_problem() {
    let (out, events) = run(wf(REPAIRED)).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let repairs: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OutputRepair { task, error, .. } if &**task == "p" => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].contains("`a1` depends on itself"), "{repairs:?}");
    // The repaired plan: B before A.
    let (done_b, _) = completed(&events, "p/2");
    assert!(assigned(&events, "p/1") > done_b);
}

#[tokio::test(start_paused = true)]
async fn a_plan_that_stays_cyclic_fails_after_its_repair_attempts() {
    let text = REPAIRED
        .replace("a{{attempt}}", "a2")
        .replace(
            r#""capability": "w"}]"#,
            r#""capability": "w", "depends_on": "a1"}]"#,
        )
        .replace(
            "planner = \"planner\"",
            "planner = \"planner\"\nrepair_attempts = 1",
        );
    let (out, events) = run(wf(&text)).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.error.unwrap_or_default();
    assert!(
        err.contains("after 1 repair prompt(s)") && err.contains("cycle: a1 → a2 → a1"),
        "{err}"
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::OutputRepair { .. })),
        1
    );
}
