//! `loop`: a state machine over child nodes (`loop` is a Rust keyword,
//! hence the file name).

use super::Kind;
use crate::workflow::expr::Expr;
use crate::workflow::index::NodeIdx;

/// A compiled `loop` node.
#[derive(Debug, Clone)]
pub struct LoopNode {
    /// State nodes.
    pub states: Vec<NodeIdx>,
    /// Index of the first state in `states`.
    pub start: usize,
    /// Transitions in order.
    pub transitions: Vec<Transition>,
    /// Most state visits.
    pub max_iterations: u32,
    /// True: reaching the bound ends the loop; false: it fails.
    pub end_at_max: bool,
}

impl Kind for LoopNode {
    fn children(&self) -> Vec<NodeIdx> {
        self.states.clone()
    }
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
