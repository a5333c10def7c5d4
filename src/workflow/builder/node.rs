//! Node constructors, one per kind, and the setters of their fields, each
//! named after its file key. Unset fields take the file format's
//! defaults; a setter of a field the node's kind does not have is
//! reported by `build`, at that setter, as a file's misplaced key would be.
//!
//! A pipeline with a fan-out, its policies and its error path:
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node, policy};
//!
//! let wf = WorkflowBuilder::new("fan")
//!     .input("a question")
//!     .agent(agent::llm("a").template("A: {{input}}"))
//!     .agent(agent::llm("b").template("B: {{input}}"))
//!     .agent(agent::llm("judge").role("judge"))
//!     .node(node::sequence("main", ["views", "sum"]))
//!     .node(
//!         node::parallel("views", ["va", "vb"])
//!             .join_k(2)
//!             .branch_timeout_ms(5_000)
//!             .resolve("judge")
//!             .on_error("fallback"),
//!     )
//!     .node(node::agent("va", "a").retry(policy::retry(2)).timeout_ms(1_000))
//!     .node(node::agent("vb", "b").budget(policy::budget().tokens(5_000)).priority(1))
//!     .node(node::agent("sum", "a").prompt("Sum up: {{input}}").title("Summary").emit("done"))
//!     .node(node::agent("fallback", "b"))
//!     .build()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(wf.nodes.len(), 6);
//! ```
//!
//! Debates, votes and the other kinds:
//!
//! ```
//! use agentctl::workflow::builder::{WorkflowBuilder, agent, node};
//! use serde_json::json;
//!
//! let wf = WorkflowBuilder::new("decide")
//!     .input("Rust or Go?")
//!     .agent(agent::llm("pro"))
//!     .agent(agent::llm("con"))
//!     .agent(agent::llm("judge").role("judge"))
//!     .node(node::sequence("main", ["argue", "ballot", "items", "check", "ok"]))
//!     .node(node::debate("argue", ["pro", "con"]).question("{{input}}").options(["rust", "go"]).rounds(2).judge("judge"))
//!     .node(node::vote("ballot", ["pro", "con", "judge"]).options(["rust", "go"]).protocol("majority"))
//!     .node(node::map_items("items", [json!(1), json!(2)], "each").concurrency(2).batch_size(1))
//!     .node(node::agent("each", "pro"))
//!     .node(node::router("check").route_when("input == 1", "ok").default_route("ok"))
//!     .node(node::gate("ok", Some("items")).max_revisions(1))
//!     .build()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(wf.nodes.len(), 7);
//! ```

use serde_json::Value;

use crate::workflow::kinds::KindSpec;
use crate::workflow::span::Spanned;
use crate::workflow::spec::{
    BudgetSpec, DegradeSpec, JoinName, NodeKindName, NodeSpec, RetrySpec, RouteSpec, TransitionSpec,
};

fn s(text: impl Into<String>) -> Spanned<String> {
    Spanned::new(text.into())
}

fn ids(ids: impl IntoIterator<Item = impl Into<String>>) -> Option<Vec<Spanned<String>>> {
    Some(ids.into_iter().map(s).collect())
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
pub fn agent(id: impl Into<String>, agent: impl Into<String>) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Agent);
    set!(n, "agent", Agent => |f| f.agent = Some(s(agent)))
}

/// One task for the least-loaded agent with a capability.
pub fn task(id: impl Into<String>, capability: impl Into<String>) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Agent);
    set!(n, "capability", Agent => |f| f.capability = Some(s(capability)))
}

/// A pipeline: each step gets the output of the one before.
pub fn sequence(
    id: impl Into<String>,
    steps: impl IntoIterator<Item = impl Into<String>>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Sequence);
    set!(n, "steps", Sequence => |f| f.steps = ids(steps))
}

/// Fan-out / fan-in (join all unless `join_any`, `join_k` or
/// `join_all_settled`).
pub fn parallel(
    id: impl Into<String>,
    branches: impl IntoIterator<Item = impl Into<String>>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Parallel);
    set!(n, "branches", Parallel => |f| f.branches = ids(branches))
}

/// Scatter-gather over an expression's list (e.g. `input.items`).
pub fn map_over(
    id: impl Into<String>,
    over: impl Into<String>,
    body: impl Into<String>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Map);
    set!(n, "over", Map => |f| {
        f.over = Some(s(over));
        f.body = Some(s(body));
    })
}

