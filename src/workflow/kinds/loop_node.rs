//! `loop`: a state machine over child nodes (`loop` is a Rust keyword,
//! hence the file name).

use super::Kind;
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::expr::Expr;
use crate::workflow::index::NodeIdx;
use crate::workflow::span::Spanned;
use crate::workflow::spec::TransitionSpec;

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

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let at_max = if self.end_at_max { "end" } else { "fail" };
        d.line(format_args!(
            "max {} iterations, then {at_max}",
            self.max_iterations
        ));
        if let Some(s) = self.states.get(self.start) {
            d.edge(d.me(), vertex_id(*s), Some("start".into()));
        }
        let mut end = None;
        for t in &self.transitions {
            let Some(&from) = self.states.get(t.from) else {
                continue;
            };
            let to = match t.to.and_then(|s| self.states.get(s)) {
                Some(&s) => vertex_id(s),
                None => end
                    .get_or_insert_with(|| d.point("end", format!("end of {}", d.node_id())))
                    .clone(),
            };
            let l = t.when.as_ref().map(|e| e.source().to_string());
            d.edge(vertex_id(from), to, l);
        }
        Shape::Stadium
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

// ── spec: what a `loop` node says in a workflow file ──

/// The fields of a `loop` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopNodeSpec {
    /// State node ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<Spanned<String>>>,
    /// First state (default: the first listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Spanned<String>>,
    /// Guarded transitions, checked in order after a state completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<TransitionSpec>>,
    /// Most state visits (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<Spanned<i64>>,
    /// What happens at the bound: `fail` (default) or `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_max_iterations: Option<Spanned<String>>,
}
