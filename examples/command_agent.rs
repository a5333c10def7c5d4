//! Command agents built in Rust: programs in Python and shell (the ones in
//! `assets/agents/`) after a sim writer, in a pipeline. The programs see only
//! the variables named with `env` / `inherit_env`, and run in the directory
//! `cwd` gives (for a workflow built in code the default is the current
//! directory: there is no workflow file whose folder it could be).
//! `cargo run --example command_agent`
use agentctl::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let programs = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/agents");
    let workflow = WorkflowBuilder::new("command_agents")
        .input("agents can be programs too")
        .agent(agent::llm("writer").template("draft: {{input}}"))
        .agent(
            agent::command("shouter", ["python3", "upper.py"])
                .cwd(programs)
                .inherit_env(["PATH"])
                .command_timeout_ms(10_000)
                .retry(policy::retry(2)),
        )
        .agent(
            agent::command("counter", ["sh", "wordcount.sh"])
                .cwd(programs)
                .env("LC_ALL", "C")
                .inherit_env(["PATH"]),
        )
        .node(node::sequence("main", ["draft", "shout", "count"]))
        .node(node::agent("draft", "writer"))
        .node(node::agent("shout", "shouter"))
        .node(node::agent("count", "counter"))
        .build()?;
    let mut orch = Orchestrator::new(workflow, RunOptions::default());
    let mut events = orch.subscribe();
    let run = orch.start()?;
    while let Some(event) = events.recv().await {
        // The programs' stderr lines arrive as bus messages.
        if let EventKind::Bus { .. } = &event.kind {
            println!("{}", event.kind.describe());
        }
    }
    let outcome = run.wait().await;
    let output = outcome.output.unwrap_or_default();
    println!("{output}");
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(output["words"], 6, "{output}");
    assert_eq!(output["text"], "DRAFT: AGENTS CAN BE PROGRAMS TOO");
    Ok(())
}
