//! Agent constructors and the setters of everything an `[[agents]]` table
//! can say. Every setter is named after its file key; strings are taken as
//! `impl Into<String>` and lists as any iterator of them.
//!
//! Model agents, with tools:
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node, policy};
//!
//! let wf = WorkflowBuilder::new("tools")
//!     .input("notes")
//!     .agent(
//!         agent::llm("assistant")
//!             .role("executor")
//!             .model("sim", "sim-1")
//!             .system("You keep notes.")
//!             .capabilities(["notes"])
//!             .max_tokens(512)
//!             .temperature(0.2)
//!             .concurrency(2)
//!             .context_tokens(2_000)
//!             .tools(["context_get", "context_put", "shell"])
//!             .shell(policy::shell().inherit_env(["PATH"]).timeout_ms(5_000))
//!             .tool_choice("auto"),
//!     )
//!     .node(node::agent("note", "assistant"))
//!     .build()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(wf.agents[0].tools.len(), 3);
//! ```
//!
//! Command agents (a program speaking JSON on stdin and stdout). The
//! program runs in the current directory of the process unless `cwd` says
//! otherwise (a relative `cwd` is taken from the current directory too: a
//! workflow built in code has no file whose folder it could be relative
//! to), and sees only the variables set with `env` or named in
//! `inherit_env`:
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
//! use agentctl::workflow::model::AgentKind;
//!
//! let wf = WorkflowBuilder::new("cmd")
//!     .input("hi")
//!     .agent(
//!         agent::command("upper", ["python3", "upper.py"])
//!             .env("MODE", "loud")
//!             .inherit_env(["PATH"])
//!             .cwd("/tmp")
//!             .command_timeout_ms(10_000)
//!             .max_output_bytes(65_536),
//!     )
//!     .node(node::agent("shout", "upper"))
//!     .build()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! let AgentKind::Command(cmd) = &wf.agents[0].kind else { panic!() };
//! assert_eq!(cmd.cwd, std::path::Path::new("/tmp"));
//! ```

use serde_json::Value;

use crate::workflow::span::Spanned;
use crate::workflow::spec::{
    AgentKindName, AgentSpec, BreakerSpec, BudgetSpec, CacheSpec, CommandSpec, DegradeSpec,
    RetrySpec, ShellSpec, SimLatency, SimScript,
};

/// A model-backed agent (the `sim` provider unless [`AgentSpec::model`]
/// names another).
pub fn llm(id: impl Into<String>) -> AgentSpec {
    AgentSpec {
        id: Spanned::new(id.into()),
        // Said, not inferred: a command setter on a model agent is then
        // reported as such.
        kind: Some(Spanned::new(AgentKindName::Llm)),
        ..Default::default()
    }
}

/// An agent written in Rust: hand its implementation to
/// `Orchestrator::with_agent` (or `register`) under the same id.
pub fn custom(id: impl Into<String>) -> AgentSpec {
    AgentSpec {
        kind: Some(Spanned::new(AgentKindName::Custom)),
        ..llm(id)
    }
}

/// An agent backed by a program and its arguments (see
/// `agentctl::agent::command` for the protocol).
pub fn command(
    id: impl Into<String>,
    run: impl IntoIterator<Item = impl Into<String>>,
) -> AgentSpec {
    AgentSpec {
        kind: Some(Spanned::new(AgentKindName::Command)),
        command: Some(CommandSpec {
            run: Spanned::new(run.into_iter().map(Into::into).collect()),
            ..Default::default()
        }),
        ..llm(id)
    }
}

fn strings(items: impl IntoIterator<Item = impl Into<String>>) -> impl Iterator<Item = String> {
    items.into_iter().map(Into::into)
}