/// Scatter-gather over an inline list.
pub fn map_items(
    id: impl Into<String>,
    items: impl IntoIterator<Item = Value>,
    body: impl Into<String>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Map);
    set!(n, "items", Map => |f| {
        f.items = Some(items.into_iter().collect());
        f.body = Some(s(body));
    })
}

/// Runs `body` `count` times (items 0..count).
pub fn map_count(id: impl Into<String>, count: i64, body: impl Into<String>) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Map);
    set!(n, "count", Map => |f| {
        f.count = Some(Spanned::new(count));
        f.body = Some(s(body));
    })
}

/// Planner → executors by capability → optional reviewer.
pub fn plan(id: impl Into<String>, planner: impl Into<String>) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Plan);
    set!(n, "planner", Plan => |f| f.planner = Some(s(planner)))
}

/// A router; add routes with `route_when` / `route_label`.
pub fn router(id: impl Into<String>) -> NodeSpec {
    NodeSpec::new(&id.into(), NodeKindName::Router)
}

/// A state machine; add transitions with `transition`.
pub fn state_machine(
    id: impl Into<String>,
    states: impl IntoIterator<Item = impl Into<String>>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Loop);
    set!(n, "states", Loop => |f| f.states = ids(states))
}

/// Runs `body` for each message on a bus topic.
pub fn on_topic(
    id: impl Into<String>,
    topic: impl Into<String>,
    body: impl Into<String>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::On);
    set!(n, "topic", On => |f| {
        f.topic = Some(s(topic));
        f.body = Some(s(body));
    })
}

/// Runs `body` on a timer, every `every_ms` milliseconds.
pub fn on_timer(id: impl Into<String>, every_ms: u64, body: impl Into<String>) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::On);
    set!(n, "every_ms", On => |f| {
        f.every_ms = Some(Spanned::new(every_ms));
        f.body = Some(s(body));
    })
}

/// A human gate, reviewing `subject`'s output (or its input).
pub fn gate(id: impl Into<String>, subject: Option<&str>) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Gate);
    set!(n, "subject", Gate => |f| f.subject = subject.map(s))
}

/// Agents argue in rounds; a judge or a vote decides.
pub fn debate(
    id: impl Into<String>,
    participants: impl IntoIterator<Item = impl Into<String>>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Debate);
    set!(n, "participants", Debate => |f| f.participants = ids(participants))
}

/// Agents cast ballots; a protocol decides.
pub fn vote(
    id: impl Into<String>,
    voters: impl IntoIterator<Item = impl Into<String>>,
) -> NodeSpec {
    let mut n = NodeSpec::new(&id.into(), NodeKindName::Vote);
    set!(n, "voters", Vote => |f| f.voters = ids(voters))
}

impl NodeSpec {
    // ── every node ──

    /// Human title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
    /// Priority 1 (most urgent) to 5.
    pub fn priority(mut self, p: i64) -> Self {
        self.priority = Some(Spanned::new(p));
        self
    }
    /// Publish the output on a bus topic when the node completes.
    pub fn emit(mut self, topic: impl Into<String>) -> Self {
        self.emit = Some(topic.into());
        self
    }
    /// A node that runs when this one fails, with `{error, partial}`; its
    /// output becomes this node's output.
    pub fn on_error(mut self, node: impl Into<String>) -> Self {
        self.on_error = Some(s(node));
        self
    }

    // ── agent, plan and router nodes ──

