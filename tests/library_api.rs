//! The library API as a program embedding agentctl meets it: a run needs an
//! input, recording is one call, metrics read as in `agentctl run --json`,
//! closures are agents.

use agentctl::engine::StartError;
use agentctl::prelude::*;
use agentctl::session::SessionReader;

fn two_steps() -> WorkflowBuilder {
    WorkflowBuilder::new("two")
        .agent(agent::llm("a").template("A({{input}})"))
        .agent(agent::custom("b"))
        .node(node::sequence("main", ["x", "y"]))
        .node(node::agent("x", "a"))
        .node(node::agent("y", "b"))
}

fn upper() -> impl Agent {
    agent::from_fn(|task, _| async move {
        let text = task.input.as_str().unwrap_or_default().to_uppercase();
        Ok(json!(text).into())
    })
}

#[tokio::test]
async fn start_without_an_input_says_so_and_an_explicit_one_runs() {
    let wf = two_steps().build().unwrap_or_else(|e| panic!("{e}"));
    let orch = Orchestrator::new(wf.clone(), RunOptions::default()).with_agent("b", upper());
    let err = orch.start().map(|_| ()).unwrap_err();
    assert!(
        matches!(err, StartError::NoInput(ref w) if w == "two"),
        "{err}"
    );
    assert!(err.to_string().contains("has no input"), "{err}");
    // Null on purpose runs; so does an input given any of the ways.
    let orch = Orchestrator::new(wf.clone(), RunOptions::default()).with_agent("b", upper());
    let out = orch.input(Value::Null).start().unwrap().wait().await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.error);
    let out = Orchestrator::new(wf, RunOptions::default())
        .with_agent("b", upper())
        .execute(json!("hi"))
        .await
        .unwrap();
    assert_eq!(out.output, Some(json!("A(HI)")));
    let wf = two_steps().input("yo").build().unwrap();
    let out = Orchestrator::new(wf, RunOptions::default())
        .with_agent("b", upper())
        .start()
        .unwrap()
        .wait()
        .await;
    assert_eq!(out.output, Some(json!("A(YO)")));
}

#[tokio::test]
async fn recording_a_run_is_one_call_and_the_file_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let wf = two_steps().input("rec").build().unwrap();
    let mut orch = Orchestrator::new(
        wf,
        RunOptions {
            seed: 4,
            ..Default::default()
        },
    )
    .with_agent("b", upper());
    let recorder = Recorder::record(&mut orch, dir.path()).unwrap();
    let out = orch.start().unwrap().wait().await;
    let path = recorder.path().to_path_buf();
    let stats = recorder.finish().unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    let r = SessionReader::open(&path).unwrap();
    assert_eq!(r.header().session, out.session, "the file is the run's");
    assert_eq!(r.header().input, json!("rec"));
    assert_eq!(r.header().seed, 4);
    assert_eq!(r.len() as u64, stats.events);
    assert_eq!(r.len() as u64, out.events);
    assert!(
        r.events()
            .any(|e| matches!(e.kind, EventKind::SessionEnded { .. }))
    );
    // A workflow from a file keeps its text, for `agentctl resume`.
    let mut orch = Orchestrator::from_file("builtin:pipeline", RunOptions::default()).unwrap();
    let recorder = Recorder::record(&mut orch, dir.path()).unwrap();
    orch.start().unwrap().wait().await;
    let path = recorder.path().to_path_buf();
    recorder.finish().unwrap();
    let h = SessionReader::open(&path).unwrap().header().clone();
    assert_eq!(h.workflow.origin, "builtin:pipeline");
    assert!(
        h.workflow.text.contains("[workflow]"),
        "{}",
        h.workflow.text
    );
}

#[test]
fn metrics_have_the_same_paths_in_rust_as_in_run_json() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(["run", "--json", "--no-record", "builtin:research_report"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli = &cli["metrics"];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        Orchestrator::from_file("builtin:research_report", RunOptions::default())
            .unwrap()
            .start()
            .unwrap()
            .wait()
            .await
    });
    let m = outcome.metrics.expect("metrics");
    // The same figures under the same names (the sim is deterministic for a seed).
    assert_eq!(json!(m.calls), cli["calls"]);
    assert_eq!(json!(m.prompt_tokens), cli["prompt_tokens"]);
    assert_eq!(json!(m.completion_tokens), cli["completion_tokens"]);
    assert_eq!(json!(m.tasks_completed), cli["tasks_completed"]);
    assert_eq!(json!(m.agents[0].calls), cli["agents"][0]["calls"]);
    assert_eq!(json!(m.agents[0].agent), cli["agents"][0]["agent"]);
    assert_eq!(
        json!(m.agents[2].completion_tokens),
        cli["agents"][2]["completion_tokens"]
    );
    // And the Rust value serialises to the very keys `--json` prints.
    let rust = serde_json::to_value(&m).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&rust), keys(cli));
    assert_eq!(keys(&rust["agents"][0]), keys(&cli["agents"][0]));
}
