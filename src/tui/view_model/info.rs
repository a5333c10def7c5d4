//! The static facts the cockpit needs from a workflow, extracted once.
//!
//! Keeping this small copy (ids, titles, kinds, containment children, agent
//! capabilities, what debates and votes ask) means panes never reach into the engine's compiled model.

use std::collections::HashMap;

use crate::event::Id;
use crate::workflow::kinds::{
    NodeKind,
    agent::{AgentNode, Target},
    gate::GateNode,
    loop_node::LoopNode,
    map::{MapNode, MapSource},
    parallel::{Join, ParallelNode},
    plan::PlanNode,
    router::{RouteCond, RouterNode},
    vote::Candidates,
};
use crate::workflow::model::Workflow;

/// `all settled`, with its floor of successes when it has one.
fn settled(min_success: u32) -> String {
    match min_success {
        0 => "all settled".to_owned(),
        k => format!("all settled (at least {k} ok)"),
    }
}

/// One node of the containment tree.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// Node id.
    pub id: Id,
    /// Title.
    pub title: String,
    /// Kind name as written in files (`agent`, `map`...).
    pub kind: &'static str,
    /// Containment children, in order.
    pub children: Vec<usize>,
    /// Who runs it, for agent nodes: an agent id or `cap:<capability>`.
    pub runner: Option<String>,
}

/// How control flows through one node beyond containment: what the
/// graph draws on its edges. Empty for nodes that only contain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFlow {
    /// A label per containment child edge (router conditions, `default`,
    /// a map's `gathered`), parallel to the node's `children`.
    pub edge_labels: Vec<Option<String>>,
    /// Loop transitions: from state position, to state position (`None`:
    /// the loop ends), guard.
    pub transitions: Vec<LoopEdge>,
    /// Loop start: position in the states.
    pub start: usize,
    /// A short static note: join mode, items, iteration or revision cap.
    pub note: Option<String>,
    /// Items of a `map` over an inline list or a count.
    pub items: Option<u32>,
    /// Agents at work by design: debaters, voters, a plan's planner and
    /// reviewer (in that order: `agents[0]` plans, `agents[1]` reviews).
    pub agents: Vec<Id>,
    /// A plan node has a reviewer who can send the work back.
    pub reviewed: bool,
}

/// One loop transition, by positions in the loop's states.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopEdge {
    /// From state.
    pub from: usize,
    /// To state; `None` ends the loop.
    pub to: Option<usize>,
    /// Guard, as written; `None` = always.
    pub when: Option<String>,
}

/// One agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentInfo {
    /// Agent id.
    pub id: Id,
    /// Role.
    pub role: String,
    /// Model name.
    pub model: String,
    /// Capabilities.
    pub capabilities: Vec<String>,
}

/// What a debate or vote node asks, as the workflow writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionInfo {
    /// Debate or vote node id.
    pub node: Id,
    /// The question's template as written (empty: the node's input is the question).
    pub question: String,
    /// The options to choose from (empty: free answers, or computed at run time).
    pub options: Vec<String>,
}

/// The workflow's declared budget limits.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetInfo {
    /// Soft warning threshold, a fraction of a limit (`warn_at`, default 0.8).
    pub warn_at: f64,
    /// Limited scopes as the events name them (`run`, `agent:<id>`,
    /// `node:<id>`) with their token and money limits.
    pub limits: Vec<(String, Option<u64>, Option<f64>)>,
}

impl Default for BudgetInfo {
    fn default() -> Self {
        BudgetInfo {
            warn_at: 0.8,
            limits: Vec::new(),
        }
    }
}

/// Workflow facts for the view model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowInfo {
    /// Workflow name.
    pub name: String,
    /// Entry node index.
    pub entry: usize,
    /// Nodes in declaration order.
    pub nodes: Vec<NodeInfo>,
    /// Agents in declaration order.
    pub agents: Vec<AgentInfo>,
    /// Budget limits.
    pub budget: BudgetInfo,
    /// How each `parallel` node joins, by node id: `all`, `any`, `k of n`
    /// or `all settled`; and each `map` that joins `all settled`.
    pub joins: HashMap<Id, String>,
    /// Questions of the debate and vote nodes, in node order.
    pub questions: Vec<QuestionInfo>,
    /// Edge labels and notes per node, parallel to `nodes` (may be empty:
    /// the graph then draws containment alone).
    pub flow: Vec<NodeFlow>,
    /// The latest plan of each `plan` node, by node index, as its planner
    /// made it (the graph draws its DAG).
    pub plans: HashMap<usize, PlanDraw>,
    /// Bumped on every new plan (the graph's layout depends on them).
    pub plan_version: u32,
    node_index: HashMap<Id, usize>,
}

