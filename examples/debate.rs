//! A debate built in Rust: three sim debaters argue two rounds over a
//! question, a judge decides, and the turns are printed as they come.
//! `cargo run --example debate`
use agentctl::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workflow = WorkflowBuilder::new("pick_a_store")
        .input("Which store for 2 TB of event data?")
        .agent(agent::llm("ana").positions(["clickhouse"]).confidence(0.9))
        .agent(agent::llm("ben").positions(["postgres"]).stubbornness(0.1))
        .agent(agent::llm("cleo").positions(["duckdb", "clickhouse"]))
        .agent(agent::llm("judge").role("judge"))
        .node(
            node::debate("choose", ["ana", "ben", "cleo"])
                .question("{{input}}")
                .options(["postgres", "clickhouse", "duckdb"])
                .rounds(2)
                .judge("judge"),
        )
        .build()?;
    let mut orch = Orchestrator::new(
        workflow,
        RunOptions {
            seed: 3,
            ..Default::default()
        },
    );
    let mut events = orch.subscribe();
    let run = orch.start()?;
    let mut turns = 0;
    while let Some(event) = events.recv().await {
        match &event.kind {
            EventKind::DebateTurn { .. } => turns += 1,
            EventKind::DebateEnded { .. } => {}
            _ => continue,
        }
        println!("{}", event.kind.describe());
    }
    let outcome = run.wait().await;
    println!("decision: {}", outcome.output.unwrap_or_default());
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(turns >= 3, "every debater spoke: {turns} turns");
    Ok(())
}
