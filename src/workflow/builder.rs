//! Workflows built in Rust. A builder produces the same [`WorkflowSpec`] a
//! file would, and [`WorkflowBuilder::build`] validates it the same way: the
//! spec is written out as JSON and loaded like a file, so every check and
//! every error message is the file loader's (errors point into that JSON,
//! named `<builder:NAME>`).
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
//! use serde_json::json;
//!
//! let wf = WorkflowBuilder::new("report")
//!     .input(json!("the printing press"))
//!     .agent(agent::llm("researcher").template("facts about {{input}}"))
//!     .agent(agent::llm("writer").template("a draft from {{input}}"))
//!     .node(node::sequence("main", ["research", "write"]))
//!     .node(node::agent("research", "researcher"))
//!     .node(node::agent("write", "writer").prompt("Write about: {{input}}"))
//!     .build()
//!     .expect("valid");
//! assert_eq!(wf.nodes.len(), 3);
//! ```

use serde_json::{Value, json};

use super::diagnostics::Diagnostics;
use super::kinds::KindSpec;
use super::load::{Format, load_str};
use super::model::Workflow;
use super::span::Spanned;
use super::spec::{
    AgentSpec, JoinName, NodeKindName, NodeSpec, RouteSpec, TransitionSpec, WorkflowSpec,
};

/// Builds a workflow in code.
#[derive(Debug, Clone, Default)]
pub struct WorkflowBuilder {
    spec: WorkflowSpec,
}

impl WorkflowBuilder {
    /// A workflow with a name and nothing else yet.
    pub fn new(name: &str) -> Self {
        let mut spec = WorkflowSpec::default();
        spec.workflow.name = name.into();
        WorkflowBuilder { spec }
    }

    /// One-line description.
    pub fn description(mut self, text: &str) -> Self {
        self.spec.workflow.description = Some(text.to_string());
        self
    }

    /// Input of the entry node.
    pub fn input(mut self, input: Value) -> Self {
        self.spec.workflow.input = Some(input);
        self
    }

    /// Entry node (default: the first node added).
    pub fn entry(mut self, node: &str) -> Self {
        self.spec.workflow.entry = Some(node.into());
        self
    }

    /// Adds an agent.
    pub fn agent(mut self, agent: AgentSpec) -> Self {
        self.spec.agents.push(agent);
        self
    }

    /// Adds a node.
    pub fn node(mut self, node: NodeSpec) -> Self {
        self.spec.nodes.push(node);
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

    /// Validates and compiles, exactly as a file is.
    pub fn build(&self) -> Result<Workflow, Diagnostics> {
        let text = serde_json::to_string_pretty(&self.spec).unwrap_or_else(|_| "{}".into());
        let origin = format!("<builder:{}>", self.spec.workflow.name.value);
        load_str(&text, &origin, Format::Json).map(|l| l.workflow)
    }
}

/// Agent constructors.
pub mod agent {
    use super::*;

    /// A model-backed agent (the `sim` provider unless `provider` says otherwise).
    pub fn llm(id: &str) -> AgentSpec {
        AgentSpec {
            id: id.into(),
            ..Default::default()
        }
    }

    /// An agent written in Rust; register it with `Orchestrator::register`.
    pub fn custom(id: &str) -> AgentSpec {
        from_json(json!({"id": id, "kind": "custom"}))
    }

    /// An agent backed by a program (see `agentctl::agent::command`).
    pub fn command(id: &str, run: &[&str]) -> AgentSpec {
        from_json(json!({"id": id, "kind": "command", "command": {"run": run}}))
    }

    fn from_json(v: Value) -> AgentSpec {
        serde_json::from_value(v).unwrap_or_default()
    }

