//! Two Rust agents, a command agent and a model agent: a pipeline whose
//! middle step fans out in parallel, with the run's events printed as they
//! happen. `cargo run --example fan_out`
use agentctl::prelude::*;

/// A Rust agent with a type of its own.
struct Fetch;
impl Agent for Fetch {
    async fn process(&self, task: AgentTask, _: AgentContext) -> Result<AgentOutput, AgentError> {
        Ok(json!({"topic": task.input, "rows": 42}).into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The command agent counts the bytes of the task it reads on stdin.
    let wc = r#"printf '{"output": %s}' "$(wc -c)""#;
    let workflow = WorkflowBuilder::new("fan_out")
        .input("the printing press")
        .agent(agent::custom("fetcher"))
        .agent(agent::custom("doubler").retry(policy::retry(2)))
        .agent(agent::command("counter", ["sh", "-c", wc]).inherit_env(["PATH"]))
        .agent(agent::llm("writer").template("Report: {{input}}"))
        .node(node::sequence("main", ["fetch", "fan", "write"]))
        .node(node::agent("fetch", "fetcher"))
        .node(node::parallel("fan", ["double", "count"]))
        .node(node::agent("double", "doubler"))
        .node(node::agent("count", "counter"))
        .node(node::agent("write", "writer"))
        .build()?;
    // A Rust agent from a closure.
    let doubler = agent::from_fn(|task, _| async move {
        Ok(json!(task.input["rows"].as_u64().unwrap_or(0) * 2).into())
    });
    let mut orch = Orchestrator::new(workflow, RunOptions::default())
        .with_agent("fetcher", Fetch)
        .with_agent("doubler", doubler);
    let mut events = orch.subscribe();
    let run = orch.start()?;
    while let Some(event) = events.recv().await {
        println!("#{:<3} {}", event.seq, event.kind.describe());
    }
    let outcome = run.wait().await;
    println!("{}", outcome.output.unwrap_or_default());
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.tasks_completed, 4);
    Ok(())
}
