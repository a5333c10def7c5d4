//! `loop`: a state machine over child nodes (`loop` is a Rust keyword,
//! hence the file name).

use std::collections::HashSet;
use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner, suggest_hint};
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::expr::Expr;
use crate::workflow::index::NodeIdx;
use crate::workflow::span::Spanned;
use crate::workflow::spec::TransitionSpec;

/// The pseudo-state a loop transition goes to in order to finish.
pub const END_STATE: &str = "$end";

/// Values accepted by a loop's `on_max_iterations`.
pub const ON_MAX_ITERATIONS: &[&str] = &["fail", "end"];

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

impl LoopNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> LoopNode {
        let n = self;
        let o = Owner::Node(i);
        let states = cx.node_list(
            i,
            "states",
            &n.states,
            NodeKindName::Loop,
            "states = [\"draft\", \"review\"]",
        );
        let names: Vec<&str> = n
            .states
            .iter()
            .flatten()
            .map(|s| s.value.as_str())
            .collect();
        let mut seen = HashSet::new();
        for s in n.states.iter().flatten() {
            if !seen.insert(s.value.as_str()) {
                let at = cx.str_span(o, "states", s);
                cx.error(
                    at,
                    format!("`{}` is listed twice in `states`", s.value),
                    "list each state once",
                );
            }
        }
        // A state's position in `states`; ids that resolve nowhere were
        // reported by `node_list`.
        let state_of = |cx: &mut CompileContext<'_>, key: &str, r: &Spanned<String>| -> Option<usize> {
            if let Some(p) = names.iter().position(|s| *s == r.value) {
                return Some(p);
            }
            let at = cx.str_span(o, key, r);
            let hint = suggest_hint(&r.value, &names, "states of this loop");
            if cx.node_ids.contains_key(r.value.as_str()) {
                let states: Vec<String> = names.iter().map(|s| format!("`{s}`")).collect();
                cx.error(
                    at,
                    format!(
                        "`{}` is not a state of loop `{}`",
                        r.value, cx.node_names[i]
                    ),
                    format!("add it to `states` (now: {})", states.join(", ")),
                );
            } else {
                cx.error(at, format!("unknown state `{}` in `{key}`", r.value), hint);
            }
            None
        };
        let start = match &n.start {
            Some(s) => state_of(cx, "start", s).unwrap_or(0),
            None => 0,
        };
        let mut transitions = Vec::new();
        for t in n.transitions.iter().flatten() {
            let from = if t.from.value == END_STATE {
                let at = cx.str_span(o, "from", &t.from);
                cx.error(
                    at,
                    format!("`{END_STATE}` can only be a transition's `to`"),
                    "`from` names the state a transition leaves",
                );
                None
            } else {
                state_of(cx, "from", &t.from)
            };
            let to = if t.to.value == END_STATE {
                Some(None)
            } else {
                state_of(cx, "to", &t.to).map(Some)
            };
            let when = t.when.as_ref().and_then(|w| cx.expr(i, "when", w));
            if let (Some(from), Some(to)) = (from, to) {
                transitions.push(Transition { from, to, when });
            }
        }
        let max_iterations = cx.int(i, "max_iterations", &n.max_iterations, 1, 10);
        let end_at_max = match &n.on_max_iterations {
            None => false,
            Some(v) if ON_MAX_ITERATIONS.contains(&v.value.as_str()) => v.value == "end",
            Some(v) => {
                let at = cx.str_span(o, "on_max_iterations", v);
                cx.error(
                    at,
                    format!("unknown on_max_iterations `{}`", v.value),
                    "use \"fail\" (the default) or \"end\"",
                );
                false
            }
        };
        LoopNode {
            states,
            start,
            transitions,
            max_iterations,
            end_at_max,
        }
    }
}
