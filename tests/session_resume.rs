//! Resume at the library level (paused clock): a recorded session cut at
//! many points — as a crash would leave it — is folded back and continued.
//! Completed tasks are not run again, nothing completes twice, `seq`
//! continues, recorded gate decisions are not asked again.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use agentctl::engine::{RunOptions, RunOutcome};
use agentctl::event::{Event, EventKind, RunStatus};
use agentctl::session::{Header, SessionReader};
use agentctl::workflow::model::Workflow;
use common::{builtin, start, wf};

/// Runs to the end, approving every gate that opens; returns the outcome,
/// the events, and how many gates were opened.
async fn run_approving(w: Arc<Workflow>, opts: RunOptions) -> (RunOutcome, Vec<Event>) {
    let (h, mut rx) = start(w, opts);
    let events = common::events_until_end(&h, &mut rx, Some("fine")).await;
    (h.wait().await, events)
}

/// The bytes of a session file holding `events`.
fn session_bytes(w: &Workflow, seed: u64, events: &[Event]) -> Vec<u8> {
    let h = Header::new("s-1", w, "# text", "test.toml", seed, 1);
    let mut out = serde_json::to_vec(&h).unwrap();
    out.push(b'\n');
    for e in events {
        out.extend(serde_json::to_vec(e).unwrap());
        out.push(b'\n');
    }
    out
}

fn completed_before(events: &[Event]) -> HashSet<String> {
    common::completed_tasks(events).into_iter().collect()
}

/// Resumes `w` from the first `cut` events of `full` and checks the
/// invariants; returns the resumed run's outcome.
async fn resume_at(w: &Arc<Workflow>, seed: u64, full: &[Event], cut: usize) -> RunOutcome {
    let prefix = &full[..cut];
    let reader =
        SessionReader::from_bytes(Path::new("cut.jsonl"), session_bytes(w, seed, prefix)).unwrap();
    assert_eq!(reader.len(), cut);
    let state = reader.fold();
    let restore = Arc::new(state.restore(&reader));
    let opts = RunOptions {
        seed,
        session_id: Some("s-1".into()),
        resume: Some(restore),
        ..Default::default()
    };
    let (outcome, after) = run_approving(w.clone(), opts).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "cut at {cut}: {:?}",
        outcome.error
    );
    // seq continues without a gap.
    assert_eq!(
        after[0].seq,
        prefix.last().map_or(0, |e| e.seq) + 1,
        "cut at {cut}"
    );
    for pair in after.windows(2) {
        assert_eq!(pair[0].seq + 1, pair[1].seq);
    }
    // Nothing completes twice; nothing completed is called again.
    let done = completed_before(prefix);
    let mut completions: HashMap<String, u32> = HashMap::new();
    for t in common::completed_tasks(prefix)
        .into_iter()
        .chain(common::completed_tasks(&after))
    {
        *completions.entry(t).or_default() += 1;
    }
    assert!(
        completions.values().all(|&n| n == 1),
        "cut at {cut}: a task completed twice: {completions:?}"
    );
    for e in &after {
        match &e.kind {
            EventKind::LlmRequest { task, .. } | EventKind::TaskCreated { task, .. } => {
                assert!(
                    !done.contains(&**task),
                    "cut at {cut}: completed task {task} was touched again: {:?}",
                    e.kind
                );
            }
            _ => {}
        }
    }
    // A decided gate is not asked again.
    let decided: HashSet<String> = prefix
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::GateDecided { gate, .. } => Some(gate.to_string()),
            _ => None,
        })
        .collect();
    assert!(after.iter().all(|e| !matches!(&e.kind,
        EventKind::GateOpened { gate, revision: 0, .. } if decided.contains(&**gate))));
    // Every task of the uninterrupted run completed exactly once overall.
    outcome
}

#[tokio::test(start_paused = true)]
async fn the_demo_resumes_from_any_point_without_redoing_work() {
    let w = builtin("demo");
    let (full_outcome, full) = run_approving(
        w.clone(),
        RunOptions {
            seed: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(full_outcome.status, RunStatus::Succeeded);
    let n = full.len();
    for cut in (1..n - 1).step_by(7).chain([n - 2]) {
        let o = resume_at(&w, 3, &full, cut).await;
        assert_eq!(
            o.tasks_completed, full_outcome.tasks_completed,
            "cut at {cut}"
        );
    }
}

/// Replies that do not depend on the attempt: a retried in-flight task
/// answers as it would have, so the output must equal the uninterrupted one.
const STABLE: &str = r#"
[workflow]
name = "stable"
input = "go"

[[agents]]
id = "worker"
concurrency = 3
sim = { template = "done {{task}} v{{visit}}", latency_ms = 20 }

[[agents]]
id = "judge"
sim = { template = "{{agent}} saw {{input}}", latency_ms = 5 }

[[nodes]]
id = "main"
kind = "sequence"
steps = ["fan", "route", "gate"]

[[nodes]]
id = "fan"
kind = "map"
count = 12
body = "work"

[[nodes]]
id = "work"
kind = "agent"
agent = "worker"
prompt = "item {{item}}"

[[nodes]]
id = "route"
kind = "router"
routes = [{ when = "len(input) == 12", to = "judge_it" }]

[[nodes]]
id = "judge_it"
kind = "agent"
agent = "judge"
prompt = "{{input}}"

[[nodes]]
id = "gate"
kind = "gate"
"#;

#[tokio::test(start_paused = true)]
async fn a_resumed_run_ends_with_the_uninterrupted_output() {
    let w = wf(STABLE);
    let (full_outcome, full) = run_approving(
        w.clone(),
        RunOptions {
            seed: 9,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        full_outcome.status,
        RunStatus::Succeeded,
        "{:?}",
        full_outcome.error
    );
    for cut in (1..full.len() - 1).step_by(5) {
        let o = resume_at(&w, 9, &full, cut).await;
        assert_eq!(o.output, full_outcome.output, "cut at {cut}");
        assert_eq!(o.tasks_completed, full_outcome.tasks_completed);
        // Tokens continue from what was spent: a resumed run's total is at
        // least the uninterrupted one (retried calls cost again).
        assert!(o.usage.total() >= full_outcome.usage.total());
    }
}
