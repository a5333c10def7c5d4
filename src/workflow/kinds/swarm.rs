//! `swarm`: agents work a shared pool of items with no coordinator. Each
//! round every agent picks an item by a local rule, claims it with a lease
//! counted in rounds, posts findings and may add items; the swarm stops on
//! a convergence rule and ends with an aggregate.

use serde_json::Value;

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::diagram::{Diagram, Shape};
use crate::workflow::expr::Expr;
use crate::workflow::index::AgentIdx;
use crate::workflow::span::Spanned;
use crate::workflow::template::Template;

/// A compiled `swarm` node.
#[derive(Debug, Clone)]
pub struct SwarmNode {
    /// The agents that work the pool, all peers.
    pub agents: Vec<AgentIdx>,
    /// What the swarm works towards (a template; default: the input).
    pub goal: Template,
    /// The pool's first items.
    pub seeds: SwarmSeeds,
    /// Rounds a claim lasts without a finding before it expires.
    pub lease_rounds: u32,
    /// Findings an item needs to be done.
    pub coverage: u32,
    /// Stop after this many rounds in a row without a new item.
    pub quiet_rounds: Option<u32>,
    /// Stop when this share of the items is done (1 = every item).
    pub converge_at: f64,
    /// Most rounds.
    pub max_steps: u32,
    /// Most items the pool holds (new ones past it are dropped).
    pub max_items: u32,
    /// Tokens of the pool's findings each agent sees.
    pub context_tokens: u32,
    /// The agent that writes the aggregate; else the pool itself is the output.
    pub aggregate: Option<AgentIdx>,
    /// Repair prompts for a reply with no finding.
    pub repair_attempts: u32,
    /// Starts in step mode (one step per round).
    pub step: bool,
}

/// Where the pool's first items come from.
#[derive(Debug, Clone)]
pub enum SwarmSeeds {
    /// An inline list.
    Items(Vec<String>),
    /// An expression giving a list (or one value).
    Over(Expr),
    /// The goal itself is the one first item.
    Goal,
}

impl Kind for SwarmNode {
    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let names: Vec<&str> = self.agents.iter().map(|a| d.agent(*a)).collect();
        d.line(format_args!("swarm: {}", names.join(", ")));
        match &self.seeds {
            SwarmSeeds::Items(items) => d.line(format_args!("{} seed items", items.len())),
            SwarmSeeds::Over(e) => d.line(format_args!("items over: {}", e.source())),
            SwarmSeeds::Goal => d.line("seed: the goal"),
        }
        d.line(format_args!(
            "lease {} rounds, coverage {}",
            self.lease_rounds, self.coverage
        ));
        let mut stop = format!("≤{} rounds", self.max_steps);
        if let Some(q) = self.quiet_rounds {
            stop.push_str(&format!(", quiet {q}"));
        }
        if self.converge_at < 1.0 {
            stop.push_str(&format!(", {:.0}% done", self.converge_at * 100.0));
        }
        d.line(stop);
        if let Some(a) = self.aggregate {
            d.line(format_args!("aggregate: {}", d.agent(a)));
        }
        if self.step {
            d.line("step mode");
        }
        Shape::Stadium
    }
}

// ── spec: what a `swarm` node says in a workflow file ──

/// The fields of a `swarm` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`, `on_error`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmNodeSpec {
    /// The agents (ids) working the pool, at least 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Spanned<String>>>,
    /// What the swarm works towards, a template (default: the input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Spanned<String>>,
    /// The first items, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// An expression giving the first items (e.g. `input.questions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<Spanned<String>>,
    /// Rounds a claim lasts without a finding (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_rounds: Option<Spanned<i64>>,
    /// Findings an item needs to be done (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Spanned<i64>>,
    /// Stop after this many rounds in a row with no new item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_rounds: Option<Spanned<i64>>,
    /// Stop when this share of the items is done, in (0, 1] (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converge_at: Option<Spanned<f64>>,
    /// Most rounds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<Spanned<i64>>,
    /// Most items in the pool (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<Spanned<i64>>,
    /// Tokens of findings each agent sees (default 1500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<Spanned<i64>>,
    /// The agent that writes the aggregate (default: none, the pool is the output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Spanned<String>>,
    /// Repair prompts for a reply with no finding (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_attempts: Option<Spanned<i64>>,
    /// Wait for a `step` command before each round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<bool>,
}

