//! Debate overhead: a 5 agents × 3 rounds debate with zero-latency sim
//! agents (`assets/bench/debate_5x3.toml`, 15 turns). Criterion reports one
//! whole run; divide by 15 for the per-turn figure. See BENCHMARKS.md, "Debate overhead".

use std::sync::Arc;

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::RunStatus;
use agentctl::llm::tokens;
use agentctl::workflow::load::load_source;
use agentctl::workflow::model::Workflow;
use criterion::{Criterion, criterion_group, criterion_main};

fn workflow() -> Arc<Workflow> {
    let path = format!(
        "{}/assets/bench/debate_5x3.toml",
        env!("CARGO_MANIFEST_DIR")
    );
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
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
        out.tasks_completed
    })
}

fn debate(c: &mut Criterion) {
    tokens::warm_up();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let wf = workflow();
    let turns = run_once(&rt, &wf);
    assert_eq!(turns, 15, "5 agents × 3 rounds");
    let mut group = c.benchmark_group("debate");
    group.sample_size(50);
    group.bench_function("debate_5x3", |b| b.iter(|| run_once(&rt, &wf)));
    group.finish();
}

criterion_group!(benches, debate);
criterion_main!(benches);
