//! The static facts the cockpit needs from a workflow, extracted once.
//!
//! Keeping this small copy (ids, titles, kinds, containment children, agent
//! capabilities, what debates and votes ask) means panes never reach into the engine's compiled model.

use std::collections::HashMap;

use crate::event::Id;
use crate::workflow::kinds::{
    NodeKind,
    agent::{AgentNode, Target},
    parallel::Join,
    plan::PlanNode,
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
    node_index: HashMap<Id, usize>,
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
            node_index,
        }
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
        let mut info =
            WorkflowInfo::new(wf.name.clone(), wf.entry, nodes, agents).with_budget(budget);
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
            .any(|n| n.kind == "debate" || n.kind == "vote")
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
