//! Workflows built in Rust. A builder produces the same [`WorkflowSpec`] a
//! file would, and [`WorkflowBuilder::build`] validates it the same way:
//! the spec is written out as JSON and loaded like a file, so every check
//! is the file loader's. Its errors name the builder call that was wrong
//! (`agent::llm("writer").retry(…)`), not a place in that JSON.
//!
//! Constructors are functions of [`agent`] and [`node`]; the setters are
//! methods named after the file keys; [`policy`] makes the values of the
//! policy setters.
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
//!
//! let wf = WorkflowBuilder::new("report")
//!     .input("the printing press")
//!     .agent(agent::llm("researcher").template("facts about {{input}}"))
//!     .agent(agent::llm("writer").template("a draft from {{input}}"))
//!     .node(node::sequence("main", ["research", "write"]))
//!     .node(node::agent("research", "researcher"))
//!     .node(node::agent("write", "writer").prompt("Write about: {{input}}"))
//!     .build()
//!     .expect("valid");
//! assert_eq!(wf.nodes.len(), 3);
//! ```
//!
//! A mistake is reported at the call that made it:
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node, policy};
//!
//! let err = WorkflowBuilder::new("bad")
//!     .agent(agent::llm("writer").retry(policy::retry(0)))
//!     .node(node::agent("write", "writer"))
//!     .build()
//!     .unwrap_err()
//!     .to_string();
//! assert!(err.contains("--> agent::llm(\"writer\").retry(…)"), "{err}");
//! ```

pub mod agent;
mod call_path;
pub mod node;
pub mod policy;

use serde_json::Value;

use super::diagnostics::Diagnostics;
use super::load::{Format, load_str};
use super::model::Workflow;
use super::span::Spanned;
use super::spec::{
    AgentSpec, BreakerSpec, BudgetSpec, DefaultsSpec, NodeSpec, PriceSpec, QuotaSpec, WorkflowSpec,
};

/// Builds a workflow in code.
#[derive(Debug, Clone, Default)]
pub struct WorkflowBuilder {
    spec: WorkflowSpec,
}

impl WorkflowBuilder {
    /// A workflow with a name and nothing else yet.
    pub fn new(name: impl Into<String>) -> Self {
        let mut spec = WorkflowSpec::default();
        spec.workflow.name = Spanned::new(name.into());
        WorkflowBuilder { spec }
    }

