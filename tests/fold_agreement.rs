//! Every consumer of the event stream tells the same story about each task:
//! the run state, the session summary (folded, and rebuilt by seeking
//! through snapshot lines), the cockpit's view model (live, and restored
//! from a replay checkpoint) and the headless progress agree on every
//! task's state, attempts, agent and usage, and on the counts the status
//! line and the progress bar show. Fed the recorded samples and sessions
//! recorded from sim runs of the built-ins with random seeds.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::{Event, TaskState, Usage};
use agentctl::run_state::{HeadlessProgress, RunState};
use agentctl::session::recorder::RecordOptions;
use agentctl::session::{Header, Recorder, SessionReader, SessionState};
use agentctl::tui::bench_support::{Checkpoint, ViewModel, WorkflowInfo};
use agentctl::workflow::load::{Format, load_str};
use proptest::prelude::*;

/// What every consumer must agree on, per task id.
#[derive(Debug, Clone, PartialEq)]
struct Told {
    state: TaskState,
    attempts: u32,
    agent: Option<String>,
    usage: Usage,
}

type Story = BTreeMap<String, Told>;

fn story<X>(run: &RunState<X>) -> (Story, [u32; 3]) {
    let tasks = run
        .tasks
        .iter()
        .map(|t| {
            (
                t.id.to_string(),
                Told {
                    state: t.state,
                    attempts: t.attempts,
                    agent: t.agent.as_deref().map(str::to_string),
                    usage: t.usage,
                },
            )
        })
        .collect();
    (tasks, [run.completed, run.failed, run.in_progress])
}

/// The cockpit's info for a recorded workflow (none when it no longer
/// compiles here: the view model then learns the nodes from the events).
fn info(h: &Header) -> WorkflowInfo {
    let format = if h.workflow.origin.ends_with(".json") {
        Format::Json
    } else {
        Format::Toml
    };
    match load_str(&h.workflow.text, &h.workflow.origin, format) {
        Ok(l) => WorkflowInfo::from_workflow(&l.workflow),
        Err(_) => WorkflowInfo::new(h.workflow.name.clone(), 0, Vec::new(), Vec::new()),
    }
}

/// Feeds a session file's events to every consumer, and seeks to each
/// position in `seeks`; panics (with the consumer and the position) at the
/// first disagreement.
fn agree(reader: &SessionReader, seeks: &[usize]) {
    let events: Vec<Event> = reader.events().collect();
    let mut run = RunState::<()>::default();
    let mut session = SessionState::new(reader.header());
    let mut vm = ViewModel::new(info(reader.header()));
    vm.replay = true;
    let mut progress = HeadlessProgress::default();
    let mut want_at = BTreeMap::new();
    let mut checkpoint = None;
    for (i, e) in events.iter().enumerate() {
        if seeks.contains(&i) {
            want_at.insert(i, story(&run));
        }
        if i == events.len() / 2 {
            checkpoint = Some((story(&run), Checkpoint::of(&vm)));
        }
        run.apply(e);
        session.apply(e);
        vm.apply(e);
        progress.apply(e);
    }
    want_at.insert(events.len(), story(&run));
    let want = story(&run);
    assert!(!want.0.is_empty(), "a session with tasks");
    assert_eq!(story(&session), want, "the session summary");
    assert_eq!(story(&vm), want, "the view model");
    assert_eq!(story(progress.state()), want, "the headless progress");
    assert_eq!(
        (progress.total(), progress.done()),
        (want.0.len() as u64, u64::from(want.1[0] + want.1[1])),
        "the progress bar"
    );
    assert_eq!(story(&reader.state()), want, "the session read whole");
    if let Some((at, cp)) = checkpoint {
        assert_eq!(story(&cp.restore()), at, "a restored checkpoint");
    }
    for (&i, at) in &want_at {
        assert_eq!(&story(&reader.state_at(i)), at, "a seek to event {i}");
    }
}

/// Records `name` run with `seed` (every gate approved), with a snapshot
/// line every `every` events; returns the file's bytes.
fn record(name: &str, seed: u64, every: usize) -> Vec<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let w = common::builtin(name);
        let text = agentctl::workflow::builtins::get(name).unwrap().text;
        let id = format!("fold-{name}-{seed}");
        let origin = format!("builtin:{name}");
        let header = Header::new(&id, &w, text, &origin, seed, 1);
        let opts = RunOptions {
            seed,
            session_id: Some(id.clone()),
            ..Default::default()
        };
        let mut o = Orchestrator::new(w, opts);
        let rec = Recorder::create_with(
            dir.path(),
            &header,
            o.subscribe(),
            RecordOptions {
                snapshot_every: every,
            },
        )
        .unwrap();
        let mut rx = o.subscribe();
        let h = o.start().unwrap();
        common::events_until_end(&h, &mut rx, Some("ok")).await;
        h.wait().await;
        let path = rec.path().to_path_buf();
        rec.finish().unwrap();
        std::fs::read(path).unwrap()
    })
}

#[test]
fn the_recorded_samples_tell_one_story_in_every_consumer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["sessions", "tests/fixtures/sessions"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "jsonl") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 4, "{files:?}");
    for p in files {
        let r = SessionReader::open(&p).unwrap();
        let n = r.len();
        let seeks: Vec<usize> = (0..n).step_by(17).collect();
        agree(&r, &seeks);
    }
}

/// Built-ins that run to the end on their own (gates approved).
const FLOWS: &[&str] = &[
    "demo",
    "pipeline",
    "parallel",
    "scatter_gather",
    "hierarchical",
    "router",
    "state_machine",
    "chaos",
    "debate",
    "consensus",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any built-in, any seed, snapshots at any spacing, seeks anywhere.
    #[test]
    fn recorded_sim_runs_tell_one_story_in_every_consumer(
        flow in 0..FLOWS.len(),
        seed in any::<u64>(),
        every in 2usize..40,
        seeks in proptest::collection::vec(any::<prop::sample::Index>(), 1..12),
    ) {
        let bytes = record(FLOWS[flow], seed, every);
        let r = SessionReader::from_bytes(Path::new("s.jsonl"), bytes).unwrap();
        prop_assert!(
            r.snapshot_count() > 0 || r.len() < every,
            "a recording longer than the spacing has snapshot lines"
        );
        let seeks: Vec<usize> = seeks.iter().map(|i| i.index(r.len() + 1)).collect();
        agree(&r, &seeks);
    }
}
