//! The compiled workflow: what the engine runs. Produced from a
//! [`WorkflowSpec`](super::spec::WorkflowSpec) by `compile`, after every
//! reference has been resolved to an index and every expression parsed.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::expr::Expr;
use super::policy::{AgentPolicy, NodePolicy, Resolve, RunPolicy};
use super::spec::SimScript;
use super::template::Template;
use crate::event::Id;

/// Index into [`Workflow::agents`].
pub type AgentIdx = usize;
/// Index into [`Workflow::nodes`].
pub type NodeIdx = usize;

/// A validated workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Entry node.
    pub entry: NodeIdx,
    /// Input given to the entry node.
    pub input: Value,
    /// Most hand-offs per task.
    pub max_handoffs: u32,
    /// Scheduler aging step (tasks queued per priority level gained).
    pub aging_step: u32,
    /// Agents in declaration order.
    pub agents: Vec<Agent>,
    /// Nodes in declaration order.
    pub nodes: Vec<Node>,
    /// Agent id → index.
    pub agent_index: HashMap<String, AgentIdx>,
    /// Node id → index.
    pub node_index: HashMap<String, NodeIdx>,
    /// Budget, prices, quotas, metrics period (issue #3).
    pub policy: RunPolicy,
}

impl Workflow {
    /// Looks an agent up by id.
    pub fn agent(&self, id: &str) -> Option<AgentIdx> {
        self.agent_index.get(id).copied()
    }

    /// Looks a node up by id.
    pub fn node(&self, id: &str) -> Option<NodeIdx> {
        self.node_index.get(id).copied()
    }

    /// Agents offering a capability, in declaration order.
    pub fn capable_agents<'a>(
        &'a self,
        capability: &'a str,
    ) -> impl Iterator<Item = AgentIdx> + 'a {
        self.agents
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.capabilities.iter().any(|c| c == capability))
            .map(|(i, _)| i)
    }

    /// Child node indices of a node (containment edges), in order.
    pub fn children(&self, node: NodeIdx) -> Vec<NodeIdx> {
        self.nodes[node].kind.children()
    }

    /// The first node that may stop the run to ask a human (a `gate`, a
    /// debate or vote whose fallback is a gate, a `parallel` whose conflicts
    /// a human resolves). Headless runs refuse to start without a terminal
    /// or `--auto-approve` when there is one. Shell approvals are separate
    /// (agents' `shell` tables).
    pub fn human_gate(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.may_ask_human())
    }
}

/// A validated agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Id.
    pub id: Id,
    /// Role (planner, executor, reviewer, judge, classifier, or free text).
    pub role: Id,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: Id,
    /// System prompt.
    pub system: Option<String>,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// Reply length limit.
    pub max_tokens: Option<u32>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Concurrency limit; 0 = none.
    pub concurrency: u32,
    /// Sim script.
    pub sim: SimScript,
    /// What backs the agent.
    pub kind: AgentKind,
    /// Retry, timeouts, breaker, cache, fallbacks, budget (issue #3).
    pub policy: AgentPolicy,
    /// Tools the agent may call (issue #7).
    pub tools: Vec<Id>,
    /// Confinement of its `shell` calls; `None`: `shell` is off.
    pub shell: Option<crate::tools::shell::ShellConfig>,
    /// `tool_choice` and `reset_tool_choice`.
    pub tool_use: super::tool_use::ToolUse,
}

/// What backs an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentKind {
    /// A model through its provider.
    Llm,
    /// An external program.
    Command(CommandConfig),
    /// Rust code registered with `Orchestrator::register`.
    Custom,
}

/// A validated command agent.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// Program then arguments (non-empty).
    pub run: Vec<String>,
    /// Variables to set.
    pub env: Vec<(String, String)>,
    /// Variables passed through from agentctl's environment.
    pub inherit_env: Vec<String>,
    /// Working directory.
    pub cwd: std::path::PathBuf,
    /// Kill after this long.
    pub timeout: Duration,
    /// One long-lived process speaking JSON lines.
    pub persistent: bool,
    /// Largest reply accepted.
    pub max_output_bytes: usize,
}

/// A validated node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Id.
    pub id: Id,
    /// Title (defaults to the id).
    pub title: String,
    /// Priority 1 (most urgent) – 5.
    pub priority: u8,
    /// Topic to publish the output on.
    pub emit: Option<String>,
    /// What it does.
    pub kind: NodeKind,
    /// Policy overrides for its agent tasks (issue #3).
    pub policy: NodePolicy,
}

impl Node {
    /// Whether running this node can open a human gate.
    pub fn may_ask_human(&self) -> bool {
        if self.policy.resolve == Some(Resolve::Gate) {
            return true;
        }
        match &self.kind {
            NodeKind::Gate { .. } => true,
            // A judged debate never counts a final vote.
            NodeKind::Debate(d) => {
                d.judge.is_none()
                    && (d.rules.on_tie == Fallback::Gate || d.rules.on_no_quorum == Fallback::Gate)
            }
            NodeKind::Vote(v) => {
                v.rules.on_tie == Fallback::Gate || v.rules.on_no_quorum == Fallback::Gate
            }
            _ => false,
        }
    }
}

