//! A Rust agent (a data collector: plain code, no model) in a workflow next
//! to a sim LLM agent. It publishes progress on the bus, checks its budget,
//! reports the tokens of a (pretend) model call of its own so the run's
//! accounting stays exact, and leaves a fact in the shared context store.
//! `cargo run --example custom_agent`

use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::Usage;
use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
use serde_json::{Value, json};

/// Pretends to read rows from a source named in its input.
struct DataCollector {
    rows_per_source: u64,
}

impl Agent for DataCollector {
    async fn process(&self, task: AgentTask, ctx: AgentContext) -> Result<AgentOutput, AgentError> {
        let source = task
            .input
            .get("source")
            .and_then(Value::as_str)
            .ok_or_else(|| AgentError::fatal("the input needs a `source` field"))?;
        // Progress goes on the bus, where the cockpit's bus pane shows it.
        let _ = ctx
            .publish(
                "collector.progress",
                "log",
                json!(format!("reading {source}")),
            )
            .await;
        // No budget declared: nothing limits it (`None`).
        if let Some(left) = ctx.budget().remaining_tokens() {
            println!("collector: {left} tokens left in the budget");
        }
        // Say what a model call of our own cost: it counts like any call.
        ctx.report_usage(Usage {
            prompt_tokens: 40,
            completion_tokens: 8,
            estimated: false,
        });
        // Other agents (and `context_get`) see this.
        ctx.context()
            .add_fact(format!("{source} has {} rows", self.rows_per_source));
        Ok(AgentOutput::new(
            json!({"source": source, "rows": self.rows_per_source}),
        ))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let workflow = WorkflowBuilder::new("collect_and_summarise")
        .agent(agent::custom("collector"))
        .agent(agent::llm("summariser").template("Summary: {{input}}"))
        .node(node::sequence("main", ["collect", "summarise"]))
        .node(node::agent("collect", "collector"))
        .node(node::agent("summarise", "summariser"))
        .build()
        .unwrap_or_else(|errors| panic!("{errors}"));
    let mut orch = Orchestrator::new(workflow, RunOptions::default());
    orch.register(
        "collector",
        DataCollector {
            rows_per_source: 42,
        },
    );
    let outcome = orch
        .execute(json!({"source": "database"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = outcome
        .output
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    println!("{text}");
    println!("tokens spent by the run: {}", outcome.usage.total());
    assert!(
        outcome.usage.total() >= 48,
        "the collector's reported tokens count"
    );
    assert!(
        text.contains(r#""rows":42"#),
        "the summariser saw the collector's rows: {text}"
    );
}