/// A plan's steps, for the graph to draw as a DAG.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanDraw {
    /// Steps in plan order.
    pub steps: Vec<PlanStepDraw>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStepDraw {
    /// Its task.
    pub task: Id,
    /// Its name in the plan: the planner's id, else its position from 1.
    pub name: String,
    /// Title.
    pub title: String,
    /// Positions of the steps it depends on.
    pub after: Vec<usize>,
    /// The planner's token estimate.
    pub estimate_tokens: Option<u64>,
}

impl PlanDraw {
    /// The plan of a `plan_created` event's subtasks.
    pub fn of(subtasks: &[crate::event::PlannedSubtask]) -> PlanDraw {
        let steps = subtasks
            .iter()
            .enumerate()
            .map(|(i, s)| PlanStepDraw {
                task: s.task.clone(),
                name: s.step.clone().unwrap_or_else(|| (i + 1).to_string()),
                title: s.title.clone(),
                after: s
                    .depends_on
                    .iter()
                    .filter_map(|d| subtasks.iter().position(|o| o.task == *d))
                    .collect(),
                estimate_tokens: s.estimate_tokens,
            })
            .collect();
        PlanDraw { steps }
    }
}

impl WorkflowInfo {
    /// Builds the info from parts (indices in `children` refer to `nodes`).
    pub fn new(
        name: impl Into<String>,
        entry: usize,
        nodes: Vec<NodeInfo>,
        agents: Vec<AgentInfo>,
    ) -> Self {
        let node_index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        WorkflowInfo {
            name: name.into(),
            entry,
            nodes,
            agents,
            budget: BudgetInfo::default(),
            joins: HashMap::new(),
            questions: Vec::new(),
            flow: Vec::new(),
            plans: HashMap::new(),
            plan_version: 0,
            node_index,
        }
    }

    /// The same info with edge labels and notes (parallel to `nodes`).
    pub fn with_flow(mut self, flow: Vec<NodeFlow>) -> Self {
        self.flow = flow;
        self
    }

    /// Edge labels and notes of node `i` (empty when not known).
    pub fn flow_of(&self, i: usize) -> &NodeFlow {
        static EMPTY: std::sync::OnceLock<NodeFlow> = std::sync::OnceLock::new();
        self.flow
            .get(i)
            .unwrap_or_else(|| EMPTY.get_or_init(NodeFlow::default))
    }

    /// The same info with budget limits.
    pub fn with_budget(mut self, budget: BudgetInfo) -> Self {
        self.budget = budget;
        self
    }

    /// Extracts the info from a compiled workflow.
    pub fn from_workflow(wf: &Workflow) -> Self {
        let nodes = wf
            .nodes
            .iter()
            .map(|n| NodeInfo {
                id: n.id.clone(),
                title: n.title.clone(),
                kind: n.kind.name(),
                children: n
                    .kind
                    .children()
                    .into_iter()
                    .filter(|&c| c < wf.nodes.len())
                    .collect(),
                runner: match &n.kind {
                    NodeKind::Agent(AgentNode {
                        target: Target::Agent(a),
                        ..
                    }) => wf.agents.get(*a).map(|a| a.id.to_string()),
                    NodeKind::Agent(AgentNode {
                        target: Target::Capability(c),
                        ..
                    }) => Some(format!("cap:{c}")),
                    NodeKind::Plan(PlanNode { planner, .. }) => {
                        wf.agents.get(*planner).map(|a| a.id.to_string())
                    }
                    _ => None,
                },
            })
            .collect();
        let agents = wf
            .agents
            .iter()
            .map(|a| AgentInfo {
                id: a.id.clone(),
                role: a.role.to_string(),
                model: a.model.to_string(),
                capabilities: a.capabilities.clone(),
            })
            .collect();
        let mut limits = Vec::new();
        let run = &wf.policy.budget;
        if run.is_set() {
            limits.push(("run".to_owned(), run.tokens, run.usd));
        }
        for a in wf.agents.iter().filter(|a| a.policy.budget.is_set()) {
            let l = &a.policy.budget;
            limits.push((format!("agent:{}", a.id), l.tokens, l.usd));
        }
        for n in wf.nodes.iter().filter(|n| n.policy.budget.is_set()) {
            let l = &n.policy.budget;
            limits.push((format!("node:{}", n.id), l.tokens, l.usd));
        }
        let budget = BudgetInfo {
            warn_at: wf.policy.warn_at,
            limits,
        };
        let questions = wf
            .nodes
            .iter()
            .filter_map(|n| {
                let (question, options) = match &n.kind {
                    NodeKind::Debate(d) => (d.question.source(), d.options.clone()),
                    NodeKind::Vote(v) => (
                        v.question.source(),
                        match &v.candidates {
                            Candidates::Options(o) => o.clone(),
                            Candidates::Free | Candidates::Expr(_) => Vec::new(),
                        },
                    ),
                    _ => return None,
                };
                Some(QuestionInfo {
                    node: n.id.clone(),
                    question: question.to_owned(),
                    options,
                })
            })
            .collect();
        let flow = wf.nodes.iter().map(|n| node_flow(wf, &n.kind)).collect();
        let mut info = WorkflowInfo::new(wf.name.clone(), wf.entry, nodes, agents)
            .with_budget(budget)
            .with_flow(flow);
        info.questions = questions;
        for n in &wf.nodes {
            if let NodeKind::Parallel(p) = &n.kind {
                let join = match p.join {
                    Join::All => "all".to_owned(),
                    Join::Any => "any".to_owned(),
                    Join::KOfN(k) => format!("{k} of {}", p.branches.len()),
                    Join::AllSettled { min_success } => settled(min_success),
                };
                info.joins.insert(n.id.clone(), join);
            }
            if let NodeKind::Map(m) = &n.kind
                && let Some(k) = m.settle
            {
                info.joins.insert(n.id.clone(), settled(k));
            }
        }
        info
    }

