#![warn(missing_docs)]
//! agentctl: a multi-agent orchestrator with a terminal cockpit.
//!
//! The binary (`agentctl tui`, `agentctl run`, ...) is one way in; this
//! library is the other. A tour:
//!
//! - **Everything is an event.** A run emits one stream of [`event::Event`]s
//!   (task created/assigned/completed, bus messages, provider calls, gates,
//!   ...) and obeys [`event::Command`]s (pause, retry, reroute, cancel, gate
//!   decisions). `docs/events.md` documents every type.
//! - **Workflows** are files ([`workflow::load::load_source`]) or built in
//!   code ([`workflow::builder::WorkflowBuilder`]); either way they are
//!   validated into a [`workflow::model::Workflow`].
//! - **The engine** ([`engine::Orchestrator`]) runs a workflow: subscribe to
//!   its events, [`start`](engine::Orchestrator::start) it, steer it through
//!   the [`RunHandle`](engine::RunHandle), or just
//!   [`execute`](engine::Orchestrator::execute) it.
//! - **Agents** are models behind a [`llm::Provider`] (the offline `sim`
//!   provider by default), programs ([`agent::command`]), or Rust code
//!   implementing [`agent::Agent`], registered by name. The engine schedules,
//!   pauses, reroutes and accounts for all of them the same way. A Rust
//!   agent reaches the run through its [`agent::AgentContext`]: the bus, the
//!   shared [`context::ContextStore`], its budgets and a cancellation token.
//! - **Tools** ([`tools::ToolBox`]) are what models may call: the shared
//!   context store, files of the workflow's folder, allow-listed HTTP, and
//!   `shell`, which is off unless an agent enables it and asks a human at a
//!   gate before every command ([`tools::shell`]).
//! - **Sessions** ([`session`]) record a run's events to a file and read them
//!   back (replay, resume, export).
//!
//! What is public is what a program embedding agentctl needs: the
//! orchestrator and its options and handles, events and commands, the
//! workflow schema, compiled model and builder, the `Agent` trait and its
//! context, providers (`sim`, `openai`, your own), the bus trait, the tool
//! registry, policies and limits (as they appear in the compiled model),
//! metrics snapshots, config and sessions. The engine's run state,
//! scheduler, task lifecycle and patterns, and the runtime state of breakers,
//! caches, quotas and budgets, are internal.
//!
//! ```
//! use agentctl::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
//! use agentctl::engine::{Orchestrator, RunOptions};
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
//! use serde_json::json;
//!
//! struct Collector;
//! impl Agent for Collector {
//!     async fn process(&self, task: AgentTask, _: AgentContext) -> Result<AgentOutput, AgentError> {
//!         Ok(AgentOutput::new(json!({"rows": 3, "from": task.input["source"]})))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let workflow = WorkflowBuilder::new("collect")
//!     .agent(agent::custom("collector"))
//!     .agent(agent::llm("summariser").template("summary of {{input}}"))
//!     .node(node::sequence("main", ["collect", "summarise"]))
//!     .node(node::agent("collect", "collector"))
//!     .node(node::agent("summarise", "summariser"))
//!     .build()
//!     .expect("valid workflow");
//! let mut orch = Orchestrator::new(workflow.into(), RunOptions { seed: 7, ..Default::default() });
//! orch.register("collector", Collector);
//! let outcome = orch.execute(json!({"source": "database"})).await.expect("started");
//! assert_eq!(outcome.tasks_completed, 2);
//! # });
//! ```

pub mod agent;
pub mod budget;
pub mod bus;
pub mod config;
pub mod context;
pub mod engine;
pub mod event;
pub mod llm;
pub mod mcp;
pub mod metrics;
pub mod resilience;
pub mod run_state;
pub mod scale_out;
pub mod secret;
pub mod session;
pub mod text;
pub mod tools;
pub mod tui;
pub mod workflow;