/// Who runs an agent task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This agent.
    Agent(AgentIdx),
    /// The least-loaded agent with this capability.
    Capability(String),
}

/// How a `parallel` node joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Every branch must succeed.
    All,
    /// First success wins.
    Any,
    /// First k successes.
    KOfN(u32),
}

/// Where a `map` gets its items.
#[derive(Debug, Clone)]
pub enum MapSource {
    /// Inline list.
    Items(Vec<Value>),
    /// 0..n.
    Count(u32),
    /// Expression over `input` / `outputs`.
    Over(Expr),
}

/// A route's condition.
#[derive(Debug, Clone)]
pub enum RouteCond {
    /// Expression.
    Expr(Expr),
    /// Classifier label.
    Label(String),
}

/// One route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Condition.
    pub cond: RouteCond,
    /// Target node.
    pub to: NodeIdx,
}

/// One loop transition.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Index into the loop's `states`.
    pub from: usize,
    /// Index into `states`, or `None` for the end.
    pub to: Option<usize>,
    /// Guard; `None` = always.
    pub when: Option<Expr>,
}

/// What a node does, with its kind's data.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// One agent task.
    Agent {
        /// Who runs it.
        target: Target,
        /// Prompt template (default `{{input}}`).
        prompt: Template,
    },
    /// Pipeline.
    Sequence {
        /// Steps.
        steps: Vec<NodeIdx>,
    },
    /// Fan-out / fan-in.
    Parallel {
        /// Branches.
        branches: Vec<NodeIdx>,
        /// Join mode.
        join: Join,
        /// Per-branch time limit.
        branch_timeout: Option<Duration>,
    },
    /// Scatter-gather.
    Map {
        /// Items.
        source: MapSource,
        /// Node run per item.
        body: NodeIdx,
        /// Items in flight (0 = no limit).
        concurrency: u32,
        /// Batch size (0 = one batch).
        batch_size: u32,
        /// Node receiving the gathered list.
        aggregate: Option<NodeIdx>,
    },
    /// Planner → executors → reviewer.
    Plan {
        /// Planner agent.
        planner: AgentIdx,
        /// Reviewer agent.
        reviewer: Option<AgentIdx>,
        /// Revision limit.
        max_revisions: u32,
        /// Subtask limit.
        max_subtasks: u32,
        /// Repair prompts for malformed plans.
        repair_attempts: u32,
        /// Prompt for the planner.
        prompt: Template,
    },
    /// Conditional edge.
    Router {
        /// Routes in order.
        routes: Vec<Route>,
        /// Fallback target.
        default: Option<NodeIdx>,
        /// Classifier agent.
        classifier: Option<AgentIdx>,
        /// Prompt for the classifier.
        prompt: Template,
    },
    /// State machine.
    Loop {
        /// State nodes.
        states: Vec<NodeIdx>,
        /// Index of the first state in `states`.
        start: usize,
        /// Transitions in order.
        transitions: Vec<Transition>,
        /// Most state visits.
        max_iterations: u32,
        /// True: reaching the bound ends the loop; false: it fails.
        end_at_max: bool,
    },
    /// Event trigger.
    On {
        /// Topic pattern, if any.
        topic: Option<String>,
        /// Timer period, if any.
        every: Option<Duration>,
        /// Node run per firing.
        body: NodeIdx,
        /// Firings before the node completes.
        max_events: u32,
        /// Completes early when nothing fires for this long.
        idle_timeout: Duration,
    },
    /// Human review.
    Gate {
        /// Node under review.
        subject: Option<NodeIdx>,
        /// Revision limit.
        max_revisions: u32,
    },
    /// Agents argue in rounds; a judge or a vote decides.
    Debate(Box<Debate>),
    /// Agents cast ballots; a protocol decides.
    Vote(Box<Vote>),
}

/// How a debate picks its speakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnOrder {
    /// Participants in the order listed, every round.
    RoundRobin,
    /// A moderator agent names each next speaker among those yet to speak.
    Moderator(AgentIdx),
    /// A fresh shuffle per round, from the run's seed.
    Random,
}

/// What `quorum` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumMode {
    /// At least k ballots cast; then plurality among them.
    Participation,
    /// At least k ballots for one choice.
    Agreement,
}

/// A vote-counting rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// More than half of the eligible voters.
    Majority,
    /// The most ballots.
    Plurality,
    /// Every eligible voter, the same choice.
    Unanimity,
    /// k of n.
    Quorum {
        /// Ballots needed.
        k: u32,
        /// What they must do.
        mode: QuorumMode,
    },
    /// Highest sum of confidence × agent weight.
    Weighted,
    /// Instant runoff over ranked ballots.
    Ranked,
    /// Byzantine-tolerant: at least 2f+1 matching ballots.
    Bft {
        /// Faulty voters tolerated.
        f: u32,
    },
}