    impl AgentSpec {
        /// Sets the role (planner, executor, reviewer, judge, classifier...).
        pub fn role(mut self, role: &str) -> Self {
            self.role = Some(role.to_string());
            self
        }
        /// Sets the provider and model.
        pub fn model(mut self, provider: &str, model: &str) -> Self {
            self.provider = Some(provider.into());
            self.model = Some(model.to_string());
            self
        }
        /// Sets the system prompt.
        pub fn system(mut self, text: &str) -> Self {
            self.system = Some(text.to_string());
            self
        }
        /// Adds capabilities.
        pub fn capabilities<'a>(mut self, caps: impl IntoIterator<Item = &'a str>) -> Self {
            self.capabilities
                .extend(caps.into_iter().map(str::to_string));
            self
        }
        /// Sets the concurrency limit (0 = none).
        pub fn concurrency(mut self, n: u32) -> Self {
            self.concurrency = Some(Spanned::new(n));
            self
        }
        /// Sim provider: a reply template (`{{input}}`, `{{agent}}`...).
        pub fn template(mut self, template: &str) -> Self {
            self.sim.get_or_insert_with(Default::default).template = Some(template.to_string());
            self
        }
        /// Sim provider: scripted replies by visit.
        pub fn replies(mut self, replies: impl IntoIterator<Item = Value>) -> Self {
            self.sim.get_or_insert_with(Default::default).replies = replies.into_iter().collect();
            self
        }
        /// Sim provider: fixed latency in milliseconds.
        pub fn latency_ms(mut self, ms: f64) -> Self {
            self.sim.get_or_insert_with(Default::default).latency_ms =
                Some(super::super::spec::SimLatency::Fixed(ms));
            self
        }
    }
}

/// Node constructors; unset fields take the file format's defaults.
pub mod node {
    use super::*;

    fn new(id: &str, kind: NodeKindName) -> NodeSpec {
        NodeSpec::new(id, kind)
    }

    fn ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<Vec<Spanned<String>>> {
        Some(ids.into_iter().map(Into::into).collect())
    }

    /// Sets a field of the node's kind; a field its kind does not have is
    /// kept as misplaced, so `build` reports it as a file would.
    macro_rules! set {
        ($n:ident, $key:literal, $($kind:ident)|+ => |$f:ident| $set:expr) => {{
            match &mut $n.fields {
                $(KindSpec::$kind($f) => $set,)+
                #[allow(unreachable_patterns)]
                _ => $n.misplaced.push($key.into()),
            }
            $n
        }};
    }

    /// One task for one agent.
    pub fn agent(id: &str, agent: &str) -> NodeSpec {
        let mut n = new(id, NodeKindName::Agent);
        set!(n, "agent", Agent => |f| f.agent = Some(agent.into()))
    }

    /// One task for the least-loaded agent with a capability.
    pub fn task(id: &str, capability: &str) -> NodeSpec {
        let mut n = new(id, NodeKindName::Agent);
        set!(n, "capability", Agent => |f| f.capability = Some(capability.into()))
    }

