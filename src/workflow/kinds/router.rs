//! `router`: a conditional edge, by expression or classifier label.

use super::Kind;
use crate::workflow::expr::Expr;
use crate::workflow::index::{AgentIdx, NodeIdx};
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