    /// One-line description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.spec.workflow.description = Some(text.into());
        self
    }

    /// Input of the entry node (`"text"`, `json!({...})`, a number...).
    pub fn input(mut self, input: impl Into<Value>) -> Self {
        self.spec.workflow.input = Some(input.into());
        self
    }

    /// Entry node (default: the first node added).
    pub fn entry(mut self, node: impl Into<String>) -> Self {
        self.spec.workflow.entry = Some(Spanned::new(node.into()));
        self
    }

    /// Most hand-offs one task may make between agents (default 3).
    pub fn max_handoffs(mut self, n: u32) -> Self {
        self.spec.workflow.max_handoffs = Some(n);
        self
    }

    /// Scheduler aging step (default 32).
    pub fn aging_step(mut self, n: u32) -> Self {
        self.spec.workflow.aging_step = Some(n);
        self
    }

    /// Adds an agent ([`agent::llm`], [`agent::command`], [`agent::custom`]).
    pub fn agent(mut self, agent: AgentSpec) -> Self {
        self.spec.agents.push(agent);
        self
    }

    /// Adds a node (constructors in [`node`]).
    pub fn node(mut self, node: NodeSpec) -> Self {
        self.spec.nodes.push(node);
        self
    }

    /// `[defaults]`: policies for every agent ([`policy::defaults`]).
    pub fn defaults(mut self, defaults: DefaultsSpec) -> Self {
        self.spec.defaults = Some(defaults);
        self
    }

    /// `[budget]`: the run's limits ([`policy::budget`]).
    pub fn budget(mut self, budget: BudgetSpec) -> Self {
        self.spec.budget = Some(budget);
        self
    }

    /// `[prices.MODEL]`: US dollars per million prompt and completion tokens.
    pub fn price(mut self, model: impl Into<String>, input: f64, output: f64) -> Self {
        let p: PriceSpec = policy::price(input, output);
        self.spec.prices.insert(model.into(), p);
        self
    }

    /// `[quotas.PROVIDER]` ([`policy::quota`]).
    pub fn quota(mut self, provider: impl Into<String>, quota: QuotaSpec) -> Self {
        self.spec.quotas.insert(provider.into(), quota);
        self
    }

    /// `[breakers.PROVIDER]`: one circuit breaker for every agent calling
    /// the provider ([`policy::breaker`]).
    pub fn endpoint_breaker(mut self, provider: impl Into<String>, breaker: BreakerSpec) -> Self {
        self.spec.breakers.insert(provider.into(), breaker);
        self
    }

    /// The spec as built so far.
    pub fn spec(&self) -> &WorkflowSpec {
        &self.spec
    }

    /// The workflow as a TOML file (to save it, or to read what was built).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(&self.spec)
    }

    /// Validates and compiles, exactly as a file is; each error names the
    /// builder call it comes from.
    pub fn build(&self) -> Result<Workflow, Diagnostics> {
        let text = serde_json::to_string_pretty(&self.spec).unwrap_or_else(|_| "{}".into());
        let origin = format!("<builder:{}>", self.spec.workflow.name.value);
        load_str(&text, &origin, Format::Json)
            .map(|l| l.workflow)
            .map_err(|d| call_path::relocate(d, &text, &self.spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(b: WorkflowBuilder) -> String {
        b.build().map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn a_built_workflow_is_validated_like_a_file() {
        let bad = WorkflowBuilder::new("bad")
            .agent(agent::llm("a"))
            .node(node::parallel("fan", ["x", "y"]).join_k(3))
            .node(node::agent("x", "a"))
            .node(node::agent("y", "ghost"));
        let err = error_of(bad);
        assert!(err.contains("impossible join"), "{err}");
        assert!(err.contains("unknown agent `ghost`"), "{err}");
        // Located at the calls, not in the JSON the builder wrote.
        assert!(
            err.contains("--> node::parallel(\"fan\", …).join_…(…)"),
            "{err}"
        );
        assert!(err.contains("--> node::agent(\"y\", …)"), "{err}");
        assert!(!err.contains("<builder:bad>"), "{err}");
    }

    #[test]
    fn errors_name_the_setter_that_was_wrong() {
        let err = error_of(
            WorkflowBuilder::new("w")
                .agent(agent::llm("ok"))
                .agent(agent::llm("writer").retry(policy::retry(0)))
                .node(node::agent("n", "writer")),
        );
        assert!(err.contains("--> agent::llm(\"writer\").retry(…)"), "{err}");
        assert!(err.contains("max_attempts"), "{err}");
        // A command setter on a model agent.
        let err = error_of(
            WorkflowBuilder::new("w")
                .agent(agent::llm("writer").env("K", "v"))
                .node(node::agent("n", "writer")),
        );
        assert!(err.contains("--> agent::llm(\"writer\").env(…)"), "{err}");
        // A setter of another node kind.
        let err = error_of(
            WorkflowBuilder::new("w")
                .agent(agent::llm("a"))
                .node(node::sequence("s", ["n"]).resolve("a"))
                .node(node::agent("n", "a")),
        );
        assert!(
            err.contains("--> node::sequence(\"s\", …).resolve(…)"),
            "{err}"
        );
        // Run-wide tables.
        let err = error_of(
            WorkflowBuilder::new("w")
                .budget(policy::budget().tokens(10).warn_at(7.0))
                .agent(agent::llm("a"))
                .node(node::agent("n", "a")),
        );
        assert!(err.contains("--> WorkflowBuilder.budget(…)"), "{err}");
    }

    #[test]
    fn setters_reach_the_compiled_workflow() {
        let wf = WorkflowBuilder::new("w")
            .input("x")
            .agent(
                agent::command("c", ["cat"])
                    .env("A", "1")
                    .inherit_env(["PATH"])
                    .command_timeout_ms(1234),
            )
            .agent(agent::llm("judge"))
            .node(node::parallel("p", ["n"]).resolve("judge"))
            .node(node::agent("n", "c").task_timeout_ms(999))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let crate::workflow::model::AgentKind::Command(cmd) = &wf.agents[0].kind else {
            panic!("a command agent")
        };
        assert!(cmd.env.iter().any(|(k, v)| k == "A" && v == "1"));
        assert_eq!(cmd.timeout, std::time::Duration::from_millis(1234));
        assert_eq!(wf.input, json!("x"));
        assert_eq!(
            wf.nodes[1].policy.timeouts.and_then(|t| t.task),
            Some(std::time::Duration::from_millis(999))
        );
        assert!(wf.nodes[0].policy.resolve.is_some());
    }

    #[test]
    fn a_built_workflow_round_trips_through_toml() {
        let b = WorkflowBuilder::new("loop")
            .agent(agent::llm("a").replies([json!({"confidence": 0.9})]))
            .node(
                node::state_machine("l", ["s"])
                    .transition("s", "s", Some("output.confidence < 0.5"))
                    .max_iterations(3),
            )
            .node(node::agent("s", "a"));
        let toml_text = b.to_toml().unwrap();
        let from_file = load_str(&toml_text, "l.toml", Format::Toml)
            .unwrap_or_else(|d| panic!("{d}\n{toml_text}"));
        let built = b.build().unwrap();
        assert_eq!(from_file.workflow.nodes.len(), built.nodes.len());
        assert_eq!(from_file.workflow.agents[0].sim, built.agents[0].sim);
    }
}