    /// Prompt template (agent, plan, router).
    pub fn prompt(mut self, template: impl Into<String>) -> Self {
        let t = s(template);
        set!(self, "prompt", Agent | Plan | Router => |f| f.prompt = Some(t.clone()))
    }
    /// Retry policy of the node's tasks (agent, plan, router).
    pub fn retry(mut self, retry: RetrySpec) -> Self {
        set!(self, "retry", Agent | Plan | Router => |f| f.retry = Some(retry.clone()))
    }
    /// Time limit of one call, ms (agent, plan, router).
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        set!(self, "timeout_ms", Agent | Plan | Router => |f| f.timeout_ms = Some(Spanned::new(ms)))
    }
    /// Time limit of a whole task, ms (agent, plan, router).
    pub fn task_timeout_ms(mut self, ms: u64) -> Self {
        set!(self, "task_timeout_ms", Agent | Plan | Router => |f| f.task_timeout_ms = Some(Spanned::new(ms)))
    }
    /// The node's limits (agent, plan, router).
    pub fn budget(mut self, budget: BudgetSpec) -> Self {
        set!(self, "budget", Agent | Plan | Router => |f| f.budget = Some(budget.clone()))
    }
    /// A cheaper agent to switch to under pressure (agent, plan, router).
    pub fn degrade(mut self, degrade: DegradeSpec) -> Self {
        set!(self, "degrade", Agent | Plan | Router => |f| f.degrade = Some(degrade.clone()))
    }
    /// Repair prompts for a malformed structured reply (agent, plan,
    /// debate, vote).
    pub fn repair_attempts(mut self, n: i64) -> Self {
        let v = Spanned::new(n);
        set!(self, "repair_attempts", Agent | Plan | Debate | Vote => |f| f.repair_attempts = Some(v.clone()))
    }
    /// Agent: the reply must be JSON of this shape (`expect = "json"`...).
    pub fn expect(mut self, what: impl Into<String>) -> Self {
        set!(self, "expect", Agent => |f| f.expect = Some(s(what)))
    }
    /// Agent: a JSON Schema the reply must match.
    pub fn schema(mut self, schema: Value) -> Self {
        set!(self, "schema", Agent => |f| f.schema = Some(Spanned::new(schema)))
    }

    // ── parallel ──

    /// Parallel: the first success wins.
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
    /// Parallel and map: every branch or item runs to its end; the output
    /// keeps each result or error.
    pub fn join_all_settled(mut self) -> Self {
        let j = Some(Spanned::new(JoinName::AllSettled));
        set!(self, "join", Parallel | Map => |f| f.join = j.clone())
    }
    /// Parallel and map with `join_all_settled`: fewer successes fail the node.
    pub fn min_success(mut self, n: i64) -> Self {
        let v = Some(Spanned::new(n));
        set!(self, "min_success", Parallel | Map => |f| f.min_success = v.clone())
    }
    /// Parallel: time limit of each branch, ms.
    pub fn branch_timeout_ms(mut self, ms: u64) -> Self {
        set!(self, "branch_timeout_ms", Parallel => |f| f.branch_timeout_ms = Some(Spanned::new(ms)))
    }
    /// Parallel: an agent that picks one answer among the branches'.
    pub fn resolve(mut self, agent: impl Into<String>) -> Self {
        set!(self, "resolve", Parallel => |f| f.resolve = Some(s(agent)))
    }

    // ── map ──

    /// Map: items in flight at once.
    pub fn concurrency(mut self, n: i64) -> Self {
        set!(self, "concurrency", Map => |f| f.concurrency = Some(Spanned::new(n)))
    }
    /// Map: items started per batch.
    pub fn batch_size(mut self, n: i64) -> Self {
        set!(self, "batch_size", Map => |f| f.batch_size = Some(Spanned::new(n)))
    }
    /// Map: the node receiving the gathered list.
    pub fn aggregate(mut self, node: impl Into<String>) -> Self {
        set!(self, "aggregate", Map => |f| f.aggregate = Some(s(node)))
    }

    // ── plan and gate ──

    /// Plan: the reviewer agent.
    pub fn reviewer(mut self, agent: impl Into<String>) -> Self {
        set!(self, "reviewer", Plan => |f| f.reviewer = Some(s(agent)))
    }
    /// Plan and gate: most revisions.
    pub fn max_revisions(mut self, n: i64) -> Self {
        let v = Some(Spanned::new(n));
        set!(self, "max_revisions", Plan | Gate => |f| f.max_revisions = v.clone())
    }
    /// Plan: most subtasks.
    pub fn max_subtasks(mut self, n: i64) -> Self {
        set!(self, "max_subtasks", Plan => |f| f.max_subtasks = Some(Spanned::new(n)))
    }

    // ── router ──

    /// Router: a route taken when an expression holds.
    pub fn route_when(mut self, when: impl Into<String>, to: impl Into<String>) -> Self {
        let route = RouteSpec {
            when: Some(s(when)),
            label: None,
            to: s(to),
        };
        set!(self, "routes", Router => |f| f.routes.get_or_insert_with(Vec::new).push(route))
    }
    /// Router: a route taken when the classifier answers `label`.
    pub fn route_label(mut self, label: impl Into<String>, to: impl Into<String>) -> Self {
        let route = RouteSpec {
            when: None,
            label: Some(s(label)),
            to: s(to),
        };
        set!(self, "routes", Router => |f| f.routes.get_or_insert_with(Vec::new).push(route))
    }
    /// Router: the classifier agent.
    pub fn classifier(mut self, agent: impl Into<String>) -> Self {
        set!(self, "classifier", Router => |f| f.classifier = Some(s(agent)))
    }
    /// Router: where to go when no route matches.
    pub fn default_route(mut self, to: impl Into<String>) -> Self {
        set!(self, "default", Router => |f| f.default = Some(s(to)))
    }

    // ── loop ──

    /// Loop: a transition (`to` may be `$end`), guarded by `when`.
    pub fn transition(
        mut self,
        from: impl Into<String>,
        to: impl Into<String>,
        when: Option<&str>,
    ) -> Self {
        let t = TransitionSpec {
            from: s(from),
            to: s(to),
            when: when.map(s),
        };
        set!(self, "transitions", Loop => |f| f.transitions.get_or_insert_with(Vec::new).push(t))
    }
    /// Loop: most state visits.
    pub fn max_iterations(mut self, n: i64) -> Self {
        set!(self, "max_iterations", Loop => |f| f.max_iterations = Some(Spanned::new(n)))
    }
    /// Loop: the first state (default: the first listed).
    pub fn start(mut self, state: impl Into<String>) -> Self {
        set!(self, "start", Loop => |f| f.start = Some(s(state)))
    }

    // ── on ──

    /// On: stop after this many triggers.
    pub fn max_events(mut self, n: i64) -> Self {
        set!(self, "max_events", On => |f| f.max_events = Some(Spanned::new(n)))
    }
    /// On: stop after this long without a trigger, ms.
    pub fn idle_timeout_ms(mut self, ms: u64) -> Self {
        set!(self, "idle_timeout_ms", On => |f| f.idle_timeout_ms = Some(Spanned::new(ms)))
    }

    // ── debate and vote ──

    /// Debate and vote: the question, a template over `input`.
    pub fn question(mut self, template: impl Into<String>) -> Self {
        let q = Some(s(template));
        set!(self, "question", Debate | Vote => |f| f.question = q.clone())
    }
    /// Debate and vote: the positions or answers to choose from.
    pub fn options(mut self, options: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let o = ids(options);
        set!(self, "options", Debate | Vote => |f| f.options = o.clone())
    }
    /// Debate and vote: most rounds.
    pub fn rounds(mut self, n: i64) -> Self {
        let v = Some(Spanned::new(n));
        set!(self, "rounds", Debate | Vote => |f| f.rounds = v.clone())
    }
    /// Debate and vote: the agent deciding the outcome or breaking ties.
    pub fn judge(mut self, agent: impl Into<String>) -> Self {
        let j = Some(s(agent));
        set!(self, "judge", Debate | Vote => |f| f.judge = j.clone())
    }
    /// Debate and vote: `majority`, `plurality`, `unanimity`, `quorum`,
    /// `weighted`, `ranked` or `bft`.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        let p = Some(s(protocol));
        set!(self, "protocol", Debate | Vote => |f| f.protocol = p.clone())
    }
    /// Debate and vote: an agent's weight (default 1).
    pub fn weight(mut self, agent: impl Into<String>, weight: f64) -> Self {
        let a = agent.into();
        set!(self, "weights", Debate | Vote => |f| {
            f.weights.get_or_insert_with(Default::default).insert(a.clone(), weight);
        })
    }
    /// Debate and vote: on a tie, `fail`, `another_round`, `gate` or `judge`.
    pub fn on_tie(mut self, what: impl Into<String>) -> Self {
        let t = Some(s(what));
        set!(self, "on_tie", Debate | Vote => |f| f.on_tie = t.clone())
    }
    /// Debate and vote: wait for a `step` command before each turn or ballot.
    pub fn step(mut self, on: bool) -> Self {
        set!(self, "step", Debate | Vote => |f| f.step = Some(on))
    }
    /// Debate: `round_robin`, `moderator` or `random`.
    pub fn turn_order(mut self, order: impl Into<String>) -> Self {
        set!(self, "turn_order", Debate => |f| f.turn_order = Some(s(order)))
    }
    /// Debate: the agent naming each speaker (with `turn_order("moderator")`).
    pub fn moderator(mut self, agent: impl Into<String>) -> Self {
        set!(self, "moderator", Debate => |f| f.moderator = Some(s(agent)))
    }
    /// Debate: stop early when one position's weighted share reaches this.
    pub fn converge_at(mut self, share: f64) -> Self {
        set!(self, "converge_at", Debate => |f| f.converge_at = Some(Spanned::new(share)))
    }
    /// Vote: ballots needed (with `protocol("quorum")`).
    pub fn quorum(mut self, k: i64) -> Self {
        set!(self, "quorum", Vote => |f| f.quorum = Some(Spanned::new(k)))
    }
    /// Vote: faulty voters tolerated (with `protocol("bft")`).
    pub fn faults(mut self, f_: i64) -> Self {
        set!(self, "faults", Vote => |f| f.faults = Some(Spanned::new(f_)))
    }
}
