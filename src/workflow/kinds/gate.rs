//! `gate`: a human reviews, approves or sends back.

use super::Kind;
use super::compile_context::CompileContext;
use super::diagram::{Diagram, Shape, vertex_id};
use crate::workflow::index::NodeIdx;
use crate::workflow::span::Spanned;

/// A compiled `gate` node.
#[derive(Debug, Clone)]
pub struct GateNode {
    /// Node under review.
    pub subject: Option<NodeIdx>,
    /// Revision limit.
    pub max_revisions: u32,
}

impl Kind for GateNode {
    fn children(&self) -> Vec<NodeIdx> {
        self.subject.into_iter().collect()
    }

    fn may_ask_human(&self) -> bool {
        true
    }

    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        d.line(format_args!(
            "human review, ≤{} revisions",
            self.max_revisions
        ));
        if let Some(s) = self.subject {
            let l = format!("reviews {}", d.node(s));
            d.dashed_edge(d.me(), vertex_id(s), Some(l));
        }
        Shape::Hexagon
    }
}

// ── spec: what a `gate` node says in a workflow file ──

/// The fields of a `gate` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateNodeSpec {
    /// Most revisions before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_revisions: Option<Spanned<i64>>,
    /// Node whose output is reviewed; re-run with the comment on denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Spanned<String>>,
}

impl GateNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> GateNode {
        let subject = self
            .subject
            .as_ref()
            .and_then(|s| cx.node_ref(i, "subject", s, true));
        let max_revisions = cx.int(i, "max_revisions", &self.max_revisions, 0, 2);
        GateNode {
            subject,
            max_revisions,
        }
    }
}