impl Protocol {
    /// Name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Majority => "majority",
            Protocol::Plurality => "plurality",
            Protocol::Unanimity => "unanimity",
            Protocol::Quorum { .. } => "quorum",
            Protocol::Weighted => "weighted",
            Protocol::Ranked => "ranked",
            Protocol::Bft { .. } => "bft",
        }
    }
}

/// What a vote does when a round decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The node fails.
    Fail,
    /// Another ballot round (while rounds remain; then it fails).
    AnotherRound,
    /// A human gate decides.
    Gate,
    /// The judge agent decides.
    Judge,
}

impl Fallback {
    /// Name as written in files.
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Fail => "fail",
            Fallback::AnotherRound => "another_round",
            Fallback::Gate => "gate",
            Fallback::Judge => "judge",
        }
    }
}

/// How ballots are counted and what happens when they decide nothing.
#[derive(Debug, Clone)]
pub struct VoteRules {
    /// Counting rule.
    pub protocol: Protocol,
    /// Weight per agent index (1 unless set).
    pub weights: Vec<f64>,
    /// On a tie.
    pub on_tie: Fallback,
    /// Without a quorum / majority.
    pub on_no_quorum: Fallback,
    /// Exclude flagged agents from later tallies (else only flag them).
    pub exclude_flagged: bool,
}

/// A compiled `debate` node.
#[derive(Debug, Clone)]
pub struct Debate {
    /// Debaters.
    pub participants: Vec<AgentIdx>,
    /// The question (default: the input).
    pub question: Template,
    /// Positions to choose from; empty = free.
    pub options: Vec<String>,
    /// Most rounds.
    pub rounds: u32,
    /// Speaker order.
    pub order: TurnOrder,
    /// Decides the outcome; else a vote over final positions.
    pub judge: Option<AgentIdx>,
    /// Confidence-weighted agreement that stops the debate early.
    pub converge_at: f64,
    /// Transcript tokens each speaker sees.
    pub context_tokens: u32,
    /// The vote over final positions when there is no judge.
    pub rules: VoteRules,
    /// Repair prompts per malformed turn.
    pub repair_attempts: u32,
    /// Starts in step mode.
    pub step: bool,
}

/// Where a vote's candidates come from.
#[derive(Debug, Clone)]
pub enum Candidates {
    /// Free answers.
    Free,
    /// A fixed list.
    Options(Vec<String>),
    /// An expression over `input` / `outputs` giving a list.
    Expr(Expr),
}

/// A compiled `vote` node.
#[derive(Debug, Clone)]
pub struct Vote {
    /// Voters.
    pub voters: Vec<AgentIdx>,
    /// The question (default: the input).
    pub question: Template,
    /// Candidates.
    pub candidates: Candidates,
    /// Counting and fallbacks.
    pub rules: VoteRules,
    /// Most ballot rounds.
    pub rounds: u32,
    /// Breaks ties / no-quorum with `judge`.
    pub judge: Option<AgentIdx>,
    /// Repair prompts per malformed ballot.
    pub repair_attempts: u32,
    /// Starts in step mode.
    pub step: bool,
}

impl NodeKind {
    /// Containment children, in order.
    pub fn children(&self) -> Vec<NodeIdx> {
        match self {
            NodeKind::Agent { .. } => vec![],
            NodeKind::Sequence { steps } => steps.clone(),
            NodeKind::Parallel { branches, .. } => branches.clone(),
            NodeKind::Map {
                body, aggregate, ..
            } => {
                let mut v = vec![*body];
                v.extend(aggregate.iter().copied());
                v
            }
            NodeKind::Plan { .. } => vec![],
            NodeKind::Router {
                routes, default, ..
            } => {
                let mut v: Vec<NodeIdx> = routes.iter().map(|r| r.to).collect();
                v.extend(default.iter().copied());
                v
            }
            NodeKind::Loop { states, .. } => states.clone(),
            NodeKind::On { body, .. } => vec![*body],
            NodeKind::Gate { subject, .. } => subject.iter().copied().collect(),
            NodeKind::Debate(_) | NodeKind::Vote(_) => vec![],
        }
    }

    /// Kind name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Agent { .. } => "agent",
            NodeKind::Sequence { .. } => "sequence",
            NodeKind::Parallel { .. } => "parallel",
            NodeKind::Map { .. } => "map",
            NodeKind::Plan { .. } => "plan",
            NodeKind::Router { .. } => "router",
            NodeKind::Loop { .. } => "loop",
            NodeKind::On { .. } => "on",
            NodeKind::Gate { .. } => "gate",
            NodeKind::Debate(_) => "debate",
            NodeKind::Vote(_) => "vote",
        }
    }
}
