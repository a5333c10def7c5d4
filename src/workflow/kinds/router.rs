//! `router`: a conditional edge, by expression or classifier label.

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::expr::Expr;
use crate::workflow::index::{AgentIdx, NodeIdx};
use crate::workflow::span::Spanned;
use crate::workflow::spec::{BudgetSpec, DegradeSpec, RetrySpec, RouteSpec};
use crate::workflow::template::Template;

/// A compiled `router` node.
#[derive(Debug, Clone)]
pub struct RouterNode {
    /// Routes in order.
    pub routes: Vec<Route>,
    /// Fallback target.
    pub default: Option<NodeIdx>,
    /// Classifier agent.
    pub classifier: Option<AgentIdx>,
    /// Prompt for the classifier.
    pub prompt: Template,
}

impl Kind for RouterNode {
    fn children(&self) -> Vec<NodeIdx> {
        let mut v: Vec<NodeIdx> = self.routes.iter().map(|r| r.to).collect();
        v.extend(self.default);
        v
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        if let Some(c) = self.classifier {
            d.line(format_args!("classifier: {}", d.agent(c)));
        }
        for r in &self.routes {
            let l = match &r.cond {
                RouteCond::Expr(e) => e.source().to_string(),
                RouteCond::Label(l) => format!("label: {l}"),
            };
            d.edge(d.me(), vertex_id(r.to), Some(l));
        }
        if let Some(default) = self.default {
            d.dashed_edge(d.me(), vertex_id(default), Some("default".into()));
        }
        Shape::Diamond
    }
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

// ── spec: what a `router` node says in a workflow file ──

/// The fields of a `router` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterNodeSpec {
    /// Prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Spanned<String>>,
    /// Routes, first match wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteSpec>>,
    /// Target when no route matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Spanned<String>>,
    /// Classifier agent whose answer is matched against route labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<Spanned<String>>,
    /// Retry policy for this node's agent tasks (overrides the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Time limit of one call of this node's tasks, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Time limit of each of this node's tasks, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_timeout_ms: Option<Spanned<u64>>,
    /// This node's limits (all its tasks together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// Cheaper agent this node's tasks switch to under pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrade: Option<DegradeSpec>,
}

impl RouterNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> RouterNode {
        let n = self;
        let o = Owner::Node(i);
        let specs = n.routes.as_deref().unwrap_or(&[]);
        if specs.is_empty() && n.default.is_none() {
            cx.require(
                i,
                NodeKindName::Router,
                "`routes` or a `default`",
                "add routes = [{ when = \"...\", to = \"<node>\" }]",
            );
        }
        let classifier = n
            .classifier
            .as_ref()
            .and_then(|c| cx.agent_ref(i, "classifier", c));
        let mut routes = Vec::new();
        let mut label_error = false;
        for r in specs {
            let cond = match (&r.when, &r.label) {
                (Some(_), Some(l)) => {
                    let at = cx.field_span(o, "label", l.span.clone());
                    let at = l.span.clone().unwrap_or(at);
                    cx.error(
                        at,
                        "a route takes `when` or `label`, not both",
                        "keep `when` for an expression, `label` for a classifier answer",
                    );
                    None
                }
                (Some(w), None) => cx.expr(i, "when", w).map(RouteCond::Expr),
                (None, Some(l)) => {
                    if n.classifier.is_none() && !label_error {
                        label_error = true;
                        let at = cx.str_span(o, "label", l);
                        cx.error(
                            at,
                            "label routes need a `classifier`",
                            "add classifier = \"<agent id>\" to the router, or use `when`",
                        );
                    }
                    Some(RouteCond::Label(l.value.clone()))
                }
                (None, None) => {
                    let at = cx.str_span(o, "to", &r.to);
                    cx.error(
                        at,
                        "a route needs `when` or `label`",
                        "add when = \"<expression>\" (or label = \"...\" with a classifier)",
                    );
                    None
                }
            };
            let to = cx.node_ref(i, "to", &r.to, true);
            if let (Some(cond), Some(to)) = (cond, to) {
                routes.push(Route { cond, to });
            }
        }
        let default = n
            .default
            .as_ref()
            .and_then(|d| cx.node_ref(i, "default", d, true));
        let prompt = cx.template(i, "prompt", &n.prompt);
        RouterNode {
            routes,
            default,
            classifier,
            prompt,
        }
    }
}
