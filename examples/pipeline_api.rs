//! Build a workflow in Rust, run it on the offline sim provider, print the
//! result. `cargo run --example pipeline_api`

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let workflow = WorkflowBuilder::new("research_report")
        .agent(
            agent::llm("researcher")
                .capabilities(["research"])
                .template("Facts about {{input}}"),
        )
        .agent(
            agent::llm("analyst")
                .capabilities(["analysis"])
                .template("Trends in: {{input}}"),
        )
        .agent(
            agent::llm("writer")
                .capabilities(["writing"])
                .template("# Report\n{{input}}"),
        )
        .node(node::sequence(
            "report",
            ["research", "analysis", "writing"],
        ))
        .node(node::task("research", "research").prompt("Research {{input}}"))
        .node(node::task("analysis", "analysis"))
        .node(node::task("writing", "writing"))
        .build();
    let workflow = match workflow {
        Ok(w) => w,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(2);
        }
    };
    let orch = Orchestrator::new(
        workflow,
        RunOptions {
            seed: 7,
            ..Default::default()
        },
    );
    match orch.execute(json!("small language models")).await {
        Ok(outcome) => {
            println!(
                "{:?}: {} tasks, {} tokens",
                outcome.status,
                outcome.tasks_completed,
                outcome.usage.total()
            );
            println!(
                "{}",
                outcome
                    .output
                    .and_then(|o| o.as_str().map(str::to_string))
                    .unwrap_or_default()
            );
            assert_eq!(outcome.tasks_completed, 3);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