impl AgentSpec {
    /// The role: planner, executor, reviewer, judge, classifier, or free text.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }
    /// The provider and model.
    pub fn model(mut self, provider: impl Into<String>, model: impl Into<String>) -> Self {
        self.provider = Some(Spanned::new(provider.into()));
        self.model = Some(model.into());
        self
    }
    /// The system prompt.
    pub fn system(mut self, text: impl Into<String>) -> Self {
        self.system = Some(text.into());
        self
    }
    /// Adds capabilities, for dispatch by capability.
    pub fn capabilities(mut self, caps: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.capabilities.extend(strings(caps));
        self
    }
    /// Reply length limit.
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }
    /// Sampling temperature.
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }
    /// Most tasks at once (default 4; 0 = no limit).
    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = Some(Spanned::new(n));
        self
    }
    /// Gives the agent the shared context windowed to this many tokens.
    pub fn context_tokens(mut self, n: u32) -> Self {
        self.context_tokens = Some(n);
        self
    }
    /// Accepts batches of up to this many `map` items in one call.
    pub fn max_batch(mut self, n: u32) -> Self {
        self.max_batch = Some(Spanned::new(n));
        self
    }

    // ── the sim provider's script ──

    /// Sim provider: the whole script.
    pub fn sim(mut self, script: SimScript) -> Self {
        self.sim = Some(script);
        self
    }
    /// Sim provider: a reply template (`{{input}}`, `{{agent}}`...).
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.sim.get_or_insert_with(Default::default).template = Some(template.into());
        self
    }
    /// Sim provider: scripted replies by visit.
    pub fn replies(mut self, replies: impl IntoIterator<Item = Value>) -> Self {
        self.sim.get_or_insert_with(Default::default).replies = replies.into_iter().collect();
        self
    }
    /// Sim provider: fixed latency in milliseconds.
    pub fn latency_ms(mut self, ms: f64) -> Self {
        self.sim.get_or_insert_with(Default::default).latency_ms = Some(SimLatency::Fixed(ms));
        self
    }

    /// Sim provider, debates and votes: the stance (or ballot) per round,
    /// the last repeating.
    pub fn positions(mut self, positions: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.sim.get_or_insert_with(Default::default).positions = strings(positions).collect();
        self
    }
    /// Sim provider, debates and votes: a fixed confidence (0..=1).
    pub fn confidence(mut self, c: f64) -> Self {
        self.sim.get_or_insert_with(Default::default).confidence = Some(c);
        self
    }
    /// Sim provider, debates: the chance of keeping a criticised position.
    pub fn stubbornness(mut self, p: f64) -> Self {
        self.sim.get_or_insert_with(Default::default).stubbornness = Some(p);
        self
    }

    // ── resilience and budgets ──

    /// Retry policy ([`policy::retry`](super::policy::retry), [`policy::no_retry`](super::policy::no_retry)).
    pub fn retry(mut self, retry: RetrySpec) -> Self {
        self.retry = Some(retry);
        self
    }
    /// Time limit of one call, ms.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(Spanned::new(ms));
        self
    }
    /// Time limit of a whole task (all attempts), ms.
    pub fn task_timeout_ms(mut self, ms: u64) -> Self {
        self.task_timeout_ms = Some(Spanned::new(ms));
        self
    }
    /// Circuit breaker ([`policy::breaker`](super::policy::breaker)).
    pub fn breaker(mut self, breaker: BreakerSpec) -> Self {
        self.breaker = Some(breaker);
        self
    }
    /// Response cache ([`policy::cache`](super::policy::cache)).
    pub fn cache(mut self, cache: CacheSpec) -> Self {
        self.cache = Some(cache);
        self
    }
    /// Agents tried in order when this one cannot answer.
    pub fn fallbacks(mut self, agents: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fallbacks.extend(strings(agents).map(Spanned::new));
        self
    }
    /// This agent's limits ([`policy::budget`](super::policy::budget)).
    pub fn budget(mut self, budget: BudgetSpec) -> Self {
        self.budget = Some(budget);
        self
    }
    /// A cheaper agent to switch to under pressure ([`policy::degrade`](super::policy::degrade)).
    pub fn degrade(mut self, degrade: DegradeSpec) -> Self {
        self.degrade = Some(degrade);
        self
    }

    // ── tools ──

    /// Tools the agent may call (`context_get`, `context_put`,
    /// `read_file`, `http_get`, `shell`).
    pub fn tools(mut self, tools: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tools.extend(strings(tools).map(Spanned::new));
        self
    }
    /// Enables the `shell` tool ([`policy::shell`](super::policy::shell); list `shell` in
    /// `tools` too). Every call still waits for a human's approval.
    pub fn shell(mut self, shell: ShellSpec) -> Self {
        self.shell = Some(shell);
        self
    }
    /// What the first round of the tool loop asks of the model: `auto`,
    /// `required`, `none`, or a tool's name.
    pub fn tool_choice(mut self, choice: impl Into<String>) -> Self {
        self.tool_choice = Some(Spanned::new(choice.into()));
        self
    }
    /// Whether rounds after the first go back to `auto` (default true).
    pub fn reset_tool_choice(mut self, on: bool) -> Self {
        self.reset_tool_choice = Some(on);
        self
    }

    // ── command agents ──

    fn command_spec(&mut self) -> &mut CommandSpec {
        // On an agent that is not a command agent this makes a command
        // table, which `build` reports at this setter.
        self.command.get_or_insert_with(Default::default)
    }
    /// Command agents: sets an environment variable of the program.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.command_spec().env.insert(key.into(), value.into());
        self
    }
    /// Command agents: passes variables through from this process's
    /// environment (e.g. `PATH`, or a key the program needs).
    pub fn inherit_env(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.command_spec().inherit_env.extend(strings(names));
        self
    }
    /// Command agents: the working directory (absolute, or relative to the
    /// current directory; default: the current directory).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.command_spec().cwd = Some(dir.into());
        self
    }
    /// Command agents: kills the process group after this long, ms
    /// (default 60000).
    pub fn command_timeout_ms(mut self, ms: u64) -> Self {
        self.command_spec().timeout_ms = Some(Spanned::new(ms));
        self
    }
    /// Command agents: one long-lived process serving tasks as JSON lines.
    pub fn persistent(mut self, on: bool) -> Self {
        self.command_spec().persistent = on;
        self
    }
    /// Command agents: largest reply accepted on stdout, bytes (default 1 MiB).
    pub fn max_output_bytes(mut self, n: u64) -> Self {
        self.command_spec().max_output_bytes = Some(Spanned::new(n));
        self
    }
}
