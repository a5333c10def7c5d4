//! Orchestration overhead on zero-latency sim workflows (`assets/bench/`).
//! Criterion reports the time of one whole run; divide by the task count
//! (printed at start) for the per-task overhead. See BENCHMARKS.md.

use std::sync::Arc;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::RunStatus;
use agentctl::llm::tokens;
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

fn run_once(rt: &tokio::runtime::Runtime, wf: &Arc<Workflow>) -> u64 {
    rt.block_on(async {
        let out = Orchestrator::new(wf.clone(), RunOptions::default())
            .start()
            .expect("start")
            .wait()
            .await;
        assert_eq!(out.status, RunStatus::Succeeded);
        out.tasks_completed
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
        let tasks = run_once(&rt, &wf);
        eprintln!("{name}: {tasks} tasks per run");
        group.bench_function(name, |b| b.iter(|| run_once(&rt, &wf)));
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
