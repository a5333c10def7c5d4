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
//! - **Telemetry** ([`telemetry`]) exports a run's events as OpenTelemetry
//!   traces and metrics over OTLP.
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
//! **Cargo features**, both on by default; `default-features = false`
//! leaves them out for a headless program:
//!
//! - `tui`: the cockpit (`agentctl::tui`; ratatui,
//!   crossterm, ratatui-textarea, nucleo-matcher);
//! - `openai`: the OpenAI-compatible provider (`llm::openai`) and the
//!   providers of `config.toml` (async-openai, tower, http). Without it,
//!   [`config::Config::build_provider`] says the feature is missing.
//!
//! The `agentctl` binary needs both.
//!
//! **The builder**: [`prelude`] has what a program needs. Every key of a
//! workflow file has a setter named after it (`retry`, `timeout_ms`,
//! `fallbacks`, `breaker`, `budget`, `cache`, `tools`, `resolve`, a command
//! agent's `env`...; see [`workflow::builder`]); a mistake names the builder
//! call that made it. `start()` without an input is an error
//! ([`engine::StartError::NoInput`]). [`session::Recorder::record`] records a
//! run in one call. [`metrics::MetricsSnapshot`] reads by the paths of
//! `agentctl run --json` (`metrics.calls`, `metrics.agents[0].cost_usd`).
//!
//! Two Rust agents, a command agent and a model agent in a pipeline whose
//! middle step fans out, with its events watched (`examples/fan_out.rs`
//! is the same program, runnable):
//!
//! ```
//! use agentctl::prelude::*;
//!
//! struct Fetch;
//! impl Agent for Fetch {
//!     async fn process(&self, task: AgentTask, _: AgentContext) -> Result<AgentOutput, AgentError> {
//!         Ok(json!({"topic": task.input, "rows": 42}).into())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let workflow = WorkflowBuilder::new("report")
//!     .input("the printing press")
//!     .agent(agent::custom("fetcher"))
//!     .agent(agent::custom("doubler"))
//!     .agent(agent::command("counter", ["sh", "-c", r#"printf '{"output": %s}' "$(wc -c)""#]).inherit_env(["PATH"]))
//!     .agent(agent::llm("writer").template("Report: {{input}}"))
//!     .node(node::sequence("main", ["fetch", "fan", "write"]))
//!     .node(node::agent("fetch", "fetcher"))
//!     .node(node::parallel("fan", ["double", "count"]))
//!     .node(node::agent("double", "doubler"))
//!     .node(node::agent("count", "counter"))
//!     .node(node::agent("write", "writer"))
//!     .build()
//!     .expect("valid workflow");
//! let doubler = agent::from_fn(|task, _| async move {
//!     Ok(json!(task.input["rows"].as_u64().unwrap_or(0) * 2).into())
//! });
//! let mut orch = Orchestrator::new(workflow, RunOptions::default())
//!     .with_agent("fetcher", Fetch)
//!     .with_agent("doubler", doubler);
//! let mut events = orch.subscribe();
//! let run = orch.start().expect("started");
//! while let Some(event) = events.recv().await {
//!     println!("{}", event.kind.describe());
//! }
//! let outcome = run.wait().await;
//! assert_eq!(outcome.tasks_completed, 4);
//! assert_eq!(outcome.metrics.expect("metrics").agents.len(), 4);
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
pub mod telemetry;
pub mod text;
pub mod tools;
#[cfg(feature = "tui")]
pub mod tui;
pub mod workflow;

/// What most programs embedding agentctl use: `use agentctl::prelude::*;`.
pub mod prelude {
    pub use crate::agent::{Agent, AgentContext, AgentError, AgentOutput, AgentTask};
    pub use crate::engine::{Orchestrator, RunHandle, RunOptions, RunOutcome};
    pub use crate::event::{Command, Event, EventKind, RunStatus};
    pub use crate::session::Recorder;
    pub use crate::workflow::builder::{WorkflowBuilder, node, policy};
    pub use serde_json::{Value, json};

    /// Agent constructors ([`crate::workflow::builder::agent`]) and
    /// [`from_fn`](crate::agent::from_fn), for closures as agents.
    pub mod agent {
        pub use crate::agent::from_fn;
        pub use crate::workflow::builder::agent::*;
    }
}
