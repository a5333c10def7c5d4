//! Orchestration overhead on zero-latency sim workflows (`assets/bench/`).
//! Criterion reports the time of one whole run; divide by the task count
//! (printed at start) for the per-task overhead. `engine_recorded` runs
//! the same workflows with a session recorder writing to a temporary
//! directory (what `agentctl run` does by default). See BENCHMARKS.md.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentctl::engine::{Orchestrator, RunOptions, new_session_id};
use agentctl::event::RunStatus;
use agentctl::llm::tokens;
use agentctl::session::{Header, RECORD_QUEUE, Recorder};
use agentctl::workflow::load::load_source;
use agentctl::workflow::model::Workflow;
use criterion::{Criterion, criterion_group, criterion_main};

fn workflow(name: &str) -> Arc<Workflow> {
    let path = format!("{}/assets/bench/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    match load_source(&path) {
        Ok(l) => Arc::new(l.workflow),
        Err(d) => panic!("{d}"),
    }
}

/// One run; recorded into `record` when given. Returns the tasks
/// completed and the engine's time (start to outcome: the recorder's final
/// sync after the run is not counted, as in `run --json`'s `wall_ms`).
fn run_once(
    rt: &tokio::runtime::Runtime,
    wf: &Arc<Workflow>,
    record: Option<&Path>,
) -> (u64, Duration) {
    rt.block_on(async {
        let session = new_session_id();
        let opts = RunOptions {
            session_id: Some(session.clone()),
            ..RunOptions::default()
        };
        let mut orch = Orchestrator::new(wf.clone(), opts);
        let recorder = record.map(|dir| {
            let header = Header::new(&session, wf, "", "bench", 0, 0);
            Recorder::create(dir, &header, orch.subscribe_bounded(RECORD_QUEUE)).expect("recorder")
        });
        let started = Instant::now();
        let out = orch.start().expect("start").wait().await;
        let took = started.elapsed();
        assert_eq!(out.status, RunStatus::Succeeded);
        if let Some(r) = recorder {
            let path = r.path().to_path_buf();
            r.finish().expect("recorded");
            std::fs::remove_file(path).expect("remove the session file");
        }
        (out.tasks_completed, took)
    })
}

fn engine(c: &mut Criterion) {
    tokens::warm_up();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    for name in ["fanout_5000", "chain_1000", "loop_1000"] {
        let wf = workflow(name);
        let (tasks, _) = run_once(&rt, &wf, None);
        eprintln!("{name}: {tasks} tasks per run");
        group.bench_function(name, |b| b.iter(|| run_once(&rt, &wf, None).0));
    }
    group.finish();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("engine_recorded");
    group.sample_size(20);
    for name in ["fanout_5000", "chain_1000", "loop_1000"] {
        let wf = workflow(name);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_once(&rt, &wf, Some(dir.path())).1)
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
