//! `parallel`: fan-out / fan-in.

use std::time::Duration;

use super::Kind;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::index::NodeIdx;
use crate::workflow::span::Spanned;
use crate::workflow::spec::JoinName;

/// A compiled `parallel` node.
#[derive(Debug, Clone)]
pub struct ParallelNode {
    /// Branches.
    pub branches: Vec<NodeIdx>,
    /// Join mode.
    pub join: Join,
    /// Per-branch time limit.
    pub branch_timeout: Option<Duration>,
}

impl Kind for ParallelNode {
    fn children(&self) -> Vec<NodeIdx> {
        self.branches.clone()
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        let join_label = match self.join {
            Join::All => "join: all".to_string(),
            Join::Any => "join: any".to_string(),
            Join::KOfN(k) => format!("join: {k} of {}", self.branches.len()),
            Join::AllSettled { min_success: 0 } => "join: all settled".to_string(),
            Join::AllSettled { min_success } => {
                format!("join: all settled, ≥{min_success} ok")
            }
        };
        let join = d.point("join", join_label);
        for b in &self.branches {
            let l = self
                .branch_timeout
                .map(|t| format!("timeout {} ms", t.as_millis()));
            d.edge(d.me(), vertex_id(*b), l);
            d.edge(vertex_id(*b), join.clone(), None);
        }
        Shape::Parallelogram
    }
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
    /// Every branch runs to its end; each keeps its result or its error.
    AllSettled {
        /// Fewer successes than this fail the node (0: never).
        min_success: u32,
    },
}

// ── spec: what a `parallel` node says in a workflow file ──

/// The fields of a `parallel` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParallelNodeSpec {
    /// Node ids run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Spanned<String>>>,
    /// All (default), any, k_of_n, all_settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Spanned<JoinName>>,
    /// With join = "all_settled": fewer successful branches fail the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_success: Option<Spanned<i64>>,
    /// How many branches must succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Spanned<i64>>,
    /// A branch still running after this long fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_timeout_ms: Option<Spanned<u64>>,
    /// Settle disagreeing branches by `confidence`, a `gate`, or
    /// an agent id (a meta-agent); the output is then the one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<Spanned<String>>,
}

impl ParallelNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> ParallelNode {
        let n = self;
        let branches = cx.node_list(
            i,
            "branches",
            &n.branches,
            NodeKindName::Parallel,
            "branches = [\"a\", \"b\"]",
        );
        let count = n.branches.as_ref().map_or(0, Vec::len);
        let o = Owner::Node(i);
        let join = match (n.join.as_ref().map(|j| j.value), &n.k) {
            (Some(JoinName::KOfN), Some(k)) => {
                let at = cx.value_span(o, "k", &k.span, &k.value.to_string());
                if k.value < 1 {
                    cx.error(
                        at,
                        format!(
                            "impossible join: k = {} but at least 1 branch must succeed",
                            k.value
                        ),
                        "set k between 1 and the number of branches",
                    );
                } else if k.value as u64 > count as u64 && count > 0 {
                    let s = if count == 1 { "" } else { "es" };
                    cx.error(
                        at,
                        format!(
                            "impossible join: k = {} but only {count} branch{s}",
                            k.value
                        ),
                        format!("set k to at most {count}, or add branches"),
                    );
                }
                Join::KOfN(u32::try_from(k.value).unwrap_or(1))
            }
            (Some(JoinName::KOfN), None) => {
                let j = n.join.as_ref().map(|j| j.span.clone()).unwrap_or_default();
                let at = cx.value_span(o, "join", &j, "\"k_of_n\"");
                cx.error(
                    at,
                    "join = \"k_of_n\" needs `k`",
                    "add k = <how many branches must succeed>",
                );
                Join::KOfN(1)
            }
            (other, Some(k)) => {
                let at = cx.field_span(o, "k", k.span.clone());
                cx.error(
                    at,
                    "`k` only applies to join = \"k_of_n\"",
                    "set join = \"k_of_n\", or remove `k`",
                );
                if other == Some(JoinName::Any) {
                    Join::Any
                } else {
                    Join::All
                }
            }
            (Some(JoinName::Any), None) => Join::Any,
            (Some(JoinName::All) | None, None) => Join::All,
            (Some(JoinName::AllSettled), None) => Join::AllSettled {
                min_success: settle_floor(cx, i, &n.min_success, count),
            },
        };
        if let (Some(m), false) = (&n.min_success, matches!(join, Join::AllSettled { .. })) {
            let at = cx.field_span(o, "min_success", m.span.clone());
            cx.error(
                at,
                "`min_success` only applies to join = \"all_settled\"",
                "set join = \"all_settled\", or remove `min_success`",
            );
        }
        if let (Some(r), Join::AllSettled { .. }) = (&n.resolve, join) {
            let at = cx.field_span(o, "resolve", r.span.clone());
            cx.error(
                at,
                "`resolve` picks one answer, but join = \"all_settled\" keeps one entry per branch",
                "remove `resolve`, or use join = \"all\"",
            );
        }
        let branch_timeout = cx.millis(i, "branch_timeout_ms", &n.branch_timeout_ms);
        ParallelNode {
            branches,
            join,
            branch_timeout,
        }
    }
}

/// `min_success` of an all-settled join: from 0 to the number of branches
/// or items that can succeed (`count`, when known before the run).
pub(crate) fn settle_floor(
    cx: &mut CompileContext<'_>,
    i: usize,
    v: &Option<Spanned<i64>>,
    count: usize,
) -> u32 {
    let floor = cx.int(i, "min_success", v, 0, 0);
    if let Some(m) = v
        && count > 0
        && floor as usize > count
    {
        let at = cx.value_span(Owner::Node(i), "min_success", &m.span, &m.value.to_string());
        cx.error(
            at,
            format!("impossible floor: min_success = {floor} but only {count} can succeed"),
            format!("set min_success to at most {count}"),
        );
    }
    floor
}
