//! agentctl as a headless library: no cockpit and no OpenAI client
//! compiled in (CI builds this example with `--no-default-features`). A
//! flaky sim agent under a retry policy, a call timeout and a token budget;
//! the run is recorded as a session with one call and its metrics read by
//! the same paths as in `agentctl run --json`.
//! `cargo run --no-default-features --example headless`
use agentctl::prelude::*;
use agentctl::session::SessionReader;
use agentctl::workflow::spec::SimScript;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workflow = WorkflowBuilder::new("headless")
        .input("the weather")
        .budget(policy::budget().tokens(10_000))
        .agent(
            agent::llm("flaky")
                // One call in three fails as a server error.
                .sim(SimScript {
                    error_rate: 0.33,
                    ..Default::default()
                })
                .template("a forecast of {{input}}")
                .retry(policy::retry(5).base_ms(1).jitter(false))
                .timeout_ms(5_000),
        )
        .node(node::map_count("fan", 6, "work").concurrency(3))
        .node(node::agent("work", "flaky").prompt("part {{item}} of {{input}}"))
        .build()?;
    let dir = std::env::temp_dir().join(format!("agentctl-headless-{}", std::process::id()));
    let mut orch = Orchestrator::new(workflow, RunOptions::default());
    let recorder = Recorder::record(&mut orch, &dir)?;
    let outcome = orch.start()?.wait().await;
    let file = recorder.path().to_path_buf();
    recorder.finish()?;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let metrics = outcome.metrics.expect("the run reports metrics");
    // `metrics.calls`, `metrics.agents[0].success_rate`, as in `--json`.
    println!(
        "{} calls, {} retries, {} tokens; flaky: {:.0}% ok",
        metrics.calls,
        metrics.retries,
        metrics.prompt_tokens + metrics.completion_tokens,
        metrics.agents[0].success_rate * 100.0
    );
    let session = SessionReader::open(&file)?;
    println!(
        "session {} recorded: {} events in {}",
        outcome.session,
        session.len(),
        file.display()
    );
    assert_eq!(session.header().session, outcome.session);
    assert_eq!(session.header().input, json!("the weather"));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