    /// The node whose children include node `i` (its container).
    pub fn parent_of(&self, i: usize) -> Option<usize> {
        self.nodes.iter().position(|n| n.children.contains(&i))
    }

    /// True when a `debate` or `vote` node exists (`n`/`s` step them).
    pub fn has_debate(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(n.kind, "debate" | "vote" | "swarm" | "chat"))
    }

    /// Node index by id.
    pub fn node(&self, id: &str) -> Option<usize> {
        self.node_index.get(id).copied()
    }

    /// Agents able to take a task needing `capability` (all agents when `None`).
    pub fn capable_agents<'a>(
        &'a self,
        capability: Option<&'a str>,
    ) -> impl Iterator<Item = &'a AgentInfo> + 'a {
        self.agents
            .iter()
            .filter(move |a| capability.is_none_or(|c| a.capabilities.iter().any(|x| x == c)))
    }
}

/// What the graph draws on a node's edges, from its compiled kind.
fn node_flow(wf: &Workflow, kind: &NodeKind) -> NodeFlow {
    let agent = |a: usize| wf.agents.get(a).map(|a| a.id.clone());
    let mut f = NodeFlow::default();
    match kind {
        NodeKind::Parallel(ParallelNode { branches, join, .. }) => {
            f.note = Some(match join {
                Join::All => "join all".to_owned(),
                Join::Any => "join any".to_owned(),
                Join::KOfN(k) => format!("join {k} of {}", branches.len()),
                Join::AllSettled { min_success: 0 } => "join all settled".to_owned(),
                Join::AllSettled { min_success } => {
                    format!("join all settled, ≥{min_success} ok")
                }
            });
        }
        NodeKind::Map(MapNode {
            source, aggregate, ..
        }) => {
            f.items = match source {
                MapSource::Items(items) => Some(items.len() as u32),
                MapSource::Count(c) => Some(*c),
                MapSource::Over(_) => None,
            };
            if let MapSource::Over(e) = source {
                f.note = Some(format!("over {}", e.source()));
            }
            f.edge_labels = vec![None];
            if aggregate.is_some() {
                f.edge_labels.push(Some("gathered".to_owned()));
            }
        }
        NodeKind::Router(RouterNode {
            routes, default, ..
        }) => {
            f.edge_labels = routes
                .iter()
                .map(|r| {
                    Some(match &r.cond {
                        RouteCond::Expr(e) => e.source().to_owned(),
                        RouteCond::Label(l) => format!("label {l}"),
                    })
                })
                .collect();
            if default.is_some() {
                f.edge_labels.push(Some("default".to_owned()));
            }
        }
        NodeKind::Loop(LoopNode {
            start,
            transitions,
            max_iterations,
            end_at_max,
            ..
        }) => {
            f.start = *start;
            f.transitions = transitions
                .iter()
                .map(|t| LoopEdge {
                    from: t.from,
                    to: t.to,
                    when: t.when.as_ref().map(|e| e.source().to_owned()),
                })
                .collect();
            let then = if *end_at_max { "end" } else { "fail" };
            f.note = Some(format!("≤{max_iterations} iterations, then {then}"));
        }
        NodeKind::Gate(GateNode { max_revisions, .. }) => {
            f.note = Some(format!("≤{max_revisions} revisions"));
        }
        NodeKind::Plan(PlanNode {
            planner,
            reviewer,
            max_revisions,
            ..
        }) => {
            f.agents.extend(agent(*planner));
            if let Some(r) = reviewer {
                f.agents.extend(agent(*r));
                f.reviewed = true;
                f.note = Some(format!("≤{max_revisions} revisions"));
            }
        }
        NodeKind::Debate(d) => {
            f.agents = d.participants.iter().filter_map(|&a| agent(a)).collect();
            f.note = Some(format!("≤{} rounds", d.rounds));
        }
        NodeKind::Vote(v) => {
            f.agents = v.voters.iter().filter_map(|&a| agent(a)).collect();
            f.note = Some(v.rules.protocol.name().to_owned());
        }
        // An event loop: it waits on purpose, until the run is stopped.
        NodeKind::On(o) if o.forever => {
            f.note = Some("until stopped (q or Ctrl-C)".to_owned());
        }
        _ => {}
    }
    f
}