    /// A pipeline.
    pub fn sequence<'a>(id: &str, steps: impl IntoIterator<Item = &'a str>) -> NodeSpec {
        let mut n = new(id, NodeKindName::Sequence);
        set!(n, "steps", Sequence => |f| f.steps = ids(steps))
    }

    /// Fan-out / fan-in (join all unless `join_any` / `join_k`).
    pub fn parallel<'a>(id: &str, branches: impl IntoIterator<Item = &'a str>) -> NodeSpec {
        let mut n = new(id, NodeKindName::Parallel);
        set!(n, "branches", Parallel => |f| f.branches = ids(branches))
    }

    /// Scatter-gather over an expression's list (e.g. `input.items`).
    pub fn map_over(id: &str, over: &str, body: &str) -> NodeSpec {
        let mut n = new(id, NodeKindName::Map);
        set!(n, "over", Map => |f| {
            f.over = Some(over.into());
            f.body = Some(body.into());
        })
    }

    /// Scatter-gather over an inline list.
    pub fn map_items(id: &str, items: impl IntoIterator<Item = Value>, body: &str) -> NodeSpec {
        let mut n = new(id, NodeKindName::Map);
        set!(n, "items", Map => |f| {
            f.items = Some(items.into_iter().collect());
            f.body = Some(body.into());
        })
    }

    /// Planner → executors by capability → optional reviewer.
    pub fn plan(id: &str, planner: &str) -> NodeSpec {
        let mut n = new(id, NodeKindName::Plan);
        set!(n, "planner", Plan => |f| f.planner = Some(planner.into()))
    }

    /// A router; add routes with `route_when` / `route_label`.
    pub fn router(id: &str) -> NodeSpec {
        new(id, NodeKindName::Router)
    }

    /// A state machine; add transitions with `transition`.
    pub fn state_machine<'a>(id: &str, states: impl IntoIterator<Item = &'a str>) -> NodeSpec {
        let mut n = new(id, NodeKindName::Loop);
        set!(n, "states", Loop => |f| f.states = ids(states))
    }

    /// Runs `body` for each message on a bus topic.
    pub fn on_topic(id: &str, topic: &str, body: &str) -> NodeSpec {
        let mut n = new(id, NodeKindName::On);
        set!(n, "topic", On => |f| {
            f.topic = Some(topic.into());
            f.body = Some(body.into());
        })
    }

    /// A human gate, reviewing `subject`'s output (or its input).
    pub fn gate(id: &str, subject: Option<&str>) -> NodeSpec {
        let mut n = new(id, NodeKindName::Gate);
        set!(n, "subject", Gate => |f| f.subject = subject.map(Into::into))
    }

    impl NodeSpec {
        /// Prompt template.
        pub fn prompt(mut self, template: &str) -> Self {
            let t: Spanned<String> = template.into();
            set!(self, "prompt", Agent | Plan | Router => |f| f.prompt = Some(t.clone()))
        }
        /// Priority 1 (most urgent) to 5.
        pub fn priority(mut self, p: i64) -> Self {
            self.priority = Some(Spanned::new(p));
            self
        }
        /// Publish the output on a bus topic.
        pub fn emit(mut self, topic: &str) -> Self {
            self.emit = Some(topic.to_string());
            self
        }
        /// Parallel: first success wins.
        pub fn join_any(mut self) -> Self {
            set!(self, "join", Parallel => |f| f.join = Some(Spanned::new(JoinName::Any)))
        }
        /// Parallel: the first `k` successes.
        pub fn join_k(mut self, k: i64) -> Self {
            set!(self, "join", Parallel => |f| {
                f.join = Some(Spanned::new(JoinName::KOfN));
                f.k = Some(Spanned::new(k));
            })
        }
        /// Map: items in flight at once.
        pub fn concurrency(mut self, n: i64) -> Self {
            set!(self, "concurrency", Map => |f| f.concurrency = Some(Spanned::new(n)))
        }
        /// Map: node receiving the gathered list.
        pub fn aggregate(mut self, node: &str) -> Self {
            set!(self, "aggregate", Map => |f| f.aggregate = Some(node.into()))
        }
        /// Plan: the reviewer agent.
        pub fn reviewer(mut self, agent: &str) -> Self {
            set!(self, "reviewer", Plan => |f| f.reviewer = Some(agent.into()))
        }
        /// Router: a route taken when an expression holds.
        pub fn route_when(mut self, when: &str, to: &str) -> Self {
            let route = RouteSpec {
                when: Some(when.into()),
                label: None,
                to: to.into(),
            };
            set!(self, "routes", Router => |f| f.routes.get_or_insert_with(Vec::new).push(route))
        }
        /// Router: a route taken when the classifier answers `label`.
        pub fn route_label(mut self, label: &str, to: &str) -> Self {
            let route = RouteSpec {
                when: None,
                label: Some(label.into()),
                to: to.into(),
            };
            set!(self, "routes", Router => |f| f.routes.get_or_insert_with(Vec::new).push(route))
        }
        /// Router: the classifier agent.
        pub fn classifier(mut self, agent: &str) -> Self {
            set!(self, "classifier", Router => |f| f.classifier = Some(agent.into()))
        }
        /// Router: where to go when no route matches.
        pub fn default_route(mut self, to: &str) -> Self {
            set!(self, "default", Router => |f| f.default = Some(to.into()))
        }
        /// Loop: a transition (`to` may be `$end`), guarded by `when`.
        pub fn transition(mut self, from: &str, to: &str, when: Option<&str>) -> Self {
            let t = TransitionSpec {
                from: from.into(),
                to: to.into(),
                when: when.map(Into::into),
            };
            set!(self, "transitions", Loop => |f| f.transitions.get_or_insert_with(Vec::new).push(t))
        }
        /// Loop: most state visits.
        pub fn max_iterations(mut self, n: i64) -> Self {
            set!(self, "max_iterations", Loop => |f| f.max_iterations = Some(Spanned::new(n)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_workflow_is_validated_like_a_file() {
        let bad = WorkflowBuilder::new("bad")
            .agent(agent::llm("a"))
            .node(node::parallel("fan", ["x", "y"]).join_k(3))
            .node(node::agent("x", "a"))
            .node(node::agent("y", "ghost"));
        let err = bad.build().unwrap_err().to_string();
        assert!(err.contains("impossible join"), "{err}");
        assert!(err.contains("unknown agent `ghost`"), "{err}");
        assert!(err.contains("<builder:bad>"), "{err}");
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