impl SwarmNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> SwarmNode {
        let n = self;
        let o = Owner::Node(i);
        let agents = cx.agent_list(i, "agents", &n.agents, NodeKindName::Swarm, 2);
        let goal = cx.template(i, "goal", &n.goal);
        let seeds = match (&n.items, &n.over) {
            (Some(_), Some(over)) => {
                let at = cx.field_span(o, "over", over.span.clone());
                cx.error(
                    at,
                    "a `swarm` takes `items` or `over`, not both",
                    "keep one source of first items",
                );
                SwarmSeeds::Goal
            }
            (Some(items), None) => {
                let mut list = Vec::with_capacity(items.len());
                for v in items {
                    let text = match v {
                        Value::String(s) => s.trim().to_string(),
                        other => other.to_string(),
                    };
                    if text.is_empty() {
                        let at = cx.field_span(o, "items", None);
                        cx.error(
                            at,
                            "an empty item in `items`",
                            "give every item a short description",
                        );
                    } else {
                        list.push(text);
                    }
                }
                if items.is_empty() {
                    let at = cx.field_span(o, "items", None);
                    cx.error(
                        at,
                        "`items` is empty: the pool would start with nothing to work on",
                        "list at least one item, or remove `items` to start from the goal",
                    );
                }
                SwarmSeeds::Items(list)
            }
            (None, Some(over)) => cx
                .expr(i, "over", over)
                .map_or(SwarmSeeds::Goal, SwarmSeeds::Over),
            (None, None) => SwarmSeeds::Goal,
        };
        let lease_rounds = cx.int(i, "lease_rounds", &n.lease_rounds, 1, 2);
        let coverage = cx.int(i, "coverage", &n.coverage, 1, 1);
        let quiet_rounds = n
            .quiet_rounds
            .as_ref()
            .map(|_| cx.int(i, "quiet_rounds", &n.quiet_rounds, 1, 1));
        let max_steps = cx.int(i, "max_steps", &n.max_steps, 1, 10);
        let max_items = cx.int(i, "max_items", &n.max_items, 1, 32);
        let context_tokens = cx.int(i, "context_tokens", &n.context_tokens, 64, 1500);
        let repair_attempts = cx.int(i, "repair_attempts", &n.repair_attempts, 0, 1);
        let converge_at = match &n.converge_at {
            None => 1.0,
            Some(c) if c.value > 0.0 && c.value <= 1.0 => c.value,
            Some(c) => {
                let at = cx.value_span(o, "converge_at", &c.span, &c.value.to_string());
                cx.error(
                    at,
                    format!("`converge_at` must be in (0, 1], got {}", c.value),
                    "it is the share of items done that stops the swarm (e.g. 0.8; 1 = every item)",
                );
                1.0
            }
        };
        if let Some(l) = &n.lease_rounds
            && n.max_steps.is_some()
            && i64::from(max_steps) < l.value
        {
            let at = cx.value_span(o, "lease_rounds", &l.span, &l.value.to_string());
            cx.error(
                at,
                format!(
                    "`lease_rounds` = {} outlasts the swarm (max_steps = {max_steps}): a dead agent's claim would never expire",
                    l.value
                ),
                format!("set lease_rounds to at most {max_steps}"),
            );
        }
        if let (Some(q), Some(qv)) = (&n.quiet_rounds, quiet_rounds)
            && qv >= max_steps
        {
            let at = cx.value_span(o, "quiet_rounds", &q.span, &q.value.to_string());
            cx.error(
                at,
                format!(
                    "`quiet_rounds` = {qv} can never stop the swarm: max_steps = {max_steps} stops it first"
                ),
                format!("set quiet_rounds below {max_steps}, or raise max_steps"),
            );
        }
        if let SwarmSeeds::Items(items) = &seeds
            && items.len() > max_items as usize
        {
            let at = cx.field_span(o, "items", None);
            cx.error(
                at,
                format!(
                    "{} items but the pool holds at most max_items = {max_items}",
                    items.len()
                ),
                format!("raise max_items to at least {}", items.len()),
            );
        }
        let aggregate = n
            .aggregate
            .as_ref()
            .and_then(|a| cx.agent_ref(i, "aggregate", a));
        SwarmNode {
            agents,
            goal,
            seeds,
            lease_rounds,
            coverage,
            quiet_rounds,
            converge_at,
            max_steps,
            max_items,
            context_tokens,
            aggregate,
            repair_attempts,
            step: n.step.unwrap_or(false),
        }
    }
}
